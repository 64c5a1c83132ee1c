"""Screenshots of the built documentation site in headless Chromium, checked non-blank.

Serves ``docs/_build/html`` on a loopback port, opens the landing page and one tutorial
in headless Chromium (the system package), writes PNGs and checks that each image is not
blank: enough pixel variance, and for the tutorial enough non-background pixels that the
executed figures are present. Before that, every ``<img>`` of every page must point to a
non-empty file, and every tutorial page must show at least one figure.

    python scripts/screenshot_docs.py [--html docs/_build/html] [--out docs/_build/screenshots]

Exit status: 0 when every screenshot passes, 1 when one is blank, 2 when the site has not
been built or no Chromium is found.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
PAGES = {  # screenshot name -> page of the site, with the minimum fraction of ink expected
    "landing": ("index.html", 0.02),
    "tutorial_langevin": ("tutorials/langevin.html", 0.05),
}
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Flags for a headless run that talks to nothing but the local server.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--virtual-time-budget=8000",  # let MathJax and the theme's scripts finish
)


def find_browser() -> str | None:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # keep the output to the results
        pass


def serve(html: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Serve ``html`` on 127.0.0.1 at a free port; returns the server and its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def screenshot(browser: str, url: str, png: Path, size: tuple[int, int]) -> None:
    with tempfile.TemporaryDirectory(prefix="dlnmc-chromium-") as profile:
        cmd = [
            browser,
            *FLAGS,
            f"--user-data-dir={profile}",
            f"--window-size={size[0]},{size[1]}",
            f"--screenshot={png}",
            url,
        ]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    if not png.is_file():
        raise RuntimeError(f"chromium wrote no screenshot for {url}")


def blankness(png: Path) -> tuple[float, float]:
    """Pixel standard deviation (0-255 grey levels) and the fraction of non-white pixels."""
    grey = np.asarray(Image.open(png).convert("L"), dtype=float)
    background = np.median(grey)
    ink = float(np.mean(np.abs(grey - background) > 40))
    return float(grey.std()), ink


def check_figures(html: Path) -> list[str]:
    """Problems with the figures of the built site: a missing image file anywhere, or a
    tutorial page without any figure (each tutorial draws at least one)."""
    problems = []
    for page in sorted(html.rglob("*.html")):
        text = page.read_text(errors="replace")
        srcs = re.findall(r'<img[^>]*\ssrc="([^"]+)"', text)
        for src in srcs:
            if src.startswith(("data:", "http:", "https:")):
                continue
            target = (page.parent / src.split("#")[0].split("?")[0]).resolve()
            if not target.is_file() or target.stat().st_size == 0:
                problems.append(f"{page.relative_to(html)}: image {src} is missing")
        rel = page.relative_to(html).as_posix()
        if rel.startswith("tutorials/") and rel != "tutorials/index.html" and not srcs:
            problems.append(f"{rel}: no figure on a tutorial page")
    return problems


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--html", type=Path, default=ROOT / "docs" / "_build" / "html")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "_build" / "screenshots")
    p.add_argument("--width", type=int, default=1280)
    p.add_argument("--height", type=int, default=2400)
    args = p.parse_args(argv)

    if not (args.html / "index.html").is_file():
        print(f"screenshot_docs: no built site in {args.html} (run ./dev.sh docs)", file=sys.stderr)
        return 2
    browser = find_browser()
    if browser is None:
        print("screenshot_docs: no chromium found (apt-get install chromium)", file=sys.stderr)
        return 2
    problems = check_figures(args.html)
    for problem in problems:
        print(f"FIGURE {problem}")
    args.out.mkdir(parents=True, exist_ok=True)
    server, base = serve(args.html)
    failures = 0
    try:
        for name, (page, min_ink) in PAGES.items():
            png = args.out / f"{name}.png"
            screenshot(browser, base + page, png, (args.width, args.height))
            std, ink = blankness(png)
            ok = std > 10.0 and ink > min_ink
            failures += not ok
            shown = png.relative_to(ROOT) if png.is_relative_to(ROOT) else png
            print(
                f"{'ok  ' if ok else 'BLANK'} {shown}"
                f"  ({page}: pixel std {std:.1f}, ink {ink:.3f}, need > 10 and > {min_ink})"
            )
    finally:
        server.shutdown()
    return 1 if failures or problems else 0


if __name__ == "__main__":
    sys.exit(main())
