"""Which periods were reviewed, by whom, and which not: folded from log events. Pure."""

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sealguard.decide.payload import LogView
from sealguard.decide.review_payload import (
    DOMAIN,
    Period,
    ReviewPayload,
    decode,
    encode,
    moment_text,
    parse_moment,
    to_record,
)
from sealguard.decide.review_periods import Period as Span
from sealguard.decide.review_periods import Review, fold_reviews, unreviewed

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def _payload(since: datetime, until: datetime, review_id: str = "REV_1") -> ReviewPayload:
    return ReviewPayload(
        domain=DOMAIN, origin="sealguard.local/log/x", review_id=review_id, meaning="review",
        reason="monthly", reviewed_at="2026-11-27T08:00:00Z",
        period=Period(since=moment_text(since), until=moment_text(until)),
        report_sha256="ab" * 32, log=LogView(size=3, root="cd" * 32),
    )  # fmt: skip


def _event(payload: ReviewPayload, seq: int, **extra: Any) -> dict[str, Any]:
    signer = {"id": "opetit", "name": "Olga Petit", "role": "operator", "key": "SHA256:k",
              "signature": "-----BEGIN SSH SIGNATURE-----\n…"}  # fmt: skip
    return {"seq": seq, "ts": "2026-11-27T08:00:01.000000Z", "type": "audit_review",
            **to_record(payload), "signers": [signer], "payload_sha256": "00", **extra}  # fmt: skip


def _review(since: float, until: float) -> Review:
    return Review("REV", 0, "", Span(_day(since), _day(until)), "", "", "", ())


def test_fold_reviews_gives_each_review_with_its_signers_in_log_order() -> None:
    events = [
        {"seq": 0, "type": "baseline_sealed"},
        _event(_payload(_day(0), _day(7), "REV_a"), 1),
        {"seq": 2, "type": "review_refused", "reason_code": "stale"},
        _event(_payload(_day(7), _day(14), "REV_b"), 3),
        {"seq": 4, "type": "audit_review", "review_id": "REV_broken"},  # not a review: left out
    ]
    found = fold_reviews(events)
    assert [(r.review_id, r.seq) for r in found] == [("REV_a", 1), ("REV_b", 3)]
    first = found[0]
    assert first.period == Span(_day(0), _day(7))
    assert (first.reason, first.report_sha256) == ("monthly", "ab" * 32)
    assert first.recorded_at == "2026-11-27T08:00:01.000000Z"
    assert first.reviewed_at == "2026-11-27T08:00:00Z"
    [signer] = first.signers
    assert (signer.name, signer.id, signer.role, signer.meaning) == (
        "Olga Petit", "opetit", "operator", "review",
    )  # fmt: skip
    assert signer.signed_at == "2026-11-27T08:00:00Z"


def test_a_review_line_without_readable_signers_has_none() -> None:
    [review] = fold_reviews([_event(_payload(_day(0), _day(1)), 1, signers="forged")])
    assert review.signers == ()


@pytest.mark.parametrize(
    ("reviewed", "gaps"),
    [
        ([], [(0, 30)]),
        ([(0, 30)], []),
        ([(-5, 40)], []),
        ([(0, 10), (20, 30)], [(10, 20)]),
        ([(20, 30), (0, 10)], [(10, 20)]),  # in any order
        ([(0, 10), (5, 15), (12, 20)], [(20, 30)]),  # overlapping
        ([(2, 3)], [(0, 2), (3, 30)]),
        ([(40, 50), (-10, -5)], [(0, 30)]),  # outside the range
    ],
)
def test_unreviewed_gives_the_parts_no_review_covers(
    reviewed: list[tuple[int, int]], gaps: list[tuple[int, int]]
) -> None:
    found = unreviewed([_review(a, b) for a, b in reviewed], Span(_day(0), _day(30)))
    assert found == [Span(_day(a), _day(b)) for a, b in gaps]


spans = st.tuples(st.integers(-20, 60), st.integers(1, 30)).map(lambda p: (p[0], p[0] + p[1]))


@given(st.lists(spans, max_size=8), st.integers(0, 70))
def test_every_moment_of_the_range_is_reviewed_or_in_one_gap(
    reviewed: list[tuple[int, int]], probe: int
) -> None:
    moment = _day(probe / 2)
    found = unreviewed([_review(a, b) for a, b in reviewed], Span(_day(0), _day(30)))
    covered = any(_day(a) <= moment < _day(b) for a, b in reviewed)
    in_gaps = [g for g in found if g.since <= moment < g.until]
    if _day(0) <= moment < _day(30):
        assert covered != bool(in_gaps) and len(in_gaps) <= 1
    else:
        assert not in_gaps
    assert all(a.until < b.since for a, b in pairwise(found))


@given(st.datetimes(timezones=st.just(UTC)))
def test_a_moment_written_reads_back_the_same(moment: datetime) -> None:
    assert parse_moment(moment_text(moment)) == moment


def test_a_moment_without_an_offset_is_utc() -> None:
    assert parse_moment("2026-11-01") == T0


def test_a_payload_reads_back_only_in_its_canonical_form() -> None:
    data = encode(_payload(_day(0), _day(1)))
    assert decode(data) == _payload(_day(0), _day(1))
    with pytest.raises(ValueError, match="canonical"):
        decode(data.rstrip(b"\n") + b"\n\n")
    with pytest.raises(ValueError, match='domain is "sealguard-decision/1"'):
        decode(data.replace(b"sealguard-review/1", b"sealguard-decision/1"))
    with pytest.raises(ValueError, match="meaning"):
        decode(data.replace(b'"review"', b'"approval"'))
