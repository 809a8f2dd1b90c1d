"""The edge that gathers a whole report: the period's trail, and what the page shows as of now
(the state, the log's verification, inclusion proofs, evidence texts). report/page.py says
which part is which."""

import base64
import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sealguard.config import Config
from sealguard.cpus import default_jobs
from sealguard.errors import DataError, UsageError
from sealguard.events import iso_utc
from sealguard.ledger import note
from sealguard.ledger.layout import Ledger
from sealguard.ledger.proof import check_proof
from sealguard.ledger.view import latest_checkpoint
from sealguard.observe.status import current_state
from sealguard.project import Project
from sealguard.report import proofs, render, trail_cache
from sealguard.report.lateness import schedule_text
from sealguard.report.page import (
    Banner,
    Checkpoint,
    EvidenceText,
    Gap,
    Proof,
    Report,
    Review,
    Verification,
)
from sealguard.report.trail import Observation, Period, Trail, content_sha256, fold
from sealguard.report.trail_source import log_key_of, period_of
from sealguard.schedule import Due, due_in_log

DIFF_LIMIT = 20_000  # characters of a probe's diff shown (the evidence file holds it all)


def banner(project: Project, ledger: Ledger) -> Banner:
    state = current_state(project, ledger)
    return Banner(
        mode=state.mode,
        since=state.since,
        because=state.because,
        reason=state.reason,
        baseline_version=state.version,
        baseline_sha256=state.baseline_sha256,
        next_step=state.next_step,
    )


def _checkpoint(ledger: Ledger) -> note.Checkpoint | None:
    try:
        return latest_checkpoint(ledger)
    except (UsageError, DataError, OSError):
        return None


def verification(ledger: Ledger, config: Config, now: datetime) -> Verification:
    """The log's audit (incremental when its verified state allows, as `verify` runs it)."""
    from sealguard.ledger.incremental import audit_log
    from sealguard.seal.verify import audit_policy

    audited = audit_log(ledger, default_jobs(), audit_policy(config, False), now)
    report, checkpoint = audited.report, _checkpoint(ledger)
    return Verification(
        intact=report.intact,
        summary=render.log_text(report).splitlines()[0],
        problems=[f"{p.kind}: {p.message}" for p in report.problems],
        lines=report.lines,
        full=audited.full,
        checkpoint=Checkpoint(
            origin=checkpoint.origin,
            size=checkpoint.size,
            root=base64.b64encode(checkpoint.root).decode(),
        )
        if checkpoint
        else None,
        witness=f"held against the witness at {ledger.witness}"
        if ledger.witness
        else "no witness configured: the log is held against its own checkpoints only",
    )


def inclusion(ledger: Ledger, trail: Trail) -> dict[str, Proof]:
    """The inclusion proof of every observation that was not STABLE, checked as `log
    check-proof` checks it (with the key the log's first event names)."""
    checkpoint = _checkpoint(ledger)
    seqs = [n.seq for n in trail.notable]
    if checkpoint is None or not seqs:
        return {}
    made = proofs.bundles(ledger, checkpoint, seqs, log_key_of(ledger).get("verifier_key", ""))
    found = {}
    for seq, bundle in made.items():
        check = check_proof(bundle, None)
        found[str(seq)] = Proof(seq=seq, valid=check.valid, reason=check.reason, bundle=bundle)
    return found


def evidence_texts(project: Project, trail: Trail) -> dict[str, EvidenceText]:
    """Each probe's diff of each notable observation, bounded, checked against its hash."""
    found = {}
    for notable in trail.notable:
        evidence = notable.evidence
        if evidence is None:
            continue
        for name, sha in evidence.files.items():
            if name.endswith("/diff.txt"):
                rel = f"{evidence.path}/{name}"
                found[rel] = _text(project.root / rel, rel, sha)
    return found


def _text(path: Path, rel: str, sha: str) -> EvidenceText:
    try:
        data = path.read_bytes()
    except OSError:
        return EvidenceText(path=rel, sha256=sha, state="missing", text="", truncated=False)
    text = data.decode("utf-8", "replace")
    return EvidenceText(
        path=rel,
        sha256=sha,
        state="intact" if hashlib.sha256(data).hexdigest() == sha else "changed",
        text=text[:DIFF_LIMIT],
        truncated=len(text) > DIFF_LIMIT,
    )


def reviews_in(
    ledger: Ledger, rows: list[Observation], events: list[dict[str, Any]]
) -> list[Review]:
    """Every signed review (`sealguard review`) in `events`, and whether its period, folded
    again from `rows` and `events`, still gives the content hash its signers signed."""
    from sealguard.decide.review_payload import moment_text
    from sealguard.decide.review_periods import fold_reviews

    origin = log_key_of(ledger).get("origin", "")
    found = []
    for review in fold_reviews(events):
        period = review.period
        again = fold(period_of(period.since, period.until), origin, rows, events)
        found.append(
            Review(
                review_id=review.review_id,
                since=moment_text(period.since),
                until=moment_text(period.until),
                content_sha256=review.report_sha256,
                reviewed_at=review.reviewed_at,
                meaning="review",
                reason=review.reason,
                signers=[f"{s.name} ({s.id}, {s.role})" for s in review.signers],
                matches=content_sha256(again) == review.report_sha256,
            )
        )
    return found


def unreviewed_in(events: list[dict[str, Any]], period: Period, now: datetime) -> list[Gap]:
    """The parts of the report's period that no signed review covers. An open start is the
    seal (the log's first event), an open end is now, to the second (as a review's period)."""
    from sealguard.decide.review_payload import moment_text
    from sealguard.decide.review_periods import Period as Span
    from sealguard.decide.review_periods import fold_reviews, unreviewed

    start = period.since or (str(events[0].get("ts", "")) if events else "")
    since, until = _moment(start), _moment(period.until) if period.until else now
    if since is None or until is None or until <= since:
        return []
    gaps = unreviewed(fold_reviews(events), Span(since, until.replace(microsecond=0)))
    return [Gap(since=moment_text(gap.since), until=moment_text(gap.until)) for gap in gaps]


def _moment(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def assemble(
    project: Project,
    ledger: Ledger,
    read: tuple[Trail, list[Observation], list[dict[str, Any]]],
    checked: Verification,
    *,
    schedule: Due | None,
    now: datetime,
    made_by: str = "sealguard report",
) -> Report:
    """The report of a trail, with what is known now: the state, the log's verification (the
    caller's: `report` audits, `serve` shows the last audit), the reviews and the schedule."""
    trail, rows, events = read
    return Report(
        generated_at=iso_utc(now),
        made_by=made_by,
        project=str(project.root),
        content_sha256=content_sha256(trail),
        trail=trail,
        banner=banner(project, ledger),
        verification=checked,
        proofs=inclusion(ledger, trail),
        evidence=evidence_texts(project, trail),
        reviews=reviews_in(ledger, rows, events),
        unreviewed=unreviewed_in(events, trail.period, now),
        schedule=schedule_text(schedule) if schedule else None,
    )


def load_report(
    project: Project,
    config: Config,
    since: datetime | None,
    until: datetime | None,
    now: datetime,
) -> Report:
    ledger = project.ledger(config)
    checked = verification(ledger, config, now)  # first: it moves the verified state forward
    rows, events = trail_cache.load(ledger)  # read once, for the trail and the reviews
    trail = fold(period_of(since, until), log_key_of(ledger).get("origin", ""), rows, events)
    schedule = None
    if config.schedule is not None:
        every, grace = config.schedule.every_seconds, config.schedule.grace_seconds
        schedule = due_in_log(events, every, now.astimezone(UTC).replace(tzinfo=None), grace)
    return assemble(project, ledger, (trail, rows, events), checked, schedule=schedule, now=now)
