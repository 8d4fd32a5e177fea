# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A connector's life in IDM: compare with secrets, write through IDM's metadata wait, wait until it runs.

PRIVATE to the collection: names here can change without notice. The decisions stay in the connector module.
"""

from __future__ import annotations

import copy

from ansible_collections.idmops.pingidm.plugins.module_utils import _compare, _http
from ansible_collections.idmops.pingidm.plugins.module_utils._http import ApiError
from ansible_collections.idmops.pingidm.plugins.module_utils._module import ModuleFailure

NOT_AVAILABLE = "connector not available"
# IDM's 500 for a connector config write while it has no metadata for the connector (nothing is stored).
NO_METADATA = "No meta-data provider available"
METADATA_RETRY_CAP = 5.0


def decrypt_refused(name, client):
    """Turn a failed decryption into an error that names the options that avoid the decryption."""
    def handler(exc):
        if isinstance(exc, ApiError) and exc.status in (401, 403):
            return ModuleFailure(
                "update_secrets=when_different needs to decrypt the stored secrets of connector '%s' with POST "
                "script?_action=eval on %s, which IDM refused (%s %s). Use a user allowed to evaluate scripts "
                "(openidm-admin), or set update_secrets=on_create (secrets written only on create) or "
                "update_secrets=always (secrets always written, reports changed)."
                % (name, client.base_url, exc.status, exc.reason or ""), status=exc.status)
        return exc
    return handler


def plan(client, name, mode, before, desired, no_log_values):
    """(changed, body to write, changed secret paths, differences) for ``update_secrets`` = ``mode``.

    Every clear secret decrypted on the way is added to ``no_log_values``.
    """
    if before is None:
        return True, desired, _compare.secret_paths(desired), []
    policy = _compare.SecretPolicy(mode, decrypt=client.decrypt, on_decrypt_error=decrypt_refused(name, client))
    try:
        comparison = _compare.compare(before, desired, secret_equal=policy)
    finally:
        no_log_values.update(policy.decrypted)
    changed_secrets = list(comparison.changed_secrets)
    if mode == "always":
        # Every clear-text secret given counts as a write; an identical $crypto would not change anything.
        for path in _compare.secret_paths(desired):
            if not _compare.is_crypto(_compare.get_path(desired, path)) and path not in changed_secrets:
                changed_secrets.append(path)
    body = copy.deepcopy(desired)
    for path in comparison.equal_secrets:
        if path not in changed_secrets:
            _compare.set_path(body, path, _compare.get_path(before, path))
    changed = not comparison.equal or bool(changed_secrets)
    return changed, body, changed_secrets, comparison.differences


def not_started(status):
    """True while IDM has not created the connector: ``connector not available`` (also with a reason after a
    colon, as some servers add one). Any other error means the connector runs and its remote system fails."""
    error = str((status or {}).get("error") or "")
    return not (status or {}).get("ok") and (error == NOT_AVAILABLE or error.startswith(NOT_AVAILABLE + ":"))


def wait_until_started(client, name, timeout, budget=None):
    """Poll system/<name>?_action=test until IDM has created the connector (see not_started) or ``timeout``
    seconds pass; ``budget`` is the whole wait_timeout the message names (the write may have used some of it)."""
    def check():
        try:
            status = client.post_action("system/" + name, "test")
        except ApiError as exc:
            # no route yet (404), or a transient failure still there after the client's own retries
            if exc.status == 404 or _http.is_transient(exc):
                return False, {"name": name, "ok": False, "error": exc.message or str(exc)}
            raise
        return not not_started(status), status
    started, status, waited = _http.poll(check, timeout=timeout, interval=1)
    if not started:
        raise ModuleFailure("Connector '%s' was saved, but IDM did not start it within %d s (last answer: %s). "
                            "Check connectorRef (bundleName, bundleVersion, connectorName) against the "
                            "connectors IDM has, and IDM's log, or raise wait_timeout."
                            % (name, budget or timeout, (status or {}).get("error")), changed=True,
                            status=_compare.mask(status))
    return status, waited


def describe_ref(config):
    ref = (config or {}).get("connectorRef") or {}
    text = "bundleName %s, bundleVersion %s, connectorName %s" % (
        ref.get("bundleName"), ref.get("bundleVersion"), ref.get("connectorName"))
    if ref.get("connectorHostRef"):
        text += ", connectorHostRef %s" % ref["connectorHostRef"]
    return text


def available_versions(client, config):
    """'bundle version, ...' IDM offers for the config's connectorName (or bundleName); '' when unknown."""
    ref = (config or {}).get("connectorRef") or {}
    try:
        answer = client.request("POST", "system", params={"_action": "availableConnectors"}, body={},
                                retry=True).body
    except ApiError:
        return ""
    entries = answer.get("connectorRef") if isinstance(answer, dict) else None
    found = []
    for entry in entries or []:
        if isinstance(entry, dict) and (entry.get("connectorName") == ref.get("connectorName")
                                        or entry.get("bundleName") == ref.get("bundleName")):
            found.append("%s %s%s" % (entry.get("bundleName"), entry.get("bundleVersion"),
                                      " on " + entry["connectorHostRef"] if entry.get("connectorHostRef") else ""))
    return ", ".join(found) or "none for this connector"


def put_config(client, name, body, params, timeout):
    """PUT the config; while IDM answers 500 "No meta-data provider available yet" (nothing stored), send it
    again with a growing pause until ``timeout`` seconds have passed. Returns (stored, seconds spent)."""
    path = "config/provisioner.openicf/" + name
    start = _http.monotonic()
    pause = 1.0
    while True:
        try:
            return client.put(path, body, params=params), _http.monotonic() - start
        except ApiError as exc:
            if exc.status != 500 or NO_METADATA not in (exc.message or ""):
                raise
            spent = _http.monotonic() - start
            if spent + pause > timeout:
                versions = available_versions(client, body)
                raise ModuleFailure(
                    "IDM has no metadata for connector '%s' (%s) and stored nothing: it answered 500 \"%s\" "
                    "for %d s. Install a connector bundle in that version range (in IDM's connectors directory, or "
                    "on the remote connector server of connectorHostRef), or correct connectorRef; IDM offers: %s."
                    % (name, describe_ref(body), exc.message, spent, versions or "(could not list them)"),
                    changed=False, status=500)
            _http.sleep(pause)
            pause = min(METADATA_RETRY_CAP, pause * 2)


def works_now(client, name):
    """True when the stored connector passes IDM's test now (auto test_before_save); False on any doubt."""
    try:
        status = client.post_action("system/" + name, "test")
    except ApiError:
        return False
    return bool((status or {}).get("ok"))
