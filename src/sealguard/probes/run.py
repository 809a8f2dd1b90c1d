"""Running one probe once and turning what it left into facts and evidence files.

Output goes straight to files (stdout.txt, stderr.txt, the report), so memory stays bounded
whatever the product prints; the full streams are hashed. Never retried: one run, one record.
"""

import os
import shlex
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

from sealguard.config import ProbeConfig
from sealguard.facts import ProbeBaseline, ProbeFacts
from sealguard.fsio import sha256_of
from sealguard.probes import normalize, normalized
from sealguard.probes.console import ConsoleReading, pytest_tests_by_line, read_console
from sealguard.probes.reports import Reading, read_report, too_large
from sealguard.proc import StreamedRun, first_line, run_to_files

CONSOLE_LIMIT = 2 << 20  # bytes read from each end of a huge console for signatures
REPORT_LIMIT = 8 << 20  # bytes of report read; parsing one takes several times its size
EXTENSIONS = {"vitest-json": "json", "junit-xml": "xml", "json": "json"}


@dataclass(frozen=True)
class ProbeEvidence:
    folder: Path
    run: StreamedRun
    facts: ProbeFacts
    files: dict[
        str, Path
    ]  # evidence name -> file: stdout.txt, stderr.txt, report.*, output.normalized
    stdout_sha256: str
    stderr_sha256: str


def _ends(path: Path) -> list[str]:
    """A console, or the head and the tail of a huge one (its summaries and errors are there)."""
    size = path.stat().st_size
    with path.open("rb") as stream:
        if size <= 2 * CONSOLE_LIMIT:
            return [stream.read().decode("utf-8", "replace")]
        head = stream.read(CONSOLE_LIMIT).decode("utf-8", "replace")
        stream.seek(size - CONSOLE_LIMIT)
        return [head, "...", stream.read().decode("utf-8", "replace")]


def _console(stdout: Path, stderr: Path, root: Path) -> ConsoleReading:
    """What the console says; pytest's per-test lines are read from all of a huge stdout."""
    console = read_console("\n".join([*_ends(stdout), *_ends(stderr)]), str(root))
    if console.runner != "pytest" or stdout.stat().st_size <= 2 * CONSOLE_LIMIT:
        return console
    with stdout.open("r", encoding="utf-8", errors="replace", newline="") as stream:
        lines = iter(partial(stream.readline, normalize.LINE_LIMIT), "")
        return replace(console, tests=pytest_tests_by_line(lines))


def _command(probe: ProbeConfig, report: Path) -> list[str] | str:
    if isinstance(probe.command, str):
        return probe.command.replace("{report}", shlex.quote(str(report)))
    return [part.replace("{report}", str(report)) for part in probe.command]


def _not_started(command: list[str] | str, done: StreamedRun) -> str:
    """Why the command could not start, naming it (the reason alone does not say what)."""
    if not done.not_started:
        return ""
    return f"cannot start {command if isinstance(command, str) else command[0]}: {done.not_started}"


def tool_version(probe: ProbeConfig, root: Path) -> str | None:
    """The first line the probe's `version` command prints, or None."""
    if probe.version is None:
        return None
    argv = ["/bin/sh", "-c", probe.version] if isinstance(probe.version, str) else probe.version
    return first_line(argv, root / probe.cwd, timeout=60)


def _reading(kind: str, source: Path, root: str) -> Reading:
    """Read the report; one larger than REPORT_LIMIT is not read (its parse would not fit)."""
    if kind in ("text", "pytest") or not source.exists():
        return read_report(kind, None, root)
    size = source.stat().st_size
    if size > REPORT_LIMIT:
        return too_large(size, REPORT_LIMIT)
    return read_report(kind, source.read_bytes(), root)


def probe_environment(probe: ProbeConfig, hidden: frozenset[str]) -> dict[str, str]:
    """sealguard's environment without the channel secrets (a probe that prints its environment
    must not put them in the evidence), plus the probe's own `env`."""
    inherited = {k: v for k, v in os.environ.items() if k not in hidden}
    return {**inherited, **probe.env}


def run_probe(
    probe: ProbeConfig,
    root: Path,
    work: Path,
    baseline: ProbeBaseline | None,
    hidden: frozenset[str] = frozenset(),
) -> ProbeEvidence:
    """Run `probe` once in the project at `root`; evidence goes to `work`/<probe name>/.
    `hidden` names environment variables the probe does not inherit (the channel secrets)."""
    folder = work / probe.name
    folder.mkdir(parents=True)
    report = folder / f"report.{EXTENSIONS.get(probe.report, 'out')}"
    stdout, stderr = folder / "stdout.txt", folder / "stderr.txt"
    command = _command(probe, report)
    done = run_to_files(
        command, root / probe.cwd, probe_environment(probe, hidden), (stdout, stderr),
        timeout=probe.timeout_seconds, shell=isinstance(command, str),
    )  # fmt: skip
    console = _console(stdout, stderr, root)
    uses_file = "{report}" in (
        probe.command if isinstance(probe.command, str) else " ".join(probe.command)
    )
    source = report if uses_file else stdout
    reading = _reading(probe.report, source, str(root))
    document, reading = reading.document, replace(reading, document=None)  # normalised in place
    normalizer = normalize.build(probe.normalize, probe.report, str(root), [str(work)])
    files = {"stdout.txt": stdout, "stderr.txt": stderr}
    if report.exists():
        files[report.name] = report
    output_sha256 = None
    if reading.state in ("ok", "none"):
        target = folder / "output.normalized"
        output_sha256 = (
            normalized.write_text(normalizer, stdout, target)
            if probe.report in ("text", "pytest")
            else normalized.write_document(normalizer, document, target)
        )
        del document
        files["output.normalized"] = target
    tests = dict(reading.tests) or dict(console.tests)  # type: ignore[arg-type]
    facts = ProbeFacts(
        name=probe.name, kind=probe.report, exit_code=done.exit_code, expect_exit=probe.expect_exit,
        timed_out=done.timed_out, signal=done.signal, not_started=_not_started(command, done),
        report_state=reading.state, report_problem=reading.problem,
        tests=tests, test_count=len(tests) or console.summary.total, console=console.summary,
        signatures=console.signatures, cause=console.cause, suite_failures=reading.suite_failures,
        output_sha256=output_sha256,
        format=reading.format or {"kind": probe.report}, runner=console.runner,
        tool_version=tool_version(probe, root) or console.tool_version, baseline=baseline,
        survivors=done.survivors,
    )  # fmt: skip
    return ProbeEvidence(folder, done, facts, files, sha256_of(stdout), sha256_of(stderr))
