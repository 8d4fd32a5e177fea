#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: connector_test
short_description: Test PingIDM connectors until they can reach their systems
version_added: 0.1.0
description:
  - Runs IDM's connector test (C(POST system/<name>?_action=test), or C(POST system?_action=test) for all
    connectors) and retries every O(wait_interval) seconds until each tested connector answers C(ok=true).
  - Fails after O(wait_timeout) seconds with IDM's C(error) text for each connector that is still failing.
  - "An authentication failure fails at once, without retrying: IDM reports C(Connection Error) when the remote
    system refuses the connector's credentials (the connector's C(InvalidCredentialException)), which waiting
    does not fix. The message says which settings to check."
  - A configured connector IDM has not started yet (404), a busy IDM (502, 503, 504) and a dropped connection are
    retried too, since IDM starts new connectors asynchronously and the test only reads.
  - A name with no C(config/provisioner.openicf/<name>) fails at once, listing the configured connectors.
  - Never changes anything.
author:
  - idmops.pingidm contributors (@idmops)
extends_documentation_fragment:
  - idmops.pingidm.connection
  - idmops.pingidm.connection.actiongroup_idm
  - ansible.builtin.action_common_attributes
  - idmops.pingidm.attributes.info_module
options:
  name:
    description: Connector to test, for example V(scim). Leave out to test every configured connector.
    type: str
  wait_timeout:
    description:
      - Seconds to keep retrying until every tested connector is C(ok). V(0) tests once.
      - Each request has its own limit, O(timeout) of the connection options.
    type: int
    default: 60
  wait_interval:
    description: Seconds between tries.
    type: int
    default: 1
"""

EXAMPLES = r"""
- name: Wait until the SCIM connector can reach the SCIM provider
  idmops.pingidm.connector_test:
    idm_url: http://localhost:8080
    username: openidm-admin
    password: "{{ idm_admin_password }}"
    name: scim
    wait_timeout: 120

- name: Test every connector once
  idmops.pingidm.connector_test:
    idm_url: http://localhost:8080
    username: openidm-admin
    password: "{{ idm_admin_password }}"
    wait_timeout: 0
  register: connectors
"""

RETURN = r"""
connectors:
  description: IDM's test result of each tested connector (the last try).
  returned: always
  type: list
  elements: dict
  sample:
    - name: scim
      enabled: true
      config: config/provisioner.openicf/scim
      objectTypes: ["__ALL__", "account", "group"]
      ok: true
attempts:
  description: Number of test rounds made.
  returned: always
  type: int
  sample: 1
"""

from ansible_collections.idmops.pingidm.plugins.module_utils import _client, _compare, _http
from ansible_collections.idmops.pingidm.plugins.module_utils._http import ApiError
from ansible_collections.idmops.pingidm.plugins.module_utils._module import IdmModule, ModuleFailure, ModuleSpec

# IDM's error text for the connector's InvalidCredentialException: the remote system refused the credentials.
AUTH_FAILURE = "Connection Error"


def module_spec():
    return ModuleSpec(dict(
        name=dict(type="str"),
        wait_timeout=dict(type="int", default=60),
        wait_interval=dict(type="int", default=1),
    ))


def configured_connectors(client):
    return sorted(i.split("/", 1)[1] for i in client.config_ids() if i.startswith("provisioner.openicf/"))


def run_test_round(client, name):
    """List of status entries; a connector IDM cannot test yet is reported as not ok."""
    path = "system" if name is None else "system/" + name
    try:
        answer = client.post_action(path, "test")
    except ApiError as exc:
        # "Cannot tell yet": IDM has not started the connector (404), or a transient failure (a busy IDM, a
        # dropped connection). The test only reads, so another round is safe.
        if exc.status != 404 and not _http.is_transient(exc):
            raise
        if exc.status == 404 and name is not None and \
                client.get_or_none("config/provisioner.openicf/" + name) is None:
            raise ModuleFailure("Connector '%s' is not configured on %s (no config/provisioner.openicf/%s). "
                                "Configured connectors: %s."
                                % (name, client.base_url, name, ", ".join(configured_connectors(client))
                                   or "none"), connectors=[])
        error = exc.message if exc.status == 404 else str(exc)
        return [{"name": name or "(all connectors)", "ok": False, "error": error or "not available yet"}]
    return (answer or []) if name is None else [answer]


def _failing(connectors):
    return ["%s: %s%s" % (c.get("name"), c.get("error") or "ok=false without an error text",
                          _client.connector_error_hint(c.get("error")))
            for c in connectors if not c.get("ok")]


def run(module):
    params = module.params
    name = params["name"]
    if params["wait_interval"] < 1:
        raise ModuleFailure("wait_interval must be at least 1 second.")
    client = module.client
    attempts = [0]

    def check():
        attempts[0] += 1
        connectors = run_test_round(client, name)
        if any(not c.get("ok") and (c.get("error") or "").strip() == AUTH_FAILURE for c in connectors):
            # Waiting does not fix refused credentials: fail at this round.
            connectors = _compare.mask(connectors)
            raise ModuleFailure("Connector test failed: %s. Not retried: waiting does not fix refused credentials."
                                % "; ".join(_failing(connectors)), connectors=connectors)
        return all(c.get("ok") for c in connectors), connectors

    try:
        ok, connectors, waited = _http.poll(check, timeout=params["wait_timeout"], interval=params["wait_interval"])
    except ModuleFailure as exc:
        exc.result["attempts"] = attempts[0]
        raise
    except ApiError as exc:
        raise ModuleFailure(str(exc), connectors=[], attempts=attempts[0], **exc.as_result())
    connectors = _compare.mask(connectors)
    if not ok:
        raise ModuleFailure("Connector test failed after %d attempt(s) in %d s; %s"
                            % (attempts[0], waited, "; ".join(_failing(connectors))),
                            connectors=connectors, attempts=attempts[0])
    if name is None and not connectors:
        module.warn("IDM has no connectors configured; nothing was tested.")
    return dict(changed=False, connectors=connectors, attempts=attempts[0])


def main():
    IdmModule(module_spec()).execute(run)


if __name__ == "__main__":
    main()
