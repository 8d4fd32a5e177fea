"""Query parameters of CREST requests as the REST handlers read them."""

from __future__ import annotations

from typing import Any

from ..crest import int_param, parse_fields
from .http import Request


def fields(request: Request) -> list[str] | None:
    """``_fields`` as a list of pointers, or None."""
    return parse_fields(request.query.get("_fields"))


def paging(request: Request) -> dict[str, Any]:
    """``_pageSize``, ``_pagedResultsCookie``, ``_pagedResultsOffset``, ``_totalPagedResultsPolicy`` and
    ``_sortKeys`` as the keyword arguments of the services' query methods; 400 for a non-numeric size/offset."""
    query = request.query
    return {
        "page_size": int_param(query.get("_pageSize"), "_pageSize"),
        "cookie": query.get("_pagedResultsCookie"),
        "offset": int_param(query.get("_pagedResultsOffset"), "_pagedResultsOffset"),
        "total_policy": query.get("_totalPagedResultsPolicy"),
        "sort_keys": query.get("_sortKeys"),
    }


def page_window(request: Request) -> dict[str, Any]:
    """The arguments of ``crest.page`` (no sort keys)."""
    window = paging(request)
    window.pop("sort_keys")
    return window
