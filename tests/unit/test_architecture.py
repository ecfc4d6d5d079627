"""The layers hold: import-linter's contracts pass, no import cycles, no hidden imports.

The contracts live in ``pyproject.toml`` (``[tool.importlinter]``); ``make lint``
runs them too. These tests make ``make test`` fail when a change breaks one.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp

from tests.support.helpers import REPO

PACKAGES = ("syncd", "connectors", "rules")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
# Where a project import inside a function is the design: loading by name.
# syncd/commands/daemon.py loads the dashboard's server only when [serve] is on.
LAZY_IMPORTS_ALLOWED = {"syncd/cli.py", "connectors/__init__.py", "syncd/commands/daemon.py"}


def _lint_imports(root: Path) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root), "HOME": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_import_contracts_hold():
    proc = _lint_imports(REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "BROKEN" not in proc.stdout


def test_a_scratch_import_up_the_layers_breaks_the_contracts(tmp_path):
    for package in PACKAGES:
        shutil.copytree(
            REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    store = tmp_path / "syncd" / "store" / "db.py"
    store.write_text(store.read_text() + "\nimport syncd.report.people  # noqa: E402, F401\n")
    proc = _lint_imports(tmp_path)
    assert proc.returncode != 0
    assert "syncd.store is not allowed to import syncd.report" in proc.stdout


def _graph() -> grimp.ImportGraph:
    sys.path.insert(0, str(REPO))
    try:
        return grimp.build_graph(*PACKAGES, cache_dir=None)
    finally:
        sys.path.remove(str(REPO))


def test_no_module_imports_a_module_that_imports_it_back():
    graph = _graph()
    cycles = []
    for module in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(module):
            if graph.chain_exists(importer=imported, imported=module):
                cycles.append(f"{module} -> {imported} -> ... -> {module}")
    assert cycles == []


def _sources() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (REPO / package).rglob("*.py"))


def test_project_imports_sit_at_the_top_of_modules():
    inside: list[str] = []
    for path in _sources():
        relative = path.relative_to(REPO).as_posix()
        if relative in LAZY_IMPORTS_ALLOWED:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(func):
                if isinstance(node, ast.ImportFrom) and node.level == 0:
                    names = [node.module or ""]
                elif isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                else:
                    continue
                for name in names:
                    if name.split(".")[0] in PACKAGES:
                        inside.append(f"{relative}:{node.lineno} imports {name} in {func.name}()")
    assert inside == []


def test_only_the_cli_imports_click_or_rich():
    offenders = []
    for path in _sources():
        relative = path.relative_to(REPO).as_posix()
        if relative == "syncd/cli.py" or relative.startswith("syncd/commands/"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            offenders += [f"{relative}: {n}" for n in names if n.split(".")[0] in ("click", "rich")]
    assert offenders == []


def _contracts() -> list[dict]:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def test_the_dashboard_sits_directly_below_the_commands_and_never_imports_click_or_rich():
    contracts = _contracts()
    layers = next(c for c in contracts if c["type"] == "layers")["layers"]
    assert layers.index("syncd.web") == layers.index("syncd.commands") + 1
    assert layers.index("syncd.jobs") == layers.index("syncd.web") + 1
    forbidden = next(c for c in contracts if c["type"] == "forbidden")
    assert "syncd.web" in forbidden["source_modules"]
    assert {"click", "rich"} <= set(forbidden["forbidden_modules"])


def test_the_dashboards_templates_escape_everything():
    sources = "\n".join(p.read_text() for p in (REPO / "syncd" / "web").glob("*.py"))
    assert "autoescape=True" in sources
    templates = "\n".join(p.read_text() for p in (REPO / "syncd" / "web" / "templates").iterdir())
    assert "|safe" not in templates.replace(" ", "")
    assert "<script>" not in templates and "style=" not in templates


def test_the_daemon_loads_the_dashboard_server_only_when_serving():
    code = (
        "import sys; import syncd.cli, syncd.commands.daemon, syncd.jobs; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'uvicorn', 'starlette'}), "
        "'syncd.web.server' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["[]", "False"]


def test_the_daemon_at_rest_holds_no_library_it_uses_only_now_and_then():
    """What the daemon loads at start stays in its memory at rest: the digest's templates
    (jinja2, rendered once a week), the config editor (tomlkit: the daemon only reads),
    vCards (vobject: `syncd import vcard`) and package metadata are loaded where used.
    Opening the store looks up no sqlite-utils plugins (package metadata again)."""
    rare = ["importlib.metadata", "jinja2", "tomlkit", "vobject"]
    code = (
        "import sys; import syncd.cli, syncd.commands.daemon, syncd.jobs; "
        "from syncd.store.db import open_db; open_db(':memory:'); "
        f"print(sorted(m for m in {rare!r} if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
