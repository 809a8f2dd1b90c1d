"""The runbook's companion documents, generated from the project so they never disagree with it.

The runbook names four documents beside it: who decides what (the authority model), where each
class is escalated (the escalation matrix), the diagnosis before escalating (the diagnostic
checklist), and the post-mortem's form (the incident template). Each is rendered here from what
is in force, the configuration and AUTHORITY.toml, as Markdown. Pure: the caller hands in both.
"""

from typing import cast
from urllib.parse import urlsplit

from sealguard.classes import CLASSES, ClassName
from sealguard.config import CHANNELS, SILENCE, ChannelsConfig, Config, EscalationRow
from sealguard.decide.authority import DECISION_KINDS, Authority, Person, Role
from sealguard.decide.incident_report import REQUIRED_SECTIONS, IncidentFacts, render
from sealguard.decide.sshsig import NAMESPACE
from sealguard.durations import parse_duration
from sealguard.globs import GOVERNANCE_DIR
from sealguard.ledger.layout import LOG_NAME
from sealguard.markdown import Markdown, code, inline, joined, render_template, table
from sealguard.observe.classify import rule_table
from sealguard.project import RUNTIME_DIR

AUTHORITY_MODEL = "AUTHORITY_MODEL.md"
ESCALATION_MATRIX = "ESCALATION_MATRIX.md"
DIAGNOSTIC_CHECKLIST = "DIAGNOSTIC_CHECKLIST.md"
INCIDENT_TEMPLATE = "INCIDENT_TEMPLATE.md"
NOBODY = "not configured: would reach nobody"
LOG_PATH = f"{GOVERNANCE_DIR}/{RUNTIME_DIR}/{LOG_NAME}"

# ../shared/SPEC.md's roles: (role, who holds it, what it may do)
ROLES: tuple[tuple[str, Role | None, str], ...] = (
    ("Observer", None, "observe, snapshot, journal, escalate"),
    ("Operator", "operator", "run commands, acknowledge an escalation, fill an incident report"),
    (
        "Architect",
        "architect",
        "decide Accept / Investigate / Rollback, authorise a new baseline, close an incident, "
        "authorise resume",
    ),
)
DECISIONS: dict[str, str] = {
    "accept": "`sealguard decide RTE_… accept` after a PRODUCT_DRIFT: the outputs observed in "
    "the drift's snapshot become the next baseline version; observation resumes (FROZEN to "
    "OBSERVING)",
    "investigate": "`sealguard decide RTE_… investigate` after a PRODUCT_DRIFT: observation "
    "stays FROZEN, shown as under investigation (by whom, why, since when); an accept or a "
    "rollback is still needed",
    "rollback": "`sealguard decide RTE_… rollback --to vN`: a kept baseline version becomes "
    "the target; observation resumes only after people restore the build and "
    "`sealguard certify` comes out STABLE against it",
    "reseal": "`sealguard decide PRO_… reseal` on a proposal from `sealguard propose` (a "
    "correction after an incident, a planned release or patch): the next baseline version; "
    "while OBSERVING it is installed by the observation that sees it deployed",
    "close-incident": "`sealguard incident close INC_…`: once its report is written, a reseal "
    "or rollback is decided and `sealguard certify` came out STABLE (HALTED to OBSERVING)",
    "amend": "`sealguard decide PRO_… amend`: a change of sealguard.toml or AUTHORITY.toml "
    "alone becomes the one in force",
}
CHANNEL_NAMES = {
    "email": "Email",
    "slack": "Slack",
    "pagerduty": "PagerDuty (phone)",
    "webhook": "Webhook",
}
AFTER: dict[ClassName, str] = {
    "STABLE": "nothing: observation goes on",
    "TOOLING_DRIFT": "nothing: observation goes on; people repair the tooling, never the product",
    "PRODUCT_DRIFT": "observation is FROZEN until an architect's signed decision: accept, "
    "investigate or rollback",
    "INCIDENT": "observation is HALTED until the incident report is written, an architect's "
    "signed decision (reseal or rollback), and a certification run that comes out STABLE",
}
# The heartbeat's row: not a class of observation, but escalated through the same matrix.
SILENCE_SEVERITY = "high: nothing watches the build while it lasts"
SILENCE_AFTER = (
    "observation state unchanged (never frozen); `sealguard heartbeat` closes the escalation "
    "once observations arrive again"
)


def _after(row: str) -> str:
    return AFTER.get(cast(ClassName, row), SILENCE_AFTER)


def _rows(config: Config) -> list[str]:
    """The matrix's rows: every class, and SILENCE where a [schedule] makes the heartbeat run."""
    return [*CLASSES, *([SILENCE] if config.schedule is not None else [])]


def companion_documents(config: Config, authority: Authority | None) -> dict[str, str]:
    """File name -> Markdown, for the configuration and authority in force."""
    documents = {
        AUTHORITY_MODEL: authority_model(authority),
        ESCALATION_MATRIX: escalation_matrix(config, authority),
        DIAGNOSTIC_CHECKLIST: diagnostic_checklist(config),
        INCIDENT_TEMPLATE: incident_template(),
    }
    return {name: text.rstrip("\n") + "\n" for name, text in documents.items()}


def _who(people: list[Person]) -> Markdown:
    return joined(f"{person.name} ({person.id})" for person in people) if people else Markdown("")


def _keys(person: Person) -> Markdown:
    shown = [
        Markdown(code(key.fingerprint) + (f" {joined([key.comment])}" if key.comment else ""))
        for key in person.keys
    ]
    return joined(shown) if shown else Markdown("none")


def _people(authority: Authority) -> Markdown:
    rows = [
        (person.name, person.id, ", ".join(person.roles), _keys(person))
        for person in authority.people
    ]
    return table(("name", "id", "roles", "keys (SHA256 fingerprint, comment)"), rows)


def _roles(authority: Authority | None) -> Markdown:
    rows = []
    for name, role, may in ROLES:
        if role is None:
            holders = Markdown("sealguard itself (the running tool, CI, a timer); no person")
        elif authority is None:
            holders = Markdown("nobody: no AUTHORITY.toml is sealed")
        else:
            holders = _who(authority.signers_for(role)) or Markdown("nobody")
        rows.append((name, may, holders))
    return table(("role", "may", "held by"), rows)


def _decisions(authority: Authority | None) -> Markdown:
    rows = [
        (
            kind,
            DECISIONS.get(kind, ""),
            str(authority.required(kind)) if authority else "1 (the default), but nobody can sign",
        )
        for kind in DECISION_KINDS
    ]
    return table(("decision", "what it does", "distinct architects who must sign"), rows)


def authority_model(authority: Authority | None) -> str:
    """AUTHORITY_MODEL.md: the people, their roles and keys, and who must sign each decision."""
    return render_template(
        "AUTHORITY_MODEL.md.j2",
        sealed=authority is not None,
        people=_people(authority) if authority else None,
        roles=_roles(authority),
        decisions=_decisions(authority),
        namespace=NAMESPACE,
    )


def _host(url: str) -> str:
    return urlsplit(url).hostname or "(an address without a host)"


def _destination(url: str | None, url_env: str | None) -> str:
    return f"at {_host(url)}" if url else f"whose URL is in ${url_env}"


def reaches(channels: ChannelsConfig, name: str) -> str:
    """Whom a channel reaches, as far as the config says, without any secret."""
    email, slack, pagerduty, webhook = (
        channels.email,
        channels.slack,
        channels.pagerduty,
        channels.webhook,
    )
    if name == "email" and email:
        return f"{', '.join(email.to)} (from {email.sender}, via {email.host})"
    if name == "slack" and slack:
        return f"the Slack channel of the incoming webhook {_destination(slack.url, slack.url_env)}"
    if name == "pagerduty" and pagerduty:
        return (
            "the on-call of the PagerDuty service whose routing key is in "
            f"${pagerduty.routing_key_env} (events to {_host(pagerduty.url)})"
        )
    if name == "webhook" and webhook:
        return f"the receiver {_destination(webhook.url, webhook.url_env)}"
    return NOBODY


def _channel(channels: ChannelsConfig, name: str) -> str:
    label = CHANNEL_NAMES.get(name, name)
    return label if getattr(channels, name, None) is not None else f"{label} — {NOBODY}"


def deadline_text(deadline: str) -> str:
    return "immediately" if parse_duration(deadline) == 0 else f"within {deadline}"


def route(config: Config, klass: ClassName) -> str:
    """Where and how fast a class is escalated, e.g. "Slack + Email, within 15m"."""
    row = config.escalation.row(klass)
    if row is None:
        return "no escalation"
    names = " + ".join(_channel(config.channels, name) for name in row.channels) or "no channel"
    return f"{names}, {deadline_text(row.deadline)}"


def _matrix_row(config: Config, klass: str, row: EscalationRow | None) -> tuple[str, ...]:
    severity = CLASSES[klass].severity if klass in CLASSES else SILENCE_SEVERITY
    if row is None:
        return (klass, severity, "none", "N/A", "N/A", "nobody")
    channels = config.channels
    return (
        klass,
        severity,
        joined(_channel(channels, name) for name in row.channels),
        deadline_text(row.deadline),
        joined(_channel(channels, name) for name in row.fallback) or "nobody",
        joined(f"{CHANNEL_NAMES[n]}: {reaches(channels, n)}" for n in row.channels) or "nobody",
    )


def _unreachable(config: Config) -> list[str]:
    """The rows whose escalation no configured channel would deliver."""
    configured = set(config.channels.configured())
    return [
        klass
        for klass in _rows(config)
        if (row := config.escalation.row(klass)) is not None
        and not configured & {*row.channels, *row.fallback}
    ]


def _channels(channels: ChannelsConfig) -> Markdown:
    rows = [
        (CHANNEL_NAMES[name], "yes" if getattr(channels, name) else "no", reaches(channels, name))
        for name in CHANNELS
    ]
    return table(("channel", "configured", "reaches"), rows)


def escalation_matrix(config: Config, authority: Authority | None) -> str:
    """ESCALATION_MATRIX.md: for each class, its channels, deadline and whom they reach."""
    rows = [_matrix_row(config, k, config.escalation.row(k)) for k in _rows(config)]
    architects = authority.signers_for("architect") if authority else []
    return render_template(
        "ESCALATION_MATRIX.md.j2",
        matrix=table(
            ("class", "severity", "channels", "deadline", "if overdue, handed to", "reaches"), rows
        ),
        unreachable=_unreachable(config),
        channels=_channels(config.channels),
        after=table(("class", "then"), [(k, _after(k)) for k in _rows(config)]),
        architects=_who(architects) if architects else None,
        log_link=inline(config.escalation.log_link or f"{LOG_PATH} (the log's own path)"),
    )


def diagnostic_checklist(config: Config) -> str:
    """DIAGNOSTIC_CHECKLIST.md: the runbook's diagnosis before escalating, with the commands
    that answer each question, the escalation each outcome leads to, and the whole rule table."""
    return render_template(
        "DIAGNOSTIC_CHECKLIST.md.j2",
        incident=route(config, "INCIDENT"),
        product_drift=route(config, "PRODUCT_DRIFT"),
        tooling_drift=route(config, "TOOLING_DRIFT"),
        rules=table(("rule", "class", "matches when"), rule_table()),
        log_path=LOG_PATH,
    )


PLACEHOLDER_ID = "YYYYMMDD_HHMMSS_xxxxxxxx"
PLACEHOLDER_TIME = "YYYY-MM-DDTHH:MM:SSZ"


def _placeholder_facts() -> IncidentFacts:
    event_id, snapshot_id = f"RTE_{PLACEHOLDER_ID}", f"SNP_{PLACEHOLDER_ID}"
    event = {
        "event_id": event_id,
        "observed_at": PLACEHOLDER_TIME,
        "commit": "(the commit or tag observed)",
        "classification": "INCIDENT",
        "why": [
            {"rule": "INC-01", "class": "INCIDENT", "matched": True, "probe": None,
             "detail": "(the invariant violated: the change and the file)"},
        ],
        "invariants_before": [
            {"invariant": "INV-D-0N", "change": "(added, removed or changed)",
             "path": "(the file)", "detail": "(what differs)"},
        ],
        "invariants_after": [],
        "snapshot": {"snapshot_id": snapshot_id,
                     "path": f"{GOVERNANCE_DIR}/{RUNTIME_DIR}/snapshots/{snapshot_id}",
                     "files": {"PROBE/stdout.txt": "", "PROBE/diff.txt": ""}},
        "export": f"{GOVERNANCE_DIR}/{RUNTIME_DIR}/exports/EXP_{PLACEHOLDER_ID}.tar.gz",
        "baseline_sha256": "(the SHA-256 of the baseline in force)",
    }  # fmt: skip
    return IncidentFacts(
        incident_id=f"INC_{PLACEHOLDER_ID}",
        opened_at=PLACEHOLDER_TIME,
        event=event,
        timeline=[(PLACEHOLDER_TIME, "(each event of the log about this incident, oldest first)")],
        escalations=[f"ESC_{PLACEHOLDER_ID} via CHANNEL: (each delivery attempt, its outcome)"],
        diff="(the diff with the baseline, bounded)\n",
        baseline_version=1,
    )


def incident_template() -> str:
    """INCIDENT_TEMPLATE.md: the report sealguard writes on an INCIDENT, with placeholder facts."""
    return render_template(
        "INCIDENT_TEMPLATE.md.j2",
        sections=REQUIRED_SECTIONS,
        report=render(_placeholder_facts()),
        incidents=f"{GOVERNANCE_DIR}/incidents",
    )
