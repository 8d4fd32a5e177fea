"""CREST request helpers shared by the config and managed services: JSON copy, patch, ``_fields``, paging, sort."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from .errors import IdmError
from .queryfilter import comparable, parse_pointer


def copy_json(value: Any) -> Any:
    """A deep copy of a JSON value (faster than ``copy.deepcopy`` for plain dict/list trees)."""
    if isinstance(value, dict):
        return {k: copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_json(v) for v in value]
    return value


def strict_equal(a: Any, b: Any) -> bool:
    """IDM's ``JsonValue.isEqualTo()`` = ``JsonPatch.isEqual()`` (commons JsonPatch.java L138-188): same JSON
    type at every depth, objects with the same key set (a key set to null is not a missing key), lists in order,
    scalars by Java ``equals`` (so ``1`` is not ``1.0`` and ``true`` is not ``1``)."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(strict_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(strict_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


# --- patch -------------------------------------------------------------------------------------------------------


def _index(segment: str, length: int, allow_end: bool) -> int:
    if segment == "-" and allow_end:
        return length
    try:
        index = int(segment)
    except ValueError:
        raise IdmError(400, f"Invalid array index '{segment}'") from None
    if index < 0 or index > length or (index == length and not allow_end):
        raise IdmError(400, f"Array index {index} out of range")
    return index


def _parent(obj: Any, pointer: list[str], create: bool) -> Any:
    """The container holding the last segment of ``pointer`` (creating objects on the way when ``create``)."""
    node = obj
    for segment in pointer[:-1]:
        if isinstance(node, list):
            node = node[_index(segment, len(node), False)]
        elif isinstance(node, dict):
            if segment not in node or node[segment] is None:
                if not create:
                    return None
                node[segment] = {}
            node = node[segment]
        else:
            raise IdmError(400, f"Cannot traverse '{segment}': not an object or array")
    return node


def _same(element: Any, value: Any, subset: bool) -> bool:
    if not subset:
        return element == value
    if isinstance(value, dict) and isinstance(element, dict):
        return all(k in element and _same(element[k], v, True) for k, v in value.items())
    return element == value


def _op_add(obj: Any, op: dict, pointer: list[str], value: Any, subset: bool) -> None:
    parent = _parent(obj, pointer, True)
    last = pointer[-1]
    if isinstance(parent, list):
        parent.insert(_index(last, len(parent), True), value)
    elif last == "-":
        raise IdmError(400, "'-' only appends to arrays")
    elif isinstance(parent.get(last), list) and isinstance(value, list):
        parent[last].extend(value)
    else:
        parent[last] = value


def _op_remove(obj: Any, op: dict, pointer: list[str], value: Any, subset: bool) -> None:
    parent = _parent(obj, pointer, False)
    last = pointer[-1]
    if parent is None:
        return
    if isinstance(parent, list):
        del parent[_index(last, len(parent), False)]
    elif last in parent:
        if "value" in op and isinstance(parent[last], list):
            wanted = value if isinstance(value, list) else [value]
            parent[last] = [e for e in parent[last] if not any(_same(e, w, subset) for w in wanted)]
        else:
            del parent[last]


def _op_replace(obj: Any, op: dict, pointer: list[str], value: Any, subset: bool) -> None:
    parent = _parent(obj, pointer, True)
    last = pointer[-1]
    if isinstance(parent, list):
        parent[_index(last, len(parent), False)] = value
    elif value is None and "value" not in op:
        parent.pop(last, None)
    else:
        parent[last] = value


def _op_increment(obj: Any, op: dict, pointer: list[str], value: Any, subset: bool) -> None:
    parent = _parent(obj, pointer, False)
    last = pointer[-1]
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise IdmError(400, "increment needs a numeric value")
    current = parent.get(last) if isinstance(parent, dict) else None
    if not isinstance(current, (int, float)) or isinstance(current, bool):
        raise IdmError(400, f"Field {op['field']} is not a number")
    parent[last] = current + value


_OPERATIONS = {"add": _op_add, "remove": _op_remove, "replace": _op_replace, "increment": _op_increment}


def _moved_value(obj: Any, op: dict, kind: str) -> Any:
    """The value a ``copy``/``move`` takes from ``from`` (removed there for a move)."""
    if "from" not in op:
        raise IdmError(400, f"Patch operation {kind} needs 'from'")
    source = parse_pointer(op["from"])
    parent = _parent(obj, source, False)
    if not isinstance(parent, dict) or source[-1] not in parent:
        raise IdmError(400, f"Patch 'from' field {op['from']} does not exist")
    value = copy_json(parent[source[-1]])
    if kind == "move":
        del parent[source[-1]]
    return value


def apply_patch(obj: Any, operations: Any, subset_fields: tuple[str, ...] = ()) -> Any:
    """Apply CREST patch ``operations`` to ``obj`` in place and return it.

    ``add`` to an existing array appends (``/f/-`` or an array value, CREST "list semantics"), ``/f/<n>``
    inserts; ``remove`` with a ``value`` removes matching array elements (for ``subset_fields`` such as relationship
    arrays an element matches when it contains every key of the value, so ``{"_ref": ...}`` is enough);
    ``replace`` sets (a null/missing value removes); ``increment`` adds a number; ``copy``/``move`` use ``from``.
    """
    if not isinstance(operations, list):
        raise IdmError(400, "The patch request body must be a JSON array of patch operations")
    for op in operations:
        if not isinstance(op, dict) or "operation" not in op or "field" not in op:
            raise IdmError(400, "Each patch operation needs 'operation' and 'field'")
        kind = op["operation"]
        pointer = parse_pointer(op["field"])
        if not pointer:
            raise IdmError(400, "Patching the whole object is not supported; name a field")
        value = copy_json(op.get("value"))
        if kind in ("copy", "move"):
            value, kind = _moved_value(obj, op, kind), "replace"
        operation = _OPERATIONS.get(kind)
        if operation is None:
            raise IdmError(400, f"Patch operation '{kind}' is not supported")
        operation(obj, op, pointer, value, pointer[0] in subset_fields)
    return obj


# --- _fields -----------------------------------------------------------------------------------------------------


def parse_fields(text: str | None) -> list[str] | None:
    """``_fields=a,b/c`` as a list of strings, or None when absent/empty."""
    if text is None or text.strip() == "":
        return None
    return [f.strip().strip("/") for f in text.split(",") if f.strip()]


def project(obj: dict, fields: list[str] | None) -> dict:
    """Keep ``_id``, ``_rev`` and the requested pointers of an already-expanded object."""
    if fields is None or ("*" in fields and all(f in ("*", "*_ref") for f in fields)):
        return obj
    out = {k: obj[k] for k in ("_id", "_rev") if k in obj}
    if "*" in fields:
        out = dict(obj)
    for field in fields:
        if field in ("*", "*_ref"):
            continue
        pointer = parse_pointer(field)
        if not pointer:
            continue
        value, found = obj, True
        for segment in pointer:
            if isinstance(value, dict) and segment in value:
                value = value[segment]
            elif isinstance(value, list):
                value = [v[segment] for v in value if isinstance(v, dict) and segment in v]
            else:
                found = False
                break
        if not found:
            continue
        node = out
        for segment in pointer[:-1]:
            child = node.get(segment)
            if not isinstance(child, dict) or child is obj.get(segment):
                child = {} if not isinstance(child, dict) else dict(child)
                node[segment] = child
            node = child
        node[pointer[-1]] = value
    return out


# --- paging / sorting ----------------------------------------------------------------------------------------------


def encode_cookie(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def decode_cookie(cookie: str) -> int:
    try:
        padded = cookie + "=" * (-len(cookie) % 4)
        return int(json.loads(base64.urlsafe_b64decode(padded))["o"])
    except (ValueError, KeyError, TypeError):
        raise IdmError(400, "Invalid paged results cookie") from None


def sort_results(items: list[dict], sort_keys: str | list[str] | None, case_insensitive: bool) -> list[dict]:
    """Stable multi-key sort for ``_sortKeys=+a,-b``; missing values sort first ascending."""
    if not sort_keys:
        return items
    keys = [k.strip() for k in sort_keys.split(",") if k.strip()] if isinstance(sort_keys, str) else sort_keys
    for key in reversed(keys):
        descending = key.startswith("-")
        pointer = parse_pointer(key.lstrip("+-"))

        def sort_value(item: dict, pointer: list[str] = pointer) -> tuple:
            value = item
            for segment in pointer:
                value = value.get(segment) if isinstance(value, dict) else None
            key_value = comparable(value, case_insensitive)
            return (0, "", None) if key_value is None or key_value[0] == "z" else (1, key_value[0], key_value[1])

        items = sorted(items, key=sort_value, reverse=descending)
    return items


def page(
    items: list,
    page_size: int | None = None,
    cookie: str | None = None,
    offset: int | None = None,
    total_policy: str | None = None,
) -> dict[str, Any]:
    """Slice ``items`` the way IDM's DS repo pages and wrap them in the CREST query envelope."""
    start = 0
    if cookie:
        start = decode_cookie(cookie)
    elif offset:
        start = int(offset)
    total = len(items)
    if page_size and int(page_size) > 0:
        end = start + int(page_size)
        result = items[start:end]
        next_cookie = encode_cookie(end) if end < total else None
    else:
        result = items[start:]
        next_cookie = None
    policy = (total_policy or "NONE").upper()
    if policy not in ("NONE", "EXACT", "ESTIMATE"):
        raise IdmError(400, f"Invalid _totalPagedResultsPolicy '{total_policy}'")
    return {
        "result": result,
        "resultCount": len(result),
        "pagedResultsCookie": next_cookie,
        "totalPagedResultsPolicy": policy,
        "totalPagedResults": total if policy != "NONE" else -1,
        "remainingPagedResults": -1,
    }


@dataclass(frozen=True)
class Paging:
    """The window and order a query asks for: ``_pageSize``, ``_pagedResultsCookie``, ``_pagedResultsOffset``,
    ``_totalPagedResultsPolicy`` and ``_sortKeys`` (``NO_PAGING``: everything, in the service's order)."""

    page_size: int | None = None
    cookie: str | None = None
    offset: int | None = None
    total_policy: str | None = None
    sort_keys: str | None = None

    def apply(self, items: list[dict], case_insensitive: bool) -> dict[str, Any]:
        """``items`` sorted by the sort keys, and the asked page of them in the CREST query envelope."""
        items = sort_results(items, self.sort_keys, case_insensitive)
        return page(items, self.page_size, self.cookie, self.offset, self.total_policy)


NO_PAGING = Paging()


def int_param(value: str | None, name: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise IdmError(400, f"Invalid value '{value}' for parameter {name}") from None
