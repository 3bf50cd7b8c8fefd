"""Headless Chromium for the tests: find it, open a page, record what went wrong.

Uses Playwright for Python as a driver only: the browser is the system's
Chromium (Debian's `chromium` package), never one that Playwright downloads.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Flags for a root user on a machine with no network: no sandbox (root), no GPU,
#: and none of Chromium's own background connections.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "chrome")


def find_chromium() -> str | None:
    """The Chromium to drive: $CX_CHROMIUM, /usr/bin/chromium, or one on PATH."""
    explicit = os.environ.get("CX_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).exists() else None
    if Path("/usr/bin/chromium").exists():
        return "/usr/bin/chromium"
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def playwright_missing_reason() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package `playwright` is not installed (pip install playwright)"
    return None


@dataclass
class PageLog:
    """What the page reported while it was open."""

    errors: list[str] = field(default_factory=list)  # uncaught exceptions, console.error
    outside_requests: list[str] = field(default_factory=list)  # anything not file:/data:/blob:

    def record_console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(f"console.error: {message.text}")

    def record_request(self, request: Any) -> None:
        if not request.url.startswith(("file:", "data:", "blob:", "about:")):
            self.outside_requests.append(request.url)


@contextmanager
def chromium_page(
    url: str, *, width: int = 1366, height: int = 900, timeout_ms: int = 30_000
) -> Iterator[tuple[Any, PageLog]]:
    """Open `url` in headless Chromium; yields (page, log)."""
    from playwright.sync_api import sync_playwright

    executable = find_chromium()
    if executable is None:
        raise RuntimeError("Chromium not found")
    log = PageLog()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": width, "height": height})
            page = context.new_page()
            page.set_default_timeout(timeout_ms)
            page.on("pageerror", lambda exc: log.errors.append(f"pageerror: {exc}"))
            page.on("console", log.record_console)
            page.on("request", log.record_request)
            page.goto(url, wait_until="load")
            yield page, log
        finally:
            browser.close()


def show_tab(page: Any, key: str) -> None:
    """Click a dashboard tab and wait until its page is the visible one."""
    page.click(f"nav.tabs button[data-tab='{key}']")
    page.wait_for_selector(f"#page-{key}.active", state="visible")
    # Let plotly finish the resize the tab switch triggers.
    page.wait_for_timeout(300)


def tab_keys(page: Any) -> list[str]:
    return page.eval_on_selector_all(
        "nav.tabs button", "buttons => buttons.map(b => b.dataset.tab)"
    )


def count_charts(page: Any, key: str) -> int:
    """Plotly charts drawn in a tab (a drawn chart has an <svg class='main-svg'>)."""
    return page.eval_on_selector_all(
        f"#page-{key} .js-plotly-plot",
        "els => els.filter(e => e.querySelector('svg.main-svg') && e.offsetWidth > 100).length",
    )


def count_chart_slots(page: Any, key: str) -> int:
    """Charts a tab shows: those of its visible view (the others are hidden, not drawn)."""
    return page.eval_on_selector_all(
        f"#page-{key} .chart", "els => els.filter(e => e.offsetParent !== null).length"
    )


def visible_view(page: Any, key: str) -> tuple[str, str]:
    """(data-view, inner HTML) of the view a tab shows."""
    return page.eval_on_selector_all(
        f"#page-{key} > .view",
        "els => els.filter(e => !e.hidden).map(e => [e.dataset.view, e.innerHTML])[0]",
    )


def choose_view(page: Any, segment: str, month: str) -> None:
    """Pick a segment and a month in the dashboard's filters."""
    page.select_option("#cx-segment", segment)
    page.select_option("#cx-month", month)
    page.wait_for_timeout(300)
