#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: info
short_description: Read PingIDM's state and version, optionally waiting until it is ready
version_added: 0.1.0
description:
  - Reads C(GET info/ping) (state such as C(ACTIVE_READY)) and C(GET info/version).
  - On servers where C(info/ping) is gone (answers 404), readiness comes from C(GET health/ready) (200 = ready).
  - With O(wait_ready=true) it polls every second until IDM is C(ACTIVE_READY), and fails when O(wait_timeout)
    passes. While IDM starts it answers C(STARTING) or 503, or drops connections; all of these count as
    "not ready yet".
  - Some failures cannot be a starting IDM and fail at once, whatever O(wait_timeout) is, with a message that
    says which - a host name that does not resolve, a TLS certificate that cannot be verified, and an answer
    such as 401 or 404. A port that refuses connections (nothing listens on it) fails after
    O(refused_timeout) seconds of refusals in a row.
  - Never changes anything.
author:
  - idmops.pingidm contributors (@idmops)
extends_documentation_fragment:
  - idmops.pingidm.connection
  - idmops.pingidm.connection.actiongroup_idm
  - ansible.builtin.action_common_attributes
  - idmops.pingidm.attributes.info_module
options:
  wait_ready:
    description:
      - Poll until IDM reports C(ACTIVE_READY); fail if it does not within O(wait_timeout).
      - With V(false) the module reports the current state once, also when IDM is not ready.
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait for readiness with O(wait_ready=true).
    type: int
    default: 60
  refused_timeout:
    description:
      - With O(wait_ready=true), seconds a port that refuses connections is tried again before the task fails
        with "nothing listens". Only refusals in a row count; any answer from the server resets it.
      - Raise it (up to O(wait_timeout)) when the task runs right after IDM's process was started, before its
        web server listens.
    type: int
    default: 10
  version:
    description:
      - Also read C(GET info/version) and return it in RV(version). V(false) saves the request when only readiness
        matters (the role's wait does that).
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Wait until IDM is ready
  idmops.pingidm.info:
    idm_url: http://localhost:8080
    username: openidm-admin
    password: "{{ idm_admin_password }}"
    wait_ready: true
    wait_timeout: 120

- name: Report the IDM version (connection options from module_defaults)
  module_defaults:
    group/idmops.pingidm.idm:
      idm_url: "{{ idm_url }}"
      username: "{{ idm_username }}"
      password: "{{ idm_password }}"
  block:
    - name: Read version
      idmops.pingidm.info:
      register: idm
    - name: Show it
      ansible.builtin.debug:
        msg: "IDM {{ idm.version.productVersion }} is {{ idm.ping.state }}"
"""

RETURN = r"""
ping:
  description: Answer of C(GET info/ping), or the state derived from C(health/ready) when C(info/ping) is gone.
  returned: success
  type: dict
  sample: {"_id": "", "state": "ACTIVE_READY", "shortDesc": "OpenIDM ready"}
version:
  description: Answer of C(GET info/version); V(null) when the server does not offer it.
  returned: with O(version=true)
  type: dict
  sample: {"_id": "version", "productVersion": "7.5.0", "productBuildDate": "20240101000000", "productRevision": "abc"}
ready:
  description: True when IDM is C(ACTIVE_READY).
  returned: success
  type: bool
  sample: true
waited:
  description: Seconds spent waiting for readiness.
  returned: success
  type: float
  sample: 2.0
"""

from ansible_collections.idmops.pingidm.plugins.module_utils import _http
from ansible_collections.idmops.pingidm.plugins.module_utils._http import ApiError
from ansible_collections.idmops.pingidm.plugins.module_utils._module import IdmModule, ModuleFailure, ModuleSpec

READY_STATE = "ACTIVE_READY"


def module_spec():
    return ModuleSpec(dict(
        wait_ready=dict(type="bool", default=False),
        wait_timeout=dict(type="int", default=60),
        refused_timeout=dict(type="int", default=10),
        version=dict(type="bool", default=True),
    ))


def read_state(client):
    """(ping dict, ready bool). Falls back to health/ready where info/ping is gone (404)."""
    ping = client.get_or_none("info/ping")
    if ping is not None:
        return ping, ping.get("state") == READY_STATE
    result = client.request("GET", "health/ready", ok_statuses=(503,))
    ready = result.status == 200
    state = READY_STATE if ready else "ACTIVE_NOT_READY"
    return {"state": state, "source": "health/ready"}, ready


def wait_for_ready(client, timeout, refused_timeout=10):
    """Poll read_state(); returns (ping, ready, seconds waited, last problem or None).

    Raises ApiError at once for what a starting IDM never does (DNS, TLS, 4xx), and ModuleFailure after
    ``refused_timeout`` seconds of refused connections in a row.
    """
    last = {"ping": None, "problem": None, "refused_since": None}

    def check():
        try:
            ping, ready = read_state(client)
        except ApiError as exc:
            if not _http.is_transient(exc):
                raise
            if exc.kind == "refused":
                now = _http.monotonic()
                since = last["refused_since"] = last["refused_since"] or now
                if now - since >= refused_timeout:
                    raise ModuleFailure("Nothing listens at %s: connections were refused for %d s, so this is not "
                                        "an IDM that is starting (%s). Check idm_url's port and that IDM runs, or "
                                        "raise refused_timeout when IDM was started just before this task."
                                        % (client.base_url, refused_timeout, exc), ready=False, kind="refused")
            else:
                last["refused_since"] = None
            last["problem"] = str(exc)
            return False, None
        last["ping"], last["problem"], last["refused_since"] = ping, None, None
        return ready, ping

    ready, _last_answer, waited = _http.poll(check, timeout=timeout, interval=1)
    return last["ping"], ready, waited, last["problem"]


def run(module):
    params = module.params
    client = module.client
    if params["wait_ready"]:
        # Waiting has its own loop; per-request retries would only stretch it past wait_timeout.
        retries, client.http.retries = client.http.retries, 0
        ping, ready, waited, problem = wait_for_ready(client, params["wait_timeout"], params["refused_timeout"])
        client.http.retries = retries
        if not ready:
            state = (ping or {}).get("state", "unknown")
            detail = problem or "last state %s" % state
            raise ModuleFailure("IDM at %s was not ready within %d s (%s). Check the server log, or raise "
                                "wait_timeout." % (client.base_url, params["wait_timeout"], detail),
                                ping=ping, ready=False, waited=waited)
    else:
        ping, ready = read_state(client)
        waited = 0.0
    result = dict(changed=False, ping=ping, ready=ready, waited=waited)
    if params["version"]:
        result["version"] = client.get_or_none("info/version")
    return result


def main():
    IdmModule(module_spec()).execute(run)


if __name__ == "__main__":
    main()
