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
CRON_FIELD = re.compile(r"^(\*|\d+|\d+-\d+)(/\d+)?$")
ARGS = {"observe": "observe --wait", "heartbeat": "heartbeat"}


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
        assert run["ExecStart"] == f'{SCRIPT} --project "{scheduled.root}" {ARGS[job]}'
        assert units[timer]["Timer"]["OnUnitActiveSec"] == "900s"
        assert units[timer]["Timer"]["Unit"] == service
        assert units[timer]["Install"]["WantedBy"] == "timers.target"
    assert units[next(n for n in units if "observe" in n)]["Service"]["SuccessExitStatus"] == (
        "1 2 3 4"
    )
    # the observation from boot (at once when enabled later), the heartbeat half a period
    # after its timer starts: apart by half a period either way
    timers = {n.split("-")[1]: units[n]["Timer"] for n in units if n.endswith(".timer")}
    assert dict(timers["observe"]) | dict(timers["heartbeat"]) == {
        "OnBootSec": "900s", "OnActiveSec": "450s", "OnUnitActiveSec": "900s",
        "AccuracySec": "1s", "Unit": timers["heartbeat"]["Unit"],
    }  # fmt: skip
    assert "OnActiveSec" not in timers["observe"] and "OnBootSec" not in timers["heartbeat"]
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
    # the heartbeat half a period after the observation: minutes 7, 22, 37, 52
    steps = {"observe": "*/15", "heartbeat": "7-59/15"}
    for line, job in zip(lines, ("observe", "heartbeat"), strict=True):
        fields = line.split(maxsplit=5)
        assert fields[:5] == [steps[job], "*", "*", "*", "*"]
        assert all(CRON_FIELD.match(f) for f in fields[:5])
        assert fields[5].endswith(f" {ARGS[job]}")
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


@pytest.mark.parametrize(
    ("every", "fields"),
    [
        (60, "* * * * *"),  # cron cannot say half a minute: the same minute, and observe waits
        (300, "2-59/5 * * * *"),
        (20 * 60, "10-59/20 * * * *"),
        (3600, "30 * * * *"),
        (2 * 3600, "0 1-23/2 * * *"),
        (3 * 3600, "30 1-23/3 * * *"),
        (86400, "0 12 * * *"),
        (90 * 60, None),
    ],
)
def test_the_heartbeat_runs_half_a_period_after_the_observation(
    every: int, fields: str | None
) -> None:
    assert cron_step(every, every // 2) == fields


def test_an_interval_cron_cannot_say_is_a_config_error(make_project: MakeTree, invoke) -> None:  # type: ignore[no-untyped-def]
    project = make_project(config=DEFAULT_CONFIG + '[schedule]\nevery = "90m"\n')
    result = invoke("--project", str(project.root), "schedule", "cron")
    assert result.exit_code == 78
    assert result.stderr.startswith(f"sealguard: {project.config_file}:6: schedule.every: cron ")


def test_no_schedule_no_timers(make_project: MakeTree, invoke) -> None:  # type: ignore[no-untyped-def]
    project = make_project()
    result = invoke("--project", str(project.root), "schedule", "systemd")
    assert result.exit_code == 78
    # no line number (there is no line to point at): what to do instead, before the seal...
    assert result.stderr == (
        f"sealguard: {project.config_file}: schedule: the config in force has no [schedule] "
        '(every = "15m"): nothing says when observations are due; add a [schedule] section '
        "to this file\n"
    )
    seal(project, load_config(project.config_file), jobs=1)
    project.config_file.write_text(DEFAULT_CONFIG + '[schedule]\nevery = "15m"\n')
    sealed = invoke("--project", str(project.root), "schedule", "cron")
    # ... and after it: the file's new [schedule] is not in force until a decision says so
    assert sealed.exit_code == 78 and "`decide PRO_… amend`" in sealed.stderr, sealed.stderr
    assert len(sealed.stderr.splitlines()) == 1


def test_in_process_units_quote_what_systemd_would_expand(make_project: MakeTree, invoke) -> None:  # type: ignore[no-untyped-def]
    from sealguard.timers import Job, systemd_units

    job = Job("/srv/a b/100%$x", ("/usr/bin/sealguard",), 3600)
    units = systemd_units(job)
    service = units[f"{job.unit('observe')}.service"]
    assert 'ExecStart=/usr/bin/sealguard --project "/srv/a b/100%%$$x" observe --wait' in service
    assert job.unit("observe").startswith("sealguard-observe-100__x-")
    project = make_project(config=DEFAULT_CONFIG + '[schedule]\nevery = "1h"\n')
    printed = invoke("--project", str(project.root), "schedule", "systemd")
    assert printed.exit_code == 0 and "OnUnitActiveSec=3600s" in printed.output
    assert "every 1h00m" in printed.output
    lines = invoke("--project", str(project.root), "schedule", "cron").output.splitlines()
    assert [line.split()[:5] for line in lines] == [["0", *"****"], ["30", *"****"]]


def test_a_percent_sign_in_the_path_is_escaped_in_every_unit_line() -> None:
    from sealguard.timers import Job, cron_lines, systemd_units

    job = Job('/srv/p%20x/a"b', ("/usr/bin/sealguard",), 900)
    service = systemd_units(job)[f"{job.unit('observe')}.service"]
    assert 'WorkingDirectory=/srv/p%%20x/a"b\n' in service
    assert '(runtime governance of a sealed build): /srv/p%%20x/a"b\n' in service
    # inside the double quotes of ExecStart=, a double quote is escaped
    assert 'ExecStart=/usr/bin/sealguard --project "/srv/p%%20x/a\\"b" observe' in service
    [line, _] = cron_lines(job) or []
    assert line == (
        "*/15 * * * * cd '/srv/p\\%20x/a\"b' && /usr/bin/sealguard --project "
        "'/srv/p\\%20x/a\"b' observe --wait"
    )


@pytest.mark.parametrize("kind", ["systemd", "cron"])
@pytest.mark.parametrize("name", ["new\nline", "tab\there", "back\\slash"])
def test_a_path_that_would_break_a_unit_line_is_refused(
    make_project: MakeTree, invoke, tmp_path: Path, kind: str, name: str
) -> None:  # type: ignore[no-untyped-def]
    """A newline in the path would end WorkingDirectory= and start a directive of the path's
    choosing (ExecStartPre=…); a backslash at a line's end joins the next line to it."""
    project = make_project(config=DEFAULT_CONFIG + '[schedule]\nevery = "15m"\n', name=name)
    out = tmp_path / "units"
    args = ["-o", str(out)] if kind == "systemd" else []
    result = invoke("--project", str(project.root), "schedule", kind, *args)
    assert result.exit_code == 64, result.output
    assert result.stdout == "" and not out.exists()
    [line] = result.stderr.splitlines()
    assert line.startswith(f"sealguard: {str(project.root)!r}: a path holding ")


def test_units_are_not_written_where_sealguard_keeps_watch(scheduled, invoke) -> None:  # type: ignore[no-untyped-def]
    inside = scheduled.root / "governance" / "runtime" / "units"
    result = invoke("--project", str(scheduled.root), "schedule", "systemd", "-o", str(inside))
    assert result.exit_code == 4 and "refusing to write inside governance/runtime/" in result.stderr
    assert not inside.exists()
