"""Running one probe once and turning what it left into facts and evidence files.

Output goes straight to files (stdout.txt, stderr.txt, the report), so memory stays bounded
whatever the product prints; the full streams are hashed. Never retried: one run, one record.
"""

import hashlib
import json
import os
import shlex
from dataclasses import dataclass
from pathlib import Path

from sealguard.config import ProbeConfig
from sealguard.facts import ProbeBaseline, ProbeFacts
from sealguard.fsio import sha256_of
from sealguard.probes import normalize
from sealguard.probes.console import read_console
from sealguard.probes.reports import read_report
from sealguard.proc import StreamedRun, first_line, run_to_files

CONSOLE_LIMIT = 4 << 20  # bytes read from each end of a huge console for signatures
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


def _console(path: Path) -> str:
    size = path.stat().st_size
    with path.open("rb") as stream:
        if size <= 2 * CONSOLE_LIMIT:
            data = stream.read()
        else:  # a huge console: its head and tail carry the summaries and errors
            data = stream.read(CONSOLE_LIMIT) + b"\n...\n"
            stream.seek(size - CONSOLE_LIMIT)
            data += stream.read()
    return data.decode("utf-8", "replace")


def _command(probe: ProbeConfig, report: Path) -> list[str] | str:
    if isinstance(probe.command, str):
        return probe.command.replace("{report}", shlex.quote(str(report)))
    return [part.replace("{report}", str(report)) for part in probe.command]


def tool_version(probe: ProbeConfig, root: Path) -> str | None:
    """The first line the probe's `version` command prints, or None."""
    if probe.version is None:
        return None
    argv = ["/bin/sh", "-c", probe.version] if isinstance(probe.version, str) else probe.version
    return first_line(argv, root / probe.cwd, timeout=60)


def _normalized_output(
    probe: ProbeConfig,
    reading_document: object,
    stdout: Path,
    target: Path,
    normalizer: normalize.Normalizer,
) -> str:
    """Write the normalised output to `target`; returns its sha256."""
    if probe.report in ("text", "pytest"):
        digest = hashlib.sha256()
        with (
            stdout.open("r", encoding="utf-8", errors="replace", newline="") as source,
            target.open("wb") as out,
        ):
            for line in normalizer.lines(source):
                data = line.encode("utf-8")
                digest.update(data)
                out.write(data)
        return digest.hexdigest()
    text = (
        json.dumps(
            normalizer.document(reading_document), sort_keys=True, indent=1, ensure_ascii=False
        )
        + "\n"
    )
    target.write_text(text, encoding="utf-8")
    return hashlib.sha256(text.encode()).hexdigest()


def run_probe(
    probe: ProbeConfig, root: Path, work: Path, baseline: ProbeBaseline | None
) -> ProbeEvidence:
    """Run `probe` once in the project at `root`; evidence goes to `work`/<probe name>/."""
    folder = work / probe.name
    folder.mkdir(parents=True)
    report = folder / f"report.{EXTENSIONS.get(probe.report, 'out')}"
    stdout, stderr = folder / "stdout.txt", folder / "stderr.txt"
    command = _command(probe, report)
    done = run_to_files(
        command, root / probe.cwd, {**os.environ, **probe.env}, (stdout, stderr),
        timeout=probe.timeout_seconds, shell=isinstance(command, str),
    )  # fmt: skip
    console = read_console(_console(stdout) + "\n" + _console(stderr), str(root))
    uses_file = "{report}" in (
        probe.command if isinstance(probe.command, str) else " ".join(probe.command)
    )
    source = report if uses_file else stdout
    data = (
        source.read_bytes() if source.exists() and probe.report not in ("text", "pytest") else None
    )
    reading = read_report(probe.report, data, str(root))
    normalizer = normalize.build(probe.normalize, probe.report, str(root), [str(work)])
    files = {"stdout.txt": stdout, "stderr.txt": stderr}
    if report.exists():
        files[report.name] = report
    output_sha256 = None
    if reading.state in ("ok", "none"):
        target = folder / "output.normalized"
        output_sha256 = _normalized_output(probe, reading.document, stdout, target, normalizer)
        files["output.normalized"] = target
    tests = dict(reading.tests) or dict(console.tests)  # type: ignore[arg-type]
    facts = ProbeFacts(
        name=probe.name, kind=probe.report, exit_code=done.exit_code, expect_exit=probe.expect_exit,
        timed_out=done.timed_out, signal=done.signal, not_started=done.not_started,
        report_state=reading.state, report_problem=reading.problem, report_success=reading.success,
        tests=tests, test_count=len(tests) or console.summary.total, console=console.summary,
        signatures=console.signatures, suite_failures=reading.suite_failures,
        output_sha256=output_sha256,
        format=reading.format or {"kind": probe.report}, runner=console.runner,
        tool_version=tool_version(probe, root) or console.tool_version, baseline=baseline,
        survivors=done.survivors,
    )  # fmt: skip
    return ProbeEvidence(folder, done, facts, files, sha256_of(stdout), sha256_of(stderr))
