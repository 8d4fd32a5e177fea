"""CREST queries on a SCIM system object set: ``_queryFilter`` to SCIM ``filter`` when simple, otherwise fetch
everything and filter locally with the core's CREST evaluator; ``_pageSize``/``_pagedResultsCookie``/
``_pagedResultsOffset`` to SCIM ``startIndex``/``count``.

The paged-results cookie is opaque to clients: base64 of the next 0-based offset.
"""

import base64
import binascii
import json
import re

from .scim import ConnectorError

UNTRANSLATABLE = object()

_TOKEN = re.compile(r"""\s*(?:
    (?P<lpar>\() | (?P<rpar>\)) | (?P<bang>!) |
    (?P<dq>"(?:[^"\\]|\\.)*") | (?P<sq>'(?:[^'\\]|\\.)*') |
    (?P<word>[^\s()"'!]+)
)""", re.VERBOSE)
_COMPARATORS = {"eq", "co", "sw", "gt", "ge", "lt", "le"}


def _tokens(text):
    position, tokens = 0, []
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            return None
        position = match.end()
        kind = match.lastgroup
        tokens.append((kind, match.group(kind)))
    return tokens


def _literal(kind, raw):
    if kind == "dq":
        return json.loads(raw)
    if kind == "sq":
        return raw[1:-1].replace("\\'", "'").replace('\\"', '"').replace("\\\\", "\\")
    if raw in ("true", "false", "null"):
        return json.loads(raw)
    try:
        return json.loads(raw)
    except ValueError:
        return UNTRANSLATABLE


def translate_filter(query_filter, object_type):
    """The SCIM filter for a CREST filter, ``None`` for ``true`` (no filter), ``False`` for ``false``, or
    ``UNTRANSLATABLE`` when it needs local evaluation (parentheses, negation, mixed and/or, unknown attributes)."""
    text = (query_filter or "true").strip()
    if text == "true":
        return None
    if text == "false":
        return False
    tokens = _tokens(text)
    if not tokens:
        return UNTRANSLATABLE
    clauses, connector, index = [], None, 0
    while index < len(tokens):
        if clauses:
            kind, word = tokens[index]
            if kind != "word" or word not in ("and", "or") or (connector and word != connector):
                return UNTRANSLATABLE
            connector = word
            index += 1
        if index + 1 >= len(tokens) or tokens[index][0] != "word":
            return UNTRANSLATABLE
        path = object_type.native_path(tokens[index][1])
        operator = tokens[index + 1][1]
        if path is None or tokens[index + 1][0] != "word":
            return UNTRANSLATABLE
        if operator == "pr":
            clauses.append(f"{path} pr")
            index += 2
            continue
        if operator not in _COMPARATORS or index + 2 >= len(tokens):
            return UNTRANSLATABLE
        kind, raw = tokens[index + 2]
        if kind not in ("dq", "sq", "word"):
            return UNTRANSLATABLE
        value = _literal(kind, raw)
        if value is UNTRANSLATABLE or isinstance(value, (dict, list)):
            return UNTRANSLATABLE
        clauses.append(f"{path} {operator} {json.dumps(value)}")
        index += 3
    return f" {connector} ".join(clauses) if connector else clauses[0]


def encode_cookie(offset):
    return base64.urlsafe_b64encode(str(offset).encode()).decode()


def decode_cookie(cookie):
    try:
        return int(base64.urlsafe_b64decode(cookie.encode()).decode())
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ConnectorError("Invalid paged results cookie", "bad_request") from None


def query(connector, type_key, query_filter="true", page_size=None, cookie=None, offset=None,
          local_filter=None):
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
        page = matches[start:start + page_size]
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
