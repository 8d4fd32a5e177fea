"""Synchronisation for the sandbox IDM: mappings (``mapping``), links (``links``), mapping scripts
(``scripting``), the reconciliation engine (``engine``) with its REST service (``recon``), the audit topics
(``audit``) and implicit synchronization of managed-object changes (``implicit``).

Nothing here wires itself in: ``sandbox.idm.server.IdmServer`` builds these services and connects them.
"""
