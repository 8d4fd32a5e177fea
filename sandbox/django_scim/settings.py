"""Django settings of the second SCIM server (django-scim2-server on SQLite). Read by ``sandbox.django_scim``.

The launcher sets ``DJANGO_SCIM_DB`` (the SQLite file) before Django starts. There is no admin site, no session, no
template: only ``django.contrib.auth`` (the users and groups django-scim2-server maps) and the SCIM app, mounted
at ``/scim/v2/`` (the package builds its ``meta.location`` URLs with that prefix).
"""

from __future__ import annotations

import os
import secrets

SECRET_KEY = os.environ.get("DJANGO_SCIM_SECRET_KEY") or secrets.token_urlsafe(
    32
)  # nothing signed outlives the process
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django_scim2_server",
]
MIDDLEWARE = ["sandbox.django_scim.auth.StaticCredentialsMiddleware"]
ROOT_URLCONF = "sandbox.django_scim.urls"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DJANGO_SCIM_DB", ":memory:"),
        # cheroot serves requests from several threads, each with its own connection: wait for the write lock.
        "OPTIONS": {"timeout": 30},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
# The default check (django_scim2_server.auth.is_superuser) stays: the middleware authenticates the SCIM client as
# a superuser.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"django": {"handlers": ["stderr"], "level": "WARNING"}},
}
