"""The fleet report in a real browser (Debian's chromium through Playwright): it renders every
project x host, asks for nothing over the network, and shows what the hosts reported as text."""

from pathlib import Path
from typing import Any

from .browser import BrowserPage
from .fleet_db import fleet_url, governed, sg  # noqa: F401 (fixture)

HOSTILE = "<img src=http://192.0.2.1/x.png>"  # a project name is the host's to choose


def test_the_fleet_page_loads_offline_and_shows_each_log(
    tmp_path: Path,
    fleet_url: str,  # noqa: F811
    browser_page: BrowserPage,
) -> None:
    calc = governed(tmp_path / "calc", fleet_url, "calc", "h1")
    odd = governed(tmp_path / "odd", fleet_url, HOSTILE, "h2", probe=False)
    for root in (calc, odd):
        assert sg("--project", str(root), "seal").exit_code == 0
    (calc / "answer.txt").write_text("41\n")
    assert sg("--project", str(calc), "observe").exit_code == 2
    target = tmp_path / "fleet.html"
    done = sg("fleet", "report", "-o", str(target), "--url", fleet_url)
    assert done.exit_code == 0, done.output

    page: Any = browser_page.page
    page.goto(target.as_uri())
    assert browser_page.requests_made() == []
    assert browser_page.requested == [target.as_uri()]  # the page itself, and nothing else
    rows = page.locator("table.status tr[data-origin]")
    assert rows.count() == 2
    texts = rows.all_inner_texts()
    assert any(t.startswith("calc\th1\tFROZEN") for t in texts)
    assert any(t.startswith(f"{HOSTILE}\th2\tOBSERVING") for t in texts)  # shown, not loaded
    assert page.locator("section.project").count() == 2
    drifts = page.locator('section.project[data-project="calc"] table.drifts tr')
    assert drifts.count() == 2 and "PRODUCT_DRIFT" in drifts.nth(1).inner_text()
    assert page.title().startswith("sealguard fleet")
    shot = tmp_path / "fleet.png"
    page.screenshot(path=shot, full_page=True)
    assert shot.stat().st_size > 1000
