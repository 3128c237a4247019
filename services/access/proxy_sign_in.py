"""Header sign-in (AUTH_MODE=header): a reverse proxy authenticates people and names them in a header. The header is
believed only from a request that proves it came through that proxy: the proxy's shared secret in its own header
(compared in constant time) and/or a connection from one of the proxy's addresses, whichever are configured."""
from __future__ import annotations

import hmac
import ipaddress
import logging
from dataclasses import dataclass

from services.domain import input_limits
from services.errors import LoginRefused, UnsafeConfiguration
from services.settings import Settings

# What a refused person reads. It names neither header: the way in is the proxy, not a header someone could add.
NOT_THROUGH_THE_PROXY = ("This dashboard signs people in through the company's sign-in proxy, and this request did not "
                         "come through it. Open the dashboard at its usual address.")
NO_PERSON = "The sign-in proxy did not say who you are; sign in at the proxy again, or ask whoever runs it."
LOOPBACK = "127.0.0.1"  # Streamlit reports a connection from this host as no address

log = logging.getLogger("services.proxy_sign_in")  # a stable name (log settings filter by it), not the module path


@dataclass(frozen=True)
class ProxiedRequest:
    """What a header sign-in looks at in one request."""

    user_values: tuple[str, ...]  # every value of the user header (a proxy sends exactly one)
    secret_values: tuple[str, ...]  # every value of the proxy's secret header
    client_address: str | None  # the connection's address; None: this host


def proxied_user_name(request: ProxiedRequest, settings: Settings) -> str:
    """The account name the proxy vouches for in `request`, or LoginRefused (with the reason logged for whoever runs
    the proxy, not shown to the person)."""
    if not (settings.auth_proxy_secret or settings.auth_trusted_proxies):
        raise UnsafeConfiguration("AUTH_MODE=header needs AUTH_PROXY_SECRET and/or AUTH_TRUSTED_PROXIES.")
    address = request.client_address or LOOPBACK
    if settings.auth_proxy_secret is not None:
        sent = request.secret_values[0] if len(request.secret_values) == 1 else ""
        if not hmac.compare_digest(sent.encode(), settings.auth_proxy_secret.encode()):
            _refuse(address, f"{len(request.secret_values)} value(s) of {settings.auth_proxy_secret_header}, "
                             "none the proxy's secret")
    if settings.auth_trusted_proxies and not _trusted(address, settings):
        _refuse(address, "not one of AUTH_TRUSTED_PROXIES")
    if len(request.user_values) > 1 or any("," in value for value in request.user_values):
        # a client's own header beside the proxy's (or merged into it): which one is the person is not knowable
        _refuse(address, f"{settings.auth_trusted_header} more than once")
    name = (request.user_values[0] if request.user_values else "").strip()
    if not name:
        log.warning("header sign-in refused from %s: no %s", address, settings.auth_trusted_header)
        raise LoginRefused(NO_PERSON)
    return input_limits.user_name(name, "The name the sign-in proxy sent")


def _trusted(address: str, settings: Settings) -> bool:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped:  # ::ffff:10.0.0.7 on a dual-stack socket
        parsed = parsed.ipv4_mapped
    return any(parsed in network for network in settings.auth_trusted_proxies)


def _refuse(address: str, why: str) -> None:
    log.warning("header sign-in refused from %s: %s", address, why)
    raise LoginRefused(NOT_THROUGH_THE_PROXY)
