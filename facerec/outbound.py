"""Connections to addresses that someone typed in: webhooks, notification targets, cameras.

A URL entered on a page or through the API must not turn the server into a way to reach
what only the server can reach: its own services on loopback, the cloud metadata service on
a link-local address, the machines of the private network it sits in. One rule for all:

* ``problem(ip)`` says why an address is refused, or None. Refused: loopback, unspecified
  (0.0.0.0, ::), link-local (169.254.0.0/16, which holds the metadata service), multicast,
  reserved, and every other address that is not on the public internet (private ranges,
  shared address space...), unless FACEREC_ALLOW_PRIVATE_TARGETS=1 allows them all. With
  ``lan=True`` (cameras: a camera lives on the local network) private ranges are allowed
  and only loopback, unspecified, link-local, multicast and reserved addresses are refused.
* ``check_url(url)`` resolves the URL's host (so ``2130706433``, ``127.1`` and names that
  resolve to loopback are caught) and checks every address, when the URL is entered: the
  form can say why it is refused.
* ``guarded()`` checks every connection the calling thread opens while it is in force,
  after DNS resolution, at the moment of connecting: a redirect to another host, or a name
  whose DNS answer changed since it was entered, is refused too. It works for any client
  library (http.client, urllib, requests inside Apprise, smtplib) because it listens to
  Python's ``socket.connect`` audit event, and only in the threads that asked for it: the
  MQTT broker of FACEREC_MQTT_URL, the database and everything else the administrator
  configured are never checked.
"""

from __future__ import annotations

import base64
import http.client
import ipaddress
import logging
import socket
import ssl
import sys
import threading
from contextlib import contextmanager
from urllib.parse import unquote, urlsplit

from .config import current_settings, networks

log = logging.getLogger(__name__)
ALLOW_SETTING = "FACEREC_ALLOW_PRIVATE_TARGETS"
_local = threading.local()
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


class TargetRefused(OSError):
    """A connection to an address the rule refuses; the message says which and why.

    An OSError, so that every client library treats it as a failed connection.
    """


def parse_allowance(value) -> bool | tuple:
    """FACEREC_ALLOW_PRIVATE_TARGETS: ``1`` allows every address; a comma-separated list of
    addresses or networks (``192.168.1.20,10.0.0.0/8``) allows those alone; empty or ``0``
    allows none of the refused kinds."""
    if isinstance(value, bool) or value is None:
        return bool(value)
    text = str(value).strip()
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    try:
        return networks(text)
    except ValueError as exc:  # it names the item that is not an address or network
        raise RuntimeError(
            f"{ALLOW_SETTING}={text!r}: {exc}; give 1, or addresses and networks separated "
            "by commas (192.168.1.20,10.0.0.0/8)"
        ) from None


def allowance(app=None) -> bool | tuple:
    """What FACEREC_ALLOW_PRIVATE_TARGETS allows for ``app``: True (everything), or the
    networks it names (an empty tuple: none)."""
    return parse_allowance(current_settings(app).allow_private_targets)


def _address(ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(ip.split("%", 1)[0])  # fe80::1%eth0
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1 is 127.0.0.1
    return mapped or address


def problem(ip: str, *, lan: bool = False, allow: bool | tuple = ()) -> str | None:
    """Why ``ip`` is refused as a target ("a loopback address"...), or None if it is not.

    ``allow`` is ``allowance()``: True allows everything, networks allow their addresses.
    """
    if allow is True:
        return None
    address = _address(ip)
    if address is None:
        return "not an IP address"
    if allow and any(address in network for network in allow):
        return None
    if address.is_unspecified:
        return "an unspecified address (it means this server)"
    if address.is_loopback:
        return "a loopback address (this server itself)"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_reserved:
        return "a reserved address"
    if lan:
        return None
    if not address.is_global:
        return "a private address"
    return None


def resolve(host: str, port: int | None = None) -> list[str]:
    """Every address ``host`` resolves to (numeric forms such as 2130706433 included).

    Raises OSError when it does not resolve.
    """
    infos = socket.getaddrinfo(host, port or 0, type=socket.SOCK_STREAM)
    return sorted({info[4][0] for info in infos})


def refusal(host: str, ip: str, why: str, *, lan: bool = False) -> str:
    """The sentence a user reads when ``host`` (at ``ip``) is refused."""
    shown = host if host == ip else f"{host} ({ip})"
    kinds = "loopback or link-local" if lan else "loopback, link-local or private"
    return (
        f"{shown} is {why}: facerec does not connect to {kinds} addresses unless the "
        f"administrator allows them ({ALLOW_SETTING})."
    )


def check_host(host: str, port: int | None = None, *, lan: bool = False, app=None):
    """Raise TargetRefused if ``host`` resolves to an address the rule refuses.

    A name that does not resolve now passes: it cannot be judged, and ``guarded()``
    checks the address it has when a connection is made.
    """
    allow = allowance(app)
    if allow is True:
        return
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError):
        return
    for ip in addresses:
        why = problem(ip, lan=lan, allow=allow)
        if why:
            raise TargetRefused(refusal(host, ip, why, lan=lan))


def check_url(url: str, *, lan: bool = False, app=None):
    """Raise TargetRefused if the host of ``url`` resolves to a refused address."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.hostname:
        check_host(parts.hostname, port, lan=lan, app=app)


@contextmanager
def guarded(*, lan: bool = False, app=None):
    """Within it, every connection this thread opens is checked by the rule of ``app``.

    Connections of other threads are untouched.
    """
    previous = getattr(_local, "rule", None)
    _local.rule = (lan, allowance(app))
    try:
        yield
    finally:
        _local.rule = previous


def http_status(url: str, *, timeout: float = 10.0, lan: bool = False, app=None) -> int | None:
    """The HTTP status a GET of ``url`` answers (a redirect is not followed), or None when
    it cannot be reached or is refused. Only the status line and headers are read, so a
    stream that never ends (an MJPEG camera) answers too. For Test buttons: the status is
    all that is shown, never the peer's own error text.
    """
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        with guarded(lan=lan, app=app):
            if parts.scheme.lower() in ("https", "rtsps"):
                context = ssl.create_default_context()
                if lan:  # cameras on a local network rarely hold a certificate a CA signed
                    context.check_hostname = False
                    context.verify_mode = ssl.CERT_NONE
                conn = http.client.HTTPSConnection(
                    parts.hostname, parts.port, timeout=timeout, context=context
                )
            else:
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
            try:
                headers = {"User-Agent": "facerec"}
                if parts.username is not None:
                    pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
                    headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
                conn.request("GET", path, headers=headers)
                return conn.getresponse().status
            finally:
                conn.close()
    except (OSError, http.client.HTTPException, ValueError) as exc:
        log.info("%s://%s not reachable: %s", parts.scheme, parts.hostname, type(exc).__name__)
        return None


def _on_audit(event: str, args: tuple):
    """The ``socket.connect`` audit hook behind ``guarded()`` (cheap for every other event)."""
    if event != "socket.connect":
        return
    rule = getattr(_local, "rule", None)
    if rule is None:
        return
    sock, address = args
    if getattr(sock, "family", None) not in (socket.AF_INET, socket.AF_INET6):
        return
    host = str(address[0])
    lan, allow = rule
    if _address(host) is None:
        # A name handed straight to connect(): judge every address it resolves to.
        try:
            addresses = resolve(host)
        except OSError:
            return  # connect() fails on it anyway
    else:
        addresses = [host]
    for ip in addresses:
        why = problem(ip, lan=lan, allow=allow)
        if why:
            raise TargetRefused(refusal(host, ip, why, lan=lan))


sys.addaudithook(_on_audit)
