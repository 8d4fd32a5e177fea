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

Modules: ``connectors`` (the connector lifecycle, metadata gate and status), ``service`` (the internal-router
provider: actions and system objects), ``templates`` (``createCoreConfig``/``createFullConfig``). The REST routes
are ``sandbox.idm.rest.system``.

Choices where the contract says UNCONFIRMED:

* A connector that is not available lists only ``__ALL__`` in ``objectTypes`` and no ``displayName`` (as the
  disabled connector in the recorded IDM 7 answer); its ``connectorRef`` is the configured one.
* Unknown bundle/connector name or a version range that excludes 1.5.20.31: ``error`` is
  ``"connector not available: <reason>"`` so tools that look for the prefix still match.
* Provider failures during object operations: 404 for a missing object, 412 when the provider reports a
  uniqueness conflict (OpenICF AlreadyExistsException), 400 for rejected values, 503 when the provider cannot be
  reached or refuses the credentials, 500 otherwise.
"""

from __future__ import annotations

from .service import SystemService

__all__ = ["SystemService"]
