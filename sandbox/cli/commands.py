"""The commands of the sandbox CLI: ``up`` (plan each tenant, start its IDM and SCIM provider, wait until they
answer, write the state and the inventory), ``down`` and ``status``."""

from __future__ import annotations

import os
import secrets
import sys
import time

from .common import IDM_ADMIN, NO_SCRIPT_USER, PROVIDERS, READY_TIMEOUT, default_profile
from .processes import (
    healthy,
    idm_answers,
    is_sandbox_process,
    pid_alive,
    scim_answers,
    scim_module,
    spawn,
    stop_pids,
    verify_of,
    wait_ready_line,
)
from .profiles import ProfileError, build_profiles
from .state import load_state, save_state, write_inventory
from .tls import ensure_tls


def _tenant_plan(state_dir, previous, index, scim_version, profile):
    name = f"tenant{index}"
    old = next((t for t in (previous or {}).get("tenants", []) if t["name"] == name), None) or {}
    old_scim = old.get("scim", {})
    tenant_dir = os.path.join(state_dir, name)
    os.makedirs(tenant_dir, exist_ok=True)
    provider = profile["provider"]
    # Every secret is generated once and kept (whatever the auth of this run), so down/up never changes them.
    return {
        "name": name,
        "dir": tenant_dir,
        "profile": profile,
        "idm": {
            "username": IDM_ADMIN[0],
            "password": old["idm"]["password"] if old else IDM_ADMIN[1],
            "noscript_username": NO_SCRIPT_USER,
            "noscript_password": old.get("idm", {}).get("noscript_password") or secrets.token_urlsafe(16),
            "state_dir": os.path.join(tenant_dir, "idm"),
        },
        "scim": {
            "provider": provider,
            "module": PROVIDERS[provider],
            "auth": profile["scim_auth"],
            "client_id": old_scim.get("client_id") or f"idm-{name}",
            "client_secret": old_scim.get("client_secret") or secrets.token_urlsafe(24),
            "basic_user": old_scim.get("basic_user") or f"idm-{name}",
            "basic_password": old_scim.get("basic_password") or secrets.token_urlsafe(24),
            "static_token": old_scim.get("static_token") or secrets.token_urlsafe(32),
            # One store per provider: switching providers never feeds one the other's file.
            "state": os.path.join(tenant_dir, "scim-state.json" if provider == "sandbox" else f"{provider}.sqlite3"),
            "version": scim_version,
        },
    }


def _server_argv(module, port_base, index, *options):
    """``python -m <module>`` for tenant ``index`` (from 1): on port ``port_base + index - 1``, or on a free one
    without a base, with ``options``."""
    return [sys.executable, "-m", module, "--port", str(port_base + index - 1 if port_base else 0), *options]


def idm_argv(args, plan, index):
    argv = _server_argv(
        "sandbox.idm",
        args.idm_port_base,
        index,
        "--state-dir",
        plan["idm"]["state_dir"],
        "--connector-start-delay",
        str(args.connector_start_delay),
    )
    for reading in plan["profile"]["idm_readings"]:
        argv += ["--reading", reading]
    return argv


def scim_argv(args, plan, index):
    argv = _server_argv(
        plan["scim"]["module"],
        args.scim_port_base,
        index,
        "--state",
        plan["scim"]["state"],
        "--users",
        str(args.users),
        "--groups",
        str(args.groups),
        "--seed-salt",
        plan["name"],
        "--access-log",
        os.path.join(plan["dir"], "scim-access.log"),
    )
    for quirk in plan["profile"]["scim_quirks"]:
        argv += ["--quirk", quirk]
    return argv


def scim_env(plan):
    """The provider's one accepted credential, by environment (never argv)."""
    scim = plan["scim"]
    if scim["auth"] == "BASIC":
        return {"SCIM_BASIC": f"{scim['basic_user']}:{scim['basic_password']}"}
    if scim["auth"] == "TOKEN":
        return {"SCIM_STATIC_TOKENS": scim["static_token"]}
    return {"SCIM_CLIENTS": f"{scim['client_id']}:{scim['client_secret']}"}


def _same_setup(previous, args, profiles):
    return (
        len(previous["tenants"]) == args.tenants
        and bool(previous.get("tls")) == bool(args.tls)
        and previous.get("scim_version") == args.scim_version
        and all(t.get("profile", default_profile()) == profiles[t["name"]] for t in previous["tenants"])
    )


def cmd_up(args):
    try:
        profiles = build_profiles(args)
    except ProfileError as exc:
        print(f"sandbox up: {exc}", file=sys.stderr)
        return 2
    state_dir = os.path.abspath(args.state)
    os.makedirs(state_dir, exist_ok=True)
    previous = load_state(state_dir)
    if previous and any(t["idm"].get("pid") or t["scim"].get("pid") for t in previous.get("tenants", [])):
        if healthy(previous) and _same_setup(previous, args, profiles):
            print(
                f"sandbox already up ({len(previous['tenants'])} tenants); inventory: "
                f"{os.path.join(state_dir, 'inventory.yml')}"
            )
            return 0
        print("sandbox state is not healthy or differs from the request; restarting it")
        cmd_down(args, quiet=True)
        previous = load_state(state_dir)

    tls = ensure_tls(state_dir) if args.tls else None
    started = [
        _start_tenant(args, state_dir, previous, index, profiles[f"tenant{index}"], tls)
        for index in range(1, args.tenants + 1)
    ]
    tenants = [plan for plan, *_ in started]
    state = {
        "version": 1,
        "state_dir": state_dir,
        "tls": bool(tls),
        "ca_path": tls["ca.pem"] if tls else None,
        "scim_version": args.scim_version,
        "users": args.users,
        "groups": args.groups,
        "tenants": tenants,
    }
    # Seeding the SCIM provider costs about 1 ms a user, more on a busy machine.
    deadline = time.monotonic() + READY_TIMEOUT + args.users * args.tenants / 250
    try:
        _wait_ready(started, state, args.scim_version, deadline)
    except RuntimeError as exc:
        save_state(state_dir, state)
        print(f"sandbox up failed: {exc}", file=sys.stderr)
        cmd_down(args, quiet=True)
        return 1
    save_state(state_dir, state)
    write_inventory(state_dir, state)
    for plan in tenants:
        print(_describe(plan))
    print(f"inventory: {os.path.join(state_dir, 'inventory.yml')}")
    return 0


def _start_tenant(args, state_dir, previous, index, profile, tls):
    """Spawn a tenant's IDM and SCIM provider; ``(plan, idm process, idm log prefix, scim process, prefix)``."""
    plan = _tenant_plan(state_dir, previous, index, args.scim_version, profile)
    idm_args, scim_args = idm_argv(args, plan, index), scim_argv(args, plan, index)
    if tls:
        for argv in (idm_args, scim_args):
            argv += ["--tls-cert", tls["server.pem"], "--tls-key", tls["server-key.pem"]]
    idm_prefix = os.path.join(plan["dir"], "idm")
    scim_prefix = os.path.join(plan["dir"], "scim")
    idm_env = {
        "IDM_SANDBOX_ADMIN_PASSWORD": plan["idm"]["password"],
        "IDM_SANDBOX_NO_SCRIPT_USERS": f"{NO_SCRIPT_USER}:{plan['idm']['noscript_password']}",
    }
    if tls:
        # As if the sandbox CA were imported into IDM's truststore: the SCIM connector trusts it.
        idm_env.update(REQUESTS_CA_BUNDLE=tls["ca.pem"], SSL_CERT_FILE=tls["ca.pem"])
    idm_proc = spawn(idm_args, idm_prefix, idm_env)
    scim_proc = spawn(scim_args, scim_prefix, scim_env(plan))
    return plan, idm_proc, idm_prefix, scim_proc, scim_prefix


def _wait_ready(started, state, scim_version, deadline):
    """Record each tenant's pids and URLs from their ``ready`` lines, then wait until both servers answer."""
    for plan, idm_proc, idm_prefix, scim_proc, scim_prefix in started:
        plan["idm"]["pid"], plan["scim"]["pid"] = idm_proc.pid, scim_proc.pid
        plan["idm"]["url"] = wait_ready_line(idm_proc, idm_prefix, deadline)
        plan["idm"]["port"] = int(plan["idm"]["url"].rsplit(":", 1)[1])
        scim_url = wait_ready_line(scim_proc, scim_prefix, deadline)
        plan["scim"].update(
            {
                "url": scim_url,
                "port": int(scim_url.rsplit(":", 1)[1]),
                "endpoint": f"{scim_url}/scim/v{scim_version}",
                "token_endpoint": f"{scim_url}/oauth2/token",
            }
        )
    verify = verify_of(state)
    for plan, *_ in started:
        while not (idm_answers(plan, verify) and scim_answers(plan, verify)):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{plan['name']} does not answer")
            time.sleep(0.05)


def _describe(plan):
    profile = plan["profile"]
    extras = [f"{profile['provider']} provider", profile["scim_auth"]]
    extras += [f"quirks {','.join(profile['scim_quirks'])}"] if profile["scim_quirks"] else []
    extras += [f"readings {','.join(profile['idm_readings'])}"] if profile["idm_readings"] else []
    return (
        f"{plan['name']}: idm {plan['idm']['url']} (pid {plan['idm']['pid']}), "
        f"scim {plan['scim']['endpoint']} (pid {plan['scim']['pid']}; {'; '.join(extras)})"
    )


def cmd_down(args, quiet=False):
    state_dir = os.path.abspath(args.state)
    state = load_state(state_dir)
    if not state:
        if not quiet:
            print("sandbox is not up (no sandbox.json)")
        return 0
    targets = [
        (t[kind]["pid"], module)
        for t in state.get("tenants", [])
        for kind, module in (("idm", "sandbox.idm"), ("scim", scim_module(t)))
        if t[kind].get("pid")
    ]
    outcomes = stop_pids(targets)
    for tenant in state.get("tenants", []):
        for kind in ("idm", "scim"):
            pid = tenant[kind].get("pid")
            if pid and not quiet:
                print(f"{tenant['name']} {kind} (pid {pid}): {outcomes[pid]}")
            tenant[kind]["pid"] = None
    save_state(state_dir, state)
    return 0


def cmd_status(args):
    state = load_state(os.path.abspath(args.state))
    if not state or not state.get("tenants"):
        print("sandbox is not up")
        return 1
    verify = verify_of(state)
    all_ok = True
    for tenant in state["tenants"]:
        for kind, module, check in (("idm", "sandbox.idm", idm_answers), ("scim", scim_module(tenant), scim_answers)):
            pid = tenant[kind].get("pid")
            running = bool(pid) and pid_alive(pid) and is_sandbox_process(pid, module)
            answers = running and check(tenant, verify)
            all_ok &= answers
            where = tenant[kind].get("endpoint") or tenant[kind].get("url") or "-"
            print(
                f"{tenant['name']:<10} {kind:<5} pid {pid or '-':<8} "
                f"{'running' if running else 'stopped':<8} {'answers' if answers else 'no answer':<10} {where}"
            )
    return 0 if all_ok else 1
