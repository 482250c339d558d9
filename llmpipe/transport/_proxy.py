"""Which proxy, if any, a client's requests go through.

As httpx and requests do: ``LLMConfig.proxy`` if set; else, with
``trust_env`` (the default), ``HTTPS_PROXY`` or ``HTTP_PROXY`` (by the
server's scheme; lower-case names win, as in urllib), then ``ALL_PROXY``,
unless ``NO_PROXY`` lists the host. NO_PROXY entries are host names (which
also cover their subdomains; a leading dot is allowed), ``host:port``, IP
addresses, CIDR ranges (``10.0.0.0/8``) or ``*`` for every host. The
answer is worked out once per pool, since every request goes to one origin.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from llmpipe.config import LLMConfig

__all__ = ["bypassed", "proxy_for"]


def proxy_for(config: LLMConfig) -> str | None:
    """The proxy URL (credentials included) for ``config``'s server, or None."""
    if config.unix_socket is not None:
        return None
    if config.proxy is not None:
        return config.proxy
    if not config.trust_env:
        return None
    import urllib.request  # here: its import (http.client, email) is not paid by `import llmpipe`

    target = urlsplit(config.api_root)
    found = urllib.request.getproxies_environment()
    proxy = found.get(target.scheme) or found.get("all")
    if not proxy or bypassed(target.hostname or "", target.port, found.get("no", "")):
        return None
    return proxy if "://" in proxy else f"http://{proxy}"


def bypassed(host: str, port: int | None, no_proxy: str) -> bool:
    """Whether NO_PROXY (``no_proxy``) sends ``host`` (and ``port``) direct."""
    host = host.strip("[]").lower()
    address = _address(host)
    for raw in no_proxy.split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        if address is not None and _in_network(address, entry):
            return True
        name, entry_port = _split_port(entry)
        if entry_port is not None and entry_port != port:
            continue
        name = name.lstrip(".").strip("[]")
        if name and (host == name or host.endswith("." + name)):
            return True
    return False


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _in_network(address: ipaddress.IPv4Address | ipaddress.IPv6Address, entry: str) -> bool:
    try:
        return address in ipaddress.ip_network(entry.strip("[]"), strict=False)
    except ValueError:
        return False


def _split_port(entry: str) -> tuple[str, int | None]:
    """``host:port`` (or ``[v6]:port``) split; a bare IPv6 address has no port."""
    head, colon, tail = entry.rpartition(":")
    if colon and tail.isdigit() and (head.endswith("]") or ":" not in head):
        return head, int(tail)
    return entry, None
