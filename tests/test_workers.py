"""workers: every span's result comes back exactly once, also with two pools at once."""

import time

from sealguard.workers import forked


def _slow(span: tuple[int, int]) -> tuple[int, int]:
    time.sleep(0.002)  # long enough for the other pool to run meanwhile; no time is asserted
    return span


def _fast(span: tuple[int, int]) -> tuple[int, int]:
    return span


def test_a_pool_started_inside_another_gets_its_own_spans() -> None:
    """verify audits the log (a pool of its own, for a large log) while the hashing pool runs.
    Before, a pool's shared span counter was freed in the parent as soon as its workers were
    forked, so the next pool's counter was the same memory: each pool took the other's spans
    and one of them failed with "worker processes ended early"."""
    outer_spans = [(i, i + 1) for i in range(150)]
    inner_spans = [(i, i + 1) for i in range(1000, 1200)]
    with forked(_slow, outer_spans, 2) as outer:
        with forked(_fast, inner_spans, 2) as inner:
            assert sorted(inner) == inner_spans
        assert sorted(outer) == outer_spans


def test_each_span_once_in_order_given_back_unordered() -> None:
    spans = [(i, i + 3) for i in range(0, 300, 3)]
    with forked(_fast, spans, 3) as results:
        assert sorted(results) == spans
