"""CREST errors as IDM returns them: ``{"code", "reason", "message"[, "detail"]}``.

The message is HTML-escaped in the body, as CREST's ``ResourceException.toJsonValue()`` does with Guava's
``HtmlEscapers`` (commons ``json-resource/.../ResourceException.java`` L600-620): ``Resource 'x' not found``
reaches the client as ``Resource &#39;x&#39; not found``. ``IdmError.message`` keeps the plain text for the
sandbox's own use (audit entries, logs).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

_HTML_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}


def html_escape(text: Any) -> Any:
    """Guava ``HtmlEscapers.htmlEscaper()``: ``& < > " '`` only."""
    if not isinstance(text, str):
        return text
    return "".join(_HTML_ESCAPES.get(char, char) for char in text)


class IdmError(Exception):
    """An error that becomes a CREST error body with the HTTP status ``code``."""

    def __init__(self, code: int, message: str | None = None, detail: Any = None) -> None:
        self.code = int(code)
        self.reason = HTTPStatus(self.code).phrase
        self.message = message if message is not None else self.reason
        self.detail = detail
        super().__init__(f"{self.code} {self.reason}: {self.message}")

    def body(self) -> dict[str, Any]:
        body = {"code": self.code, "reason": self.reason, "message": html_escape(self.message)}
        if self.detail is not None:
            body["detail"] = self.detail
        return body
