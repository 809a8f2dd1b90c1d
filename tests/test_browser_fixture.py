"""The browser fixture itself: a real chromium renders a local page and sees its requests."""

from pathlib import Path

from .browser import BrowserPage


def test_chromium_renders_a_local_file_and_records_a_stray_request(
    tmp_path: Path, browser_page: BrowserPage
) -> None:
    page_file = tmp_path / "page.html"
    page_file.write_text(
        '<!doctype html><title>t</title><h1 id=h>sealed</h1><img src="http://192.0.2.1/pixel.png">',
        encoding="utf-8",
    )
    page = browser_page.page
    page.goto(page_file.as_uri())  # type: ignore[attr-defined]
    assert page.text_content("#h") == "sealed"  # type: ignore[attr-defined]
    assert browser_page.requests_made() == ["http://192.0.2.1/pixel.png"]
