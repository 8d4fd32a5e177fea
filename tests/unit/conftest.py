# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared unit-test helpers: a fake IDM at the requests layer and a module runner.

Fixtures
- ``fake_idm``: a FakeIdm answering every ``requests.Session.request`` made during the test (the real network
  is never touched; an unknown URL answers 404). Stores config in a dict, encrypts connector secrets as
  ``$crypto`` with a fresh IV each write, decrypts them through ``script?_action=eval``, answers ``system``
  test actions, ``info/ping``, an OAuth token endpoint. Extend it with ``fake_idm.route(method, regex, handler)``
  (e.g. recon endpoints) and inject failures with ``fake_idm.fail(method, regex, status, message, times)``.
- ``virtual_clock``: replaces ``_http.sleep``/``_http.monotonic`` so polling and backoff take no real time.
- ``idm_args``: connection options that authenticate against the fake.
- ``run_module``: ``run_module(module, args, check_mode=False, diff=False)`` runs ``module.main()`` and returns
  the JSON Ansible would print (after its no_log scrubbing) plus ``failed``; ``result.raw_output`` is the text.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import re
import socket
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import urllib3

from ansible.module_utils.testing import patch_module_args

from ansible_collections.idmops.pingidm.plugins.module_utils import _http

IDM_HOST = "http://idm.test:8080"
IDM_BASE = IDM_HOST + "/openidm"
TOKEN_PATH = "/am/oauth2/access_token"
ADMIN_USER = "openidm-admin"
ADMIN_PASSWORD = "admin-Secr3t-pw"
CLIENT_ID = "idm-provisioning"
CLIENT_SECRET = "client-Secr3t-cc"
# Connector properties the fake stores encrypted, like IDM does for GuardedString properties.
FAKE_CONFIDENTIAL = ("password", "clientSecret", "authToken", "credentials")
# The connectorRef of the SCIM connector as the role's template writes it (a bundle version range).
SCIM_CONNECTOR_REF = {
    "bundleName": "org.forgerock.openicf.connectors.scim-connector",
    "bundleVersion": "[1.5.0.0,1.6.0.0)",
    "connectorName": "org.forgerock.openicf.connectors.scim.ScimConnector",
}
# What IDM's availableConnectors lists for it.
AVAILABLE_SCIM_CONNECTOR = dict(
    SCIM_CONNECTOR_REF, bundleVersion="1.5.20.31", displayName="Scim Connector", systemType="provisioner.openicf"
)
# The situation keys of an IDM 5.x recon summary (7.x has every one of _vocabulary.SITUATIONS).
SITUATIONS_5X = (
    "SOURCE_IGNORED",
    "MISSING",
    "FOUND",
    "AMBIGUOUS",
    "UNQUALIFIED",
    "CONFIRMED",
    "SOURCE_MISSING",
    "ABSENT",
    "TARGET_IGNORED",
    "UNASSIGNED",
    "FOUND_ALREADY_LINKED",
)


def no_metadata_message(name):
    """IDM's 500 for a connector config write while it has no metadata for the connector (nothing stored)."""
    return (
        "No meta-data provider available yet to create and encrypt configuration for provisioner.openicf/%s, "
        "retry later." % name
    )


class FakeRequest:
    def __init__(self, method, path, params, body, headers, auth):
        self.method = method
        self.path = path  # below the context path, no leading slash ("config/sync")
        self.params = params
        self.body = body
        self.headers = headers
        self.auth = auth

    @property
    def action(self):
        return self.params.get("_action")


def crest_error(status, message, reason=None):
    return status, {
        "code": status,
        "reason": reason or requests.status_codes._codes[status][0].replace("_", " ").title(),
        "message": message,
    }


class FakeIdm:
    """Enough of IDM's REST API for module tests. All state is plain attributes tests can read and set."""

    def __init__(self):
        self.configs = {}  # config id -> stored object (secrets as $crypto)
        self.calls = []  # (method, path, params, body) of every IDM call, in order
        self.ping_states = []  # states info/ping returns in order; then "ACTIVE_READY"
        self.version = {"_id": "version", "productVersion": "7.5.0", "productRevision": "fake"}
        self.script_eval_allowed = True
        self.test_config_result = None  # None: ok; else the error text testConfig reports
        self.connector_errors = {}  # connector name -> error text system test reports (ok false)
        self.start_after_tests = 0  # a new/changed connector is "not available" for this many test calls
        self.honour_wait_for_completion = True  # False: PUT ?waitForCompletion=true answers before the start
        self.config_query_supported = True  # False: GET config?_queryFilter=... answers 400, as some servers do
        self._pending_start = {}  # connector name -> test calls left before available
        self.tokens = set()
        self.token_requests = 0
        self.user_password = {ADMIN_USER: ADMIN_PASSWORD}
        self._faults = []
        self._routes = []
        self._add_default_routes()

    # test API ---------------------------------------------------------------------------------------
    def route(self, method, pattern, handler, first=True):
        """Answer ``method`` on paths matching ``pattern`` (re.fullmatch on the path below /openidm/)
        with ``handler(fake, request, match) -> (status, body)``. New routes win over the defaults."""
        entry = (method.upper(), re.compile(pattern), handler)
        if first:
            self._routes.insert(0, entry)
        else:
            self._routes.append(entry)

    def fail(self, method, pattern, status, message="injected failure", times=None, kind="refused"):
        """Answer matching calls with a CREST error ``times`` times. ``status`` None = no answer, as requests
        raises it for ``kind`` ``refused`` (nothing listens), ``dropped`` (connection reset) or ``dns``."""
        self._faults.append(
            {
                "method": method.upper(),
                "re": re.compile(pattern),
                "status": status,
                "message": message,
                "left": times,
                "kind": kind,
            }
        )

    def writes(self):
        return [
            c
            for c in self.calls
            if c[0] in ("PUT", "DELETE", "PATCH")
            or (c[0] == "POST" and c[2].get("_action") not in ("test", "testConfig", "eval"))
        ]

    def calls_to(self, method, path):
        return [c for c in self.calls if c[0] == method and c[1] == path]

    @staticmethod
    def encrypt(value):
        iv = base64.b64encode(os.urandom(16)).decode()
        data = base64.b64encode(json.dumps({"iv": iv, "v": value}).encode()[::-1]).decode()
        return {
            "$crypto": {
                "type": "x-simple-encryption",
                "value": {
                    "cipher": "AES/CBC/PKCS5Padding",
                    "data": data,
                    "iv": iv,
                    "keySize": 16,
                    "mac": base64.b64encode(os.urandom(8)).decode(),
                    "purpose": "idm.config.encryption",
                    "salt": "c2FsdA==",
                    "stableId": "openidm-sym-default",
                },
            }
        }

    @staticmethod
    def decrypt(crypto):
        data = crypto["$crypto"]["value"]["data"]
        return json.loads(base64.b64decode(data)[::-1].decode())["v"]

    # transport --------------------------------------------------------------------------------------
    def handle(self, session, method, url, params=None, data=None, headers=None, auth=None, json_body=None):
        method = method.upper()
        split = urlsplit(url)
        query = dict(parse_qsl(split.query))
        query.update(params or {})
        body = json_body
        if body is None and data is not None:
            if isinstance(data, dict):
                body = data
            else:
                body = json.loads(data)
        merged = dict(session.headers)
        merged.update(headers or {})
        if not url.startswith(IDM_HOST):
            raise transport_error("dns", split.hostname)
        if split.path == TOKEN_PATH:
            return self._token_endpoint(method, body, auth)
        if not split.path.startswith("/openidm/"):
            return crest_error(404, "Not Found")
        path = split.path[len("/openidm/") :]
        self.calls.append((method, path, query, copy.deepcopy(body)))
        for fault in self._faults:
            if fault["method"] == method and fault["re"].fullmatch(path) and fault["left"] != 0:
                if fault["left"] is not None:
                    fault["left"] -= 1
                if fault["status"] is None:
                    raise transport_error(fault["kind"], split.hostname)
                return crest_error(fault["status"], fault["message"])
        if not self._authenticated(merged, auth):
            return crest_error(401, "Access Denied", "Unauthorized")
        request = FakeRequest(method, path, query, body, merged, auth)
        for route_method, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if route_method == method and match:
                return handler(self, request, match)
        return crest_error(404, "Not Found")

    def _authenticated(self, headers, auth):
        if auth:
            return self.user_password.get(auth[0]) == auth[1]
        user = headers.get("X-OpenIDM-Username")
        if user is not None:
            return self.user_password.get(user) == headers.get("X-OpenIDM-Password")
        bearer = headers.get("Authorization", "")
        return bearer.startswith("Bearer ") and bearer[7:] in self.tokens

    def _token_endpoint(self, method, body, auth):
        self.token_requests += 1
        if method != "POST" or (body or {}).get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}
        if auth != (CLIENT_ID, CLIENT_SECRET):
            return 401, {"error": "invalid_client", "error_description": "Client authentication failed"}
        token = "tok-%d-%s" % (self.token_requests, base64.b16encode(os.urandom(4)).decode())
        self.tokens.add(token)
        return 200, {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": 3599,
            "scope": (body or {}).get("scope"),
        }

    # default routes ---------------------------------------------------------------------------------
    def _add_default_routes(self):
        def add(method, pattern, handler):
            self.route(method, pattern, handler, first=False)

        add("GET", r"info/ping", FakeIdm._ping)
        add("GET", r"info/version", lambda f, r, m: (200, dict(f.version)))
        add("GET", r"config", FakeIdm._config_list)
        add("GET", r"config/(?P<id>[^/]+(?:/[^/]+)?)", FakeIdm._config_get)
        add("PUT", r"config/(?P<id>[^/]+(?:/[^/]+)?)", FakeIdm._config_put)
        add("DELETE", r"config/(?P<id>[^/]+(?:/[^/]+)?)", FakeIdm._config_delete)
        add("POST", r"script", FakeIdm._script)
        add("POST", r"system", FakeIdm._system_action)
        add("POST", r"system/(?P<name>[^/]+)", FakeIdm._system_test_one)

    def _ping(self, request, match):
        state = self.ping_states.pop(0) if self.ping_states else "ACTIVE_READY"
        return 200, {
            "_id": "",
            "state": state,
            "shortDesc": "OpenIDM ready" if state == "ACTIVE_READY" else "OpenIDM starting",
        }

    def _config_list(self, request, match):
        query = request.params.get("_queryFilter")
        if query is not None:
            clauses = [re.fullmatch(r'_id (eq|sw) "([^"]*)"', clause.strip()) for clause in query.split(" or ")]
            if not self.config_query_supported or not all(clauses):
                return crest_error(400, "fake IDM only queries config with _id eq/sw clauses joined by or")

            def matches(config_id):
                return any(
                    config_id == c.group(2) if c.group(1) == "eq" else config_id.startswith(c.group(2)) for c in clauses
                )

            result = [
                dict({"_id": config_id}, **copy.deepcopy(self.configs[config_id]))
                for config_id in sorted(self.configs)
                if matches(config_id)
            ]
            return 200, {"result": result, "resultCount": len(result), "pagedResultsCookie": None}
        return 200, {
            "_id": "",
            "configurations": [
                {
                    "_id": config_id,
                    "pid": config_id.replace("/", "."),
                    "factoryPid": config_id.split("/", 1)[0] if "/" in config_id else None,
                }
                for config_id in sorted(self.configs)
            ],
        }

    def _config_get(self, request, match):
        stored = self.configs.get(match.group("id"))
        if stored is None:
            return crest_error(404, "Not Found")
        return 200, dict({"_id": match.group("id")}, **copy.deepcopy(stored))

    def _config_put(self, request, match):
        config_id = match.group("id")
        obj = copy.deepcopy(request.body or {})
        obj.pop("_id", None)
        obj.pop("_rev", None)
        if config_id.startswith("provisioner.openicf/"):
            props = obj.get("configurationProperties") or {}
            for key in FAKE_CONFIDENTIAL:
                value = props.get(key)
                if value is not None and not (isinstance(value, dict) and "$crypto" in value):
                    props[key] = self.encrypt(value)
            name = config_id.split("/", 1)[1]
            waited = self.honour_wait_for_completion and request.params.get("waitForCompletion") == "true"
            if self.start_after_tests and not waited:
                self._pending_start[name] = self.start_after_tests
        status = 200 if config_id in self.configs else 201
        self.configs[config_id] = obj
        return status, dict({"_id": config_id}, **copy.deepcopy(obj))

    def _config_delete(self, request, match):
        stored = self.configs.pop(match.group("id"), None)
        if stored is None:
            return crest_error(404, "Not Found")
        return 200, dict({"_id": match.group("id")}, **stored)

    def _script(self, request, match):
        if request.action != "eval":
            return crest_error(400, "Unsupported action")
        if not self.script_eval_allowed:
            return crest_error(403, "Access denied")
        body = request.body or {}
        if body.get("source", "").strip() != "openidm.decrypt(val);":
            return crest_error(400, "fake IDM only evaluates openidm.decrypt(val);")
        val = (body.get("globals") or {}).get("val")
        if isinstance(val, dict) and "$crypto" in val:
            return 200, self.decrypt(val)
        return 200, val

    def _status(self, name):
        stored = self.configs.get("provisioner.openicf/" + name)
        entry = {
            "name": name,
            "enabled": stored.get("enabled", True) is not False,
            "config": "config/provisioner.openicf/" + name,
            "connectorRef": stored.get("connectorRef", {}),
            "objectTypes": ["__ALL__", *sorted((stored.get("objectTypes") or {}).keys())],
        }
        error = None
        if self._pending_start.get(name):
            self._pending_start[name] -= 1
            error = "connector not available"
        elif name in self.connector_errors:
            error = self.connector_errors[name]
        if error:
            entry["error"] = error
        entry["ok"] = error is None
        return entry

    def _system_action(self, request, match):
        if request.action == "test":
            names = sorted(k.split("/", 1)[1] for k in self.configs if k.startswith("provisioner.openicf/"))
            return 200, [self._status(n) for n in names]
        if request.action == "availableConnectors":
            return 200, {"connectorRef": [dict(AVAILABLE_SCIM_CONNECTOR)]}
        if request.action == "testConfig":
            body = request.body or {}
            if "name" not in body:
                return crest_error(400, "Invalid configuration to test: no 'name' specified")
            if self.test_config_result:
                return 200, {"name": body["name"], "ok": False, "error": self.test_config_result}
            return 200, {"name": body["name"], "ok": True}
        return crest_error(400, "Unsupported action %s" % request.action)

    def _system_test_one(self, request, match):
        name = match.group("name")
        if request.action != "test":
            return crest_error(400, "Unsupported action %s" % request.action)
        if "provisioner.openicf/" + name not in self.configs:
            return crest_error(404, "System: %s is not available." % name)
        return 200, self._status(name)


def transport_error(kind, host):
    """The exception requests raises when no answer arrives, with the cause chain urllib3 builds."""
    if kind == "dns":
        cause = socket.gaierror(-2, "Name or service not known")
        text = "Failed to resolve '%s' ([Errno -2] Name or service not known)" % host
    elif kind == "refused":
        cause = ConnectionRefusedError(111, "Connection refused")
        text = "Failed to establish a new connection: [Errno 111] Connection refused"
    else:
        cause = ConnectionResetError(104, "Connection reset by peer")
        text = "Connection aborted."
    error = requests.exceptions.ConnectionError(urllib3.exceptions.ProtocolError(text, cause))
    return error


def _make_response(url, status, body):
    response = requests.Response()
    response.status_code = status
    response.url = url
    response.reason = requests.status_codes._codes.get(status, ("",))[0].replace("_", " ").title()
    if body is None:
        response._content = b""
    elif isinstance(body, (dict, list, bool, int, float)) or body is None:
        response._content = json.dumps(body).encode()
        response.headers["Content-Type"] = "application/json;charset=utf-8"
    else:
        response._content = str(body).encode()
        response.headers["Content-Type"] = "text/plain"
    response.encoding = "utf-8"
    return response


@pytest.fixture
def fake_idm(monkeypatch):
    fake = FakeIdm()

    def fake_request(session, method, url, params=None, data=None, headers=None, auth=None, json=None, **kwargs):
        if isinstance(data, str) and not data:
            data = None
        status, body = fake.handle(
            session, method, url, params=params, data=data, headers=headers, auth=auth, json_body=json
        )
        return _make_response(url, status, body)

    monkeypatch.setattr(requests.Session, "request", fake_request)
    return fake


class VirtualClock:
    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def virtual_clock(monkeypatch):
    clock = VirtualClock()
    monkeypatch.setattr(_http, "monotonic", clock.monotonic)
    monkeypatch.setattr(_http, "sleep", clock.sleep)
    return clock


@pytest.fixture
def idm_args():
    return {"idm_url": IDM_HOST, "username": ADMIN_USER, "password": ADMIN_PASSWORD}


class ModuleResult(dict):
    raw_output = ""

    @property
    def warning_texts(self):
        """The warnings' texts (ansible-core 2.19 reports each warning as a dict with an ``event``)."""
        texts = []
        for warning in self.get("warnings") or []:
            if isinstance(warning, dict):
                warning = (warning.get("event") or {}).get("msg", warning.get("msg"))
            texts.append(warning)
        return texts


@pytest.fixture(params=["module", "controller"])
def run_module(request, capsys, virtual_clock, monkeypatch):
    """Run a module with args; returns its result (dict) with ``failed`` set.

    Every module test runs twice: as a module process would (``main()`` on AnsibleModule, the JSON it prints) and
    in the controller process, as the collection's action plugins run it (``run()`` on the in-process look-alike).
    Both must give the same result.
    """
    for name in list(os.environ):
        if name.startswith("IDM_"):
            monkeypatch.delenv(name)
    # Importing controller code (action plugin tests) flips this flag, which would route module warnings to
    # the controller's Display instead of the module result; a module never runs in the controller.
    from ansible.module_utils import _internal as module_utils_internal

    monkeypatch.setattr(module_utils_internal, "is_controller", False)
    path = request.param

    def run_as_module(module, args, check_mode, diff):
        # Warnings collect in a process-wide list; each run reports only its own, as a real module process does.
        from ansible.module_utils.common import warnings as module_warnings

        module_warnings._global_warnings.clear()  # pylint: disable=protected-access
        module_warnings._global_deprecations.clear()  # pylint: disable=protected-access
        module_args = dict(args)
        module_args["_ansible_check_mode"] = check_mode
        module_args["_ansible_diff"] = diff
        capsys.readouterr()
        with patch_module_args(module_args), pytest.raises(SystemExit) as exit_info:
            module.main()
        out = capsys.readouterr().out
        result = ModuleResult(json.loads(out))
        result.raw_output = out
        result.setdefault("failed", exit_info.value.code not in (0, None))
        return result

    def run_in_controller(module, args, check_mode, diff):
        from ansible_collections.idmops.pingidm.plugins.plugin_utils._inprocess import (
            InProcessModule,
            ModuleExit,
            plain_data,
        )

        name = "idmops.pingidm." + module.__name__.rsplit(".", 1)[-1]
        with pytest.raises(ModuleExit) as exit_info:
            InProcessModule(module.module_spec(), plain_data(args), name, check_mode=check_mode, diff=diff).execute(
                module.run
            )
        result = ModuleResult(plain_data(exit_info.value.result))
        result.raw_output = json.dumps(result)
        return result

    def run(module, args, check_mode=False, diff=False):
        runner = run_as_module if path == "module" else run_in_controller
        return runner(module, args, check_mode, diff)

    run.path = path
    return run
