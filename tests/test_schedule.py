"""The schedule of observations: when the next is due, how late, when silence begins. Pure."""

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from sealguard.config import ConfigError, parse_config
from sealguard.schedule import (
    default_grace,
    due,
    due_in_log,
    last_sign_of_life,
    open_silence,
    when,
)

T0 = datetime(2026, 3, 1, 12, 0, 0)
EVERY = 15 * 60.0
FILE = Path("governance/sealguard.toml")


def test_the_next_observation_is_due_every_after_the_last() -> None:
    found = due(EVERY, T0, T0 + timedelta(minutes=5))
    assert found.next_due == T0 + timedelta(minutes=15)
    assert (found.late_by_seconds, found.late, found.overdue) == (0.0, False, False)


def test_late_but_within_the_grace_is_not_yet_silence() -> None:
    found = due(EVERY, T0, T0 + timedelta(minutes=20))
    assert found.late_by_seconds == 300.0 and found.late
    assert found.grace_seconds == 450.0 and not found.overdue  # half of 15m


def test_late_past_the_grace_is_silence() -> None:
    found = due(EVERY, T0, T0 + timedelta(minutes=22, seconds=31))
    assert found.late_by_seconds == 451.0 and found.overdue


def test_exactly_at_the_grace_is_not_overdue() -> None:
    assert not due(EVERY, T0, T0 + timedelta(minutes=22, seconds=30)).overdue


def test_the_grace_is_at_least_a_minute_and_can_be_set() -> None:
    assert default_grace(60.0) == 60.0 and default_grace(3600.0) == 1800.0
    assert due(EVERY, T0, T0 + timedelta(minutes=16), grace_seconds=0).overdue
    assert due(60.0, T0, T0 + timedelta(seconds=119)).overdue is False


def test_nothing_sealed_means_nothing_due() -> None:
    found = due(EVERY, None, T0)
    assert (found.next_due, found.overdue, found.late_by_seconds) == (None, False, 0.0)


def _event(seq: int, kind: str, **fields: str) -> dict[str, object]:
    return {"seq": seq, "type": kind, "ts": f"2026-03-01T12:{seq:02d}:00.000000Z", **fields}


def test_observations_and_refusals_are_signs_of_life_and_the_seal_starts_the_clock() -> None:
    sealed = _event(0, "baseline_sealed")
    assert last_sign_of_life([sealed]) is sealed
    observed = _event(1, "runtime_event", observed_at="2026-03-01T11:59:00Z")
    refused = _event(2, "observation_refused")
    other = _event(3, "escalation_attempt")
    assert last_sign_of_life([sealed, observed, other]) is observed
    assert last_sign_of_life([sealed, observed, refused, other]) is refused
    # an observation's moment is when it started, not when it was journaled
    found = due_in_log([sealed, observed], EVERY, T0)
    assert found.last == datetime(2026, 3, 1, 11, 59)
    assert last_sign_of_life([other]) is None


def test_journaled_times_read_as_naive_utc() -> None:
    assert when("2026-03-01T12:00:00Z") == T0
    assert when("2026-03-01T13:00:00+01:00") == T0
    assert when("2026-03-01T12:00:00.000000Z") == T0
    assert when("yesterday") is None and when(None) is None


def test_a_silence_stays_open_until_a_heartbeat_finds_it_over() -> None:
    opened = _event(5, "heartbeat_silence", event_id="HBT_1", since="2026-03-01T11:00:00Z")
    assert open_silence([opened]) is not None
    assert open_silence([opened, _event(6, "heartbeat_resumed", silence="HBT_0")]) is not None
    assert open_silence([opened, _event(6, "heartbeat_resumed", silence="HBT_1")]) is None


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ('every = "soon"', ':5: schedule.every: "soon" is not a duration'),
        ('every = "30s"', ":5: schedule.every: must be 1m or longer"),
        ('every = "15m"\ngrace = "x"', ':6: schedule.grace: "x" is not a duration'),
        ('grace = "1m"', ":4: schedule.every: required key is missing"),
        ('every = "15m"\nevry = "1m"', ":6: schedule.evry: unknown key"),
    ],
)
def test_a_bad_schedule_is_one_line_naming_file_line_and_key(schedule: str, message: str) -> None:
    text = f'[seal]\npaths = ["src/**"]\n\n[schedule]\n{schedule}\n'
    with pytest.raises(ConfigError) as caught:
        parse_config(text, FILE)
    assert str(caught.value.message).startswith(f"{FILE}{message}"), caught.value.message


def test_a_schedule_and_a_silence_row_are_read() -> None:
    text = (
        '[seal]\npaths = ["src/**"]\n[schedule]\nevery = "1h"\ngrace = "5m"\n'
        '[channels.webhook]\nurl = "http://127.0.0.1:1/x"\n'
        '[escalation.SILENCE]\nchannels = ["webhook"]\ndeadline = "30m"\n'
    )
    config = parse_config(text, FILE)
    assert config.schedule is not None
    assert (config.schedule.every_seconds, config.schedule.grace_seconds) == (3600.0, 300.0)
    row = config.escalation.row("SILENCE")
    assert row is not None and row.channels == ["webhook"] and row.deadline == "30m"
    default = parse_config('[seal]\npaths = ["src/**"]\n', FILE)
    assert default.schedule is None
    assert default.escalation.row("SILENCE") == default.escalation.SILENCE


def test_a_silence_row_naming_an_unconfigured_channel_is_refused() -> None:
    text = (
        '[seal]\npaths = ["src/**"]\n[escalation.SILENCE]\nchannels = ["slack"]\ndeadline = "1h"\n'
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text, FILE)
    assert caught.value.message == (
        f"{FILE}:4: escalation.SILENCE.channels[0]: channel "
        '"slack" is not configured in [channels.slack]'
    )
