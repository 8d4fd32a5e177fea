"""``/openidm/system``: connector status/test actions, ``testConfig``, ``availableConnectors``,
``createCoreConfig``/``createFullConfig``, and CRUD + query of ``system/<name>/<objectType>`` objects
(contract §2), plus the connector lifecycle driven by ``config/provisioner.openicf/<name>``.

Lifecycle: a config write (re)starts the connector in the background after ``start_delay`` seconds (IDM starts
connectors asynchronously); meanwhile, and whenever the config is disabled or names a connector that is not
installed, the system reports ``"error": "connector not available", "ok": false``. With
``waitForCompletion=true`` the connector is started before the config PUT answers. Deleting the config removes
the system.

Connector metadata (A1, OpenIDM ConfigObjectService.java create L386-392 / update L497-503,
ConnectorInfoProviderService.getPropertiesToEncrypt() L693-767): IDM encrypts a connector config's secrets from
the connector's metadata, so a write of ``config/provisioner.openicf/<name>`` (create, update or patch) whose
``connectorRef`` matches no installed connector (bundle, name, version range; or a ``connectorHostRef`` naming a
remote connector server), or that arrives while IDM is still loading its connectors (``--connector-load-delay``),
is answered 500 ``"No meta-data provider available yet to create and encrypt configuration for
provisioner.openicf/<name>, retry later."`` (``... to patch and encrypt ...`` for a PATCH, L650-653) and nothing
is stored. A config without ``connectorRef`` is 400
(``getConnectorReference()``: ``/connectorRef: Expecting a value``). Other configs are not affected. Reading
``connector_metadata=lenient`` stores them all (the old sandbox).

Routes (A9, OpenICFProvisionerService.activate() L216-325): a disabled connector gets no route, so
``system/<name>?_action=test`` and its object operations answer 404 ``Resource 'system/<name>...' not found``; it
is still listed by ``system?_action=test`` (``ok: false``, ``connector not available``). An enabled connector whose
facade is not there (starting, or no installed connector matches) answers ``_action=test`` with 200 ``ok: false``
and its object operations with 503 (``getConnectorFacade0()`` L553-557). An unknown name is 404 as well.

Choices where the contract says UNCONFIRMED:

* A connector that is not available lists only ``__ALL__`` in ``objectTypes`` and no ``displayName`` (as the
  disabled connector in the recorded IDM 7 answer); its ``connectorRef`` is the configured one.
* Unknown bundle/connector name or a version range that excludes 1.5.20.31: ``error`` is
  ``"connector not available: <reason>"`` so tools that look for the prefix still match.
* Provider failures during object operations: 404 for a missing object, 412 when the provider reports a
  uniqueness conflict (OpenICF AlreadyExistsException), 400 for rejected values, 503 when the provider cannot be
  reached or refuses the credentials, 500 otherwise.
"""

import logging
import threading
import time

from . import queryfilter
from .crest import apply_patch, copy_json, project, sort_results
from .errors import IdmError
from .provisioner import AVAILABLE_CONNECTORS, SCIM_CONNECTOR, find_connector
from .provisioner.query import query as connector_query
from .provisioner.schema import default_object_types
from .provisioner.scim import ConnectorError, ScimConnector
from .router import ResourceProvider

log = logging.getLogger("sandbox.idm.system")

FACTORY = "provisioner.openicf"
NOT_AVAILABLE = "connector not available"
CONNECTION_ERROR = "Connection Error"


def _enabled(config):
    value = config.get("enabled", True)
    if isinstance(value, str):
        return value.strip().lower() != "false"
    return bool(value)


def idm_error(exc):
    """The IDM answer for a connector failure during an object operation."""
    if exc.kind == "not_found":
        return IdmError(404, str(exc))
    if exc.kind == "conflict":
        return IdmError(412, str(exc))
    if exc.kind == "bad_request" or exc.status == 400:
        return IdmError(400, str(exc))
    if exc.kind in ("connection", "credentials"):
        return IdmError(503, str(exc))
    return IdmError(500, str(exc))


def local_filter(query_filter):
    node = queryfilter.parse(query_filter)
    # SCIM attributes are caseExact=false by default, so local evaluation folds case like the provider does.
    return lambda obj: queryfilter.matches(node, obj, case_insensitive=True)


class _System:
    def __init__(self, name, config, generation):
        self.name = name
        self.config = config
        self.generation = generation
        self.connector = None
        self.error = NOT_AVAILABLE
        self.info = None


class SystemService(ResourceProvider):
    """Owns the running connectors."""

    def __init__(self, config_service, decrypt, start_delay, readings, load_until=0.0):
        self.config_service = config_service
        self.decrypt = decrypt
        self.start_delay = float(start_delay)
        self.readings = readings
        self.load_until = float(load_until or 0.0)   # time.monotonic() before which no connector is loaded
        self._lock = threading.RLock()
        self._systems = {}
        self._timers = {}
        self._generation = 0
        config_service.subscribe(FACTORY, self.on_config_change)
        for entry in config_service.list()["configurations"]:
            if entry["_id"].startswith(FACTORY + "/"):
                # At server start IDM loads the stored connectors; they start like any config change.
                self.on_config_change(entry["_id"], config_service.get(entry["_id"]), False)

    # ---- lifecycle -----------------------------------------------------------------------------------------
    def on_config_change(self, config_id, value, wait_for_completion):
        name = config_id.split("/", 1)[1]
        with self._lock:
            self._generation += 1
            old = self._systems.pop(name, None)
            timer = self._timers.pop(name, None)
            if timer:
                timer.cancel()
            if value is not None:
                value = {k: v for k, v in value.items() if k != "_id"}
                self._systems[name] = _System(name, value, self._generation)
        if old and old.connector:
            old.connector.close()
        if value is None:
            return
        if wait_for_completion or self.start_delay <= 0:
            self._start(name, self._generation)
        else:
            timer = threading.Timer(self.start_delay, self._start, (name, self._generation))
            timer.daemon = True
            with self._lock:
                self._timers[name] = timer
            timer.start()

    def _start(self, name, generation):
        remaining = self.load_until - time.monotonic()
        if remaining > 0:   # IDM is still loading connector bundles: the facade waits for them
            timer = threading.Timer(remaining, self._start, (name, generation))
            timer.daemon = True
            with self._lock:
                system = self._systems.get(name)
                if system is None or system.generation != generation:
                    return
                self._timers[name] = timer
            timer.start()
            return
        with self._lock:
            system = self._systems.get(name)
            if system is None or system.generation != generation:
                return  # superseded by a newer config write
            self._timers.pop(name, None)
            config = system.config
        info = find_connector(config.get("connectorRef"))
        connector, error = None, None
        if not _enabled(config):
            error = NOT_AVAILABLE
        elif info is None:
            ref = config.get("connectorRef") or {}
            error = (f"{NOT_AVAILABLE}: no installed connector matches connectorName "
                     f"{ref.get('connectorName')!r}, bundleName {ref.get('bundleName')!r}, bundleVersion "
                     f"{ref.get('bundleVersion')!r} (installed: {SCIM_CONNECTOR['connectorName']} "
                     f"{SCIM_CONNECTOR['bundleVersion']})")
        else:
            try:
                connector = ScimConnector(config, decrypt=self.decrypt)
            except ConnectorError as exc:
                error = f"{NOT_AVAILABLE}: {exc}"
        with self._lock:
            if self._systems.get(name) is not system:
                if connector:
                    connector.close()
                return
            system.connector, system.error, system.info = connector, error, info

    def close(self):
        with self._lock:
            for timer in self._timers.values():
                timer.cancel()
            systems = list(self._systems.values())
            self._systems.clear()
        for system in systems:
            if system.connector:
                system.connector.close()

    def names(self):
        with self._lock:
            return sorted(self._systems)

    # ---- metadata (A1) ---------------------------------------------------------------------------------------
    def check_metadata(self, config_id, body, verb="create"):
        """Called by the config service before it stores ``provisioner.openicf/<name>``; raises as IDM does
        when the connector metadata needed to encrypt the config is not there. ``verb``: IDM's text says
        "create" for a create and for an update, "patch" for a patch (ConfigObjectService L393, L500, L653)."""
        if self.readings.connector_metadata != "strict":
            return
        ref = body.get("connectorRef") if isinstance(body, dict) else None
        if not isinstance(ref, dict):
            raise IdmError(400, f"Invalid configuration provided for {config_id}: /connectorRef: Expecting a value")
        remote = ref.get("connectorHostRef") not in (None, "", "#LOCAL")
        if time.monotonic() < self.load_until or remote or find_connector(ref) is None:
            raise IdmError(500, f"No meta-data provider available yet to {verb} and encrypt configuration for "
                                f"{config_id}, retry later.")

    def connector(self, name, resource=None):
        """The running connector of a system: 404 (no route) when unknown or disabled, 503 while the facade is
        missing."""
        with self._lock:
            system = self._systems.get(name)
        if system is None or not _enabled(system.config):
            raise IdmError(404, f"Resource '{resource or 'system/' + name}' not found")
        if system.connector is None:
            raise IdmError(503, "Service Unavailable")
        return system.connector

    # ---- status --------------------------------------------------------------------------------------------
    def status(self, name):
        """``system/<name>?_action=test``: only routed (enabled) connectors answer."""
        with self._lock:
            system = self._systems.get(name)
        if system is None or not _enabled(system.config):
            raise IdmError(404, f"Resource 'system/{name}' not found")
        return self._status(system)

    def _status(self, system):
        name = system.name
        config = system.config
        entry = {"name": name, "enabled": _enabled(config), "config": f"config/{FACTORY}/{name}"}
        connector = system.connector
        if connector is None:
            entry["connectorRef"] = copy_json(config.get("connectorRef") or {})
            entry["objectTypes"] = ["__ALL__"]
            entry["error"] = system.error or NOT_AVAILABLE
            entry["ok"] = False
            return entry
        ref = {"bundleVersion": system.info["bundleVersion"], "bundleName": system.info["bundleName"],
               "connectorName": system.info["connectorName"]}
        if (config.get("connectorRef") or {}).get("connectorHostRef"):
            ref = {"connectorHostRef": config["connectorRef"]["connectorHostRef"], **ref}
        entry["connectorRef"] = ref
        entry["displayName"] = system.info["displayName"]
        entry["objectTypes"] = ["__ALL__"] + sorted(connector.object_types)
        try:
            connector.test()
        except ConnectorError as exc:
            entry["error"] = CONNECTION_ERROR if exc.kind == "credentials" else str(exc)
        entry["ok"] = "error" not in entry
        return entry

    def test_config(self, body):
        if not isinstance(body, dict) or not body.get("name"):
            raise IdmError(400, "Invalid configuration to test: no 'name' specified")
        if "id" in body or "_id" in body:
            raise IdmError(400, "A system ID must not be specified in the request")
        ref = body.get("connectorRef") or {}
        if not ref.get("connectorName"):
            raise IdmError(404, "No connector name provided")
        if find_connector(ref) is None:
            raise IdmError(503, f"Connector {ref.get('connectorName')} (bundle {ref.get('bundleName')} "
                                f"{ref.get('bundleVersion')}) is not available")
        result = {"name": body["name"]}
        connector = None
        try:
            connector = ScimConnector(body, decrypt=self.decrypt)
            connector.test()
            result["ok"] = True
        except ConnectorError as exc:
            result["ok"] = False
            result["error"] = CONNECTION_ERROR if exc.kind == "credentials" else str(exc)
        finally:
            if connector:
                connector.close()
        return result

    @staticmethod
    def core_config(body, full):
        ref = (body or {}).get("connectorRef") or {}
        info = find_connector(ref)
        if info is None:
            raise IdmError(404, f"Connector {ref.get('connectorName')} not found")
        config = {
            "connectorRef": {k: info[k] for k in ("connectorName", "displayName", "bundleName", "bundleVersion",
                                                  "systemType")},
            "poolConfigOption": {"maxObjects": 10, "maxIdle": 10, "maxWait": 150000,
                                 "minEvictableIdleTimeMillis": 120000, "minIdle": 1},
            "resultsHandlerConfig": {"enableNormalizingResultsHandler": False,
                                     "enableFilteredResultsHandler": False,
                                     "enableCaseInsensitiveFilter": False,
                                     "enableAttributesToGetSearchResultsHandler": True},
            "operationTimeout": {op: -1 for op in ("CREATE", "UPDATE", "DELETE", "TEST", "SCRIPT_ON_CONNECTOR",
                                                   "SCRIPT_ON_RESOURCE", "GET", "RESOLVEUSERNAME", "AUTHENTICATE",
                                                   "SEARCH", "VALIDATE", "SYNC", "SCHEMA")},
            "configurationProperties": {
                "SCIMEndpoint": None, "SCIMVersion": 2, "authenticationMethod": "OAUTH", "user": None,
                "password": None, "authToken": None, "tokenEndpoint": None, "clientId": None,
                "clientSecret": None, "grantType": "client_credentials", "acceptSelfSignedCertificates": False,
                "disableHostNameVerifier": False, "connectionTimeout": 30, "maximumConnections": 10,
                "httpProxyHost": None, "httpProxyPort": None, "usePathForPatchV2": False},
        }
        for key, value in (body or {}).items():
            if key == "configurationProperties" and isinstance(value, dict):
                config[key].update(value)
            elif key != "connectorRef":
                config[key] = value
        if full:
            config.setdefault("objectTypes", default_object_types())
            config.setdefault("operationOptions", {})
        return config

    # ---- objects (InternalRouter provider for "system/<name>/<type>") ---------------------------------------
    def _target(self, resource):
        parts = resource.strip("/").split("/")
        if len(parts) != 3 or parts[0] != "system":
            raise IdmError(404, f"Resource '{resource}' not found")
        connector = self.connector(parts[1], resource.strip("/"))
        if parts[2] not in connector.object_types:
            raise IdmError(404, f"Object type {parts[2]} is not defined for system {parts[1]}")
        return connector, parts[2]

    def create(self, resource, obj, id=None, context=None):  # pylint: disable=redefined-builtin
        if id is not None:
            raise IdmError(404, "Create with client provided ID is not supported.")
        connector, type_key = self._target(resource)
        try:
            return connector.create(type_key, obj or {})
        except ConnectorError as exc:
            raise idm_error(exc) from None

    def read(self, resource, id, fields=None, context=None):  # pylint: disable=redefined-builtin
        connector, type_key = self._target(resource)
        try:
            return project(connector.read(type_key, id), fields)
        except ConnectorError as exc:
            raise idm_error(exc) from None

    def update(self, resource, id, obj, rev=None, context=None):  # pylint: disable=redefined-builtin
        connector, type_key = self._target(resource)
        changes = {k: v for k, v in (obj or {}).items() if k not in ("_id", "_rev")}
        try:
            return connector.update(type_key, id, changes)
        except ConnectorError as exc:
            raise idm_error(exc) from None

    def patch(self, resource, id, ops, rev=None, context=None):  # pylint: disable=redefined-builtin
        connector, type_key = self._target(resource)
        try:
            current = connector.read(type_key, id)
            patched = apply_patch(copy_json(current), ops)
            changes = {k: patched.get(k) for k in set(current) | set(patched)
                       if k != "_id" and patched.get(k) != current.get(k)}
            return connector.update(type_key, id, changes) if changes else current
        except ConnectorError as exc:
            raise idm_error(exc) from None

    def delete(self, resource, id, rev=None, context=None):  # pylint: disable=redefined-builtin
        connector, type_key = self._target(resource)
        try:
            last = connector.read(type_key, id)
            connector.delete(type_key, id)
            return last
        except ConnectorError as exc:
            raise idm_error(exc) from None

    def query(self, resource, query_filter="true", fields=None, page_size=None, cookie=None, context=None,
              offset=None, sort_keys=None, total_policy=None, query_id=None):
        connector, type_key = self._target(resource)
        if query_id is not None:
            if query_id != "query-all-ids":
                raise IdmError(400, f"Unsupported _queryId {query_id}: system objects support query-all-ids")
            query_filter, fields = "true", ["_id"]
        queryfilter.parse(query_filter)  # 400 on a malformed filter, before any provider call
        try:
            objects, next_cookie, total = connector_query(connector, type_key, query_filter, page_size,
                                                          cookie, offset, local_filter)
        except ConnectorError as exc:
            raise idm_error(exc) from None
        objects = sort_results(objects, sort_keys, case_insensitive=True)
        objects = [project(obj, fields) for obj in objects]
        policy = (total_policy or "NONE").upper()
        return {"result": objects, "resultCount": len(objects), "pagedResultsCookie": next_cookie,
                "totalPagedResultsPolicy": policy,
                "totalPagedResults": total if policy in ("EXACT", "ESTIMATE") else -1,
                "remainingPagedResults": -1}

    def action(self, resource, action, params=None, body=None, context=None):
        parts = resource.strip("/").split("/")
        if len(parts) == 1:
            return self.system_action(action, body)
        if len(parts) == 2:
            if action == "test":
                return self.status(parts[1])
            raise IdmError(400, f"Action {action} not supported on {resource}")
        if action == "create":
            return self.create(resource, body)
        raise IdmError(400, f"Action {action} not supported on {resource}")

    def system_action(self, action, body):
        if action == "test":
            wanted = body.get("id") if isinstance(body, dict) else None
            with self._lock:
                systems = [self._systems[name] for name in sorted(self._systems) if wanted in (None, name)]
            if wanted is not None and not systems:
                raise IdmError(404, f"System: {wanted} is not available.")
            return [self._status(system) for system in systems]
        if action == "testConfig":
            return self.test_config(body)
        if action == "availableConnectors":
            return {"connectorRef": [dict(info) for info in AVAILABLE_CONNECTORS]}
        if action == "createCoreConfig":
            return self.core_config(body, full=False)
        if action == "createFullConfig":
            return self.core_config(body, full=True)
        raise IdmError(400, f"Action {action} not supported on system")
