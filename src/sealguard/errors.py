"""Expected errors: each carries the sentence the user reads and its exit code."""

from sealguard.exitcodes import ExitCode


class SealguardError(Exception):
    """Base of every expected error; the CLI prints `message` on one line."""

    exit_code: ExitCode = ExitCode.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(SealguardError):
    exit_code = ExitCode.USAGE


class DataError(SealguardError):
    exit_code = ExitCode.DATA


class ConfigError(SealguardError):
    exit_code = ExitCode.CONFIG


class RefusedError(SealguardError):
    """A forbidden act, or an act refused by the state of observation."""

    exit_code = ExitCode.REFUSED


class IntegrityError(SealguardError):
    """Evidence cannot be trusted (an invariant is violated); maps to INCIDENT."""

    exit_code = ExitCode.INCIDENT


class EvidenceWriteError(SealguardError):
    """Evidence (the log, a checkpoint) could not be written durably; never retried."""

    exit_code = ExitCode.IO


class BusyError(SealguardError):
    """Another observer holds the project: try again later (or wait for it)."""

    exit_code = ExitCode.BUSY


class LedgerFileError(IntegrityError, DataError):
    """A governance log file replaced by a symlink or a special file (a FIFO, a folder): never
    opened through; an INCIDENT (exit 3). Also a DataError, so that a check that reports
    unreadable data (verify) reports it in place."""


class FleetError(SealguardError):
    """The fleet database could not be reached, or refused a statement."""

    exit_code = ExitCode.UNAVAILABLE
