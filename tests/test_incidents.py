"""Incidents: opened by an INCIDENT with a prefilled report, closed only by people."""

from pathlib import Path

from .decision_projects import (
    Team,
    events_of,
    governed,
    incident,
    key_args,
    run,
    state_of,
)


def _fill(report: Path) -> None:
    text = report.read_text()
    for heading, body in (
        ("## Impact", "None: caught before release."),
        ("## Root cause", "An edit by hand on the server (see snapshot)."),
        ("## Corrective actions", "Re-sealed the corrected build."),
        ("## Preventive actions", "Deployments go through propose."),
    ):
        start = text.index(heading)
        end = text.find("\n## ", start + 1)
        end = len(text) if end < 0 else end
        line_end = text.index("\n", start)
        text = text[: line_end + 1] + "\n" + body + "\n" + text[end:]
    report.write_text(text)


def test_an_incident_is_opened_with_a_prefilled_report(tmp_path: Path, team: Team) -> None:
    project = governed(tmp_path, team)
    event_id = incident(project)
    opened = events_of(project, "incident_opened")
    assert len(opened) == 1 and opened[0]["event_id"] == event_id
    report = project.root / str(opened[0]["report"])
    text = report.read_text()
    assert event_id in text and "src/app.py" in text and "INV-D-02" in text
    state = state_of(project)
    assert state.mode == "HALTED" and state.incident is not None
    listed = run(project, "incident", "list")
    assert str(opened[0]["incident_id"]) in listed.output and "open" in listed.output
    # a second refused observation opens no second incident
    assert run(project, "observe").exit_code == 4
    assert len(events_of(project, "incident_opened")) == 1


def test_the_full_incident_round_trip_reseal_certify_close(tmp_path: Path, team: Team) -> None:
    project = governed(tmp_path, team, rules="close-incident = 2")
    incident(project)
    inc = str(events_of(project, "incident_opened")[0]["incident_id"])
    report = project.root / str(events_of(project, "incident_opened")[0]["report"])
    # nothing can close it yet
    early = run(
        project, "incident", "close", inc, "--reason", "done", *key_args(team.alice, team.bob)
    )
    assert early.exit_code == 4 and "sections still to write" in early.output
    # the corrected build (here: the edit is kept, as a legitimate fix) is proposed...
    proposed = run(project, "propose", "--reason", "hotfix kept")
    assert proposed.exit_code == 0, proposed.output
    assert "modified src/app.py" in proposed.output
    pro = proposed.output.split(":")[0]
    decided = run(
        project, "decide", pro, "reseal", "--reason", "the fix is right", *key_args(team.alice)
    )
    assert decided.exit_code == 0, decided.output
    assert state_of(project).mode == "HALTED" and state_of(project).version == 2
    _fill(report)
    uncertified = run(
        project, "incident", "close", inc, "--reason", "done", *key_args(team.alice, team.bob)
    )
    assert uncertified.exit_code == 4 and "certification" in uncertified.output
    certified = run(project, "certify")
    assert certified.exit_code == 0, certified.output
    assert state_of(project).mode == "HALTED"  # an incident is closed by people, signed
    alone = run(project, "incident", "close", inc, "--reason", "done", *key_args(team.alice))
    assert alone.exit_code == 4 and "too-few" in alone.output
    closed = run(project, "incident", "close", inc, "--reason", "post-mortem reviewed",
                 *key_args(team.alice, team.bob))  # fmt: skip
    assert closed.exit_code == 0, closed.output
    assert state_of(project).mode == "OBSERVING"
    assert run(project, "observe").exit_code == 0
    assert run(project, "verify").exit_code == 0
    shown = run(project, "incident", "show", inc)
    assert "closed" in shown.output and "Bob Durand (bdurand)" in shown.output
    # the report's final hash is bound: an edit afterwards is seen
    report.write_text(report.read_text() + "\nrewritten later\n")
    checked = run(project, "verify")
    assert checked.exit_code == 3 and "INV-D-06" in checked.output


def test_rollback_of_an_incident_to_the_version_in_force(tmp_path: Path, team: Team) -> None:
    project = governed(tmp_path, team)
    event_id = incident(project)
    inc = str(events_of(project, "incident_opened")[0]["incident_id"])
    done = run(project, "decide", event_id, "rollback", "--to", "v1", "--reason", "restore",
               *key_args(team.alice))  # fmt: skip
    assert done.exit_code == 0, done.output
    assert run(project, "certify").exit_code == 3  # not restored yet
    (project.root / "src" / "app.py").write_text("print('app')\n")
    assert run(project, "certify").exit_code == 0
    _fill(project.root / str(events_of(project, "incident_opened")[0]["report"]))
    closed = run(project, "incident", "close", inc, "--reason", "restored", *key_args(team.bob))
    assert closed.exit_code == 0, closed.output
    assert state_of(project).mode == "OBSERVING"


def test_propose_is_refused_while_halted_without_an_open_incident(
    tmp_path: Path, team: Team
) -> None:
    project = governed(tmp_path, team)
    project.log_file.unlink()  # a lost log: HALTED, and no incident to correct
    (project.runtime / "checkpoint").unlink(missing_ok=True)
    done = run(project, "propose")
    assert done.exit_code == 4, done.output
    assert "HALTED" in done.output and "no incident is open" in done.output
