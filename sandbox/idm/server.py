"""The sandbox IDM: a WSGI app under ``/openidm`` served by cheroot on 127.0.0.1.

``IdmServer`` is the composition root. Its constructor builds every service in dependency order and connects
them (``_build_services``), registers the services on the internal router (what scripts and the sync engine call),
and collects the REST route tables of the services into one table (``_build_routes``); ``stop()`` closes what
runs in the background. Nothing plugs itself in: a new service is built in ``_build_services``, registered on the
router and given routes here.

Layers (see docs/architecture.md)::

    web/      WSGI pipeline: faults, authentication, startup gate, access log   (IdmApp)
    rest/     route tables and thin handlers, one module per endpoint            (RouteTable)
    services  config, managed/, system/, sync/ (mappings, recon, audit, implicit), scheduler/, scripts
    core      store (SQLite), crypto, crest (JSON helpers), queryfilter, router, readings, errors
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable
from typing import Any

from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter

from .config import ConfigService
from .crypto import Crypto
from .managed import ManagedProvider, ManagedService
from .readings import Readings
from .rest.admin import AdminRoutes
from .rest.audit import AuditRoutes
from .rest.config import ConfigRoutes
from .rest.info import InfoRoutes
from .rest.managed import ManagedRoutes
from .rest.recon import ReconRoutes
from .rest.routing import RouteTable
from .rest.scheduler import SchedulerRoutes
from .rest.script import ScriptRoutes
from .rest.system import SystemRoutes
from .router import InternalRouter
from .scheduler import SchedulerService
from .scripts import ScriptEngine
from .store import Store
from .sync.audit import AuditService
from .sync.implicit import ImplicitSync
from .sync.links import LinkStore
from .sync.mapping import MappingRegistry
from .sync.recon import ReconService
from .sync.scope import SyncServices
from .sync.scripting import ScriptRunner
from .system import SystemService
from .web.access_log import AccessLog
from .web.auth import Authenticator
from .web.faults import Faults
from .web.wsgi import Gateway, IdmApp

log = logging.getLogger("sandbox.idm")


class IdmServer:
    def __init__(
        self,
        state_dir: str,
        port: int = 0,
        host: str = "127.0.0.1",
        admin_user: str = "openidm-admin",
        admin_password: str = "openidm-admin",
        bearer_tokens: Iterable[str] = (),
        no_script_users: Iterable[str] = (),
        connector_start_delay: float = 1.0,
        tls_cert: str | None = None,
        tls_key: str | None = None,
        startup_delay: float = 0.0,
        faults: dict[str, Any] | None = None,
        context_path: str = "openidm",
        threads: int = 32,
        readings: Readings | dict[str, Any] | list[str] | None = None,
        connector_load_delay: float = 0.0,
        recon_entry_delay: float | None = None,
    ) -> None:
        self.state_dir = os.path.abspath(state_dir)
        os.makedirs(self.state_dir, exist_ok=True)
        self.host, self.port = host, port
        self.context_path = context_path.strip("/")
        self.readings = readings if isinstance(readings, Readings) else Readings(readings)
        self.started_at = time.monotonic()
        self._ready_at = self.started_at + float(startup_delay or 0)
        self.tls = bool(tls_cert)
        self._tls_files = (tls_cert, tls_key)
        self._threads = threads
        self._http: wsgi.Server | None = None
        self._thread: threading.Thread | None = None
        if recon_entry_delay is None:
            recon_entry_delay = float(os.environ.get("IDM_SANDBOX_RECON_ENTRY_DELAY") or 0)
        # IDM loads connector bundles after start; until then connector metadata is missing (A1).
        load_until = self.started_at + float(connector_load_delay or 0)
        self.faults = Faults()
        if faults:
            self.faults.update(faults)
        self.authenticator = Authenticator(admin_user, admin_password, bearer_tokens, no_script_users)
        self._build_services(connector_start_delay, load_until, recon_entry_delay)
        self.routes = self._build_routes()
        self.app = IdmApp(
            self.context_path,
            self.routes,
            self.authenticator,
            self.faults,
            AccessLog(os.path.join(self.state_dir, "access.log")),
            lambda: self.ready,
        )

    # --- composition -----------------------------------------------------------------------------------------------
    def _build_services(self, connector_start_delay: float, load_until: float, recon_entry_delay: float) -> None:
        """Every service, in dependency order; each one gets what it uses, none looks another up."""
        readings = self.readings
        self.store = Store(os.path.join(self.state_dir, "idm.sqlite3"))
        self.crypto = Crypto(os.path.join(self.state_dir, "keystore.json"))
        self.router = InternalRouter()
        self.config = ConfigService(self.store, self.crypto, readings)
        self.managed = ManagedService(self.store, self.config, readings)
        self.scripts = ScriptEngine(self.router, self.crypto)
        self.system = SystemService(self.config, self.crypto.decrypt, connector_start_delay, readings, load_until)
        self.config.metadata_gate = self.system.check_metadata
        self.mappings = MappingRegistry(self.config)
        self.links = LinkStore(self.store)
        self.audit = AuditService(self.store)
        sync = SyncServices(self.router, ScriptRunner(self.scripts), self.links, self.audit, self.store, readings)
        self.recon = ReconService(sync, self.mappings, recon_entry_delay)
        self.implicit = ImplicitSync(sync, self.mappings)
        self.managed.sync_listener = self.implicit
        for prefix, provider in (
            ("config", self.config),
            ("managed", ManagedProvider(self.managed)),
            ("system", self.system),
            ("recon", self.recon),
            ("audit", self.audit),
        ):
            self.router.register(prefix, provider)
        self.scheduler = SchedulerService(self.store, self.config, self.recon, self.scripts).start()
        # Closed by stop() in this order: no new scheduled run, runs end, then the connectors they use close.
        self._closing = (self.scheduler.stop, self.recon.close, self.system.close)

    def _build_routes(self) -> RouteTable:
        return RouteTable(
            [
                *InfoRoutes(lambda: self.ready, self.authenticator.roles_of).routes(),
                *ConfigRoutes(self.config, self.readings).routes(),
                *ManagedRoutes(self.managed).routes(),
                *ScriptRoutes(self.scripts).routes(),
                *SystemRoutes(self.system).routes(),
                *ReconRoutes(self.recon).routes(),
                *AuditRoutes(self.audit).routes(),
                *SchedulerRoutes(self.scheduler).routes(),
                *AdminRoutes(self.readings, self.faults).routes(),
            ]
        )

    # --- state -----------------------------------------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        return time.monotonic() >= self._ready_at

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    def roles_of(self, principal: str) -> list[str]:
        return self.authenticator.roles_of(principal)

    # --- lifecycle -------------------------------------------------------------------------------------------------
    def start(self) -> IdmServer:
        """Bind and serve in a background thread; returns once the socket listens."""
        self._http = wsgi.Server(
            (self.host, self.port), self.app, numthreads=self._threads, server_name="sandbox-idm", timeout=30
        )
        self._http.gateway = Gateway
        self._http.expiration_interval = 0.05  # stop() waits for one loop tick; keep it short for tests
        if self.tls:
            self._http.ssl_adapter = BuiltinSSLAdapter(*self._tls_files)
        self._http.prepare()
        self.port = self._http.bind_addr[1]
        self._thread = threading.Thread(target=self._http.serve, name="idm-http", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._http is not None:
            self._http.stop()
            self._thread.join(timeout=10)
            self._http = None
        for close in self._closing:
            try:
                close()
            except Exception:
                log.exception("stopping a service failed")
        self.app.access_log.close()
        self.store.close()
