"""The exit-code table: the one place every command's exit status comes from.

It is a contract with scripts and CI jobs; the README holds the same table.
Values follow the runbook's classes (0-3) and BSD sysexits (64, 65, 69, 70, 74, 75, 78).
"""

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0  # success; for an observation, STABLE
    TOOLING_DRIFT = 1
    PRODUCT_DRIFT = 2
    INCIDENT = 3  # an invariant is violated
    REFUSED = 4  # frozen, halted, or a forbidden act
    USAGE = 64  # the command was called wrongly
    DATA = 65  # bad input data (a manifest, a log, a file that cannot be sealed)
    UNAVAILABLE = 69  # a channel could not deliver (`escalations test`)
    INTERNAL = 70  # an unexpected error; the traceback is written to a file
    IO = 74  # evidence could not be written durably (a short write, a failed fsync)
    BUSY = 75  # another observation of the project is running (BSD EX_TEMPFAIL)
    CONFIG = 78  # the configuration is missing or invalid
    INTERRUPTED = 130  # Ctrl-C or SIGTERM (128 + SIGINT)
    TERMINATED = 143  # `watch` or `serve` stopped by SIGTERM (128 + SIGTERM), as supervisors expect
