"""Durations written by people: "90s", "15m", "24h", "1h30m", "0s", "500ms"."""

import re

_PART = re.compile(r"(\d+)(ms|s|m|h|d)")
_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """Seconds in `text`; raises ValueError with a readable reason."""
    compact = text.replace(" ", "")
    if not compact or _PART.sub("", compact):
        raise ValueError(f'"{text}" is not a duration such as "90s", "15m", "24h" or "1h30m"')
    return float(sum(int(n) * _SECONDS[unit] for n, unit in _PART.findall(compact)))


def duration_text(seconds: float) -> str:
    """A short human form: 0.4s, 12s, 3m05s, 2h10m."""
    if seconds < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{seconds:.0f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
