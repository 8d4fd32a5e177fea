"""Readings: switches for the points where IDM's behaviour is UNCONFIRMED (or differs between IDM versions), so the
collection can be tested against either reading.

``python -m sandbox.idm --reading NAME=VALUE`` (repeatable) or ``IDM_SANDBOX_READINGS="n=v,n=v"``; the first value
of each reading is the default (the one the Java source / the docs support). ``--reading alt`` puts every reading
marked UNCONFIRMED on its alternative value; explicit ``NAME=VALUE`` settings win over ``alt``. The evidence for
each reading is in ``sandbox/README.md`` ("Where IDM's behaviour is UNCONFIRMED").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Reading:
    name: str
    values: tuple  # first = default
    unconfirmed: bool  # flipped by ``alt``
    meaning: str

    @property
    def default(self) -> str:
        return self.values[0]

    @property
    def alternative(self) -> str:
        return self.values[1]


READINGS = {
    r.name: r
    for r in (
        Reading(
            "recon_target_fields",
            ("default", "mapped"),
            True,
            "recon reads sources/targets with default fields only (relationship fields such as members/roles "
            "absent) | also the relationship fields the mapping names",
        ),
        Reading(
            "exception_status",
            ("success", "failure"),
            True,
            "entries whose action is EXCEPTION count as SUCCESS in statusSummary and the audit | as FAILURE",
        ),
        Reading(
            "connector_metadata",
            ("strict", "lenient"),
            True,
            "connector config writes without a matching installed connector (or during the load window) answer "
            "500 'No meta-data provider available yet ...' and store nothing | are always stored",
        ),
        Reading(
            "config_wait",
            ("sync", "ignored"),
            True,
            "waitForCompletion=true on config writes starts the connector before answering | the flag is ignored",
        ),
        Reading(
            "implicit_sync",
            ("on", "off"),
            False,
            "managed-object changes are pushed through the mappings whose source they are | not",
        ),
        Reading(
            "role_required",
            ("name", "name+description"),
            False,
            "default required fields of managed/role: IDM 7.x ['name'] | IDM 5.x ['name', 'description']",
        ),
        Reading(
            "undeclared_properties",
            ("stored", "refused"),
            False,
            "managed properties the schema does not declare are stored (generic repository mapping, IDM default) | "
            "refused with 400 'Unmapped fields' (an explicit JDBC table mapping)",
        ),
    )
}


def parse(specs: Iterable[str] | None) -> dict[str, str]:
    """``{name: value}`` for every reading from ``NAME=VALUE`` / ``alt`` items; ValueError on a bad item."""
    values = {name: reading.default for name, reading in READINGS.items()}
    explicit = {}
    alt = False
    for spec in specs or ():
        for item in str(spec).split(","):
            item = item.strip()
            if not item:
                continue
            if item == "alt":
                alt = True
                continue
            name, sep, value = item.partition("=")
            name, value = name.strip(), value.strip()
            if not sep or name not in READINGS:
                raise ValueError(
                    f"unknown reading {item!r}; known: alt, "
                    + ", ".join(f"{n}={'|'.join(r.values)}" for n, r in READINGS.items())
                )
            if value not in READINGS[name].values:
                raise ValueError(f"reading {name} takes one of {', '.join(READINGS[name].values)}, not {value!r}")
            explicit[name] = value
    if alt:
        for name, reading in READINGS.items():
            if reading.unconfirmed:
                values[name] = reading.alternative
    values.update(explicit)
    return values


class Readings:
    """The readings of one server; ``readings.recon_target_fields`` etc. Unknown attribute names fail loudly."""

    def __init__(self, values: dict[str, Any] | Iterable[str] | None = None) -> None:
        """``values``: ``{name: value}`` (``{"alt": True}`` for alt) or a list of ``NAME=VALUE``/``alt`` specs."""
        if isinstance(values, dict):
            specs = [
                "alt" if name == "alt" and value else f"{name}={value}"
                for name, value in values.items()
                if not (name == "alt" and not value)
            ]
        else:
            specs = list(values or ())
        object.__setattr__(self, "_values", parse(specs))

    @classmethod
    def from_specs(cls, specs: Iterable[str] | None) -> Readings:
        return cls(list(specs or ()))

    def __getattr__(self, name: str) -> str:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("readings are fixed when the server starts")

    def as_dict(self) -> dict[str, str]:
        return dict(self._values)
