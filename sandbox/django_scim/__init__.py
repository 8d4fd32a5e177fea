"""The sandbox's second, independent SCIM 2.0 server: django-scim2-server (PyPI) on Django and SQLite.

The sandbox's own provider (``sandbox.scim``) wraps scim2-server; this one is a different implementation, so the
collection is tested against a provider we did not shape. The package is used as published (its models, views,
adapters, filter parser and PATCH handler); this folder holds only what a Django project adds around it: settings,
URL mount, an authentication middleware (static bearer tokens or HTTP Basic), a seed and a launcher
(``python -m sandbox.django_scim``). Its non-conformances are listed in ``README.md`` beside this file.
"""
