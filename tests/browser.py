"""A real browser for the report and dashboard tests: Debian's chromium, driven by Playwright.

Playwright never downloads a browser here: it starts /usr/bin/chromium (`apt-get install chromium`,
which `.ci/run` does). Where chromium is missing, the browser tests skip, except when
SEALGUARD_REQUIRE_BROWSER=1 (CI sets it), where they fail: a CI run that silently skipped them
would prove nothing.

`browser_page` gives each test a fresh page that records every request it makes; `requests_made`
lists those that left the allowed origins, so a test can assert that a page made none.
"""

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("SEALGUARD_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"

# The flags the issue names, and those without which this closed network refuses chromium's own
# connections at every start (background networking, component updates, sync, QUIC).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]


def _no_browser(reason: str) -> None:
    if os.environ.get("SEALGUARD_REQUIRE_BROWSER") == "1":
        pytest.fail(f"SEALGUARD_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    """One headless chromium for the whole run (starting one costs about a second)."""
    if not Path(CHROMIUM).is_file():
        _no_browser(f"no chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - playwright is in the test extra
        _no_browser("playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@dataclass
class BrowserPage:
    """A page, and every URL it asked for."""

    page: object
    allowed: tuple[str, ...]
    requested: list[str] = field(default_factory=list)

    def requests_made(self) -> list[str]:
        """URLs outside the allowed prefixes (file:, data:, blob:, about: and the given origins)."""
        own = ("file:", "data:", "blob:", "about:", *self.allowed)
        return [url for url in self.requested if not url.startswith(own)]


@pytest.fixture
def browser_page(chromium: object) -> Iterator[BrowserPage]:
    """A fresh context and page; pass origins to `allow` them with `page.allowed = (...)`."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    held = BrowserPage(page=page, allowed=())
    page.on("request", lambda request: held.requested.append(request.url))
    yield held
    context.close()
