# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""JSON over HTTP for the collection: one requests Session, TLS options, timeouts, retries, and every failure
turned into one ``ApiError`` that says what was tried, against what, and what to do.

PRIVATE to the collection: names here can change without notice. ``_client.IdmClient`` puts IDM's base URL,
authentication and headers on top; the SCIM preflight uses the transport classification.
"""

from __future__ import annotations

import html
import json
import time

from urllib.parse import quote, urlsplit

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.idmops.pingidm.plugins.module_utils._transport import (
    HAS_REQUESTS, classify_transport_error, requests, short_error_text, tls_hint, transport_failure)

# Only these methods are retried: repeating them cannot do something twice.
IDEMPOTENT_METHODS = frozenset(("GET", "HEAD", "PUT", "DELETE"))
RETRY_STATUSES = frozenset((502, 503, 504))
# What a wait loop (IDM starting, a connector starting) treats as "not yet": a dropped connection (no status)
# or a busy server or proxy, still there after the client's own retries. See is_transient() for the kinds of
# "no status" that are not transient (a host that does not resolve, a TLS failure).
TRANSIENT_STATUSES = RETRY_STATUSES | frozenset((None,))

# Kinds of failure without an HTTP answer (ApiError.kind):
# dns: the host name does not resolve; refused: nothing listens on the port; unreachable: no answer to the
# connection attempt within the timeout; timeout: connected, no answer in time; dropped: the connection was
# reset or closed (e.g. a server restarting); tls: the certificate could not be verified.
NOT_TRANSIENT_KINDS = frozenset(("dns", "tls"))

_STATUS_HINTS = {
    400: "Check the request data (see IDM's message).",
    401: "Check the credentials and auth_type.",
    403: "Check that the user has the openidm-admin role.",
    404: "Check the name or id.",
    409: "IDM reported a conflict; check the referenced objects.",
    412: "The object changed on the server meanwhile; run again.",
    500: "See the IDM log for the cause.",
    502: "A proxy in front of the server answered; check that the server is running.",
    503: "The service is not ready yet; wait and run again.",
    504: "A proxy in front of the server timed out; check that the server is running.",
}


def monotonic():
    """Clock for deadlines; one place so tests can swap in a virtual clock."""
    return time.monotonic()


def sleep(seconds):
    """Sleep for polling and retry backoff; one place so tests can skip the waiting."""
    time.sleep(seconds)


def poll(check, timeout, interval):
    """Call ``check()`` until it returns ``(True, value)`` or ``timeout`` seconds pass.

    Returns ``(done, last_value, elapsed_seconds)``. ``check`` runs at least once.
    """
    start = monotonic()
    while True:
        done, value = check()
        elapsed = monotonic() - start
        if done:
            return True, value, elapsed
        if elapsed + interval > timeout:
            return False, value, elapsed
        sleep(interval)


class ApiError(Exception):
    """One failed HTTP call: what was tried, against what, what came back and what to do.

    ``status`` is None when no HTTP answer arrived (connection, TLS or timeout error). The text never holds
    a header value or a request body, so it cannot carry a secret the caller sent.
    """

    def __init__(self, method, path, base_url, status=None, reason=None, message=None, detail=None,
                 hint=None, service="IDM", kind=None):
        self.method = method
        self.kind = kind  # for status None: dns, refused, unreachable, timeout, dropped or tls
        self.path = path
        self.base_url = base_url
        self.status = status
        self.reason = reason
        self.message = message
        self.detail = detail
        self.service = service
        if hint is None and status is not None:
            hint = _STATUS_HINTS.get(status, "")
        self.hint = hint or ""
        super(ApiError, self).__init__(self._text())

    def _text(self):
        what = "%s %s on %s failed" % (self.method, self.path, self.base_url)
        if self.status is None:
            text = "%s: %s." % (what, (self.message or "no answer").rstrip("."))
        else:
            text = "%s: %s answered %s %s" % (what, self.service, self.status, self.reason or "")
            text = text.rstrip()
            if self.message:
                text += ' "%s"' % self.message
            text += "."
        if self.hint:
            text += " " + self.hint
        return text

    def amend(self, hint=None, service=None):
        """Change hint/service after the fact (e.g. when the caller knows better what to do)."""
        if hint is not None:
            self.hint = hint
        if service is not None:
            self.service = service
        self.args = (self._text(),)
        return self

    def as_result(self):
        """Fields for fail_json (no secrets by construction)."""
        result = {"status": self.status, "method": self.method, "path": self.path}
        if self.kind is not None:
            result["kind"] = self.kind
        if self.detail is not None:
            result["detail"] = self.detail
        return result


class HttpResult(object):
    """The parts of an HTTP answer the callers need."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body


def _reason_phrase(status):
    try:
        from http.client import responses
        return responses.get(status, "")
    except ImportError:  # pragma: no cover
        return ""


def unescape(text):
    """A CREST error message for display. CREST HTML-escapes ``message`` (``&#39;``, ``&quot;``, ``&amp;``,
    ``&lt;``, ``&gt;``), so a real IDM says ``Resource &#39;x&#39; not found``."""
    return html.unescape(text) if isinstance(text, str) and "&" in text else text


def _server_message(response):
    """(message, detail) from an error answer: CREST {code,reason,message,detail}, OAuth, SCIM or text."""
    try:
        body = response.json()
    except ValueError:
        text = (response.text or "").strip()
        return (text[:300] if text else None), None
    if isinstance(body, dict):
        message = (body.get("message") or body.get("error_description") or body.get("detail")
                   or body.get("error") or body.get("reason"))
        detail = body.get("detail") if isinstance(body.get("detail"), (dict, list)) else None
        if message is not None and not isinstance(message, str):
            message = json.dumps(message)
        elif "code" in body and message == body.get("message"):
            message = unescape(message)  # a CREST error body
        return message, detail
    return None, None


class HttpClient(object):
    """Small JSON-over-HTTP client on one requests Session (keep-alive)."""

    service = "IDM"

    def __init__(self, base_url, validate_certs=True, ca_path=None, timeout=30, retries=3, backoff=0.5,
                 headers=None, service=None, sleep=None):
        if not HAS_REQUESTS:
            raise RuntimeError(missing_required_lib("requests"))
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self._sleep = sleep  # None: the module-level sleep(), looked up at call time
        if service:
            self.service = service
        self.session = requests.Session()
        # ca_path wins over validate_certs=true: verify against that bundle instead of the system store.
        if not validate_certs:
            self.session.verify = False
        elif ca_path:
            self.session.verify = ca_path
        else:
            self.session.verify = True
        self.session.headers.update({"Accept": "application/json"})
        if headers:
            self.session.headers.update(headers)

    def url_for(self, path):
        if path.startswith("http://") or path.startswith("https://"):
            return path
        return "%s/%s" % (self.base_url, quote(path.lstrip("/"), safe="/:@$!*,;=~+-._"))

    def where(self, path):
        """The server shown in messages: the base URL, or scheme://host of an absolute URL."""
        if path.startswith("http://") or path.startswith("https://"):
            parts = urlsplit(path)
            return "%s://%s" % (parts.scheme, parts.netloc)
        return self.base_url

    @staticmethod
    def describe(path, params=None):
        """The path as shown in messages: the path plus the action, never other query values."""
        shown = path.lstrip("/") if not path.startswith("http") else urlsplit(path).path
        if params and params.get("_action"):
            shown += "?_action=%s" % params["_action"]
        return shown

    def request(self, method, path, params=None, body=None, data=None, headers=None, auth=None,
                ok_statuses=None, retry=None):
        """Send one request; return HttpResult or raise ApiError.

        ``body`` is sent as JSON, ``data`` as form fields. ``ok_statuses`` lists extra statuses that are
        returned instead of raised (e.g. 404 for get_or_none). ``retry`` overrides the idempotence rule.
        """
        method = method.upper()
        url = self.url_for(path)
        shown = self.describe(path, params)
        where = self.where(path)
        send_headers = dict(headers or {})
        payload = data
        if body is not None:
            payload = json.dumps(body)
            send_headers["Content-Type"] = "application/json"
        may_retry = (method in IDEMPOTENT_METHODS) if retry is None else retry
        attempts = 1 + (self.retries if may_retry else 0)
        response = None
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                # verify passed explicitly: otherwise REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE would override ca_path.
                response = self.session.request(method, url, params=params, data=payload, headers=send_headers,
                                                auth=auth, timeout=self.timeout, allow_redirects=False,
                                                verify=self.session.verify)
            except requests.exceptions.SSLError as exc:
                text = short_error_text(exc)
                raise ApiError(method, shown, where, service=self.service, kind="tls", message="TLS error: %s" % text,
                               hint=tls_hint(text))
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
                kind = classify_transport_error(exc)
                # A name that does not resolve will not resolve a second later: fail at once.
                if not last and kind != "dns":
                    self._backoff_sleep(attempt)
                    continue
                text, hint = transport_failure(kind, url, exc, self.timeout)
                tries = " (%d attempts)" % (attempt + 1) if attempt else ""
                raise ApiError(method, shown, where, service=self.service, message=text + tries, hint=hint,
                               kind=kind)
            # A status the caller accepts as an answer (e.g. 503 from health/ready) is not retried.
            if response.status_code in RETRY_STATUSES and not last and response.status_code not in (ok_statuses or ()):
                self._backoff_sleep(attempt)
                continue
            break
        return self._result(method, shown, where, response, ok_statuses)

    def _backoff_sleep(self, attempt):
        (self._sleep or sleep)(self.backoff * (2 ** attempt))

    def _result(self, method, shown, where, response, ok_statuses):
        status = response.status_code
        if 200 <= status < 300 or (ok_statuses and status in ok_statuses):
            return HttpResult(status, response.headers, _parse_body(response))
        message, detail = _server_message(response)
        reason = response.reason or _reason_phrase(status)
        raise ApiError(method, shown, where, status=status, reason=reason, message=message,
                       detail=detail, service=self.service)

    def close(self):
        self.session.close()


def is_transient(exc):
    """True when a wait loop may try again: a busy server or proxy (502/503/504), or a connection problem other
    than a host that does not resolve or a TLS failure (a restarting server drops and refuses connections)."""
    if exc.status is None:
        return exc.kind not in NOT_TRANSIENT_KINDS
    return exc.status in RETRY_STATUSES


def _parse_body(response):
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text
