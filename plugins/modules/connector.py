#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: connector
short_description: Manage a PingIDM connector (provisioner) configuration, secrets included, idempotently
version_added: 0.1.0
description:
  - Makes C(config/provisioner.openicf/<name>) equal to O(config) (or the rendered O(template)), or removes it.
  - The comparison ignores C(_id), C(_rev) and key order, like M(idmops.pingidm.config).
  - IDM stores confidential connector properties (C(password), C(clientSecret), C(authToken), ...) encrypted
    as C($crypto) objects, with a fresh IV on every write, so a plain comparison would always see a change.
    O(update_secrets) decides how secrets count.
  - Secrets that count as unchanged are sent back in their stored encrypted form, so IDM does not re-encrypt them.
  - IDM refuses to store a connector configuration while it has no metadata for its connector (the bundle or
    version range of C(connectorRef) is not installed, its remote connector server is not connected, or IDM is
    still loading connectors). It answers 500 C(No meta-data provider available yet ... retry later) and stores
    nothing. The module sends the write again every few seconds within O(wait_timeout), and then fails with a
    message naming C(connectorRef.bundleName), C(bundleVersion) and C(connectorName), and the versions IDM has.
  - After a write (and only then), with O(wait=true), waits until IDM has started the connector.
  - Secret values never appear in the result, the diff or messages; they show as C(********).
author:
  - idmops.pingidm contributors (@idmops)
extends_documentation_fragment:
  - idmops.pingidm.connection
  - idmops.pingidm.connection.actiongroup_idm
  - idmops.pingidm.template
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details:
      - Check mode reads, decrypts and compares like a real run and reports the same V(changed), RV(created),
        C(diff) and RV(secrets_updated). The connector test of O(test_before_save) runs too (nothing is stored).
      - Whether IDM has the connector's metadata (see above) is only known when the write is sent.
  diff_mode:
    support: full
    details:
      - Secrets show as C(********); a secret that would be written shows as C(******** (changed)).
options:
  name:
    description: Connector name, the part after C(provisioner.openicf/), for example V(scim).
    type: str
    required: true
  config:
    description:
      - The whole desired provisioner configuration (C(connectorRef), C(configurationProperties), C(objectTypes), ...).
      - Secrets may be given in clear text or as C($crypto) objects exported from an IDM with the same key.
      - Required with O(state=present) unless O(template) is given.
    type: dict
  state:
    description: Whether the connector configuration should exist.
    type: str
    choices: [present, absent]
    default: present
  update_secrets:
    description:
      - How secrets (C($crypto) values on the server) are compared with the desired ones.
      - V(when_different) decrypts each stored secret through C(POST script?_action=eval)
        (C(openidm.decrypt)) and compares clear values; desired C($crypto) values are decrypted the same way.
        Needs a user allowed to evaluate scripts (C(openidm-admin)).
      - V(on_create) writes secrets only when the connector is created; afterwards a stored secret counts as
        equal to any desired value and is kept as it is. Needs no script rights. A rotated secret is not written.
      - V(always) counts every clear-text secret given as changed, so each run writes and reports V(changed=true).
        Needs no script rights.
    type: str
    choices: [when_different, on_create, always]
    default: when_different
  test_before_save:
    description:
      - Before a write, test the desired configuration with C(POST system?_action=testConfig) and fail without
        saving when IDM reports C(ok=false), with IDM's error text. So a configuration whose credentials the
        remote system refuses does not replace one that works.
      - V(true) tests before every write, also before a create. V(false) never tests.
      - Not set (the default), it tests before an update of a connector that works now, that is, whose stored
        configuration passes C(POST system/<name>?_action=test); never before a create, nor before an update of
        a connector that is disabled or failing anyway, nor before an update that disables it.
      - Runs only when something is to be written (also in check mode).
    type: bool
  wait:
    description:
      - After a write, wait until IDM has (re)started the connector, and fail the task (the configuration stays
        saved) when it does not start within O(wait_timeout). The write itself is sent with
        C(waitForCompletion=true) so IDM usually answers once the connector is started.
      - "C(POST system/<name>?_action=test) tells: 404 means IDM has not added the connector's route yet, and
        C(ok=false) with C(connector not available) that the connector is not created yet (or cannot be: a
        missing bundle); both mean not started. C(ok=true) means started. C(ok=false) with another error (for
        example C(Connection Error) when the remote system refuses the credentials) means started: IDM runs the
        connector, and it is the remote system that fails. The task then succeeds with a warning and
        RV(status) shows the error; M(idmops.pingidm.connector_test) is the check for a working connection."
      - Skipped for a connector with C(enabled=false).
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait with O(wait=true) for the connector to start.
      - Also the time within which a write IDM refuses for lack of connector metadata is sent again (with
        O(wait=false) too).
    type: int
    default: 60
"""

EXAMPLES = r"""
- name: Configure the SCIM connector from the collection's template
  idmops.pingidm.connector:
    idm_url: http://localhost:8080
    username: openidm-admin
    password: "{{ idm_admin_password }}"
    name: scim
    template: provisioner.openicf-scim.json.j2
    test_before_save: true

- name: Configure a connector from a dict; secrets compared by decrypting the stored ones
  idmops.pingidm.connector:
    idm_url: http://localhost:8080
    username: openidm-admin
    password: "{{ idm_admin_password }}"
    name: scim
    config:
      connectorRef:
        bundleName: org.forgerock.openicf.connectors.scim-connector
        bundleVersion: "[1.5.0.0,1.6.0.0)"
        connectorName: org.forgerock.openicf.connectors.scim.ScimConnector
      configurationProperties:
        SCIMEndpoint: https://scim.example.com/scim/v2
        authenticationMethod: OAUTH
        tokenEndpoint: https://scim.example.com/oauth2/token
        clientId: idm
        clientSecret: "{{ scim_client_secret }}"
      objectTypes: "{{ scim_object_types }}"

- name: Same, for a user without script eval rights (secret only set on create)
  idmops.pingidm.connector:
    idm_url: http://localhost:8080
    username: deployer
    password: "{{ deployer_password }}"
    name: scim
    template: provisioner.openicf-scim.json.j2
    update_secrets: on_create

- name: Remove the connector
  idmops.pingidm.connector:
    idm_url: http://localhost:8080
    username: openidm-admin
    password: "{{ idm_admin_password }}"
    name: scim
    state: absent
"""

RETURN = r"""
created:
  description: True when the connector configuration was created (would be, in check mode); false for an update.
  returned: success
  type: bool
  sample: true
config:
  description: The connector configuration as stored after the task (as it would be, in check mode), secrets masked.
  returned: success
  type: dict
  sample: {"_id": "provisioner.openicf/scim", "configurationProperties": {"clientSecret": {"$crypto": "********"}}}
diff:
  description: Masked C(before) and C(after) documents (C(--diff)).
  returned: when diff mode is on
  type: dict
secrets_updated:
  description:
    - Names of the secret properties written (or that would be written, in check mode), relative to
      C(configurationProperties). Never values.
  returned: success
  type: list
  elements: str
  sample: ["clientSecret"]
differences:
  description: Dotted paths of up to 20 differing keys (no values).
  returned: when changed
  type: list
  elements: str
test:
  description: Result of C(system?_action=testConfig) before the write (see O(test_before_save)).
  returned: when the configuration was tested
  type: dict
  sample: {"name": "scim", "ok": true}
waited:
  description: Seconds spent waiting for the connector to start.
  returned: when the module waited
  type: float
  sample: 1.0
status:
  description:
    - Connector status from C(system/<name>?_action=test) after the wait. C(ok=false) with an C(error) here
      means IDM started the connector but the remote system fails its test (a warning says so).
  returned: when the module waited
  type: dict
  sample: {"name": "scim", "enabled": true, "ok": true, "objectTypes": ["__ALL__", "account", "group"]}
"""

import copy

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.idmops.pingidm.plugins.module_utils import _client, _compare
from ansible_collections.idmops.pingidm.plugins.module_utils._client import (
    ApiError, client_from_module, fail_on_api_error, idm_argument_spec, idm_module_kwargs)

NOT_AVAILABLE = "connector not available"
# IDM's 500 for a connector config write while it has no metadata for the connector (nothing is stored).
NO_METADATA = "No meta-data provider available"
METADATA_RETRY_CAP = 5.0


class ConnectorError(Exception):
    def __init__(self, message, **extra):
        super(ConnectorError, self).__init__(message)
        self.extra = extra


def decrypt_refused(module, client):
    """Turn a failed decryption into an error that names the options that avoid the decryption."""
    def handler(exc):
        if isinstance(exc, ApiError) and exc.status in (401, 403):
            return ConnectorError(
                "update_secrets=when_different needs to decrypt the stored secrets of connector '%s' with POST "
                "script?_action=eval on %s, which IDM refused (%s %s). Use a user allowed to evaluate scripts "
                "(openidm-admin), or set update_secrets=on_create (secrets written only on create) or "
                "update_secrets=always (secrets always written, reports changed)."
                % (module.params["name"], client.base_url, exc.status, exc.reason or ""), status=exc.status)
        return exc
    return handler


def plan(module, client, before, desired):
    """(changed, body to write, changed secret paths, differences)."""
    mode = module.params["update_secrets"]
    if before is None:
        return True, desired, _compare.secret_paths(desired), []
    policy = _compare.SecretPolicy(mode, decrypt=client.decrypt, on_decrypt_error=decrypt_refused(module, client))
    comparison = _compare.compare(before, desired, secret_equal=policy)
    module.no_log_values.update(policy.decrypted)
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
            if exc.status == 404 or _client.is_transient(exc):
                return False, {"name": name, "ok": False, "error": exc.message or str(exc)}
            raise
        return not not_started(status), status
    started, status, waited = _client.poll(check, timeout=timeout, interval=1)
    if not started:
        raise ConnectorError("Connector '%s' was saved, but IDM did not start it within %d s (last answer: %s). "
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
    start = _client.monotonic()
    pause = 1.0
    while True:
        try:
            return client.put(path, body, params=params), _client.monotonic() - start
        except ApiError as exc:
            if exc.status != 500 or NO_METADATA not in (exc.message or ""):
                raise
            spent = _client.monotonic() - start
            if spent + pause > timeout:
                versions = available_versions(client, body)
                raise ConnectorError(
                    "IDM has no metadata for connector '%s' (%s) and stored nothing: it answered 500 \"%s\" "
                    "for %d s. Install a connector bundle in that version range (in IDM's connectors directory, or "
                    "on the remote connector server of connectorHostRef), or correct connectorRef; IDM offers: %s."
                    % (name, describe_ref(body), exc.message, spent, versions or "(could not list them)"),
                    changed=False, status=500)
            _client.sleep(pause)
            pause = min(METADATA_RETRY_CAP, pause * 2)


def works_now(client, name):
    """True when the stored connector passes IDM's test now (auto test_before_save); False on any doubt."""
    try:
        status = client.post_action("system/" + name, "test")
    except ApiError:
        return False
    return bool((status or {}).get("ok"))


def run(module, client):
    params = module.params
    name = params["name"]
    path = "config/provisioner.openicf/" + name
    stored = client.get_or_none(path)
    before = _compare.normalise(stored)
    result = dict(changed=False, created=False, secrets_updated=[])

    if params["state"] == "absent":
        if stored is not None:
            result["changed"] = True
            if not module.check_mode:
                client.delete(path)
        result["config"] = {}
        if module._diff:
            result["diff"] = _compare.diff(before, None)
        return result

    desired = _compare.normalise(params["config"])
    changed, body, changed_secrets, differences = plan(module, client, before, desired)
    result["changed"] = changed
    result["created"] = stored is None
    result["secrets_updated"] = sorted(_compare.secret_name(p) for p in changed_secrets)
    if differences:
        result["differences"] = differences
    if module._diff:
        result["diff"] = _compare.diff(before, body, changed_secrets=changed_secrets)
    if not changed:
        result["config"] = _compare.mask(stored)
        return result

    test_before_save = params["test_before_save"]
    if test_before_save is None:
        # auto: protect a connector that works now from an update that would break it; never on create, nor
        # when the update disables the connector (then nothing will connect with the new settings)
        test_before_save = stored is not None and body.get("enabled", True) is not False and works_now(client, name)
        protecting = test_before_save
    else:
        protecting = False
    if test_before_save:
        test = client.post_action("system", "testConfig", body=dict(body, name=name))
        result["test"] = _compare.mask(test)
        if not (test or {}).get("ok"):
            error = (test or {}).get("error") or "no reason given"
            why = (" (the stored configuration works, so it was kept; set test_before_save=false to save this one "
                   "anyway)" if protecting else "")
            raise ConnectorError("The configuration of connector '%s' failed IDM's test, so it was not saved: %s%s%s"
                                 % (name, error, _client.connector_error_hint(error), why),
                                 changed=False, created=False, test=result["test"],
                                 secrets_updated=result["secrets_updated"])
    if module.check_mode:
        result["config"] = _compare.mask(dict(body, _id="provisioner.openicf/" + name))
        return result

    wait = params["wait"] and body.get("enabled", True) is not False
    stored_after, spent = put_config(client, name, body, {"waitForCompletion": "true"} if wait else None,
                                     params["wait_timeout"])
    result["config"] = _compare.mask(stored_after)
    if wait:
        try:
            status, waited = wait_until_started(client, name, max(0, params["wait_timeout"] - spent),
                                                params["wait_timeout"])
        except ApiError as exc:
            raise ConnectorError("Connector '%s' was saved, but waiting for it to start failed: %s" % (name, exc),
                                 changed=True, created=result["created"], status=exc.status,
                                 secrets_updated=result["secrets_updated"])
        except ConnectorError as exc:
            exc.extra.update(created=result["created"], secrets_updated=result["secrets_updated"])
            raise
        result["waited"] = round(spent + waited, 1)
        result["status"] = _compare.mask(status)
        if not status.get("ok"):
            error = status.get("error") or "ok=false without an error text"
            module.warn("Connector '%s' was saved and IDM started it, but its test fails: %s%s. See "
                        "idmops.pingidm.connector_test." % (name, error, _client.connector_error_hint(error)))
    return result


def main():
    argument_spec = idm_argument_spec()
    argument_spec.update(
        name=dict(type="str", required=True),
        config=dict(type="dict"),
        template=dict(type="path"),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        update_secrets=dict(type="str", default="when_different", no_log=False,
                            choices=list(_compare.UPDATE_SECRETS_CHOICES)),
        test_before_save=dict(type="bool"),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=60),
    )
    kwargs = idm_module_kwargs()
    kwargs["required_if"].append(("state", "present", ("config", "template"), True))
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           mutually_exclusive=[("config", "template")], **kwargs)
    if module.params["template"] is not None:
        module.fail_json(msg="template must be rendered on the controller by the idmops.pingidm.connector action "
                             "plugin; call the module by its FQCN idmops.pingidm.connector or pass config instead.")
    name = module.params["name"]
    if not name or "/" in name:
        module.fail_json(msg="name %r is not a connector name: give the part after provisioner.openicf/, "
                             "for example 'scim'" % name)
    module.no_log_values.update(_compare.secret_values(module.params["config"]))
    client = client_from_module(module)
    try:
        result = run(module, client)
    except ConnectorError as exc:
        extra = dict(exc.extra)
        extra.setdefault("changed", False)
        module.fail_json(msg=str(exc), **extra)
    except ApiError as exc:
        fail_on_api_error(module, exc, changed=False)
    finally:
        client.close()
    module.exit_json(**result)


if __name__ == "__main__":
    main()
