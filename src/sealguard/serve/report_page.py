"""The auditor's report (report/html.py) of the whole log, as the dashboard serves it at
/report.html and the live page shows it.

`sealguard report` audits the log first and moves its verified state forward, under the log's
lock; a read-only server must do neither. So the page's verification here is what the last
audit recorded, said as such: the signed verified state (ledger/verified.py), usable while
nothing but sealguard's writers has touched the log since. The timeline's rows come from the
dashboard's own index (serve/history.py), not from the report's cache, which `report` writes.
Everything else is the report's: the trail folded from the rows and the notable events, the
banner, the inclusion proofs, the evidence texts and the signed reviews. A page is made once
per log version.
"""

import base64
import threading
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response

from sealguard.ledger import journal, note
from sealguard.ledger.layout import Ledger
from sealguard.report.html import render_html
from sealguard.report.page import Checkpoint, Report, Verification
from sealguard.report.report_source import assemble
from sealguard.report.trail import fold
from sealguard.report.trail_source import log_key_of, period_of
from sealguard.serve.reading import Reading, read

# the report holds no script: its own policy, stricter than the live page's
POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
NOT_AUDITED = (
    "NOT VERIFIED: no audit recorded the log as it is now (never audited, or written by "
    "something other than sealguard since); run `sealguard verify`"
)


def _witness(ledger: Ledger) -> str:
    if ledger.witness:
        return f"held against the witness at {ledger.witness} by the last audit"
    return "no witness configured: the log is held against its own checkpoints only"


def last_audit(ledger: Ledger) -> Verification:
    """The log's verification as the last audit left it; the dashboard does not audit."""
    public = journal.log_public_key(ledger) if ledger.log.is_file() else None
    state = journal.usable_state(ledger, public) if public else None
    if state is None:
        return Verification(
            intact=False, summary=NOT_AUDITED, problems=[], lines=0, full=False,
            checkpoint=None, witness=_witness(ledger),
        )  # fmt: skip
    signed = note.parse(state.note)
    return Verification(
        intact=True,
        summary=(
            f"INTACT as the last audit found it: its first {state.lines:,} lines against the "
            f"checkpoint, and only sealguard has appended since (last full audit: "
            f"{state.full_at or 'none'})"
        ),
        problems=[],
        lines=state.lines,
        full=False,
        how="the last audit's: the dashboard does not audit; `sealguard verify` does",
        checkpoint=Checkpoint(
            origin=signed.origin, size=signed.size, root=base64.b64encode(signed.root).decode()
        ),
        witness=_witness(ledger),
    )


def report_of(reading: Reading) -> Report:
    """The report of the whole log, as it stands in `reading`."""
    ledger = reading.ledger
    origin = log_key_of(ledger).get("origin", "")
    rows, events = reading.history.rows, reading.events
    trail = fold(period_of(None, None), origin, rows, events)
    read = (trail, rows, events)
    now = datetime.now(UTC)
    checked = last_audit(ledger)
    return assemble(
        reading.project, ledger, read, checked, schedule=reading.schedule, now=now,
        made_by="sealguard serve",
    )  # fmt: skip


class Pages:
    """The last page made, by the log version it was made at (one viewer's poll, or many
    viewers, after a change make it once)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._made: tuple[str, bytes] = ("", b"")

    def page(self, reading: Reading) -> bytes:
        with self._lock:
            if self._made[0] != reading.log_version:
                self._made = (reading.log_version, render_html(report_of(reading)).encode())
            return self._made[1]


def report_html(request: Request) -> Response:
    state = request.app.state
    page = state.pages.page(read(state.project, state.history))
    return Response(
        page,
        media_type="text/html; charset=utf-8",
        headers={"Content-Security-Policy": POLICY},
    )
