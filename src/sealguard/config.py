"""`governance/sealguard.toml`: read once, validated into typed objects, or one clear error.

Every error names the file, the line and the key, and maps to exit 78.
"""

import re
import tomllib
from pathlib import Path
from typing import Any, Literal

import msgspec

from sealguard.classes import ESCALATED
from sealguard.durations import parse_duration
from sealguard.errors import ConfigError
from sealguard.filekind import NotRegularFile, read_regular
from sealguard.fleet.urls import url_problem
from sealguard.globs import PathSelector, glob_problem, make_selector
from sealguard.tomlpos import line_of


class SealConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    paths: list[str]
    exclude: list[str] = []
    files_only: bool = False  # sealing without any probe is meant (`seal` refuses it otherwise)


class LedgerConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    key_file: str | None = None  # default: governance/runtime/keys/log_ed25519.pem
    witness: str | None = None  # a witness folder (ledger/witness.py) that cosigns checkpoints
    # the fleet database (fleet/): every act is shipped there; no password (PGPASSWORD, .pgpass)
    url: str | None = None
    project: str | None = None  # the project's name in the fleet (default: the folder's name)
    host: str | None = None  # this host's name in the fleet (default: the machine's host name)
    build: str | None = None  # the build it runs, for decisions that apply to every host of it
    # the audit of the log is incremental between full ones (ledger/incremental.py): a full
    # audit after this many audits (an observation audits twice), or when the last is this old
    full_audit_every: int = 288
    full_audit_after: str = "24h"


ReportKind = Literal["vitest-json", "junit-xml", "pytest", "json", "text"]
SCRUBBERS = (
    "ansi",
    "project_root",
    "temp_paths",
    "timestamps",
    "durations",
    "memory_addresses",
    "random_seeds",
)
NORMALIZERS = (*SCRUBBERS, "sort_tests", "sort_lines")
_PROBE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class NormalizeRule(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """A custom normaliser: a regex and its placeholder, or a JSON field to redact."""

    regex: str | None = None
    replacement: str = "<REDACTED>"
    redact: str | None = None  # a dotted path; `[]` walks a list: "testResults[].startTime"


class ProbeConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    name: str
    command: list[str] | str
    shell: bool = False
    report: ReportKind = "text"
    timeout: str = "10m"
    cwd: str = "."
    env: dict[str, str] = {}
    normalize: list[str | NormalizeRule] | None = None  # None: the defaults for the report kind
    expect_exit: int = 0
    version: list[str] | str | None = None  # a command that prints the tool's version

    @property
    def timeout_seconds(self) -> float:
        return parse_duration(self.timeout)


class _Strict(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    pass


class EmailChannel(_Strict, kw_only=True, frozen=True, forbid_unknown_fields=True):
    host: str
    port: int = 587
    starttls: bool = False  # upgrade a plain connection (port 587)
    tls: bool = False  # implicit TLS from the first byte (port 465)
    username: str | None = None
    password_env: str | None = None  # the password comes from this environment variable
    sender: str = msgspec.field(name="from")
    to: list[str]
    timeout: str = "30s"
    ca_file: str | None = None  # trust these CA certificates for TLS (default: the system's)
    allow_plaintext_auth: bool = False  # AUTH over a connection that is not encrypted


class SlackChannel(_Strict, kw_only=True, frozen=True, forbid_unknown_fields=True):
    url: str | None = None  # only for a URL that holds no secret
    url_env: str | None = None
    timeout: str = "30s"


class PagerDutyChannel(_Strict, kw_only=True, frozen=True, forbid_unknown_fields=True):
    routing_key_env: str
    url: str = "https://events.pagerduty.com/v2/enqueue"
    source: str | None = None  # default: this host's name
    timeout: str = "30s"


class WebhookChannel(_Strict, kw_only=True, frozen=True, forbid_unknown_fields=True):
    url: str | None = None
    url_env: str | None = None
    headers: dict[str, str] = {}
    headers_env: dict[str, str] = {}  # header name -> the environment variable holding its value
    timeout: str = "30s"


class ChannelsConfig(_Strict, kw_only=True, frozen=True, forbid_unknown_fields=True):
    email: EmailChannel | None = None
    slack: SlackChannel | None = None
    pagerduty: PagerDutyChannel | None = None
    webhook: WebhookChannel | None = None

    def secret_variables(self) -> frozenset[str]:
        """The environment variables that hold channel secrets (kept from probes)."""
        names: set[str] = set()
        for name in CHANNELS:
            channel = getattr(self, name)
            for key in ("password_env", "url_env", "routing_key_env"):
                if value := getattr(channel, key, None):
                    names.add(value)
            names.update(getattr(channel, "headers_env", {}).values())
        return frozenset(names)

    def configured(self) -> list[str]:
        return [name for name in CHANNELS if getattr(self, name) is not None]


CHANNELS = ("email", "slack", "pagerduty", "webhook")


class EscalationRow(_Strict, kw_only=True, frozen=True, forbid_unknown_fields=True):
    channels: list[str]
    deadline: str
    fallback: list[str] = []  # channels an overdue escalation is handed to


SILENCE = "SILENCE"  # the heartbeat's row: observations stopped arriving (schedule.py)
ROWS = (*ESCALATED, SILENCE)


class EscalationConfig(_Strict, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """The runbook's matrix by default: email in 24 h; Slack and email in 15 min; phone
    (PagerDuty) and Slack at once. A silence (`heartbeat`): Slack and email within the hour,
    then the phone: nothing is watching the build while it lasts."""

    TOOLING_DRIFT: EscalationRow = EscalationRow(channels=["email"], deadline="24h")
    PRODUCT_DRIFT: EscalationRow = EscalationRow(channels=["slack", "email"], deadline="15m")
    INCIDENT: EscalationRow = EscalationRow(channels=["pagerduty", "slack"], deadline="0s")
    SILENCE: EscalationRow = EscalationRow(
        channels=["slack", "email"], deadline="1h", fallback=["pagerduty"]
    )
    log_link: str | None = None  # where people can read the governance log (default: its path)

    def row(self, klass: str) -> EscalationRow | None:
        return getattr(self, klass, None) if klass in ROWS else None


class ScheduleConfig(_Strict, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """How often an observation is expected (`heartbeat`, `status`, `schedule`)."""

    every: str
    grace: str | None = None  # default: half of `every`, at least a minute (schedule.py)

    @property
    def every_seconds(self) -> float:
        return parse_duration(self.every)

    @property
    def grace_seconds(self) -> float | None:
        return None if self.grace is None else parse_duration(self.grace)


class Config(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    seal: SealConfig
    ledger: LedgerConfig = LedgerConfig()
    probe: list[ProbeConfig] = []
    channels: ChannelsConfig = ChannelsConfig()
    escalation: EscalationConfig = EscalationConfig()
    schedule: ScheduleConfig | None = None  # no [schedule]: no heartbeat is expected

    def selector(self) -> PathSelector:
        return make_selector(self.seal.paths, self.seal.exclude)

    def unreachable(self) -> list[tuple[str, list[str]]]:
        """The classes whose escalations would reach nobody (no channel of their row, nor of
        its fallback, is configured), each with the channels its row names."""
        configured = set(self.channels.configured())
        found: list[tuple[str, list[str]]] = []
        for klass in ROWS if self.schedule else ESCALATED:
            row: EscalationRow = getattr(self.escalation, klass)
            if not configured.intersection(row.channels + row.fallback):
                found.append((klass, row.channels + row.fallback))
        return found


_AT = re.compile(r"^(?P<what>.*?)(?: - at `(?P<path>\$[^`]*)`)?$", re.DOTALL)
_UNKNOWN = re.compile(r"Object contains unknown field `(?P<key>[^`]+)`")
_MISSING = re.compile(r"Object missing required field `(?P<key>[^`]+)`")
_EXPECTED = re.compile(r"Expected `(?P<want>[^`]+)`, got `(?P<got>[^`]+)`")
_TOML_LINE = re.compile(r"\(at line (?P<line>\d+), column \d+\)")  # else "(at end of document)"
_TOML_TYPES = {
    "str": "a string",
    "array": "an array",
    "object": "a table",
    "int": "an integer",
    "bool": "a boolean",
    "float": "a float",
}


def _parse_path(text: str) -> list[str | int]:
    """`$.seal.paths[1]` -> ["seal", "paths", 1]."""
    parts: list[str | int] = []
    for name, index in re.findall(r"\.([^.\[]+)|\[(\d+)\]", text):
        parts.append(int(index) if index else name)
    return parts


def _dotted(path: list[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "(top level)"


def _error(file: Path, text: str, path: list[str | int], problem: str) -> ConfigError:
    line = line_of(text, tuple(path))
    return ConfigError(f"{file}:{line}: {_dotted(path)}: {problem}")


def _explain(message: str) -> tuple[list[str | int], str]:
    """Turn a msgspec validation message into (key path, readable problem)."""
    match = _AT.match(message)
    assert match is not None  # the pattern accepts any text
    what, path = match.group("what"), _parse_path(match.group("path") or "$")
    if unknown := _UNKNOWN.search(what):
        return [*path, unknown.group("key")], "unknown key"
    if missing := _MISSING.search(what):
        return [*path, missing.group("key")], "required key is missing"
    if expected := _EXPECTED.search(what):
        want = _TOML_TYPES.get(expected.group("want"), expected.group("want"))
        got = _TOML_TYPES.get(expected.group("got"), expected.group("got"))
        return path, f"expected {want}, got {got}"
    return path, what


def parse_config(text: str, file: Path) -> Config:
    """Validate TOML `text` (read from `file`, named in errors) into a Config."""
    try:
        data: dict[str, Any] = tomllib.loads(text)
        config = msgspec.convert(data, Config, strict=True)
    except tomllib.TOMLDecodeError as exc:
        where = _TOML_LINE.search(str(exc))
        line = where.group("line") if where else str(max(len(text.splitlines()), 1))
        reason = _TOML_LINE.sub("", str(exc)).replace("(at end of document)", "").strip()
        raise ConfigError(f"{file}:{line}: invalid TOML: {reason}") from None
    except RecursionError:  # tomllib recurses once per level of nesting and has no limit of its own
        raise ConfigError(f"{file}: invalid TOML: nested too deeply to read") from None
    except msgspec.ValidationError as exc:
        path, problem = _explain(str(exc))
        raise _error(file, text, path, problem) from None
    _check_globs(config, file, text)
    _check_probes(config, file, text)
    written = data.get("escalation", {})
    _check_escalation(config, file, text, set(written) if isinstance(written, dict) else set())
    _check_ledger(config, file, text)
    _check_schedule(config, file, text)
    return config


def _check_schedule(config: Config, file: Path, text: str) -> None:
    if config.schedule is None:
        return
    for key in ("every", "grace"):
        try:
            seconds = getattr(config.schedule, f"{key}_seconds")
        except ValueError as exc:
            raise _error(file, text, ["schedule", key], str(exc)) from None
        if key == "every" and seconds < 60:
            raise _error(
                file, text, ["schedule", key], "must be 1m or longer (timers count minutes)"
            )


def _check_ledger(config: Config, file: Path, text: str) -> None:
    if config.ledger.url is not None:
        problem = url_problem(config.ledger.url)
        if problem is not None:
            raise _error(file, text, ["ledger", "url"], problem)
    for key in ("project", "host", "build"):
        value = getattr(config.ledger, key)
        if value is not None and (not value.strip() or any(ord(c) < 32 for c in value)):
            raise _error(file, text, ["ledger", key], "must be a non-empty name on one line")
    if config.ledger.full_audit_every < 1:
        raise _error(
            file, text, ["ledger", "full_audit_every"], "must be 1 or more (1: always full)"
        )
    try:
        parse_duration(config.ledger.full_audit_after)
    except ValueError as exc:
        raise _error(file, text, ["ledger", "full_audit_after"], str(exc)) from None


def _check_globs(config: Config, file: Path, text: str) -> None:
    for key in ("paths", "exclude"):
        for index, pattern in enumerate(getattr(config.seal, key)):
            if problem := glob_problem(pattern):
                raise _error(file, text, ["seal", key, index], f'bad glob "{pattern}": {problem}')
    if not config.seal.paths:
        raise _error(file, text, ["seal", "paths"], "must name at least one glob")


def _probe_problem(probe: ProbeConfig, seen: set[str]) -> tuple[str, str] | None:
    """(key, problem) for the first thing wrong with one probe, or None."""
    if not _PROBE_NAME.fullmatch(probe.name):
        return "name", f'"{probe.name}" must be letters, digits, "_", "." or "-"'
    if probe.name in seen:
        return "name", f'"{probe.name}" names two probes'
    if not probe.command or (isinstance(probe.command, list) and not probe.command[0]):
        return "command", "is empty"
    if isinstance(probe.command, str) and not probe.shell:
        return "command", "a string command needs shell = true (or write it as an array)"
    try:
        if probe.timeout_seconds <= 0:
            return "timeout", "must be longer than 0s"
    except ValueError as exc:
        return "timeout", str(exc)
    if Path(probe.cwd).is_absolute() or ".." in Path(probe.cwd).parts:
        return "cwd", "must be a folder inside the project"
    return None


def _normalizer_problem(rule: str | NormalizeRule) -> str | None:
    if isinstance(rule, str):
        return (
            None
            if rule in NORMALIZERS
            else f'unknown normaliser "{rule}" (known: {", ".join(NORMALIZERS)})'
        )
    if (rule.regex is None) == (rule.redact is None):
        return "a custom normaliser needs exactly one of `regex` or `redact`"
    if rule.regex is not None:
        try:
            re.compile(rule.regex)
        except re.error as exc:
            return f"bad regex: {exc}"
    return None


def _check_probes(config: Config, file: Path, text: str) -> None:
    seen: set[str] = set()
    for index, probe in enumerate(config.probe):
        if found := _probe_problem(probe, seen):
            raise _error(file, text, ["probe", index, found[0]], found[1])
        seen.add(probe.name)
        for number, rule in enumerate(probe.normalize or []):
            if problem := _normalizer_problem(rule):
                raise _error(file, text, ["probe", index, "normalize", number], problem)


def _channel_problem(name: str, channel: Any) -> tuple[str, str] | None:
    if hasattr(channel, "url_env") and (channel.url is None) == (channel.url_env is None):
        return "url", "set exactly one of `url` or `url_env`"
    if isinstance(channel, EmailChannel):
        if channel.tls and channel.starttls:
            return "tls", "choose `tls` (implicit TLS) or `starttls`, not both"
        if not channel.to:
            return "to", "name at least one recipient"
        if (channel.username is None) != (channel.password_env is None):
            return "username", "AUTH needs both `username` and `password_env`"
    if isinstance(channel, WebhookChannel):
        both = {h.lower() for h in channel.headers} & {h.lower() for h in channel.headers_env}
        if both:
            return "headers_env", f"header {sorted(both)[0]} is also set in `headers`"
    try:
        parse_duration(channel.timeout)
    except ValueError as exc:
        return "timeout", str(exc)
    return None


def _check_escalation(config: Config, file: Path, text: str, written: set[str]) -> None:
    """Rows the config writes must name configured channels; the runbook's default rows may
    name channels that are not configured: such escalations are kept, and reported as
    undeliverable, never dropped."""
    for name in CHANNELS:
        channel = getattr(config.channels, name)
        if channel is not None and (found := _channel_problem(name, channel)):
            raise _error(file, text, ["channels", name, found[0]], found[1])
    configured = set(config.channels.configured())
    for klass in ROWS:
        row: EscalationRow = getattr(config.escalation, klass)
        try:
            parse_duration(row.deadline)
        except ValueError as exc:
            raise _error(file, text, ["escalation", klass, "deadline"], str(exc)) from None
        for key in ("channels", "fallback"):
            for index, channel in enumerate(getattr(row, key)):
                if channel not in CHANNELS:
                    raise _error(
                        file,
                        text,
                        ["escalation", klass, key, index],
                        f'unknown channel "{channel}"',
                    )
                if klass in written and channel not in configured:
                    raise _error(
                        file, text, ["escalation", klass, key, index],
                        f'channel "{channel}" is not configured in [channels.{channel}]',
                    )  # fmt: skip


def error_at(file: Path, path: list[str | int], problem: str) -> ConfigError:
    """A ConfigError for a valid config that cannot be used, pointing at the key's line."""
    try:
        text = read_regular(file).decode("utf-8")
    except (OSError, UnicodeDecodeError):
        text = ""
    return _error(file, text, path, problem)


def load_config(file: Path) -> Config:
    try:
        text = read_regular(file).decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{file}: no such file; run `sealguard init` to write one") from None
    except NotRegularFile as exc:
        raise ConfigError(f"{file}: cannot read the config: {exc.strerror}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot read the config: {exc}") from None
    return parse_config(text, file)
