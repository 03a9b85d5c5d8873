"""Who is calling: the address the limits are keyed on (issue 27).

Behind the frontend every request comes from a frontend pod, so ``request.client.host`` is the same
few addresses for everyone: keyed on it, one client's bad log-ins locked every user out. The frontend
therefore passes the address *it* saw in ``X-Todo-Client``, and proves that it is the frontend with
``X-Todo-Proxy-Token``: the PROXY_TOKEN both pods get from the chart's Secret. The header is believed
only with that token; anything else (a direct caller, another pod, a token that does not match)
is keyed on its own peer address, so forging the header buys nothing.
"""

from __future__ import annotations

import hmac
import ipaddress

from fastapi import Request

CLIENT_HEADER = "x-todo-client"
TOKEN_HEADER = "x-todo-proxy-token"


def normalise(address: str) -> str | None:
    """An address as a limit key: IPv4 as is (also when IPv4-mapped), IPv6 by its /64, which one
    subscriber usually holds whole; None when it is not an address."""
    try:
        parsed = ipaddress.ip_address(address.strip())
    except ValueError:
        return None
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


def client_address(request: Request) -> str:
    host = request.client.host if request.client else ""
    peer = normalise(host) or host or "unknown"
    token = request.app.state.settings.proxy_token
    if token is None:
        return peer
    offered = request.headers.get(TOKEN_HEADER)
    claimed = request.headers.get(CLIENT_HEADER)
    if not offered or not claimed:
        return peer
    if not hmac.compare_digest(offered.encode(), token.get_secret_value().encode()):
        return peer
    return normalise(claimed) or peer
