# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment(object):
    """Connection options of every module that talks to PingIDM (plugins/module_utils/_client.py)."""

    DOCUMENTATION = r"""
options:
  idm_url:
    description:
      - Scheme, host and port of the IDM server, without the context path, for example C(https://idm.example.com:8443).
        A path in front of the context path (a reverse proxy prefix such as C(https://example.com/iam)) is kept.
      - A URL that ends with the context path (C(https://idm.example.com/openidm)), has a query or a fragment, or
        holds credentials is refused before any request, with the URL to write instead. A trailing slash is
        harmless and ignored.
      - If not set, the value of the E(IDM_URL) environment variable is used.
    type: str
    required: true
  context_path:
    description:
      - Context path IDM's REST API lives under (C(/<context_path>/config/...)).
      - If not set, the value of the E(IDM_CONTEXT_PATH) environment variable is used.
    type: str
    default: openidm
  auth_type:
    description:
      - How to authenticate.
      - V(headers) sends C(X-OpenIDM-Username) and C(X-OpenIDM-Password) (standalone IDM); needs O(username) and O(password).
      - V(basic) sends HTTP Basic authentication; needs O(username) and O(password).
      - "V(bearer) sends O(token) as C(Authorization: Bearer <token>) (IDM behind PingAM or PingOne Advanced Identity Cloud)."
      - V(client_credentials) fetches an access token from O(oauth_token_url) with the OAuth 2.0 client credentials
        grant (client authentication C(client_secret_basic)) and fetches a new one once when IDM answers 401.
      - If not set, the value of the E(IDM_AUTH_TYPE) environment variable is used.
    type: str
    choices: [headers, basic, bearer, client_credentials]
    default: headers
  username:
    description:
      - IDM user for O(auth_type=headers) or O(auth_type=basic), usually an C(openidm-admin) user.
      - If not set, the value of the E(IDM_USERNAME) environment variable is used.
    type: str
  password:
    description:
      - Password of O(username).
      - If not set, the value of the E(IDM_PASSWORD) environment variable is used.
    type: str
  token:
    description:
      - Access token for O(auth_type=bearer).
      - If not set, the value of the E(IDM_TOKEN) environment variable is used.
    type: str
  oauth_token_url:
    description:
      - Token endpoint for O(auth_type=client_credentials), for example C(https://am.example.com/am/oauth2/access_token).
      - If not set, the value of the E(IDM_OAUTH_TOKEN_URL) environment variable is used.
    type: str
  oauth_client_id:
    description:
      - OAuth 2.0 client id for O(auth_type=client_credentials).
      - If not set, the value of the E(IDM_OAUTH_CLIENT_ID) environment variable is used.
    type: str
  oauth_client_secret:
    description:
      - Secret of O(oauth_client_id).
      - If not set, the value of the E(IDM_OAUTH_CLIENT_SECRET) environment variable is used.
    type: str
  oauth_scope:
    description:
      - Scope requested with the client credentials grant.
      - If not set, the value of the E(IDM_OAUTH_SCOPE) environment variable is used.
    type: str
    default: "fr:idm:*"
  validate_certs:
    description:
      - Verify the server's TLS certificate. Set to V(false) only for test servers with self-signed certificates.
      - If not set, the value of the E(IDM_VALIDATE_CERTS) environment variable is used.
    type: bool
    default: true
  ca_path:
    description:
      - PEM file with the CA certificates to verify the server against, instead of the system store.
      - If not set, the value of the E(IDM_CA_PATH) environment variable is used.
    type: path
  timeout:
    description:
      - Timeout in seconds for one HTTP request.
      - GET, PUT and DELETE requests are sent again up to three times (after 0.5, 1 and 2 seconds) on connection
        errors (except a host name that does not resolve, which fails at once) and on answers 502, 503 and 504,
        and so are the actions that only read or are harmless to repeat (C(test), C(testConfig), C(cancel), the
        decryption script). Actions that start something (C(recon), C(reconById)) are never sent again blindly;
        see the M(idmops.pingidm.recon) module.
      - If not set, the value of the E(IDM_TIMEOUT) environment variable is used.
    type: int
    default: 30
requirements:
  - requests (Python library, on the host that runs the module)
notes:
  - "Every request carries C(X-OpenIDM-NoSession: true) (no session cookie is created) and
    C(Accept-API-Version: resource=1.0)."
  - Error messages name the request, the server and IDM's answer (HTML-escaped messages of IDM shown as plain text);
    they never contain a password, token or secret. Without an answer they say which - a host name that does not
    resolve, a refused connection (nothing listens on the port), no answer in time, a dropped connection or a TLS
    failure - and the failure result has C(kind) V(dns), V(refused), V(unreachable), V(timeout), V(dropped) or
    V(tls).
"""

    # Attributes of every module in the action group (extends_documentation_fragment:
    # idmops.pingidm.connection.actiongroup_idm): where it runs, and the group it belongs to.
    ACTIONGROUP_IDM = r"""
attributes:
  platform:
    platforms: all
    details:
      - Runs in the controller's process when the task's connection is local (the usual case), and as a module on
        the delegated host otherwise (for example a bastion); that host needs Python and C(requests) and must reach
        IDM over HTTP. The variable C(idmops_pingidm_execution) forces C(controller) or C(module).
  action_group:
    description: Use C(group/idmops.pingidm.idm) in C(module_defaults) to set the connection options once.
    support: full
    membership:
      - idmops.pingidm.idm
"""
