"""Synchronisation for the sandbox IDM: connectors (``system``), mappings, links, reconciliation (``recon``) and
its audit (``audit/recon``).

The server calls ``install(server)`` once after its core services exist; it needs ``server.router``,
``server.config``, ``server.store``, ``server.crypto``, ``server.scripts`` and ``server.register_endpoint``; it
hooks the implicit synchronization into ``server.managed`` and reads ``server.readings``.
The ``system`` plugin is reused when the server already
installed it. Optional server attributes: ``connector_start_delay`` (seconds, default 1.0) and ``recon_entry_delay``.
"""

from types import SimpleNamespace

from .. import system as system_module
from ..audit import AuditService
from ..recon import ReconService
from ..readings import Readings
from .implicit import ImplicitSync
from .links import LinkStore
from .mapping import MappingRegistry
from .scripting import ScriptRunner


def install(server):
    plugins = getattr(server, "plugins", {}) or {}
    system = plugins.get("system") or system_module.install(server, getattr(server, "connector_start_delay", None))
    audit = AuditService(server.store)
    links = LinkStore(server.store)
    mappings = MappingRegistry(server.config)
    readings = getattr(server, "readings", None) or Readings()
    runner = ScriptRunner(server.scripts)
    recon = ReconService(server.store, server.router, mappings, links, audit, runner,
                         getattr(server, "recon_entry_delay", None), readings=readings)
    implicit = ImplicitSync(server.router, runner, links, audit, server.store, mappings, readings)
    managed = getattr(server, "managed", None)
    if managed is not None:
        managed.sync_listener = implicit.notify
    server.router.register("recon", recon)
    server.router.register("audit", audit)
    server.register_endpoint("recon", recon.handle)
    server.register_endpoint("audit", audit.handle)
    services = SimpleNamespace(system=system, audit=audit, links=links, mappings=mappings, recon=recon,
                               implicit=implicit)

    system.before_stop.append(recon.close)

    def stop():
        recon.close()
        system.close()
    services.stop = stop
    return services
