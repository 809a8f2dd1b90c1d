"""A fleet database's URL: what it may hold, and how messages show it. Pure."""

import re
from urllib.parse import urlsplit


def url_problem(url: str) -> str | None:
    """Why this URL cannot be a fleet ledger's, or None."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        return f"not a URL ({exc})"
    if parts.scheme not in ("postgresql", "postgres"):
        return "must start with postgresql:// (the fleet ledger is a PostgreSQL database)"
    if parts.password is not None:
        return (
            "holds a password: put it in PGPASSWORD or ~/.pgpass, never in sealguard.toml "
            "(the URL is journaled and shown)"
        )
    if "password=" in parts.query:
        return "holds a password= parameter: put it in PGPASSWORD or ~/.pgpass instead"
    return None


def shown(url: str) -> str:
    """The URL as messages show it: without its query (which may name files or options), and a
    password given by mistake masked."""
    bare = url.split("#", 1)[0].split("?", 1)[0]
    return re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://[^/@:]*):[^/@]*@", r"\1:***@", bare)
