"""The connector lifecycle of the system service: a ``config/provisioner.openicf/<name>`` write (re)starts the
connector in the background after ``start_delay`` seconds, or before the write answers with
``waitForCompletion=true``; the metadata gate that refuses connector config writes IDM could not encrypt (A1);
the routes (A9) and the status of each connector. See the package docstring for IDM's behaviour.
"""

from __future__ import annotations

import logging
import threading
import time

from ..crest import copy_json
from ..errors import IdmError
from ..provisioner import SCIM_CONNECTOR, find_connector
from ..provisioner.scim import ConnectorError, ScimConnector

log = logging.getLogger("sandbox.idm.system")

FACTORY = "provisioner.openicf"
NOT_AVAILABLE = "connector not available"
CONNECTION_ERROR = "Connection Error"


def _enabled(config):
    value = config.get("enabled", True)
    if isinstance(value, str):
        return value.strip().lower() != "false"
    return bool(value)


class _System:
    def __init__(self, name, config, generation):
        self.name = name
        self.config = config
        self.generation = generation
        self.connector = None
        self.error = NOT_AVAILABLE
        self.info = None


class ConnectorRegistry:
    """The running connectors: one per ``config/provisioner.openicf/<name>``, (re)started on every change of it."""

    def __init__(self, config_service, decrypt, start_delay, readings, load_until=0.0):
        self.config_service = config_service
        self.decrypt = decrypt
        self.start_delay = float(start_delay)
        self.readings = readings
        self.load_until = float(load_until or 0.0)  # time.monotonic() before which no connector is loaded
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
            generation = self._generation  # this change's; a concurrent change of another connector moves it on
            old = self._systems.pop(name, None)
            timer = self._timers.pop(name, None)
            if timer:
                timer.cancel()
            if value is not None:
                value = {k: v for k, v in value.items() if k != "_id"}
                self._systems[name] = _System(name, value, generation)
        if old and old.connector:
            old.connector.close()
        if value is None:
            return
        if wait_for_completion or self.start_delay <= 0:
            self._start(name, generation)
        else:
            timer = threading.Timer(self.start_delay, self._start, (name, generation))
            timer.daemon = True
            with self._lock:
                self._timers[name] = timer
            timer.start()

    def _start(self, name, generation):
        remaining = self.load_until - time.monotonic()
        if remaining > 0:  # IDM is still loading connector bundles: the facade waits for them
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
            error = (
                f"{NOT_AVAILABLE}: no installed connector matches connectorName "
                f"{ref.get('connectorName')!r}, bundleName {ref.get('bundleName')!r}, bundleVersion "
                f"{ref.get('bundleVersion')!r} (installed: {SCIM_CONNECTOR['connectorName']} "
                f"{SCIM_CONNECTOR['bundleVersion']})"
            )
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
            raise IdmError(
                500,
                f"No meta-data provider available yet to {verb} and encrypt configuration for "
                f"{config_id}, retry later.",
            )

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

    def status_all(self, wanted=None):
        """``system?_action=test``: every configured connector (or the one named ``wanted``), routed or not."""
        with self._lock:
            systems = [self._systems[name] for name in sorted(self._systems) if wanted in (None, name)]
        if wanted is not None and not systems:
            raise IdmError(404, f"System: {wanted} is not available.")
        return [self._status(system) for system in systems]

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
        ref = {
            "bundleVersion": system.info["bundleVersion"],
            "bundleName": system.info["bundleName"],
            "connectorName": system.info["connectorName"],
        }
        if (config.get("connectorRef") or {}).get("connectorHostRef"):
            ref = {"connectorHostRef": config["connectorRef"]["connectorHostRef"], **ref}
        entry["connectorRef"] = ref
        entry["displayName"] = system.info["displayName"]
        entry["objectTypes"] = ["__ALL__", *sorted(connector.object_types)]
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
            raise IdmError(
                503,
                f"Connector {ref.get('connectorName')} (bundle {ref.get('bundleName')} "
                f"{ref.get('bundleVersion')}) is not available",
            )
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
