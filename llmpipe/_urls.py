"""Credentials in URLs: kept out of what is shown, taken out of what is sent.

``http://user:pass@host`` is how many gateways and proxies are configured.
The password must never reach a repr, an error or a log line, so every URL
llmpipe shows goes through ``shown`` (the password becomes ``[secure]``, as
httpx shows it); the transport sends ``without_credentials`` and passes the
pair as HTTP Basic authentication instead.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit, urlunsplit

__all__ = ["Credentials", "credentials", "shown", "without_credentials"]

_SECURE = "[secure]"

Credentials = tuple[str, str]


def _host_part(netloc: str) -> str:
    return netloc.rpartition("@")[2]


def shown(url: str) -> str:
    """``url`` fit to show: its password replaced by ``[secure]``."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    userinfo = parts.netloc.rpartition("@")[0]
    user, colon, _ = userinfo.partition(":")
    netloc = f"{user}:{_SECURE}@" if colon else f"{user}@"
    return urlunsplit(parts._replace(netloc=netloc + _host_part(parts.netloc)))


def without_credentials(url: str) -> str:
    """``url`` with no user or password in it."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=_host_part(parts.netloc)))


def credentials(url: str) -> Credentials | None:
    """The (user, password) in ``url``, percent-decoded; None if it has none."""
    parts = urlsplit(url)
    if parts.username is None:
        return None
    return unquote(parts.username), unquote(parts.password or "")
