"""Launching Debian's Chromium through Playwright (no browser download), for every browser test."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


DOC_SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"


def save_screenshot(page: Page, name: str) -> Path:
    """The README's pictures: written to docs/screenshots/ when UPDATE_SCREENSHOTS=1 (then
    commit them), otherwise to a temporary folder, so a test run leaves the tree clean; the
    picture is taken either way."""
    folder = DOC_SCREENSHOTS if os.environ.get("UPDATE_SCREENSHOTS") == "1" else \
        Path(tempfile.gettempdir()) / "zkb-screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path))
    return path
