"""Query parameters of CREST requests as the REST handlers read them."""

from __future__ import annotations

from ..crest import Paging, int_param, parse_fields
from .http import Request


def fields(request: Request) -> list[str] | None:
    """``_fields`` as a list of pointers, or None."""
    return parse_fields(request.query.get("_fields"))


def paging(request: Request) -> Paging:
    """``_pageSize``, ``_pagedResultsCookie``, ``_pagedResultsOffset``, ``_totalPagedResultsPolicy`` and
    ``_sortKeys``; 400 for a non-numeric size or offset."""
    query = request.query
    return Paging(
        page_size=int_param(query.get("_pageSize"), "_pageSize"),
        cookie=query.get("_pagedResultsCookie"),
        offset=int_param(query.get("_pagedResultsOffset"), "_pagedResultsOffset"),
        total_policy=query.get("_totalPagedResultsPolicy"),
        sort_keys=query.get("_sortKeys"),
    )
