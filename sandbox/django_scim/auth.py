"""Authentication of the second SCIM server's client.

django-scim2-server leaves authentication to the Django project (its check only asks whether ``request.user`` is
an authenticated superuser). This middleware is that project part: ``Authorization: Bearer <token>`` with one of
``SCIM_STATIC_TOKENS`` (IDM's ``authenticationMethod: TOKEN``) or ``Authorization: Basic`` with one of
``SCIM_BASIC`` ``user:password`` pairs (``BASIC``), compared in constant time. A match makes the request's user an
in-memory superuser (never stored, so it is no SCIM user); anything else leaves the anonymous user, and the SCIM view
answers 401. The server has no OAuth token endpoint: django-scim2-server has none.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser


def _split_env(name):
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


def _pairs(items):
    pairs = {}
    for item in items:
        user, sep, password = item.partition(":")
        if sep and user and password:
            pairs[user] = password
    return pairs


def _same(given, expected):
    return hmac.compare_digest(given.encode(), expected.encode())


class StaticCredentialsMiddleware:
    """Sets ``request.user`` from static bearer tokens or basic users given in the environment."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.tokens = _split_env("SCIM_STATIC_TOKENS")
        self.basic = _pairs(_split_env("SCIM_BASIC"))

    def authenticate(self, header):
        scheme, _, credentials = (header or "").strip().partition(" ")
        credentials = credentials.strip()
        if scheme.lower() == "bearer" and credentials:
            if any(_same(credentials, token) for token in self.tokens):
                return "token"
        elif scheme.lower() == "basic" and credentials:
            try:
                user, sep, password = base64.b64decode(credentials, validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return None
            expected = self.basic.get(user)
            if sep and expected is not None and _same(password, expected):
                return user
        return None

    def __call__(self, request):
        subject = self.authenticate(request.META.get("HTTP_AUTHORIZATION"))
        if subject is None:
            request.user = AnonymousUser()
        else:
            request.user = get_user_model()(username=f"scim-client-{subject}", is_superuser=True, is_staff=True)
        return self.get_response(request)
