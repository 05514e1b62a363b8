"""Database URLs without their secrets (standard library only: the CLI's options use it).

A password is never written to disk: libpq finds it in `PGPASSWORD`, `~/.pgpass` or a
service file (`PGSERVICEFILE`), so a URL stored in a workspace's config names the server,
user and database only.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

PASSWORD_ADVICE = "give it through PGPASSWORD, ~/.pgpass or a libpq service file instead"


def _query_without_password(query: str) -> tuple[str, bool]:
    pairs = parse_qsl(query, keep_blank_values=True)
    kept = [(key, value) for key, value in pairs if key != "password"]
    return urlencode(kept), len(kept) != len(pairs)


def has_password(url: str) -> bool:
    """Whether the URL carries a password, in its user part or as a `password=` parameter."""
    parts = urlsplit(url)
    return parts.password is not None or _query_without_password(parts.query)[1]


def without_password(url: str) -> str:
    """The same URL with any password removed (user, host, port, database and options kept)."""
    if not has_password(url):
        return url  # untouched: urlunsplit would drop the empty host of sqlite:////path
    parts = urlsplit(url)
    query, _ = _query_without_password(parts.query)
    netloc = parts.netloc
    if parts.password is not None:
        credentials, _, host = netloc.rpartition("@")
        netloc = f"{credentials.partition(':')[0]}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
