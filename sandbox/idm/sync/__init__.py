"""Synchronisation for the sandbox IDM: connectors (``system``), mappings, links, reconciliation (``recon``) and
its audit (``audit/recon``).

The server calls ``install(server)`` once after its core services exist; it needs ``server.router``,
``server.config``, ``server.store``, ``server.crypto``, ``server.scripts`` and ``server.register_endpoint``.
The ``system`` plugin is reused when the server already
installed it. Optional server attributes: ``connector_start_delay`` (seconds, default 1.0) and ``recon_entry_delay``.
"""

from types import SimpleNamespace

from .. import system as system_module
from ..audit import AuditService
from ..recon import ReconService
from .links import LinkStore
from .mapping import MappingRegistry
from .scripting import ScriptRunner


def install(server):
    plugins = getattr(server, "plugins", {}) or {}
    system = plugins.get("system") or system_module.install(server, getattr(server, "connector_start_delay", None))
    audit = AuditService(server.store)
    links = LinkStore(server.store)
    mappings = MappingRegistry(server.config)
    recon = ReconService(server.store, server.router, mappings, links, audit, ScriptRunner(server.scripts),
                         getattr(server, "recon_entry_delay", None))
    server.router.register("recon", recon)
    server.router.register("audit", audit)
    server.register_endpoint("recon", recon.handle)
    server.register_endpoint("audit", audit.handle)
    services = SimpleNamespace(system=system, audit=audit, links=links, mappings=mappings, recon=recon)

    system.before_stop.append(recon.close)

    def stop():
        recon.close()
        system.close()
    services.stop = stop
    return services
