"""CREST errors as IDM returns them: ``{"code", "reason", "message"[, "detail"]}``."""

from http import HTTPStatus


class IdmError(Exception):
    """An error that becomes a CREST error body with the HTTP status ``code``."""

    def __init__(self, code, message=None, detail=None):
        self.code = int(code)
        self.reason = HTTPStatus(self.code).phrase
        self.message = message if message is not None else self.reason
        self.detail = detail
        super().__init__(f"{self.code} {self.reason}: {self.message}")

    def body(self):
        body = {"code": self.code, "reason": self.reason, "message": self.message}
        if self.detail is not None:
            body["detail"] = self.detail
        return body


def bad_request(message, detail=None):
    return IdmError(400, message, detail)


def not_found(message="Not Found"):
    return IdmError(404, message)
