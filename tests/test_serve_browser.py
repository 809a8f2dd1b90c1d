"""The live page in a real browser (Debian's chromium through Playwright): it shows the
auditor's report of the log (each class, a decision, an escalation), then a new observation
without being reloaded, and asks nothing of any origin but its own."""

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
        page.wait_for_selector("#report #mode", timeout=WAIT_MS)  # type: ignore[attr-defined]
        assert page.text_content("#mode") == "OBSERVING"  # type: ignore[attr-defined]
        spans = page.eval_on_selector_all(  # type: ignore[attr-defined]
            "#spans tr.span", "rows => rows.map(r => r.dataset.class)"
        )
        assert spans == ["STABLE", "TOOLING_DRIFT", "PRODUCT_DRIFT", "STABLE"]
        decision = page.text_content("article[data-class=PRODUCT_DRIFT]")  # type: ignore[attr-defined]
        assert "accept" in decision and "Alice Martin" in decision
        escalation = page.text_content("article[data-class=TOOLING_DRIFT]")  # type: ignore[attr-defined]
        assert "ESC_" in escalation and "email" in escalation
        colours = page.eval_on_selector_all(  # type: ignore[attr-defined]
            "#spans tr.span .class", "cells => cells.map(c => getComputedStyle(c).backgroundColor)"
        )
        assert len(set(colours)) == 3, colours  # STABLE, TOOLING_DRIFT, PRODUCT_DRIFT
        page.screenshot(path=str(tmp_path / "live-observing.png"), full_page=True)  # type: ignore[attr-defined]
        page.evaluate("window.notReloaded = true")  # type: ignore[attr-defined]

        (project.root / "src" / "fuelcalc" / "fuel.py").write_text("# tampered\n")
        observed = subprocess.run(
            [sys.executable, "-m", "sealguard", "--project", str(project.root), "observe"],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert observed.returncode == 3, observed.stderr

        page.wait_for_selector("article[data-class=INCIDENT]", timeout=WAIT_MS)  # type: ignore[attr-defined]
        assert page.evaluate("window.notReloaded") is True  # type: ignore[attr-defined]
        assert page.text_content("#mode") == "HALTED"  # type: ignore[attr-defined]
        last = page.eval_on_selector_all(  # type: ignore[attr-defined]
            "#spans tr.span", "rows => rows.map(r => r.dataset.class)"
        )
        assert last[-1] == "INCIDENT"
        incident = page.text_content("article[data-class=INCIDENT]")  # type: ignore[attr-defined]
        assert "INV-D-02" in incident and "ESC_" in incident
        page.screenshot(path=str(tmp_path / "live-halted.png"), full_page=True)  # type: ignore[attr-defined]
        assert served.stop() == 143
    assert browser_page.requests_made() == []
    assert len(browser_page.requested) > 3  # it did ask its own origin: the check saw requests
    assert (tmp_path / "live-observing.png").stat().st_size > 0
