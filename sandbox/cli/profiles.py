"""Per-tenant profiles of ``up``: the provider, its auth method and quirks, and the IDM readings, from the options
and ``--tenant-profiles FILE`` (see the package docstring)."""

from __future__ import annotations

import copy
import json

from .common import AUTH_METHODS, PROFILE_KEYS, PROVIDER_AUTH, PROVIDERS


class ProfileError(ValueError):
    """A bad --tenant-profiles file or an option combination no provider supports."""


def _readings(value, where):
    """IDM readings as the strings passed to ``--reading``: ``"alt"`` or ``"NAME=VALUE"``."""
    if isinstance(value, dict):
        items = []
        for name, reading in value.items():
            if name == "alt":
                if reading not in (True, "alt"):
                    raise ProfileError(f'{where}: "alt" takes true, got {reading!r}')
                items.append("alt")
            else:
                items.append(f"{name}={reading}")
        value = items
    if not isinstance(value, list):
        raise ProfileError(f"{where}: idm_readings must be an object or a list of strings")
    for item in value:
        name, sep, reading = item.partition("=") if isinstance(item, str) else ("", "", "")
        if not (item == "alt" or (sep and name.strip() and reading.strip() and name == name.strip())):
            raise ProfileError(f"{where}: IDM reading {item!r} is not NAME=VALUE or alt")
    return list(value)


def _merge_readings(base, override):
    """Readings of a profile over the options' ones: the same NAME is replaced, ``alt`` kept once."""
    merged = {}
    for item in [*base, *override]:
        merged[item.partition("=")[0]] = item
    return list(merged.values())


def _checked(profile, where, scim_version, auth_given):
    provider = profile["provider"]
    if provider not in PROVIDERS:
        raise ProfileError(f"{where}: unknown provider {provider!r}; choose one of {', '.join(PROVIDERS)}")
    if not auth_given:
        profile["scim_auth"] = PROVIDER_AUTH[provider][0]
    auth = profile["scim_auth"]
    if auth not in AUTH_METHODS:
        raise ProfileError(f"{where}: scim_auth must be one of {', '.join(AUTH_METHODS)}, got {auth!r}")
    if auth not in PROVIDER_AUTH[provider]:
        raise ProfileError(
            f"{where}: provider {provider} supports scim_auth {' or '.join(PROVIDER_AUTH[provider])}, "
            f"not {auth} (it has no OAuth token endpoint)"
        )
    quirks = profile["scim_quirks"]
    if not isinstance(quirks, list) or not all(isinstance(q, str) for q in quirks):
        raise ProfileError(f"{where}: scim_quirks must be a list of quirk names")
    if quirks:
        if provider != "sandbox":
            raise ProfileError(f"{where}: SCIM quirks are switches of the sandbox provider, not of {provider}")
        # Imported here: scim2-models takes 0.3 s to import, and only an `up` with quirks needs it.
        from sandbox.scim.quirks import parse_quirks

        try:
            profile["scim_quirks"] = sorted(parse_quirks(quirks))
        except ValueError as exc:
            raise ProfileError(f"{where}: {exc}") from None
    if provider != "sandbox" and scim_version != 2:
        raise ProfileError(f"{where}: provider {provider} speaks SCIM 2.0 only (--scim-version 2)")
    return profile


def build_profiles(args):
    """``{tenant name: profile}`` from the options and ``--tenant-profiles``; raises ProfileError."""
    base = {
        "provider": args.provider,
        "scim_auth": args.scim_auth or "",
        "scim_quirks": list(args.scim_quirk),
        "idm_readings": _readings(list(args.idm_reading), "--idm-reading"),
    }
    overrides = {}
    if args.tenant_profiles:
        try:
            with open(args.tenant_profiles, encoding="utf-8") as handle:
                overrides = json.load(handle)
        except (OSError, ValueError) as exc:
            raise ProfileError(f"--tenant-profiles {args.tenant_profiles}: {exc}") from None
        if not isinstance(overrides, dict):
            raise ProfileError(f"--tenant-profiles {args.tenant_profiles}: expected an object keyed by tenant name")
    names = [f"tenant{index}" for index in range(1, args.tenants + 1)]
    for name, override in overrides.items():
        if name not in names:
            raise ProfileError(
                f"--tenant-profiles names {name!r}, but the tenants are {', '.join(names)} (raise --tenants)"
            )
        if not isinstance(override, dict) or set(override) - set(PROFILE_KEYS):
            raise ProfileError(
                f"--tenant-profiles {name}: expected an object with keys among {', '.join(PROFILE_KEYS)}"
            )
    profiles = {}
    for name in names:
        override = overrides.get(name, {})
        profile = copy.deepcopy({**base, **{k: v for k, v in override.items() if k != "idm_readings"}})
        if "idm_readings" in override:
            profile["idm_readings"] = _merge_readings(
                base["idm_readings"], _readings(override["idm_readings"], f"{name}.idm_readings")
            )
        where = f"tenant profile {name}" if override else "options"
        profiles[name] = _checked(
            profile, where, args.scim_version, auth_given=bool(override.get("scim_auth") or args.scim_auth)
        )
    return profiles
