"""How many processes to run at once by default: the CPUs this process may run on."""

import os


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)))
