"""IDM's configuration service (``/openidm/config``) with ``$crypto`` for connector secrets and change listeners.

Semantics follow ConfigObjectService (see idm-rest-contract.md §3):

* ids have one or two segments (``sync``, ``provisioner.openicf/scim``); more → 400.
* PUT is an upsert: 201 + Location when the id was new, 200 otherwise. ``_id``/``_rev`` in bodies are ignored.
* No revision checking (IDM's config service keeps no usable ``_rev``), so ``If-Match`` is accepted and ignored.
* Factory configs (two segments) get ``pid = <factory>.<uuid>`` and ``factoryPid = <factory>``.
* Connector secrets (``configurationProperties`` keys in ``CONFIDENTIAL_PROPERTIES`` of ``provisioner.openicf/*``)
  are stored and returned as ``$crypto``, re-encrypted with a fresh IV/salt on each write unless already encrypted.

A ``metadata_gate(config_id, body)`` set by the system service may refuse a ``provisioner.openicf/*`` write before
anything is stored (IDM's 500 "No meta-data provider available yet ..."). ``waitForCompletion`` is honoured unless
the reading ``config_wait=ignored``.

Listeners: ``subscribe(prefix, callback)``; ``callback(config_id, stored_value_or_None, wait_for_completion)`` runs
after the change is stored, in the writer's thread. Exceptions are logged and swallowed, except that an ``IdmError``
raised while ``wait_for_completion`` is true becomes the response (the change stays stored, as in IDM).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

from . import queryfilter
from .crest import NO_PAGING, Paging, apply_patch, copy_json, project
from .crypto import Crypto, is_encrypted
from .errors import IdmError
from .readings import Readings
from .router import ResourceProvider
from .store import Store

log = logging.getLogger("sandbox.idm.config")

# listener(config id, stored value or None when deleted, waitForCompletion)
Listener = Callable[[str, dict[str, Any] | None, bool], None]
CONNECTOR_FACTORY = "provisioner.openicf"
# GuardedString / confidential properties of the connectors the sandbox knows (SCIM: password, clientSecret,
# authToken) plus the usual names of other ICF connectors, so a copied LDAP/REST config behaves the same.
CONFIDENTIAL_PROPERTIES = frozenset(
    {
        "password",
        "clientSecret",
        "authToken",
        "credentials",
        "accessToken",
        "refreshToken",
        "privateKey",
        "keystorePassword",
        "keyStorePassword",
        "truststorePassword",
        "trustStorePassword",
        "proxyPassword",
        "httpProxyPassword",
        "principalPassword",
    }
)


def validate_id(config_id: str | None) -> str:
    parts = (config_id or "").strip("/").split("/")
    if not config_id or not config_id.strip("/") or any(p == "" for p in parts) or len(parts) > 2:
        raise IdmError(400, f"Invalid configuration id '{config_id}': expected one or two path segments")
    return "/".join(parts)


class ConfigService(ResourceProvider):
    def __init__(self, store: Store, crypto: Crypto, readings: Readings) -> None:
        self.store = store
        self.crypto = crypto
        self.readings = readings
        self.metadata_gate = None
        self._lock = store.lock  # shared with the store so batches and config writes cannot deadlock
        self._listeners = []
        self._configs = {}  # id -> (pid, factoryPid, body without _id)
        self._load()
        store.on_rollback(self._load)

    def _load(self):
        self._configs = {
            config_id: (pid, factory_pid, json.loads(body))
            for config_id, pid, factory_pid, body in self.store.query("SELECT id, pid, factory_pid, body FROM config")
        }

    # --- listeners -------------------------------------------------------------------------------------------------
    def subscribe(self, prefix: str, callback: Listener) -> None:
        self._listeners.append((prefix.strip("/"), callback))

    def _notify(self, config_id: str, value: dict | None, wait_for_completion: bool) -> None:
        for prefix, callback in list(self._listeners):
            if prefix and config_id != prefix and not config_id.startswith(prefix + "/"):
                continue
            try:
                callback(config_id, copy_json(value) if value is not None else None, wait_for_completion)
            except IdmError:
                if wait_for_completion:
                    raise
                log.exception("config listener for %s failed on %s", prefix, config_id)
            except Exception:
                log.exception("config listener for %s failed on %s", prefix, config_id)

    # --- core operations -------------------------------------------------------------------------------------------
    def _encrypt_secrets(self, config_id, body):
        if config_id.startswith(CONNECTOR_FACTORY + "/"):
            props = body.get("configurationProperties")
            if isinstance(props, dict):
                for key, value in props.items():
                    if key in CONFIDENTIAL_PROPERTIES and value is not None and not is_encrypted(value):
                        props[key] = self.crypto.encrypt(value)
        elif config_id == CONNECTOR_FACTORY + ".connectorinfoprovider":
            for server in body.get("remoteConnectorServers") or []:
                if isinstance(server, dict) and server.get("key") is not None and not is_encrypted(server["key"]):
                    server["key"] = self.crypto.encrypt(server["key"])
        return body

    @staticmethod
    def _with_id(config_id, body):
        out = {"_id": config_id}
        out.update(body)
        return out

    def list(self) -> dict[str, Any]:
        with self._lock:
            return {
                "_id": "",
                "configurations": [
                    {"_id": cid, "pid": pid, "factoryPid": fpid}
                    for cid, (pid, fpid, _) in sorted(self._configs.items())
                ],
            }

    def get(self, config_id: str) -> dict[str, Any]:
        config_id = validate_id(config_id)
        with self._lock:
            entry = self._configs.get(config_id)
            if entry is None:
                raise IdmError(404, "Not Found")
            return self._with_id(config_id, copy_json(entry[2]))

    def exists(self, config_id: str) -> bool:
        with self._lock:
            return validate_id(config_id) in self._configs

    def put(
        self, config_id: str, body: Any, wait_for_completion: bool = False, _verb: str = "create"
    ) -> tuple[bool, dict[str, Any]]:
        """Store ``body``; returns ``(created, stored_object_with_id)``."""
        config_id = validate_id(config_id)
        if not isinstance(body, dict):
            raise IdmError(400, "Configuration must be a JSON object")
        body = {k: copy_json(v) for k, v in body.items() if k not in ("_id", "_rev")}
        if self.metadata_gate is not None and config_id.startswith(CONNECTOR_FACTORY + "/"):
            self.metadata_gate(config_id, body, _verb)
        body = self._encrypt_secrets(config_id, body)
        with self._lock:
            existing = self._configs.get(config_id)
            if existing:
                pid, factory_pid = existing[0], existing[1]
            elif "/" in config_id:
                factory_pid = config_id.split("/", 1)[0]
                pid = f"{factory_pid}.{uuid.uuid4()}"
            else:
                pid, factory_pid = config_id, None
            self.store.execute(
                "INSERT OR REPLACE INTO config (id, pid, factory_pid, body) VALUES (?, ?, ?, ?)",
                (config_id, pid, factory_pid, json.dumps(body)),
            )
            self._configs[config_id] = (pid, factory_pid, body)
        self._notify(config_id, body, wait_for_completion)
        return existing is None, self._with_id(config_id, copy_json(body))

    def patch_config(self, config_id: str, operations: Any, wait_for_completion: bool = False) -> dict[str, Any]:
        current = self.get(config_id)
        current.pop("_id", None)
        return self.put(config_id, apply_patch(current, operations), wait_for_completion, _verb="patch")[1]

    def remove(self, config_id: str, wait_for_completion: bool = False) -> dict[str, Any]:
        config_id = validate_id(config_id)
        with self._lock:
            entry = self._configs.pop(config_id, None)
            if entry is None:
                raise IdmError(404, "Not Found")
            self.store.execute("DELETE FROM config WHERE id = ?", (config_id,))
        self._notify(config_id, None, wait_for_completion)
        return self._with_id(config_id, entry[2])

    def query_configs(self, query_filter: str, fields: list[str] | None = None, paging: Paging = NO_PAGING) -> dict:
        node = queryfilter.parse(query_filter)
        with self._lock:
            items = [self._with_id(cid, copy_json(entry[2])) for cid, entry in sorted(self._configs.items())]
        items = [item for item in items if queryfilter.matches(node, item, case_insensitive=False)]
        envelope = paging.apply(items, case_insensitive=False)
        envelope["result"] = [project(item, fields) for item in envelope["result"]]
        return envelope

    # --- InternalRouter provider (resource "config" or "config/<factory>") --------------------------------------------
    @staticmethod
    def _full_id(resource, id):
        parts = resource.strip("/").split("/")[1:]
        if id is not None:
            parts.append(id)
        return "/".join(parts)

    def create(self, resource, obj, id=None, context=None):
        config_id = self._full_id(resource, id)
        if self.exists(config_id):
            raise IdmError(412, "Precondition Failed")
        return self.put(config_id, obj)[1]

    def read(self, resource, id, fields=None, context=None):
        return project(self.get(self._full_id(resource, id)), fields)

    def update(self, resource, id, obj, rev=None, context=None):
        return self.put(self._full_id(resource, id), obj)[1]

    def patch(self, resource, id, ops, rev=None, context=None):
        return self.patch_config(self._full_id(resource, id), ops)

    def delete(self, resource, id, rev=None, context=None):
        return self.remove(self._full_id(resource, id))

    def query(self, resource, query_filter="true", fields=None, page_size=None, cookie=None, context=None):
        prefix = self._full_id(resource, None)
        if prefix:
            query_filter = f'(_id sw "{prefix}/") and ({query_filter})'
        return self.query_configs(query_filter, fields, Paging(page_size, cookie))
