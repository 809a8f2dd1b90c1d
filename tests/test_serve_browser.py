"""The live page in a real browser (Debian's chromium through Playwright): it shows the state,
each class, a decision and an escalation, then a new observation without being reloaded, and
asks nothing of any origin but its own."""

import subprocess
import sys
from pathlib import Path

from sealguard.project import Project

from .browser import BrowserPage
from .dashboards import dashboard

WAIT_MS = 30_000  # a guard against a hang, not a measure


def test_the_live_page_follows_the_log(tmp_path: Path, invoke, browser_page: BrowserPage) -> None:
    assert invoke("demo", "--keep", str(tmp_path / "kept")).exit_code == 0
    project = Project(
        tmp_path / "kept" / "fuelcalc"
    )  # STABLE, TOOLING_DRIFT, PRODUCT_DRIFT, accepted
    page = browser_page.page
    with dashboard(project) as served:
        browser_page.allowed = (served.url,)
        page.goto(served.url)  # type: ignore[attr-defined]
        page.wait_for_selector("#observations tbody tr:nth-child(4)", timeout=WAIT_MS)  # type: ignore[attr-defined]
        assert page.text_content("#state") == "OBSERVING"  # type: ignore[attr-defined]
        classes = page.eval_on_selector_all(  # type: ignore[attr-defined]
            "#observations tbody tr", "rows => rows.map(r => r.className)"
        )
        assert classes == ["STABLE", "PRODUCT_DRIFT", "TOOLING_DRIFT", "STABLE"]
        assert "accept" in page.text_content("#last-decision")  # type: ignore[attr-defined]
        assert "signed by Alice Martin (amartin)" in page.text_content("#last-decision")  # type: ignore[attr-defined]
        escalations = page.text_content("#escalations tbody")  # type: ignore[attr-defined]
        assert "TOOLING_DRIFT" in escalations and "email: undeliverable" in escalations
        colours = {
            c: page.eval_on_selector(  # type: ignore[attr-defined]
                f"#observations tr.{c} td.class", "cell => getComputedStyle(cell).color"
            )
            for c in ("STABLE", "TOOLING_DRIFT", "PRODUCT_DRIFT")
        }
        assert len(set(colours.values())) == 3, colours
        page.screenshot(path=str(tmp_path / "live-observing.png"), full_page=True)  # type: ignore[attr-defined]
        page.evaluate("window.notReloaded = true")  # type: ignore[attr-defined]

        (project.root / "src" / "fuelcalc" / "fuel.py").write_text("# tampered\n")
        observed = subprocess.run(
            [sys.executable, "-m", "sealguard", "--project", str(project.root), "observe"],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert observed.returncode == 3, observed.stderr

        page.wait_for_selector('#banner[data-state="HALTED"]', timeout=WAIT_MS)  # type: ignore[attr-defined]
        page.wait_for_selector("#observations tbody tr.INCIDENT", timeout=WAIT_MS)  # type: ignore[attr-defined]
        assert page.evaluate("window.notReloaded") is True  # type: ignore[attr-defined]
        first = page.eval_on_selector(  # type: ignore[attr-defined]
            "#observations tbody tr", "row => row.className"
        )
        assert first == "INCIDENT"
        assert page.text_content("#state") == "HALTED"  # type: ignore[attr-defined]
        assert "INCIDENT" in page.text_content("#escalations tbody")  # type: ignore[attr-defined]
        page.screenshot(path=str(tmp_path / "live-halted.png"), full_page=True)  # type: ignore[attr-defined]
        assert served.stop() == 143
    assert browser_page.requests_made() == []
    assert len(browser_page.requested) > 3  # it did ask its own origin: the check saw requests
    assert (tmp_path / "live-observing.png").stat().st_size > 0
