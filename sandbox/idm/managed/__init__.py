"""Managed objects (``/openidm/managed/<name>``) with the ``user.roles`` <-> ``role.members`` relationship.

Behaviour chosen to match IDM 7/8 on a DS repository (see idm-rest-contract.md §0 and §6):

* Any ``managed/<name>`` is accepted (the sandbox has no ``managed.json`` gate). Policy: IDM's stock
  ``managed.json`` required lists: ``managed/user`` needs ``userName`` (unique, case-insensitive), ``givenName``,
  ``sn``, ``mail``; ``managed/role`` needs ``name`` (IDM 7.x; reading ``role_required=name+description`` = the 5.x
  list). If ``config/managed`` exists, the ``schema.required`` lists of its objects replace these defaults.
  Failures are 403 "Failed policy validation".
* Properties the schema does not declare are stored as sent (IDM's default generic repository mapping keeps the
  whole object). Reading ``undeclared_properties=refused`` imitates an explicit JDBC table mapping: 400
  "Unmapped fields [...] for type managed/<name>" (OpenIDM MappedTableHandler.java L345-352) for properties that
  neither ``config/managed`` nor the stock 7.x schema declares.
* Every committed change (create, a real update/patch, delete) of an object set that some mapping takes as its
  source is handed to ``sync_listener`` (the implicit synchronization of ``sandbox/idm/sync/implicit.py``) after
  the write, with the caller's ``context``.
* ``_rev`` is an opaque string; ETag carries it quoted. ``If-Match`` absent or ``*`` matches any revision.
* An update that changes nothing is not written and keeps its ``_rev`` (IDM skips unchanged updates).
* Relationship fields (``roles`` on users, ``members`` on roles) are stored as relationship records, are not
  returned by default, and appear with ``_fields=*,roles``/``*_ref``/``roles/<field>``. A PUT without the field
  leaves the relationships alone; with it, the set is replaced (elements keep their ``_refProperties._id``).
  Referencing an object that does not exist is a 400.
* ``effectiveRoles`` (and an always-empty ``effectiveAssignments``) are virtual on users, recomputed on read.
* Deleting a role that still has members is 409 "Cannot delete a role that is currently granted".
* Queries match strings case-insensitively (DS ``caseIgnoreJsonQueryMatch``); results come in creation order
  unless ``_sortKeys`` is given. ``eq`` on a top-level field uses an in-memory hash index built on first use.

Everything is held in memory and written through to SQLite; ``store.batch()`` makes bulk writes one transaction.

Modules: ``service`` (the service), ``provider`` (the internal router's view of it), ``relationships``
(relationship records), ``policy`` (required, unique and undeclared properties), ``indexes`` (in-memory field
indexes). The REST routes are ``sandbox.idm.rest.managed``.
"""

from __future__ import annotations

from .provider import ManagedProvider
from .relationships import RELATIONSHIPS, relationship_props
from .service import VIRTUAL_FIELDS, ManagedService

__all__ = ["RELATIONSHIPS", "VIRTUAL_FIELDS", "ManagedProvider", "ManagedService", "relationship_props"]
