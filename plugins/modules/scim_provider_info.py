#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: scim_provider_info
short_description: Check a SCIM provider directly, before PingIDM's SCIM connector is configured
version_added: 0.1.0
description:
  - Connects to the SCIM provider the way IDM's SCIM connector will (same authentication methods) and reads
    C(/ServiceProviderConfig) (SCIM 2.0) or C(/ServiceProviderConfigs) (SCIM 1.1), C(/Schemas), C(/ResourceTypes)
    (2.0 only) and the user and group counts (C(?count=0), C(totalResults)).
  - Returns the attributes of the User schema, with the enterprise extension when the provider's User resource type
    lists it in C(schemaExtensions), as a flat list of names that can be used to generate mappings
    (RV(user_attributes)), and their types, sub-attributes, C(required), C(mutability) and C(returned)
    (RV(user_attribute_details)); the same for the Group schema (RV(group_attributes)).
  - The role C(idmops.pingidm.scim_sync) takes the connector's account and group attributes from these lists.
  - Every failure gives one message that says what to fix, for example a host name that does not resolve, a refused
    connection, a certificate that cannot be verified (set O(ca_path) or O(validate_certs)), the credential that was
    rejected, a wrong base path, or a provider that speaks the other SCIM version.
  - Never changes anything; runs on the host it is delegated to (usually the controller), not through IDM.
author:
  - idmops.pingidm contributors (@idmops)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - idmops.pingidm.attributes.info_module
attributes:
  platform:
    platforms: all
    details:
      - Runs in the controller's process when the task's connection is local (the usual case), and as a module on
        the delegated host otherwise; that host needs Python and C(requests) and must reach the provider.
  action_group:
    description: Use C(group/idmops.pingidm.scim) in C(module_defaults) to set the provider options once.
    support: full
    membership:
      - idmops.pingidm.scim
options:
  endpoint:
    description:
      - Base URL of the SCIM API (the connector's C(SCIMEndpoint)), for example C(https://scim.example.com/scim/v2).
    type: str
    required: true
  scim_version:
    description: SCIM protocol version the connector will use (C(SCIMVersion)).
    type: int
    choices: [1, 2]
    default: 2
  auth_method:
    description:
      - The connector's C(authenticationMethod).
      - V(OAUTH) gets a token with the client credentials grant at O(token_endpoint), trying C(client_secret_basic)
        first and C(client_secret_post) next; needs O(client_id), O(client_secret), O(token_endpoint).
      - V(BASIC) uses HTTP Basic with O(user) and O(password).
      - V(TOKEN) sends O(token) as a Bearer token.
    type: str
    choices: [OAUTH, BASIC, TOKEN]
    default: OAUTH
  client_id:
    description: OAuth 2.0 client id (C(clientId)).
    type: str
  client_secret:
    description: OAuth 2.0 client secret (C(clientSecret)).
    type: str
  token_endpoint:
    description: OAuth 2.0 token endpoint (C(tokenEndpoint)).
    type: str
  user:
    description: User for O(auth_method=BASIC).
    type: str
  password:
    description: Password for O(auth_method=BASIC).
    type: str
  token:
    description: Static bearer token for O(auth_method=TOKEN) (C(authToken)).
    type: str
  validate_certs:
    description: Verify the provider's TLS certificate.
    type: bool
    default: true
  ca_path:
    description: PEM file with the CA certificate(s) to verify the provider and the token endpoint against.
    type: path
  timeout:
    description: Timeout in seconds for one HTTP request.
    type: int
    default: 30
requirements:
  - requests (Python library)
seealso:
  - module: idmops.pingidm.connector
"""

EXAMPLES = r"""
- name: Check the SCIM provider before configuring the connector
  idmops.pingidm.scim_provider_info:
    endpoint: https://scim.example.com/scim/v2
    auth_method: OAUTH
    token_endpoint: https://scim.example.com/oauth2/token
    client_id: idm-client
    client_secret: "{{ scim_client_secret }}"
  delegate_to: localhost
  register: scim

- name: Users the provider has, and the attributes to map
  ansible.builtin.debug:
    msg: >-
      {{ scim.user_count }} users with {{ scim.user_attributes | join(', ') }};
      groups with {{ scim.group_attributes | join(', ') }}; enterprise extension: {{ scim.enterprise_user }}
"""

RETURN = r"""
endpoint:
  description: The endpoint checked, without a trailing slash.
  returned: success
  type: str
scim_version:
  description: The SCIM version that was checked (and confirmed by the provider's answers).
  returned: success
  type: int
token_auth_method:
  description: For O(auth_method=OAUTH), the client authentication the token endpoint accepted.
  returned: success
  type: str
  sample: client_secret_basic
service_provider_config:
  description: The provider's ServiceProviderConfig document as returned.
  returned: success
  type: dict
schemas:
  description: The schemas the provider serves (C(id), C(name), C(description), C(attribute_count)).
  returned: success
  type: list
  elements: dict
resource_types:
  description: The provider's resource types as returned (SCIM 2.0; empty for 1.1).
  returned: success
  type: list
  elements: dict
user_count:
  description: totalResults of C(/Users?count=0); null when the provider does not say.
  returned: success
  type: int
group_count:
  description: totalResults of C(/Groups?count=0); null when the provider has no groups endpoint.
  returned: success
  type: int
schema_extensions:
  description:
    - Per resource type name (C(User), C(Group)), the extension schemas its C(schemaExtensions) lists, each as
      C(schema) (URN) and C(required). Empty when the provider has no C(/ResourceTypes) (SCIM 1.1).
  returned: success
  type: dict
  sample: {"User": [{"schema": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "required": false}],
           "Group": []}
enterprise_user:
  description:
    - Whether users have the enterprise extension (C(employeeNumber), C(department), C(manager), ...). For SCIM 2.0
      with C(/ResourceTypes), the User resource type must list the extension and C(/Schemas) must describe it; without
      C(/ResourceTypes), the schema's presence decides.
  returned: success
  type: bool
user_attributes:
  description:
    - Names of the User attributes, core then enterprise extension (only when RV(enterprise_user)), top-level and
      unqualified (C(userName), C(name), C(emails), C(employeeNumber)), the way IDM's SCIM connector names the
      account properties. Other extensions are not included (see RV(schema_extensions)).
  returned: success
  type: list
  elements: str
  sample: [userName, name, displayName, emails, active, employeeNumber, manager]
user_attribute_details:
  description:
    - One entry per name of RV(user_attributes) with C(name), C(type), C(multi_valued), C(required), C(mutability),
      C(returned), C(case_exact), C(schema) (URN), C(extension) (bool) and, for complex attributes,
      C(sub_attributes) (for example C(givenName), C(familyName) of C(name)).
  returned: success
  type: list
  elements: dict
  sample:
    - {"name": "name", "type": "complex", "multi_valued": false, "required": false, "mutability": "readWrite",
       "returned": "default", "case_exact": false, "schema": "urn:ietf:params:scim:schemas:core:2.0:User",
       "extension": false, "sub_attributes": [givenName, familyName]}
group_attributes:
  description: Names of the Group attributes (C(displayName), C(members), ...); empty when C(/Schemas) has no Group.
  returned: success
  type: list
  elements: str
  sample: [displayName, members]
group_attribute_details:
  description: One entry per name of RV(group_attributes), with the keys of RV(user_attribute_details).
  returned: success
  type: list
  elements: dict
step:
  description: On failure, the check that failed (C(endpoint), C(token), C(service_provider_config), C(schemas), ...).
  returned: failure
  type: str
kind:
  description: On failure, its class (C(dns), C(refused), C(tls), C(timeout), C(auth), C(not_found), C(wrong_version), ...).
  returned: failure
  type: str
"""

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.idmops.pingidm.plugins.module_utils import _transport
from ansible_collections.idmops.pingidm.plugins.module_utils._module import IdmModule, ModuleFailure, ModuleSpec
from ansible_collections.idmops.pingidm.plugins.module_utils._scim import AUTH_METHODS, ScimProbe


def module_spec():
    return ModuleSpec(
        dict(
            endpoint=dict(type="str", required=True),
            scim_version=dict(type="int", default=2, choices=[1, 2]),
            auth_method=dict(type="str", default="OAUTH", choices=list(AUTH_METHODS)),
            client_id=dict(type="str"),
            client_secret=dict(type="str", no_log=True),
            token_endpoint=dict(type="str", no_log=False),
            user=dict(type="str"),
            password=dict(type="str", no_log=True),
            token=dict(type="str", no_log=True),
            validate_certs=dict(type="bool", default=True),
            ca_path=dict(type="path"),
            timeout=dict(type="int", default=30),
        ),
        connection=False,
        required_if=[
            ("auth_method", "OAUTH", ("client_id", "client_secret", "token_endpoint")),
            ("auth_method", "BASIC", ("user", "password")),
            ("auth_method", "TOKEN", ("token",)),
        ],
    )


def run(module):
    if not _transport.HAS_REQUESTS:
        raise ModuleFailure(missing_required_lib("requests"))
    params = module.params
    probe = ScimProbe(params["endpoint"], scim_version=params["scim_version"], auth_method=params["auth_method"],
                      client_id=params["client_id"], client_secret=params["client_secret"],
                      token_endpoint=params["token_endpoint"], user=params["user"], password=params["password"],
                      token=params["token"], validate_certs=params["validate_certs"], ca_path=params["ca_path"],
                      timeout=params["timeout"])
    try:
        result = probe.run()
    finally:
        probe.close()
        for warning in probe.warnings:
            module.warn(warning)
    return dict(changed=False, **result)


def main():
    IdmModule(module_spec()).execute(run)


if __name__ == "__main__":
    main()
