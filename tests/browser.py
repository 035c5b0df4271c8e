"""Debian's chromium driven by Playwright for Python, for the report's browser tests.

CI (HEADLENS_CI=1, where ``make test`` installs chromium) never skips these; elsewhere they skip
with the reason when chromium or Playwright is missing.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

import pytest

CHROMIUM = os.environ.get("HEADLENS_CHROMIUM", "/usr/bin/chromium")


def browser_or_skip() -> None:
    missing = []
    if not os.path.exists(CHROMIUM):
        missing.append(f"{CHROMIUM} is missing (make test installs Debian's chromium when run as root)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("playwright is not installed (pip install -e '.[test]')")
    if missing:
        if os.environ.get("HEADLENS_CI"):
            pytest.fail("browser tests cannot run in CI: " + "; ".join(missing))
        pytest.skip("; ".join(missing))


@contextmanager
def open_page(path: str, viewport: dict | None = None):
    """The report at ``path`` loaded in headless chromium, once its script has drawn every view; the page
    records console errors and page errors in ``page.problems``, requests to anything else in ``page.requests``."""
    browser_or_skip()
    from playwright.sync_api import sync_playwright

    url = "file://" + os.path.abspath(path)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        pg = browser.new_page(viewport=viewport or {"width": 1300, "height": 1000})
        problems, requests = [], []
        pg.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        pg.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        pg.on("request", lambda r: requests.append(r.url) if r.url != url and not r.url.startswith("data:") else None)
        pg.goto(url)
        pg.wait_for_selector("html[data-ready='1']", timeout=20000)
        pg.problems, pg.requests = problems, requests
        try:
            yield pg
        finally:
            browser.close()
