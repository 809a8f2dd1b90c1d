"""Durations written by people: "90s", "15m", "24h", "1h30m", "0s"."""

import re

_PART = re.compile(r"(\d+)(ms|s|m|h|d)")
_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """Seconds in `text`; raises ValueError with a readable reason."""
    compact = text.replace(" ", "")
    if not compact or _PART.sub("", compact):
        raise ValueError(f'"{text}" is not a duration such as "90s", "15m", "24h" or "1h30m"')
    return sum(int(n) * _SECONDS[unit] for n, unit in _PART.findall(compact))
