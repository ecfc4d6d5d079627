"""``make screenshots``: every dashboard page at 1440 and 360 px wide, on the demo network.

Builds a demo home in a temporary directory, runs ``syncd serve`` and saves full-page
PNGs into docs/screenshots/ (light colour scheme, plus Today and Network in the dark one;
``--dark`` takes every page dark too). When
pngquant is installed (``apt-get install pngquant``) the files are quantised to a
third of their size.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.support.dashboard import DEMO_NOW, demo_home, launch, serve
from tests.support.helpers import REPO, run_cli

OUT = REPO / "docs" / "screenshots"
WIDTHS = (1440, 360)
DARK_ALWAYS = ("today", "network")  # at 1440 px: dark mode is shown even without --dark


def pages(person: int) -> list[tuple[str, str]]:
    """(name, path) of each page shown."""
    return [
        ("today", "/"),
        ("people", "/people"),
        ("person", f"/people/{person}"),
        ("network", "/network"),
        ("digest", "/digest"),
    ]


def main() -> int:
    """Take the screenshots; print each file written."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--dark", action="store_true", help="Also the dark colour scheme.")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        home = demo_home(Path(tmp))
        for person, tags in (("Priya Raman", ("client", "london")), ("Mateo Soto", ("mentor",))):
            run_cli("--now", DEMO_NOW, "tag", person, *tags, home=home)
        with serve(home) as server, sync_playwright() as pw:
            browser = launch(pw)
            for scheme in ("light", "dark"):
                for width in WIDTHS:
                    if scheme == "dark" and not args.dark and width != WIDTHS[0]:
                        continue
                    context = browser.new_context(
                        viewport={"width": width, "height": 900}, color_scheme=scheme
                    )
                    page = context.new_page()
                    page.goto(server.url)
                    person = page.locator("ol.flags a.who").first.get_attribute("href")
                    pid = int((person or "/people/1").rsplit("/", 1)[-1])
                    for name, path in pages(pid):
                        if scheme == "dark" and not args.dark and name not in DARK_ALWAYS:
                            continue
                        page.goto(server.base + path)
                        page.wait_for_load_state("networkidle")
                        suffix = "" if scheme == "light" else "-dark"
                        file = args.out / f"{name}-{width}{suffix}.png"
                        page.screenshot(path=str(file), full_page=True)
                        print(file.relative_to(REPO) if file.is_relative_to(REPO) else file)
                    context.close()
            browser.close()
    shrink(sorted(args.out.glob("*.png")))
    return 0


def shrink(files: list[Path]) -> None:
    """Quantise ``files`` in place with pngquant, when it is installed."""
    if not files or shutil.which("pngquant") is None:
        return
    subprocess.run(
        ["pngquant", "--force", "--ext", ".png", "--quality", "60-85", "--strip", *map(str, files)],
        check=False,
    )


if __name__ == "__main__":
    sys.exit(main())
