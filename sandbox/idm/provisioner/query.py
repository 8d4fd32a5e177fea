"""CREST queries on a SCIM system object set: ``_queryFilter`` to SCIM ``filter`` when simple (one comparison, or an
``and`` or an ``or`` of comparisons, on attributes the object type declares), otherwise fetch everything and
filter locally with the core's CREST evaluator; ``_pageSize``/``_pagedResultsCookie``/
``_pagedResultsOffset`` to SCIM ``startIndex``/``count``.

The paged-results cookie is opaque to clients: base64 of the next 0-based offset.
"""

from __future__ import annotations

import base64
import binascii
import json

from .. import queryfilter
from .schema import ObjectType
from .scim import ConnectorError

UNTRANSLATABLE = object()
_COMPARISONS = ("eq", "co", "sw", "gt", "ge", "lt", "le")


def _clause(node: queryfilter.Node, object_type: ObjectType) -> str | object:
    """The SCIM clause of a comparison or ``pr`` node on a known attribute, else UNTRANSLATABLE."""
    if node[0] not in _COMPARISONS and node[0] != "pr":
        return UNTRANSLATABLE
    path = object_type.native_path("/".join(node[1]))
    if path is None:
        return UNTRANSLATABLE
    if node[0] == "pr":
        return f"{path} pr"
    return f"{path} {node[0]} {json.dumps(node[2])}"


def translate_filter(query_filter: str | None, object_type: ObjectType) -> str | bool | object | None:
    """The SCIM filter for a CREST filter, ``None`` for ``true`` (no filter), ``False`` for ``false``, or
    ``UNTRANSLATABLE`` when it needs local evaluation (negation, nested or mixed and/or, unknown attributes).

    Walks the tree of the core's CREST parser (``sandbox.idm.queryfilter``), so both agree on the syntax; a filter
    that does not parse is the parser's 400."""
    node = queryfilter.parse(query_filter or "true")
    if node[0] == "const":
        return None if node[1] else False
    if node[0] not in ("and", "or"):
        return _clause(node, object_type)
    clauses = [_clause(child, object_type) for child in node[1]]
    if any(clause is UNTRANSLATABLE for clause in clauses):
        return UNTRANSLATABLE
    return f" {node[0]} ".join(clauses)


def encode_cookie(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode()).decode()


def decode_cookie(cookie: str) -> int:
    try:
        return int(base64.urlsafe_b64decode(cookie.encode()).decode())
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ConnectorError("Invalid paged results cookie", "bad_request") from None


def query(connector, type_key, query_filter="true", page_size=None, cookie=None, offset=None, local_filter=None):
    """Run a CREST query. ``local_filter(query_filter)`` returns a predicate on objects (the core's CREST
    evaluator); it is used only when the filter cannot go to the provider.

    Returns ``(objects, next_cookie, total)``; ``next_cookie`` is None on the last page.
    """
    otype = connector.object_type(type_key)
    scim_filter = translate_filter(query_filter, otype)
    start = decode_cookie(cookie) if cookie else int(offset or 0)
    if scim_filter is False:
        return [], None, 0
    if scim_filter is UNTRANSLATABLE:
        predicate = local_filter(query_filter)
        matches = [obj for obj in connector.search_all(type_key) if predicate(obj)]
        if not page_size:
            return matches[start:], None, len(matches)
        page = matches[start : start + page_size]
        following = start + len(page)
        return page, (encode_cookie(following) if following < len(matches) else None), len(matches)
    if not page_size:
        if start == 0:
            objects = connector.search_all(type_key, scim_filter)
            return objects, None, len(objects)
        page_size = None
    results, total, position = [], None, start
    limit = connector.max_results()
    while True:
        wanted = limit if page_size is None else min(limit, page_size - len(results))
        objects, total = connector.search(type_key, scim_filter, position + 1, wanted)
        results.extend(objects)
        position += len(objects)
        if not objects or position >= total or (page_size is not None and len(results) >= page_size):
            break
    next_cookie = encode_cookie(position) if page_size is not None and position < total else None
    return results, next_cookie, total
