"""`sealguard schedule systemd|cron`: timers for this project that systemd and cron accept, and
whose commands run."""

import configparser
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sealguard.config import load_config
from sealguard.seal.sealing import seal
from sealguard.timers import cron_step

from .conftest import DEFAULT_CONFIG, MakeTree

SCRIPT = Path(sys.executable).parent / "sealguard"  # the console script of this install
CRON_FIELD = re.compile(r"^(\*|\d+)(/\d+)?$")


def _run(*argv: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, timeout=120, check=False
    )


def _units(folder: Path) -> dict[str, configparser.ConfigParser]:
    found = {}
    for path in sorted(folder.iterdir()):
        parser = configparser.ConfigParser(interpolation=None, strict=True)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        parser.read(path)
        found[path.name] = parser
    return found


@pytest.fixture
def scheduled(make_project: MakeTree):  # type: ignore[no-untyped-def]
    project = make_project(config=DEFAULT_CONFIG + '[schedule]\nevery = "15m"\n', name="my proj")
    seal(project, load_config(project.config_file), jobs=1)
    return project


def test_systemd_units_are_valid_and_run_this_sealguard_on_this_project(
    scheduled, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "units"
    done = _run(SCRIPT, "--project", scheduled.root, "schedule", "systemd", "-o", folder)
    assert done.returncode == 0, done.stderr
    units = _units(folder)
    assert len(units) == 4
    for job in ("observe", "heartbeat"):
        [service] = [
            n for n in units if re.fullmatch(f"sealguard-{job}-my_proj-[0-9a-f]{{8}}.service", n)
        ]
        [timer] = [n for n in units if n == service.replace(".service", ".timer")]
        run = units[service]["Service"]
        assert run["Type"] == "oneshot" and run["WorkingDirectory"] == str(scheduled.root)
        assert run["ExecStart"] == f'{SCRIPT} --project "{scheduled.root}" {job}'
        assert units[timer]["Timer"]["OnUnitActiveSec"] == "900s"
        assert units[timer]["Timer"]["Unit"] == service
        assert units[timer]["Install"]["WantedBy"] == "timers.target"
    assert units[next(n for n in units if "observe" in n)]["Service"]["SuccessExitStatus"] == (
        "1 2 3 4"
    )
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed: the units were parsed, not verified")
    files = [str(p) for p in sorted(folder.iterdir())]
    checked = _run("systemd-analyze", "verify", "--man=no", *files)
    assert (checked.returncode, checked.stderr) == (0, ""), checked.stderr


def test_systemd_verify_catches_what_the_test_relies_on(scheduled, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A unit with a command that does not exist is refused: the check above can fail."""
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    folder = tmp_path / "units"
    _run(SCRIPT, "--project", scheduled.root, "schedule", "systemd", "-o", folder)
    service = next(folder.glob("sealguard-observe-*.service"))
    service.write_text(service.read_text().replace(f"ExecStart={SCRIPT}", "ExecStart=/nowhere/x"))
    checked = _run("systemd-analyze", "verify", "--man=no", service)
    assert checked.returncode != 0 and "/nowhere/x" in checked.stderr


def test_printed_units_name_each_file_and_use_python_when_run_as_a_module(scheduled) -> None:  # type: ignore[no-untyped-def]
    done = _run(
        sys.executable, "-m", "sealguard", "--project", scheduled.root, "schedule", "systemd"
    )
    assert done.returncode == 0, done.stderr
    headers = [line for line in done.stdout.splitlines() if line.startswith("# sealguard-")]
    assert len(headers) == 4
    assert f"ExecStart={sys.executable} -m sealguard --project" in done.stdout


def test_cron_lines_parse_and_their_commands_run(scheduled) -> None:  # type: ignore[no-untyped-def]
    done = _run(SCRIPT, "--project", scheduled.root, "schedule", "cron")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2
    for line, job in zip(lines, ("observe", "heartbeat"), strict=True):
        fields = line.split(maxsplit=5)
        assert fields[:5] == ["*/15", "*", "*", "*", "*"]
        assert all(CRON_FIELD.match(f) for f in fields[:5])
        assert fields[5].endswith(f" {job}")
        ran = _run("sh", "-c", fields[5])  # what cron would run, run by a shell as cron does
        assert ran.returncode == 0, (line, ran.stderr)
    assert "heartbeat_resumed" not in scheduled.log_file.read_text()
    assert scheduled.log_file.read_text().count('"type":"runtime_event"') == 1


@pytest.mark.parametrize(
    ("every", "fields"),
    [
        (60, "* * * * *"),
        (300, "*/5 * * * *"),
        (3600, "0 * * * *"),
        (6 * 3600, "0 */6 * * *"),
        (86400, "0 0 * * *"),
        (90 * 60, None),
        (7 * 60, None),
        (2 * 86400, None),
        (90, None),
    ],
)
def test_cron_says_only_what_it_can(every: int, fields: str | None) -> None:
    assert cron_step(every) == fields


def test_an_interval_cron_cannot_say_is_a_config_error(make_project: MakeTree, invoke) -> None:  # type: ignore[no-untyped-def]
    project = make_project(config=DEFAULT_CONFIG + '[schedule]\nevery = "90m"\n')
    result = invoke("--project", str(project.root), "schedule", "cron")
    assert result.exit_code == 78
    assert result.stderr.startswith(f"sealguard: {project.config_file}:6: schedule.every: cron ")


def test_no_schedule_no_timers(make_project: MakeTree, invoke) -> None:  # type: ignore[no-untyped-def]
    project = make_project()
    result = invoke("--project", str(project.root), "schedule", "systemd")
    assert result.exit_code == 78 and "schedule: no [schedule]" in result.stderr


def test_in_process_units_quote_what_systemd_would_expand(make_project: MakeTree, invoke) -> None:  # type: ignore[no-untyped-def]
    from sealguard.timers import Job, systemd_units

    job = Job("/srv/a b/100%$x", ("/usr/bin/sealguard",), 3600)
    units = systemd_units(job)
    service = units[f"{job.unit('observe')}.service"]
    assert 'ExecStart=/usr/bin/sealguard --project "/srv/a b/100%%$$x" observe' in service
    assert job.unit("observe").startswith("sealguard-observe-100__x-")
    project = make_project(config=DEFAULT_CONFIG + '[schedule]\nevery = "1h"\n')
    printed = invoke("--project", str(project.root), "schedule", "systemd")
    assert printed.exit_code == 0 and "OnUnitActiveSec=3600s" in printed.output
    assert "every 1h00m" in printed.output
    lines = invoke("--project", str(project.root), "schedule", "cron").output.splitlines()
    assert [line.split()[:5] for line in lines] == [["0", "*", "*", "*", "*"]] * 2
