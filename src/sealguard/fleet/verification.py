"""Verifying logs the fleet database keeps: their rows read at one moment, then judged.

One connection opens a repeatable-read transaction and reads the log's row, its checkpoints,
its refusals and the bounds of its seq numbers; the lines are read under the same snapshot, in
seq ranges, by forked workers with connections of their own (in-process for a small log); the
checks themselves are fleet/audit.py's.
"""

from collections.abc import Callable, Iterator
from itertools import pairwise
from typing import Any

from sealguard.errors import FleetError, UsageError
from sealguard.fleet import entries
from sealguard.fleet.audit import Facts, LogAudit, SeqRange, check_rows, judge
from sealguard.fleet.database import connect
from sealguard.ledger.auditor import no_cycle_collection
from sealguard.workers import forked

Span = tuple[int, int]
PARALLEL_FROM = 100_000  # lines; fewer are read in-process, faster than forking


def _settle(conn: Any, origin: str, result: SeqRange, last: int) -> None:
    """A torn fragment on the range's last line is accounted for, or not, by the next line."""
    checker = result.checker
    if checker.fragment is None:
        return
    following = entries.line_at(conn, origin, result.stop) if result.stop < last else None
    if following is None:
        checker.finish()  # the end of the log (or a gap): nothing accounts for it
        return
    index, offset, data = checker.fragment
    before = len(checker.problems)
    checker.line(result.stop, following, offset + len(data) + 1)
    # only the verdict on the fragment: the next range checks the following line itself
    checker.problems[before:] = [p for p in checker.problems[before:] if p.line == index + 1]
    checker.fragment = None


def read_range(conn: Any, origin: str, span: Span, wanted: list[int], last: int) -> SeqRange:
    """Check the rows with seq in [start, stop) of a log of `last` lines."""
    start, stop = span
    result = check_rows(entries.rows(conn, origin, start, stop), start, stop, wanted)
    if result.needs_offsets and start > 0:  # torn fragments: their offsets in the file count
        offset = entries.bytes_before(conn, origin, start)
        result = check_rows(entries.rows(conn, origin, start, stop), start, stop, wanted, offset)
    _settle(conn, origin, result, last)
    return result


def facts(conn: Any, origin: str) -> Facts:
    held = entries.log(conn, origin)
    if held is None:
        raise UsageError(f"the fleet database keeps no log {origin}")
    return Facts(
        held,
        entries.checkpoints(conn, origin),
        entries.refusals_since(conn, held),
        entries.bounds(conn, origin),
        entries.line_at(conn, origin, 0),
    )


def spans(lines: int, jobs: int) -> list[Span]:
    """Seq ranges for `jobs` workers: two each, so that one slowed down holds no one up."""
    if jobs <= 1 or lines < PARALLEL_FROM:
        return [(0, lines)]
    count = 2 * jobs
    cuts = [lines * k // count for k in range(count + 1)]
    return list(pairwise(cuts))


def _worker(
    url: str, snapshot: str, origin: str, wanted: list[int], last: int
) -> Callable[[Span], SeqRange | FleetError]:
    def work(span: Span) -> SeqRange | FleetError:
        try:
            with connect(url) as conn:
                entries.join_snapshot(conn, snapshot)
                return read_range(conn, origin, span, wanted, last)
        except FleetError as exc:  # one line in the parent, not a worker's traceback
            return exc

    return work


def _ranges(url: str, conn: Any, snapshot: str, seen: Facts, jobs: int) -> list[SeqRange]:
    origin, last = seen.held.origin, seen.bounds.stop
    wanted = sorted({c.size for c in seen.checkpoints})
    cut = spans(last, jobs)
    with no_cycle_collection():
        if len(cut) == 1:
            return [read_range(conn, origin, cut[0], wanted, last)]
        with forked(_worker(url, snapshot, origin, wanted, last), cut, jobs) as done:
            results = list(done)
    checked = []
    for result in results:
        if isinstance(result, FleetError):
            raise result
        checked.append(result)
    return sorted(checked, key=lambda r: r.start)


def _verify_on(conn: Any, url: str, origin: str, jobs: int) -> LogAudit:
    """Check one log in a transaction of its own on `conn` (a log's rows at one moment)."""
    try:
        snapshot = entries.begin_snapshot(conn)
        seen = facts(conn, origin)
        return judge(seen, _ranges(url, conn, snapshot, seen, jobs))
    finally:
        conn.rollback()  # read only: ends the snapshot


def verify(url: str, origin: str, jobs: int = 1) -> LogAudit:
    """Check one log the database keeps, from its rows."""
    with connect(url) as conn:
        return _verify_on(conn, url, origin, jobs)


def verify_all(url: str, jobs: int = 1) -> Iterator[LogAudit]:
    """Check every log the database keeps, one after the other, on one connection (each log
    read at its own moment: a log enrolled meanwhile waits for the next run)."""
    with connect(url) as conn:
        entries.require_schema(conn)
        origins = [row.origin for row in entries.logs(conn)]
        conn.rollback()
        for origin in origins:
            yield _verify_on(conn, url, origin, jobs)
