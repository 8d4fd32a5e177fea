"""Fast construction of scim2-models resources from data the provider wrote itself (the seed, the state file).

scim2-models validation costs about 1 ms per user, so loading 10,000 users took over 10 s. ``construct_trusted``
walks the same attribute-name resolution (``__scim_info__``) and nests ``model_construct`` calls;
``load_trusted`` checks a sample against real validation and falls back to it on any difference.
"""

from __future__ import annotations

import copy
import datetime
import sys
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel
from scim2_models.utils import _normalize_attribute_name


class _NotTrusted(ValueError):
    """The fast constructor met data it does not reproduce exactly; validate instead."""


_ROOT_TYPES: dict[tuple[type, str], Any] = {}


def _root_type(model: Any, field: str) -> Any:
    key = (model, field)
    if key not in _ROOT_TYPES:
        _ROOT_TYPES[key] = model.get_field_root_type(field)
    return _ROOT_TYPES[key]


def construct_trusted(model: Any, data: dict[str, Any]) -> Any:
    """Build a model from data this provider wrote itself (seed, state file) without pydantic validation.

    scim2-models validation costs about 1 ms per user, so loading 10,000 users took over 10 s. This walks the same
    attribute-name resolution (``__scim_info__``) and nests ``model_construct`` calls. ``load_trusted`` checks a
    sample against real validation and falls back to it on any difference.
    """
    info = model.__scim_info__
    values: dict[str, Any] = {}
    for key, item in data.items():
        name = info.field_by_name.get(_normalize_attribute_name(key))
        if name is None:
            raise _NotTrusted(f"unknown attribute {key!r}")
        values[name] = _construct_value(model, name, item)
    return _new_model(model, values)


_PLANS: dict[type, tuple[dict[str, Any], dict[str, tuple[Callable[..., Any], bool]]]] = {}


def _new_model(model: Any, values: dict[str, Any]) -> Any:
    """``model_construct`` minus its per-call default-factory signature inspection (the slow part)."""
    plan = _PLANS.get(model)
    if plan is None:
        defaults: dict[str, Any] = {}
        factories: dict[str, tuple[Callable[..., Any], bool]] = {}
        for name, field in model.__pydantic_fields__.items():
            if field.default_factory is not None:
                factories[name] = (field.default_factory, field.default_factory_takes_validated_data)
            elif not field.is_required():
                defaults[name] = field.default
        plan = _PLANS[model] = (defaults, factories)
    defaults, factories = plan
    fields_values: dict[str, Any] = {}
    for name in model.__pydantic_fields__:
        if name in values:
            fields_values[name] = values[name]
        elif name in factories:
            factory, takes_data = factories[name]
            fields_values[name] = factory(fields_values) if takes_data else factory()
        elif name in defaults:
            default = defaults[name]
            fields_values[name] = copy.copy(default) if isinstance(default, (list, dict, set)) else default
    instance = model.__new__(model)
    object.__setattr__(instance, "__dict__", fields_values)
    object.__setattr__(instance, "__pydantic_fields_set__", set(values))
    object.__setattr__(instance, "__pydantic_extra__", None)
    object.__setattr__(instance, "__pydantic_private__", None)
    if model.__pydantic_post_init__:
        instance.model_post_init(None)
    return instance


def _construct_value(model: Any, name: str, item: Any) -> Any:
    if item is None:
        return None
    root = _root_type(model, name)
    if isinstance(root, type) and issubclass(root, BaseModel):
        if isinstance(item, list):
            return [construct_trusted(root, entry) for entry in item]
        if not isinstance(item, dict):
            raise _NotTrusted(f"{name} is not an object")
        return construct_trusted(root, item)
    if root is datetime.datetime:
        return datetime.datetime.fromisoformat(item)
    if isinstance(root, type) and issubclass(root, str) and root is not str:
        return root(item)  # Reference[...] is a str subclass
    return item


def load_trusted(pairs: list[tuple[Any, dict[str, Any]]], sample_every: int = 200) -> list[Any]:
    """Build models from (model, data) pairs quickly; validate everything if a sampled fast build differs."""
    try:
        built = [construct_trusted(model, data) for model, data in pairs]
        for index in range(0, len(pairs), sample_every):
            model, data = pairs[index]
            if built[index].model_dump() != model.model_validate(data).model_dump():
                raise _NotTrusted(f"fast build of resource #{index} differs from validation")
        return built
    except (_NotTrusted, TypeError, ValueError, AttributeError) as exc:
        print(f"scim provider: validating every resource ({exc})", file=sys.stderr, flush=True)
        return [model.model_validate(data) for model, data in pairs]
