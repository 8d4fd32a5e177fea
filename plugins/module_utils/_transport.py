# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The transport under HTTP: the one guarded import of requests, a URL check before any request, and what went
wrong when no answer came (proxy, DNS, refused, unreachable, timeout, dropped, TLS), said so a user knows what to
fix.

PRIVATE to the collection: names here can change without notice. Used by ``_http`` (IDM) and ``_scim`` (the
SCIM provider preflight).
"""

from __future__ import annotations

import socket
import traceback

from urllib.parse import urlsplit

try:
    import requests
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
except ImportError:  # the one guarded import of requests: the sanity "import" test and missing_required_lib()
    requests = None
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = traceback.format_exc()


_DNS_MARKERS = ("Name or service not known", "nodename nor servname", "Failed to resolve", "getaddrinfo failed",
                "Temporary failure in name resolution", "No address associated with hostname")
_REFUSED_MARKERS = ("Connection refused", "Errno 111", "actively refused", "WinError 10061")


def _causes(exc):
    """``exc`` and what it wraps: requests wraps urllib3's MaxRetryError, whose ``reason`` wraps the socket error."""
    seen, pending, found = set(), [exc], []
    while pending:
        current = pending.pop(0)
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        found.append(current)
        pending.extend([getattr(current, "reason", None), current.__cause__, current.__context__]
                       + [arg for arg in current.args if isinstance(arg, BaseException)])
    return found


def classify_transport_error(exc):
    """Kind of a requests exception without an HTTP answer: proxy, dns, refused, unreachable, timeout, dropped or
    tls. ``proxy``: the HTTP proxy from the environment (HTTP_PROXY/HTTPS_PROXY) failed, not the server."""
    if isinstance(exc, requests.exceptions.ProxyError):
        return "proxy"
    if isinstance(exc, requests.exceptions.SSLError):
        return "tls"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "unreachable"
    if isinstance(exc, requests.exceptions.Timeout):
        return "timeout"
    causes = _causes(exc)
    text = " ".join(str(cause) for cause in causes)
    if any(isinstance(cause, socket.gaierror) or type(cause).__name__ == "NameResolutionError" for cause in causes) \
            or any(marker in text for marker in _DNS_MARKERS):
        return "dns"
    if any(isinstance(cause, ConnectionRefusedError) for cause in causes) \
            or any(marker in text for marker in _REFUSED_MARKERS):
        return "refused"
    return "dropped"


# OpenSSL's words when an https URL reaches a server that answers in plain HTTP (1.1, 3.0, 3.2+).
_PLAIN_HTTP_MARKERS = ("WRONG_VERSION_NUMBER", "wrong version number", "record layer failure",
                       "packet length too long", "http request")


def plain_http_answer(detail):
    """True when a TLS failure's text says the server answered in plain HTTP (an https URL to an http port)."""
    return any(marker in (detail or "") for marker in _PLAIN_HTTP_MARKERS)


def tls_hint(detail):
    """What to check after a TLS failure: the URL's scheme when the server speaks plain HTTP, else the trust."""
    if plain_http_answer(detail):
        return ("The server does not speak TLS on that port: check the URL's scheme (http or https), then "
                "validate_certs and ca_path.")
    return "Check validate_certs and ca_path."


def host_port(url):
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    return parts.hostname or "?", port or (443 if parts.scheme == "https" else 80)


def transport_failure(kind, url, exc, timeout):
    """(message, hint) for an ApiError without an HTTP answer, naming what failed."""
    host, port = host_port(url)
    if kind == "proxy":
        return ("the HTTP proxy for %s:%d failed: %s" % (host, port, short_error_text(exc)),
                "Check the HTTP_PROXY/HTTPS_PROXY and NO_PROXY environment variables (also those a task's "
                "environment: sets): the proxy must run, or the server must be listed in NO_PROXY.")
    if kind == "dns":
        return ("the host name '%s' does not resolve (DNS lookup failed)" % host,
                "Check the host name in the URL.")
    if kind == "refused":
        return ("connection refused by %s:%d (nothing listens on that port)" % (host, port),
                "Check the port in the URL and that the server is running.")
    if kind == "unreachable":
        return ("no answer from %s:%d to the connection attempt within %ss" % (host, port, timeout),
                "Check the host, the port and any firewall in between.")
    if kind == "timeout":
        return "timed out after %ss" % timeout, "Check that the server is running and reachable."
    return ("the connection was dropped: %s" % short_error_text(exc),
            "Check the URL and that the server is running and reachable.")


def short_error_text(exc):
    """The useful part of a requests/urllib3 exception text, without the nested object reprs."""
    text = str(exc)
    for marker in ("Failed to establish a new connection: ", "Failed to resolve ", "certificate verify failed: ",
                   "[SSL: ", "Caused by "):
        if marker in text:
            text = text.split(marker, 1)[1]
            if marker == "Failed to resolve ":
                text = "failed to resolve " + text
            elif marker in ("certificate verify failed: ", "[SSL: "):
                # OpenSSL's reason without the reprs around it: "[SSL: WRONG_VERSION_NUMBER] wrong version number"
                text = ("[SSL: " if marker == "[SSL: " else marker) + text.split(" (_ssl.c", 1)[0]
            break
    text = text.splitlines()[0] if text else ""
    text = text.rstrip("'\") ").lstrip("(")
    if text.count("(") > text.count(")"):
        text += ")"
    return text[:300] or exc.__class__.__name__


def check_url(option, url, base=False):
    """Reject what requests would fail on with an obscure message: a scheme other than http(s), no host,
    credentials in the URL (never echoed). ``base``: the URL is a base other paths are appended to, so a query or
    a fragment is refused too. A trailing slash is harmless and accepted."""
    parts = urlsplit(url or "")
    if parts.username is not None or parts.password is not None:
        raise ValueError("%s must not contain credentials (user:password@); give them as options instead." % option)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("%s must be an http:// or https:// URL with a host, such as https://idm.example.com "
                         "(got %r)." % (option, url))
    try:
        parts.port
    except ValueError:
        raise ValueError("%s has an invalid port (got %r)." % (option, url))
    if base and (parts.query or parts.fragment or url.rstrip().endswith(("?", "#"))):
        raise ValueError("%s must not have a query (?...) or a fragment (#...): write %s"
                         % (option, "%s://%s%s" % (parts.scheme, parts.netloc, parts.path.rstrip("/"))))
    return url
