# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Normalise, compare, diff and mask IDM documents. The only place that decides "changed".

PRIVATE to the collection: names here can change without notice.

- Server bookkeeping (``_id``, ``_rev``) never counts; key order never counts; list order does
  (mapping order and property order mean something to IDM).
- Types are compared strictly: ``true`` is not ``1`` and ``"10"`` is not ``10`` (IDM stores what it gets).
- A ``{"$crypto": ...}`` value is an encrypted secret. Whether it equals the desired value is not decidable
  locally, so the caller passes a ``secret_equal(path, stored, desired)`` policy.
- Everything shown to the user goes through ``mask()``: ``$crypto`` blobs and values of secret keys become
  ``********``.
"""

from __future__ import annotations

import copy

MASK = "********"
CHANGED_SECRET = MASK + " (changed)"
BOOKKEEPING_KEYS = ("_id", "_rev")
# Keys whose scalar values are secrets wherever they appear (connector configurationProperties, OAuth
# clients, remote connector servers). Compared case-sensitively, like IDM's property names.
SECRET_KEYS = frozenset((
    "password", "clientSecret", "authToken", "credentials", "secret", "privateKey", "accessToken",
    "refreshToken", "apiKey", "key", "keyPassword", "storePassword", "client_secret", "bindPassword",
))


def is_crypto(value):
    """True for an IDM-encrypted value ``{"$crypto": {...}}``."""
    return isinstance(value, dict) and "$crypto" in value


def same(a, b):
    """Strict structural equality: dict key order ignored, list order kept, bool never equals a number."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def _drop_path(obj, path):
    if not path or obj is None:
        return
    head, rest = path[0], path[1:]
    if head == "*":
        items = obj if isinstance(obj, list) else (list(obj.values()) if isinstance(obj, dict) else [])
        for item in items:
            if rest:
                _drop_path(item, rest)
        return
    if isinstance(obj, dict) and head in obj:
        if rest:
            _drop_path(obj[head], rest)
        else:
            del obj[head]


def normalise(document, drop=()):
    """Copy of ``document`` without ``_id``/``_rev`` at the top and without the ``drop`` paths.

    A path is a tuple of keys; ``"*"`` matches every list element or dict value, e.g. ``("mappings", "*", "_id")``.
    """
    if document is None:
        return None
    result = copy.deepcopy(document)
    if isinstance(result, dict):
        for key in BOOKKEEPING_KEYS:
            result.pop(key, None)
    for path in drop:
        _drop_path(result, tuple(path))
    return result


def _has_path(obj, path):
    for key in path:
        if key == "*":
            return True  # wildcard: treat as present, keep the server's data
        if not isinstance(obj, dict) or key not in obj:
            return False
        obj = obj[key]
    return True


def drop_server_added(before, desired, server_added):
    """Drop from ``before`` the paths the server adds on its own, unless the user set them in ``desired``."""
    paths = [tuple(p) for p in server_added if not _has_path(desired, p)]
    return normalise(before, drop=paths)


class Comparison(object):
    """Result of compare(): ``equal``; which secrets differ or were judged equal (paths as key tuples)."""

    def __init__(self):
        self.equal = True
        self.changed_secrets = []
        self.equal_secrets = []
        self.differences = []  # dotted paths of the first differences, for messages

    def differ(self, path):
        self.equal = False
        if len(self.differences) < 20:
            self.differences.append(dotted(path))


def dotted(path):
    return ".".join(str(p) for p in path)


def _is_secret_key(path):
    return bool(path) and isinstance(path[-1], str) and path[-1] in SECRET_KEYS


def compare(stored, desired, secret_equal=None):
    """Compare a stored document (as IDM returns it, normalised) with the desired one.

    ``secret_equal(path, stored_value, desired_value) -> bool`` decides pairs where either side is a
    ``$crypto`` value and the two are not identical. Without it such pairs differ.
    """
    result = Comparison()
    _walk(stored, desired, (), result, secret_equal)
    return result


def _walk(a, b, path, result, secret_equal):
    if is_crypto(a) or is_crypto(b):
        if same(a, b):
            result.equal_secrets.append(path)
        elif secret_equal is not None and secret_equal(path, a, b):
            result.equal_secrets.append(path)
        else:
            result.changed_secrets.append(path)
            result.differ(path)
        return
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            if key not in a or key not in b:
                if _is_secret_key(path + (key,)) or is_crypto(a.get(key)) or is_crypto(b.get(key)):
                    if key in b:  # a secret that is new or removed; a removed one is not "updated"
                        result.changed_secrets.append(path + (key,))
                result.differ(path + (key,))
            else:
                _walk(a[key], b[key], path + (key,), result, secret_equal)
        return
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for index, (x, y) in enumerate(zip(a, b)):
            _walk(x, y, path + (index,), result, secret_equal)
        return
    if not same(a, b):
        if _is_secret_key(path):
            result.changed_secrets.append(path)
        result.differ(path)
    elif _is_secret_key(path) and not isinstance(a, (dict, list)):
        result.equal_secrets.append(path)


def secret_values(document):
    """Clear-text secret strings in ``document`` (values of secret keys), e.g. to add to no_log_values."""
    found = set()

    def visit(obj, key=None):
        if isinstance(obj, dict):
            if is_crypto(obj):
                return
            for k, v in obj.items():
                visit(v, k)
        elif isinstance(obj, list):
            for item in obj:
                visit(item, key)
        elif key in SECRET_KEYS and isinstance(obj, str) and obj:
            found.add(obj)
    visit(document)
    return found


def mask(document, changed_paths=()):
    """Copy of ``document`` safe to show: every ``$crypto`` value becomes ``{"$crypto": "********"}``, every
    scalar under a secret key ``"********"``. Paths in ``changed_paths`` (key tuples) show ``"******** (changed)"``
    so a rotated secret stays visible in a diff without its value."""
    changed = set(tuple(p) for p in changed_paths)

    def visit(obj, path, key):
        here = path
        if is_crypto(obj):
            return {"$crypto": CHANGED_SECRET if here in changed else MASK}
        if isinstance(obj, dict):
            return dict((k, visit(v, path + (k,), k)) for k, v in obj.items())
        if isinstance(obj, list):
            return [visit(item, path + (i,), key) for i, item in enumerate(obj)]
        if key in SECRET_KEYS and obj is not None and not isinstance(obj, bool):
            return CHANGED_SECRET if here in changed else MASK
        return obj
    return visit(document, (), None)


def diff(before, after, changed_secrets=()):
    """Ansible ``diff`` dict of two documents (None = absent), masked; a changed secret is marked in ``after``."""
    return {
        "before": mask(before) if before is not None else {},
        "after": mask(after, changed_secrets) if after is not None else {},
    }


def _named(items):
    return bool(items) and all(isinstance(item, dict) and isinstance(item.get("name"), str) for item in items)


def merge(stored, patch):
    """``stored`` with ``patch`` merged in (a new document; neither input is changed), for config ``mode=merge``.

    - Objects merge key by key, recursively; a key whose patch value is null is removed (RFC 7386 JSON merge patch).
    - A list whose elements (in both documents) are objects with a ``name`` merges element by element by name,
      recursively: given elements are merged into the stored element of that name, new ones are appended, the
      others are kept in their order (IDM's named lists: ``managed.objects``, ``sync.mappings``, ...).
    - Anything else in the patch (a value, another list, a ``$crypto`` secret) replaces the stored value.
    """
    if patch is None:
        return None
    if isinstance(patch, dict) and not is_crypto(patch):
        base = stored if isinstance(stored, dict) and not is_crypto(stored) else {}
        result = copy.deepcopy(base)
        for key, value in patch.items():
            if value is None:
                result.pop(key, None)
            else:
                result[key] = merge(base.get(key), value)
        return result
    if isinstance(patch, list) and isinstance(stored, list) and _named(patch) and (_named(stored) or not stored):
        result = copy.deepcopy(stored)
        index = dict((item["name"], position) for position, item in enumerate(result))
        for item in patch:
            if item["name"] in index:
                result[index[item["name"]]] = merge(result[index[item["name"]]], item)
            else:
                index[item["name"]] = len(result)
                result.append(merge(None, item))
        return result
    return copy.deepcopy(patch)


def set_path(document, path, value):
    """Set a path (key tuple, as produced by compare()) in ``document``."""
    obj = document
    for key in path[:-1]:
        obj = obj[key]
    obj[path[-1]] = value


def get_path(document, path):
    obj = document
    for key in path:
        obj = obj[key]
    return obj


def secret_paths(document):
    """Paths (key tuples) of every secret in ``document``: ``$crypto`` values and scalars under secret keys."""
    found = []

    def visit(obj, path):
        if is_crypto(obj):
            found.append(path)
        elif isinstance(obj, dict):
            for k, v in obj.items():
                visit(v, path + (k,))
        elif isinstance(obj, list):
            for i, item in enumerate(obj):
                visit(item, path + (i,))
        elif _is_secret_key(path) and obj is not None and not isinstance(obj, bool):
            found.append(path)
    visit(document, ())
    return found


def secret_name(path, under=("configurationProperties",)):
    """Property name shown for a secret path: dotted, without the leading ``under`` part."""
    path = tuple(path)
    if path[:len(under)] == tuple(under) and len(path) > len(under):
        path = path[len(under):]
    return dotted(path)


class SecretDecisionError(Exception):
    """A secret could not be compared (e.g. decryption refused); the text says which options avoid it."""


UPDATE_SECRETS_CHOICES = ("when_different", "on_create", "always")


class SecretPolicy(object):
    """``secret_equal`` callable for compare(), implementing ``update_secrets``.

    - ``when_different``: decrypt ``$crypto`` values through ``decrypt(value)`` and compare clear values.
    - ``on_create``: a stored secret counts as equal to any desired value (it is only written on create).
    - ``always``: a given secret always counts as different.
    ``decrypt`` raises on failure; ``on_decrypt_error(exc)`` turns that into the exception to raise
    (or returns None to count the secret as different).
    """

    def __init__(self, mode, decrypt=None, on_decrypt_error=None):
        if mode not in UPDATE_SECRETS_CHOICES:
            raise ValueError("update_secrets must be one of %s" % ", ".join(UPDATE_SECRETS_CHOICES))
        self.mode = mode
        self._decrypt = decrypt
        self._on_error = on_decrypt_error
        self.decrypted = []  # clear values seen, so callers can keep them out of any output

    def _clear(self, value):
        if not is_crypto(value):
            return value
        clear = self._decrypt(value)
        if isinstance(clear, str):
            self.decrypted.append(clear)
        return clear

    def __call__(self, path, stored, desired):
        if self.mode == "always":
            return False
        if self.mode == "on_create":
            return stored is not None
        try:
            return same(self._clear(stored), self._clear(desired))
        except Exception as exc:  # the decrypt callable's own error type (ApiError) is not known here
            if self._on_error is None:
                raise
            replacement = self._on_error(exc)
            if replacement is None:
                return False
            raise replacement
