"""Timers that run sealguard on the project's schedule: systemd units and cron lines. Pure.

Two jobs, each on its own timer: `observe` every `[schedule] every`, and `heartbeat` as often,
apart from it (another timer, ideally on another machine reading the same project folder), so
that the death of the first is noticed by the second. The heartbeat runs half a period after
the observation, so the two rarely meet at the observer lock; when they do, the observation
waits its turn (`--wait`): a timed observation that gave up would be lost, and two lost in a
row would page a silence that is not one.
"""

import hashlib
import re
import shlex
from dataclasses import dataclass

from sealguard.durations import duration_text
from sealguard.errors import UsageError

JOBS = ("observe", "heartbeat")
ARGS = {"observe": ("observe", "--wait"), "heartbeat": ("heartbeat",)}
# what each job's exit status means to systemd: a drift, an incident or a refusal while FROZEN
# is a result sealguard journaled and escalated, not a failure of the unit; a heartbeat that
# finds an observation running (75) found it alive. A silence (heartbeat's 69), a config
# error or a write that failed leaves the unit failed, in plain sight in `systemctl --failed`.
SUCCESS = {"observe": "1 2 3 4", "heartbeat": "75"}
DESCRIPTION = {
    "observe": "sealguard observe (runtime governance of a sealed build)",
    "heartbeat": "sealguard heartbeat (escalates when observations stop arriving)",
}
# a newline would end a unit's directive or a crontab line and start another one; a backslash
# ending a unit's line joins the next to it (and systemd reads others as escapes)
UNFIT = re.compile(r"[\x00-\x1f\x7f\\]")


@dataclass(frozen=True)
class Job:
    """What a timer runs: the project's root and the sealguard command line, absolute."""

    root: str
    command: tuple[str, ...]  # the sealguard executable (or python -m sealguard)
    every_seconds: float

    def __post_init__(self) -> None:
        for text in (self.root, *self.command):
            if found := UNFIT.search(text):
                raise UsageError(
                    f"{text!r}: a path holding {found.group()!r} cannot go into a systemd unit "
                    "or a crontab line (a control character or a backslash ends or joins their "
                    "lines); move the project or sealguard to a path without one"
                )

    def argv(self, job: str) -> list[str]:
        return [*self.command, "--project", self.root, *ARGS[job]]

    def unit(self, job: str) -> str:
        """A unit name unique to the project: its folder's name and a hash of its path."""
        name = re.sub(r"[^A-Za-z0-9_-]", "_", self.root.rstrip("/").rsplit("/", 1)[-1]) or "root"
        digest = hashlib.sha256(self.root.encode()).hexdigest()[:8]
        return f"sealguard-{job}-{name}-{digest}"

    def offset_seconds(self, job: str) -> int:
        """How long after the observation the job runs: the heartbeat half a period later."""
        return int(self.every_seconds) // 2 if job == "heartbeat" else 0


def _specifiers(text: str) -> str:
    """A unit's value as written: systemd expands `%` specifiers in it."""
    return text.replace("%", "%%")


def _exec(argv: list[str]) -> str:
    """An ExecStart= line: systemd unquotes like a shell's double quotes (with C escapes), and
    expands % and $."""
    quoted = []
    for arg in argv:
        arg = _specifiers(arg).replace("$", "$$")
        if re.search(r'[\s"\'\\;]', arg) or not arg:
            arg = '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'
        quoted.append(arg)
    return " ".join(quoted)


def service(job: Job, name: str) -> str:
    return (
        f"[Unit]\nDescription={DESCRIPTION[name]}: {_specifiers(job.root)}\n"
        "Wants=network-online.target\nAfter=network-online.target\n\n"
        f"[Service]\nType=oneshot\nWorkingDirectory={_specifiers(job.root)}\n"
        f"ExecStart={_exec(job.argv(name))}\nSuccessExitStatus={SUCCESS[name]}\n"
    )


def timer(job: Job, name: str) -> str:
    """Every `every`: observe from boot (at once when started later: OnBootSec= is then in the
    past), the heartbeat half a period after the timer starts (OnActiveSec= never fires at once),
    so that each stays half a period from the other."""
    every, offset = int(job.every_seconds), job.offset_seconds(name)
    start = f"OnActiveSec={offset}s" if offset else f"OnBootSec={every}s"
    after = f", {duration_text(offset)} after the observation" if offset else ""
    return (
        f"[Unit]\nDescription=Run {job.unit(name)}.service every {duration_text(every)}{after}\n\n"
        f"[Timer]\n{start}\nOnUnitActiveSec={every}s\nAccuracySec=1s\n"
        f"Unit={job.unit(name)}.service\n\n[Install]\nWantedBy=timers.target\n"
    )


def systemd_units(job: Job) -> dict[str, str]:
    """File name -> content: a service and a timer for each job."""
    units: dict[str, str] = {}
    for name in JOBS:
        units[f"{job.unit(name)}.service"] = service(job, name)
        units[f"{job.unit(name)}.timer"] = timer(job, name)
    return units


def _stepped(step: int, offset: int, top: int) -> str:
    """A cron field for every `step` units from `offset` (e.g. minutes 7-59/15)."""
    if step == 1:
        return "*"
    return f"*/{step}" if offset == 0 else f"{offset}-{top}/{step}"


def cron_step(every_seconds: float, offset_seconds: int = 0) -> str | None:
    """The five schedule fields of a cron line for `every`, starting `offset_seconds` into
    each period (to the minute below); None when cron cannot say it (an interval that neither
    divides an hour in minutes nor a day in hours)."""
    minutes, rest = divmod(int(every_seconds), 60)
    if rest or minutes < 1:
        return None
    shift = min(offset_seconds // 60, minutes - 1)
    if minutes == 24 * 60:
        return f"{shift % 60} {shift // 60} * * *"
    if minutes < 60 and 60 % minutes == 0:
        return f"{_stepped(minutes, shift, 59)} * * * *"
    hours, rest = divmod(minutes, 60)
    if rest == 0 and 24 % hours == 0:
        return f"{shift % 60} {_stepped(hours, shift // 60, 23)} * * *"
    return None


def cron_lines(job: Job) -> list[str] | None:
    """A crontab line per job (cron's `%` is a newline unless escaped, anywhere in the command:
    in the folder to `cd` to too); None as cron_step."""
    lines = []
    for name in JOBS:
        step = cron_step(job.every_seconds, job.offset_seconds(name))
        if step is None:
            return None
        command = f"cd {shlex.quote(job.root)} && {shlex.join(job.argv(name))}"
        lines.append(f"{step} " + command.replace("%", "\\%"))
    return lines
