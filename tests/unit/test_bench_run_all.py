"""bench/run_all.py (``make bench``): a benchmark that cannot report is one "not run" row
saying why, rows print as one table, and the summary section replaces its old copy."""

from __future__ import annotations

import importlib.util
import io
import sys
from pathlib import Path

from bench import sections
from tests.support.helpers import REPO


def load_run_all():
    spec = importlib.util.spec_from_file_location("bench_run_all", REPO / "bench" / "run_all.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_a_missing_script_or_one_without_summary_json_is_a_not_run_row(tmp_path: Path):
    run_all = load_run_all()
    (rows, command, _) = run_all.run_bench(
        run_all.Bench("ghost", ("no_such_bench.py",), (), 30), tmp_path, io.StringIO()
    )
    assert command == ""
    assert rows == [run_all.not_run("ghost", "bench/no_such_bench.py missing")]
    # --help decides: run_all.py names --summary-json, eval_kinds.py does not
    assert run_all.offers_summary(REPO / "bench" / "run_all.py")
    assert not run_all.offers_summary(REPO / "bench" / "eval_kinds.py")


def test_one_table_marks_misses_and_the_section_is_replaced_not_repeated(tmp_path, monkeypatch):
    run_all = load_run_all()
    rows = [
        {"bench": "a", "metric": "m1", "value": 3.25, "unit": "x", "target": ">= 3x",
         "ok": True, "detail": "d"},
        {"bench": "b", "metric": "m2", "value": 2.5, "unit": "s", "target": "<= 2 s",
         "ok": False, "detail": ""},
        run_all.not_run("c", "timed out after 5 s"),
    ]  # fmt: skip
    text = run_all.table(rows)
    lines = text.splitlines()
    assert lines[0].split() == list(run_all.COLUMNS)
    assert "ok" in lines[2] and "MISS" in lines[3] and "not run: timed out" in lines[4]
    assert "**MISS**" in run_all.table(rows, markdown=True)

    results = tmp_path / "bench" / "RESULTS.md"
    results.parent.mkdir()
    results.write_text("# Benchmark results\n\nintro\n\n## Ingest\n\nfigures\n")
    monkeypatch.setattr(sections, "RESULTS", results)
    for _ in range(2):
        sections.replace_section(
            run_all.HEADING, run_all.section(rows, {"a": ("cmd", 1.0)}, []), first=True
        )
    text = results.read_text()
    assert text.count(run_all.HEADING) == 1
    assert text.index("intro") < text.index(run_all.HEADING) < text.index("## Ingest")
    assert "figures" in text and "Machine: " in text and "SQLite " in text
