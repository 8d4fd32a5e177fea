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
        grantType: client_credentials
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

from ansible_collections.idmops.pingidm.plugins.module_utils import _client, _compare
from ansible_collections.idmops.pingidm.plugins.module_utils._connector import (
    plan, put_config, wait_until_started, works_now)
from ansible_collections.idmops.pingidm.plugins.module_utils._http import ApiError
from ansible_collections.idmops.pingidm.plugins.module_utils._module import (
    IdmModule, ModuleFailure, ModuleSpec, refuse_template)


def module_spec():
    return ModuleSpec(
        dict(
            name=dict(type="str", required=True),
            config=dict(type="dict"),
            template=dict(type="path"),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            update_secrets=dict(type="str", default="when_different", no_log=False,
                                choices=list(_compare.UPDATE_SECRETS_CHOICES)),
            test_before_save=dict(type="bool"),
            wait=dict(type="bool", default=True),
            wait_timeout=dict(type="int", default=60),
        ),
        mutually_exclusive=[("config", "template")],
        required_if=[("state", "present", ("config", "template"), True)],
        document_options=("config",),
    )


def run(module):
    params = module.params
    refuse_template(module, "idmops.pingidm.connector", "config")
    name = params["name"]
    if not name or "/" in name:
        raise ModuleFailure("name %r is not a connector name: give the part after provisioner.openicf/, "
                            "for example 'scim'" % name)
    client = module.client
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
    changed, body, changed_secrets, differences = plan(client, name, params["update_secrets"], before, desired,
                                                       module.no_log_values)
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
            raise ModuleFailure("The configuration of connector '%s' failed IDM's test, so it was not saved: %s%s%s"
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
            raise ModuleFailure("Connector '%s' was saved, but waiting for it to start failed: %s" % (name, exc),
                                changed=True, created=result["created"], status=exc.status,
                                secrets_updated=result["secrets_updated"])
        except ModuleFailure as exc:
            exc.result.update(created=result["created"], secrets_updated=result["secrets_updated"])
            raise
        result["waited"] = round(spent + waited, 1)
        result["status"] = _compare.mask(status)
        if not status.get("ok"):
            error = status.get("error") or "ok=false without an error text"
            module.warn("Connector '%s' was saved and IDM started it, but its test fails: %s%s. See "
                        "idmops.pingidm.connector_test." % (name, error, _client.connector_error_hint(error)))
    return result


def main():
    IdmModule(module_spec()).execute(run)


if __name__ == "__main__":
    main()
