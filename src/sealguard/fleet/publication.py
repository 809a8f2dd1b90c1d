"""Proposals and decisions published to the fleet database (fleet/sql/002_decisions.sql).

Only carried here: every host checks what it reads against the signed payload and its own
AUTHORITY.toml before journaling anything (decide/fleet_decisions.py).
"""

from dataclasses import dataclass
from typing import Any

from psycopg.types.json import Jsonb

from sealguard.errors import FleetError


@dataclass(frozen=True)
class PublishedProposal:
    proposal_id: str
    project: str
    content_sha256: str
    record: dict[str, Any]  # the fields every host journals (fleet_payload.CARRIED)
    diff: str
    files: dict[str, bytes]  # relative to governance/


@dataclass(frozen=True)
class PublishedDecision:
    decision_id: str
    proposal_id: str
    payload: bytes  # the exact bytes signed
    signatures: list[str]


def _answered(row: Any, what: str) -> None:
    status, reason = row
    if status >= 400:
        raise FleetError(f"the fleet database refused {what}: {reason}")


def publish_proposal(conn: Any, proposal: PublishedProposal) -> None:
    paths = sorted(proposal.files)
    row = conn.execute(
        "SELECT status, reason FROM sealguard.publish_proposal("
        "%s, %s, %s, %s, %s, %s::text[], %s::bytea[])",
        (
            proposal.proposal_id, proposal.project, proposal.content_sha256,
            Jsonb(proposal.record), proposal.diff, paths, [proposal.files[p] for p in paths],
        ),
    ).fetchone()  # fmt: skip
    _answered(row, f"proposal {proposal.proposal_id}")


def publish(
    conn: Any,
    proposal: PublishedProposal,
    decision: PublishedDecision,
    build: str | None,
    hosts: list[str] | None,
) -> None:
    """The proposal (unless held already) and the decision, in one transaction."""
    with conn.transaction():
        publish_proposal(conn, proposal)
        row = conn.execute(
            "SELECT status, reason FROM sealguard.publish_decision("
            "%s, %s, %s, %s, %s::text[], %s, %s::text[])",
            (
                decision.decision_id, proposal.project, decision.proposal_id, build, hosts,
                decision.payload, decision.signatures,
            ),
        ).fetchone()  # fmt: skip
        _answered(row, f"decision {decision.decision_id}")


def decision_ids(conn: Any, project: str) -> list[str]:
    """The ids of the decisions published for `project`, in the order published."""
    rows = conn.execute(
        "SELECT decision_id FROM sealguard.decisions WHERE project = %s ORDER BY id", (project,)
    ).fetchall()
    return [str(row[0]) for row in rows]


def decision(conn: Any, decision_id: str) -> PublishedDecision | None:
    row = conn.execute(
        "SELECT decision_id, proposal_id, payload, signatures FROM sealguard.decisions"
        " WHERE decision_id = %s",
        (decision_id,),
    ).fetchone()
    if row is None:
        return None
    return PublishedDecision(str(row[0]), str(row[1]), bytes(row[2]), list(row[3] or []))


def proposal(conn: Any, proposal_id: str) -> PublishedProposal | None:
    row = conn.execute(
        "SELECT proposal_id, project, content_sha256, record, diff FROM sealguard.proposals"
        " WHERE proposal_id = %s",
        (proposal_id,),
    ).fetchone()
    if row is None:
        return None
    files = conn.execute(
        "SELECT path, content FROM sealguard.proposal_files WHERE proposal_id = %s",
        (proposal_id,),
    ).fetchall()
    record = row[3] if isinstance(row[3], dict) else {}
    return PublishedProposal(
        str(row[0]), str(row[1]), str(row[2]), record, str(row[4]),
        {str(path): bytes(content) for path, content in files},
    )  # fmt: skip
