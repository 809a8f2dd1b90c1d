"""The report in a real browser (Debian's chromium through Playwright): each class, a decision
and an escalation render, a screenshot of each is kept in the test's folder, the page asks for
nothing over the network, text from the log stays text, and the print stylesheet applies."""

from pathlib import Path
from typing import Any

import pytest

from .browser import BrowserPage
from .report_history import SCRIPT, History, history_fixture, run  # noqa: F401 (fixture)

CLASSES = ("TOOLING_DRIFT", "PRODUCT_DRIFT", "INCIDENT")


@pytest.fixture
def page(history: History, tmp_path: Path, browser_page: BrowserPage) -> Any:
    project = history.copy(tmp_path / "p")
    target = tmp_path / "report.html"
    done = run(project, "report", "-o", str(target))
    assert done.exit_code == 0, done.output
    shown = browser_page.page
    shown.goto(target.as_uri())  # type: ignore[attr-defined]
    yield shown
    assert browser_page.requests_made() == []
    assert browser_page.requested == [target.as_uri()]  # the page itself, and nothing else


def _shot(element: Any, tmp_path: Path, name: str) -> Path:
    shot = tmp_path / "screenshots" / f"{name}.png"
    shot.parent.mkdir(exist_ok=True)
    element.screenshot(path=shot)
    assert shot.stat().st_size > 1000
    return shot


def test_each_class_renders_with_its_cause(page: Any, history: History, tmp_path: Path) -> None:
    stable = page.locator('tr.span[data-class="STABLE"]')
    assert stable.count() == 3 and stable.first.is_visible()
    _shot(page.locator("#timeline"), tmp_path, "STABLE")
    for klass, rule in zip(CLASSES, ("TD-03", "PD-07", "INC-01"), strict=True):
        article = page.locator(f'article[data-class="{klass}"]')
        assert article.count() == 1 and article.is_visible()
        assert rule in article.locator("dd.reason").inner_text()
        _shot(article, tmp_path, klass)
    assert page.locator("#mode").inner_text() == "HALTED"
    assert page.locator("#verification").inner_text().startswith("INTACT: ")
    assert page.locator("p.proof").count() == 3
    assert all(t.startswith("valid: ") for t in page.locator("p.proof").all_inner_texts())


def test_a_decision_shows_each_signer_with_time_and_meaning(
    page: Any, history: History, tmp_path: Path
) -> None:
    article = page.locator(f'[id="{history.ids["drift"]}"]')
    rows = article.locator("table.signers tr").all_inner_texts()
    assert [r.split("\t")[:2] for r in rows[1:]] == [
        ["Alice Martin", "amartin"],
        ["Bob Durand", "bdurand"],
    ]
    assert all("\tapproval\t" in r for r in rows[1:])
    assert article.locator("h3.decision").inner_text().endswith(": accept")
    assert f"reserve approved {SCRIPT}" in article.inner_text()  # shown, not run
    assert page.title().startswith("sealguard audit trail")
    _shot(article.locator("table.signers"), tmp_path, "decision")


def test_an_escalation_shows_its_deliveries_and_acknowledgement(
    page: Any, history: History, tmp_path: Path
) -> None:
    article = page.locator(f'[id="{history.ids["drift"]}"]')
    attempts = article.locator("table.attempts tr").all_inner_texts()
    assert [[*r.split("\t")[:2], r.split("\t")[3]] for r in attempts[1:]] == [
        ["slack", "1", "failed"],
        ["email", "1", "delivered"],
        ["slack", "2", "delivered"],
    ]
    _shot(article.locator("table.attempts"), tmp_path, "escalation")
    tooling = page.locator(f'[id="{history.ids["tooling"]}"]')
    assert "by Olga Petit at " in tooling.inner_text()
    assert SCRIPT in tooling.inner_text()
    assert "not acknowledged" in page.locator(f'[id="{history.ids["incident"]}"]').inner_text()


def test_the_plots_draw_and_the_print_stylesheet_applies(page: Any, tmp_path: Path) -> None:
    boxes = [svg.bounding_box() for svg in page.locator("#plots svg").all()]
    assert len(boxes) == 3 and all(b["width"] > 500 and b["height"] > 100 for b in boxes)
    assert page.locator("#plots svg rect").count() >= 4
    assert page.locator("#plots svg polyline").count() == 4
    width = page.evaluate("getComputedStyle(document.body).maxWidth")
    assert width == "1040px"
    page.emulate_media(media="print")
    assert page.evaluate("getComputedStyle(document.body).maxWidth") == "none"
    broken = page.evaluate("getComputedStyle(document.querySelector('.event')).breakInside")
    assert broken == "avoid"
    _shot(page.locator("#banner"), tmp_path, "print-banner")
    pdf = page.pdf()
    assert pdf.startswith(b"%PDF-")


def test_a_proof_copied_from_the_page_is_checked_offline(
    page: Any, history: History, tmp_path: Path
) -> None:
    article = page.locator(f'[id="{history.ids["incident"]}"]')
    article.locator("details summary").click()
    bundle = tmp_path / "proof.json"
    bundle.write_text(article.locator("details pre").inner_text())
    checked = run(history.project, "log", "check-proof", str(bundle))
    assert checked.exit_code == 0, checked.output
    assert checked.stdout.startswith("VALID: event seq ")
