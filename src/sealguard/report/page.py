"""What the auditor's report shows besides the trail, as of when it was made. Pure data.

The trail (report/trail.py) is the period's content, hashed; everything here depends on the
moment: the state observation is in now, the log's verification against its checkpoint and
witness now, the inclusion proofs against that checkpoint, the evidence files as they are now,
and the reviews signed so far. None of it enters `content_sha256`.
"""

import msgspec

from sealguard.report.trail import Trail


class Banner(msgspec.Struct, frozen=True, kw_only=True):
    """The state observation is in (folded from the whole log), since when and why."""

    mode: str  # OBSERVING, FROZEN, HALTED (UNSEALED before any seal)
    since: str | None
    because: str | None
    reason: str
    baseline_version: int
    baseline_sha256: str | None
    next_step: str


class Checkpoint(msgspec.Struct, frozen=True, kw_only=True):
    origin: str
    size: int
    root: str  # base64, as the note writes it


class Verification(msgspec.Struct, frozen=True, kw_only=True):
    """The log's audit as the report was made (`sealguard log verify` says the same)."""

    intact: bool
    summary: str  # one line: INTACT … or INCIDENT …
    problems: list[str]
    lines: int
    full: bool  # the whole log was recomputed (else: only what is new since the verified state)
    how: str = ""  # how it was come by, where not by this report's own audit (the dashboard)
    checkpoint: Checkpoint | None
    witness: str  # where the witness is, or that there is none


class Proof(msgspec.Struct, frozen=True, kw_only=True):
    """An event's inclusion proof (RFC 9162) against the checkpoint the log was verified at:
    `sealguard log check-proof` checks it offline once saved as the bundle it is."""

    seq: int
    valid: bool
    reason: str
    bundle: dict[str, object]


class EvidenceText(msgspec.Struct, frozen=True, kw_only=True):
    """A text evidence file (a probe's diff), bounded, checked against the recorded SHA-256."""

    path: str  # relative to the project root
    sha256: str  # as the event recorded it
    state: str  # "intact", "changed" (INV-D-07), "missing"
    text: str  # at most the first `limit` characters
    truncated: bool


class Review(msgspec.Struct, frozen=True, kw_only=True):
    """A signed review of a period's trail (`sealguard review`, from its own log events)."""

    review_id: str
    since: str | None
    until: str | None
    content_sha256: str
    reviewed_at: str
    meaning: str
    reason: str
    signers: list[str]  # printed names and ids
    matches: bool | None = None  # the period folded again gives the signed hash


class Gap(msgspec.Struct, frozen=True, kw_only=True):
    """A stretch of the report's period that no signed review covers."""

    since: str  # UTC, ISO 8601; inclusive
    until: str  # exclusive


class Report(msgspec.Struct, kw_only=True):
    format: str = "sealguard-report/1"
    generated_at: str
    made_by: str = "sealguard report"
    project: str
    content_sha256: str  # of `trail`
    trail: Trail
    banner: Banner
    verification: Verification
    proofs: dict[str, Proof] = {}  # by seq (as text: JSON keys)
    evidence: dict[str, EvidenceText] = {}  # by path
    reviews: list[Review] = []
    # the parts of the period no review covers: from --since (or the seal) to --until (or now)
    unreviewed: list[Gap] = []
    schedule: str | None = None  # when the next observation is due ([schedule]), as status says
