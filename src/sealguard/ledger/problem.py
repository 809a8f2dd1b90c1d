"""One thing wrong with a governance log, as `log verify` reports it."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    # LINE TRUNCATION FORK SIGNATURE CHECKPOINT ROLLBACK KEY UNSIGNED WITNESS REFUSED SYMLINK
    # SPECIAL
    kind: str
    message: str
    line: int | None = None  # 1-based line of the log, where one is to blame
