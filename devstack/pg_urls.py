"""Deriving one PostgreSQL URL from another without losing how the first one connects.

A server found by ``devstack.postgres`` may be reached over TCP (``postgresql://u@127.0.0.1:5432/db``)
or over a unix socket (the embedded server: ``postgresql://postgres:@/db?host=/path/to/dir``).
Rebuilding a URL from user, host and port drops the socket directory and silently reaches
127.0.0.1:5432 instead; these helpers change only the part asked for and keep the rest
(host, port, socket directory, sslmode and any other query parameter) as it was.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit


def with_database(url: str, dbname: str) -> str:
    """The same server and login, another database."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + quote(dbname, safe="")))


def with_login(url: str, user: str, password: str | None = None) -> str:
    """The same server and database, another login (``password`` None: none in the URL)."""
    parts = urlsplit(url)
    hostport = parts.netloc.rpartition("@")[2]
    auth = quote(user, safe="")
    if password is not None:
        auth += ":" + quote(password, safe="")
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    query = parts.query
    if any(k in ("user", "password") for k, _ in pairs):
        kept = [(k, v) for k, v in pairs if k not in ("user", "password")]
        query = urlencode(kept, quote_via=quote)  # %20, not '+': libpq does not read '+'
    return urlunsplit(parts._replace(netloc=f"{auth}@{hostport}", query=query))


def database_of(url: str) -> str | None:
    """The database a URL names, or None when it names none."""
    parts = urlsplit(url)
    name = unquote(parts.path.lstrip("/"))
    if name:
        return name
    return dict(parse_qsl(parts.query)).get("dbname")


def server_address(url: str) -> str:
    """Where the URL connects, for messages: ``127.0.0.1:5432`` or the socket directory."""
    parts = urlsplit(url)
    socket_dir = dict(parse_qsl(parts.query)).get("host")
    if socket_dir:
        return f"socket {socket_dir}"
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}"
