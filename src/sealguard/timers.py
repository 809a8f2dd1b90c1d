"""Timers that run sealguard on the project's schedule: systemd units and cron lines. Pure.

Two jobs, each on its own timer: `observe` every `[schedule] every`, and `heartbeat` as often,
apart from it (another timer, ideally on another machine reading the same project folder), so
that the death of the first is noticed by the second.
"""

import hashlib
import re
import shlex
from dataclasses import dataclass

from sealguard.durations import duration_text

JOBS = ("observe", "heartbeat")
# what each job's exit status means to systemd: a drift, an incident or a refusal while FROZEN
# is a result sealguard journaled and escalated, not a failure of the unit; a heartbeat that
# finds an observation running (75) found it alive. A silence (heartbeat's 69), a config
# error or a write that failed leaves the unit failed, in plain sight in `systemctl --failed`.
SUCCESS = {"observe": "1 2 3 4", "heartbeat": "75"}
DESCRIPTION = {
    "observe": "sealguard observe (runtime governance of a sealed build)",
    "heartbeat": "sealguard heartbeat (escalates when observations stop arriving)",
}


@dataclass(frozen=True)
class Job:
    """What a timer runs: the project's root and the sealguard command line, absolute."""

    root: str
    command: tuple[str, ...]  # the sealguard executable (or python -m sealguard)
    every_seconds: float

    def argv(self, job: str) -> list[str]:
        return [*self.command, "--project", self.root, job]

    def unit(self, job: str) -> str:
        """A unit name unique to the project: its folder's name and a hash of its path."""
        name = re.sub(r"[^A-Za-z0-9_-]", "_", self.root.rstrip("/").rsplit("/", 1)[-1]) or "root"
        digest = hashlib.sha256(self.root.encode()).hexdigest()[:8]
        return f"sealguard-{job}-{name}-{digest}"


def _exec(argv: list[str]) -> str:
    """An ExecStart= line: systemd unquotes like a shell's double quotes, and expands % and $."""
    quoted = []
    for arg in argv:
        arg = arg.replace("%", "%%").replace("$", "$$")
        quoted.append(f'"{arg}"' if re.search(r'[\s"\'\\;]', arg) or not arg else arg)
    return " ".join(quoted)


def service(job: Job, name: str) -> str:
    return (
        f"[Unit]\nDescription={DESCRIPTION[name]}: {job.root}\n"
        "Wants=network-online.target\nAfter=network-online.target\n\n"
        f"[Service]\nType=oneshot\nWorkingDirectory={job.root}\n"
        f"ExecStart={_exec(job.argv(name))}\nSuccessExitStatus={SUCCESS[name]}\n"
    )


def timer(job: Job, name: str) -> str:
    every = int(job.every_seconds)
    return (
        f"[Unit]\nDescription=Run {job.unit(name)}.service every {duration_text(every)}\n\n"
        f"[Timer]\nOnBootSec={every}s\nOnUnitActiveSec={every}s\nAccuracySec=1s\n"
        f"Unit={job.unit(name)}.service\n\n[Install]\nWantedBy=timers.target\n"
    )


def systemd_units(job: Job) -> dict[str, str]:
    """File name -> content: a service and a timer for each job."""
    units: dict[str, str] = {}
    for name in JOBS:
        units[f"{job.unit(name)}.service"] = service(job, name)
        units[f"{job.unit(name)}.timer"] = timer(job, name)
    return units


def cron_step(every_seconds: float) -> str | None:
    """The five schedule fields of a cron line for `every`; None when cron cannot say it (an
    interval that neither divides an hour in minutes nor a day in hours)."""
    minutes, rest = divmod(int(every_seconds), 60)
    if rest or minutes < 1:
        return None
    if minutes == 24 * 60:
        return "0 0 * * *"
    if minutes < 60 and 60 % minutes == 0:
        return "* * * * *" if minutes == 1 else f"*/{minutes} * * * *"
    hours, rest = divmod(minutes, 60)
    if rest == 0 and 24 % hours == 0:
        return "0 * * * *" if hours == 1 else f"0 */{hours} * * *"
    return None


def cron_lines(job: Job) -> list[str] | None:
    """A crontab line per job (cron's `%` is a newline unless escaped); None as cron_step."""
    step = cron_step(job.every_seconds)
    if step is None:
        return None
    lines = []
    for name in JOBS:
        command = shlex.join(job.argv(name)).replace("%", "\\%")
        lines.append(f"{step} cd {shlex.quote(job.root)} && {command}")
    return lines
