"""The sandbox CLI: ``python -m sandbox up|down|status [--state DIR]``.

``up`` starts, per tenant, one sandbox IDM (``python -m sandbox.idm``) and one SCIM provider
(``python -m sandbox.scim``) as detached processes (own session, output in the tenant's directory), waits until each
answers, and writes ``DIR/sandbox.json`` (pids, ports, urls, credentials; mode 0600) and ``DIR/inventory.yml``
(one host per tenant in group ``idm_tenants``; mode 0600). Secrets are generated once per tenant and kept in
``sandbox.json`` so the SCIM state, the IDM connector config and the inventory stay consistent across down/up; they
reach the children through the environment, never argv, and are never printed.

Per-tenant behaviour (a *profile*; the options set every tenant's, ``--tenant-profiles FILE`` overrides them for
single tenants, so one sandbox runs tenants with different behaviours side by side):

* ``--provider sandbox|django_scim``: the SCIM server: the sandbox provider (``sandbox.scim``, scim2-server) or the
  second, independent one (``sandbox.django_scim``, django-scim2-server; SCIM 2.0 only, TOKEN or BASIC auth).
* ``--scim-auth OAUTH|BASIC|TOKEN``: the only method the provider accepts (default: OAUTH for the sandbox provider,
  TOKEN for django_scim). Its secret (client secret, basic password or static token) is generated once per tenant
  and kept like the OAuth secret; the inventory carries ``scim_auth_method`` plus ``scim_token_endpoint``/
  ``scim_client_id``/``scim_client_secret``, ``scim_user``/``scim_password`` or ``scim_token``.
* ``--scim-quirk NAME`` (repeatable, sandbox provider only): ``python -m sandbox.scim --quirk NAME``.
* ``--idm-reading NAME=VALUE`` or ``--idm-reading alt`` (repeatable): ``python -m sandbox.idm --reading ...``.

``--tenant-profiles FILE`` is JSON: ``{"tenant2": {"provider": "...", "scim_auth": "BASIC", "scim_quirks": [...],
"idm_readings": {"NAME": "VALUE"}}}``. A key given in a profile replaces the option's value for that tenant;
``idm_readings`` may also be a list of ``"NAME=VALUE"``/``"alt"`` strings, and a dict is merged over the
``--idm-reading`` values (``{"alt": true}`` stands for ``alt``). Each tenant's inventory gets ``sandbox_profile``:
``{"provider", "scim_auth", "scim_quirks", "idm_readings"}`` as applied (readings as the strings passed to IDM).

``down`` stops what ``up`` started (SIGTERM, then SIGKILL after a timeout), by pid, after checking that the pid still
runs a sandbox server. ``status`` reports each process and whether it answers; exit 0 only when all are healthy.
Default DIR: ``$IDMOPS_SANDBOX_STATE`` or ``<repo>/.sandbox``.
"""

import argparse
import copy
import datetime
import ipaddress
import json
import os
import secrets
import signal
import subprocess
import sys
import time

import requests
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOST = "127.0.0.1"
INVENTORY_GROUP = "idm_tenants"
IDM_ADMIN = ("openidm-admin", "openidm-admin")
NO_SCRIPT_USER = "idm-noscript"
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
PROVIDERS = {"sandbox": "sandbox.scim", "django_scim": "sandbox.django_scim"}
PROVIDER_AUTH = {"sandbox": ("OAUTH", "BASIC", "TOKEN"), "django_scim": ("TOKEN", "BASIC")}  # first = default
AUTH_METHODS = ("OAUTH", "BASIC", "TOKEN")
PROFILE_KEYS = ("provider", "scim_auth", "scim_quirks", "idm_readings")


def default_state_dir():
    return os.environ.get("IDMOPS_SANDBOX_STATE") or os.path.join(REPO, ".sandbox")


# --- files -------------------------------------------------------------------------------------------------------

def _write_private(path, text):
    """Write a file readable by the owner only (it holds secrets), atomically."""
    tmp = f"{path}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def load_state(state_dir):
    path = os.path.join(state_dir, "sandbox.json")
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def save_state(state_dir, state):
    _write_private(os.path.join(state_dir, "sandbox.json"), json.dumps(state, indent=2) + "\n")


def _scim_auth_vars(tenant):
    scim = tenant["scim"]
    method = scim.get("auth", "OAUTH")
    if method == "BASIC":
        return {"scim_auth_method": "BASIC", "scim_user": scim["basic_user"], "scim_password": scim["basic_password"]}
    if method == "TOKEN":
        return {"scim_auth_method": "TOKEN", "scim_token": scim["static_token"]}
    return {"scim_auth_method": "OAUTH", "scim_token_endpoint": scim["token_endpoint"],
            "scim_client_id": scim["client_id"], "scim_client_secret": scim["client_secret"]}


def inventory(state):
    hosts = {}
    for tenant in state["tenants"]:
        scim = tenant["scim"]
        host = {
            "ansible_connection": "local",
            "ansible_python_interpreter": "{{ ansible_playbook_python }}",
            "idm_url": tenant["idm"]["url"],
            "idm_username": tenant["idm"]["username"],
            "idm_password": tenant["idm"]["password"],
            # A second IDM user that may not evaluate scripts, for testing modules that need script rights.
            "idm_noscript_username": tenant["idm"].get("noscript_username", NO_SCRIPT_USER),
            "idm_noscript_password": tenant["idm"].get("noscript_password"),
            "scim_endpoint": scim["endpoint"],
            "scim_version": state["scim_version"],
            **_scim_auth_vars(tenant),
            "sandbox_profile": tenant.get("profile") or default_profile(),
        }
        if state.get("ca_path"):
            host["idm_ca_path"] = state["ca_path"]
        hosts[tenant["name"]] = host
    return {"all": {"children": {INVENTORY_GROUP: {"hosts": hosts}}}}


def write_inventory(state_dir, state):
    text = "# Written by `python -m sandbox up`; holds secrets (mode 0600).\n" + yaml.safe_dump(
        inventory(state), sort_keys=False, default_flow_style=False)
    _write_private(os.path.join(state_dir, "inventory.yml"), text)


# --- TLS ---------------------------------------------------------------------------------------------------------

def ensure_tls(state_dir):
    """A CA and a 127.0.0.1/localhost server certificate under DIR/tls (created once, reused)."""
    from cryptography import x509  # pylint: disable=import-outside-toplevel
    from cryptography.hazmat.primitives import hashes, serialization  # pylint: disable=import-outside-toplevel
    from cryptography.hazmat.primitives.asymmetric import ec  # pylint: disable=import-outside-toplevel
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # pylint: disable=import-outside-toplevel

    tls_dir = os.path.join(state_dir, "tls")
    paths = {name: os.path.join(tls_dir, name) for name in ("ca.pem", "server.pem", "server-key.pem")}
    if all(os.path.exists(p) for p in paths.values()):
        return paths
    os.makedirs(tls_dir, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "idmops sandbox CA")])
    ca_cert = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
               .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=365))
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                            content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False, encipher_only=False,
                                            decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
               .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address(HOST))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    with open(paths["ca.pem"], "wb") as handle:
        handle.write(ca_cert.public_bytes(pem))
    with open(paths["server.pem"], "wb") as handle:
        handle.write(cert.public_bytes(pem))
    _write_private(paths["server-key.pem"], key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode("ascii"))
    return paths   # the CA key is not kept: nothing else is ever signed with it


# --- processes ---------------------------------------------------------------------------------------------------

def pid_alive(pid):
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:   # a zombie child of ours counts as dead
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def is_sandbox_process(pid, module):
    """True when ``pid`` still runs ``python -m <module>`` (guards against recycled pids)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return module.encode() in handle.read().split(b"\0")
    except OSError:
        return pid_alive(pid)


def spawn(argv, log_prefix, env_extra):
    env = dict(os.environ)
    env.update(env_extra)
    env["PYTHONPATH"] = REPO + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    out = open(f"{log_prefix}.out", "w", encoding="utf-8")  # pylint: disable=consider-using-with
    err = open(f"{log_prefix}.err", "a", encoding="utf-8")  # pylint: disable=consider-using-with
    try:
        process = subprocess.Popen(argv, cwd=REPO, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
    finally:
        out.close()
        err.close()
    return process


def wait_ready_line(process, log_prefix, deadline):
    """The URL from the child's ``ready <url>`` line; raises if it exits or times out first."""
    path = f"{log_prefix}.out"
    while time.monotonic() < deadline:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("ready "):
                    return line.split(None, 1)[1].strip()
        if process.poll() is not None:
            raise RuntimeError(f"{os.path.basename(log_prefix)} exited with {process.returncode}; "
                               f"see {log_prefix}.err")
        time.sleep(0.05)
    raise RuntimeError(f"{os.path.basename(log_prefix)} did not report ready in time")


def idm_answers(tenant, verify, timeout=3.0):
    try:
        response = requests.get(tenant["idm"]["url"] + "/openidm/info/ping", timeout=timeout, verify=verify)
        return response.status_code == 200 and response.json().get("state") == "ACTIVE_READY"
    except (requests.RequestException, ValueError):
        return False


def scim_module(tenant):
    return tenant["scim"].get("module") or PROVIDERS["sandbox"]


def scim_answers(tenant, verify, timeout=3.0):
    """The provider answers its ServiceProviderConfig (with the tenant's credentials: django_scim wants them)."""
    scim = tenant["scim"]
    auth, headers = None, {}
    if scim.get("auth") == "BASIC":
        auth = (scim["basic_user"], scim["basic_password"])
    elif scim.get("auth") == "TOKEN":
        headers["Authorization"] = f"Bearer {scim['static_token']}"
    try:
        base = scim["endpoint"].rsplit("/scim/", 1)[0]
        response = requests.get(base + "/scim/v2/ServiceProviderConfig", timeout=timeout, verify=verify, auth=auth,
                                headers=headers)
        return response.status_code == 200
    except requests.RequestException:
        return False


def _verify(state):
    return state.get("ca_path") or True


def healthy(state):
    verify = _verify(state)
    for tenant in state.get("tenants", []):
        for kind, module in (("idm", "sandbox.idm"), ("scim", scim_module(tenant))):
            pid = tenant[kind].get("pid")
            if not pid or not pid_alive(pid) or not is_sandbox_process(pid, module):
                return False
        if not idm_answers(tenant, verify) or not scim_answers(tenant, verify):
            return False
    return bool(state.get("tenants"))


def stop_pids(targets, timeout=STOP_TIMEOUT):
    """SIGTERM every ``(pid, module)`` at once, wait for all, SIGKILL stragglers. Returns {pid: outcome}."""
    outcomes, waiting = {}, []
    for pid, module in targets:
        if not pid or not pid_alive(pid):
            outcomes[pid] = "not running"
        elif not is_sandbox_process(pid, module):
            outcomes[pid] = "pid reused by another program; left alone"
        else:
            os.kill(pid, signal.SIGTERM)
            waiting.append(pid)
    deadline = time.monotonic() + timeout
    while waiting and time.monotonic() < deadline:
        for pid in list(waiting):
            _reap(pid)
            if not pid_alive(pid):
                outcomes[pid] = "stopped"
                waiting.remove(pid)
        time.sleep(0.05)
    for pid in waiting:
        os.kill(pid, signal.SIGKILL)
        _reap(pid)
        outcomes[pid] = "killed"
    return outcomes


def stop_pid(pid, module, timeout=STOP_TIMEOUT):
    return stop_pids([(pid, module)], timeout)[pid]


def _reap(pid):
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


# --- profiles ----------------------------------------------------------------------------------------------------

class ProfileError(ValueError):
    """A bad --tenant-profiles file or an option combination no provider supports."""


def default_profile():
    return {"provider": "sandbox", "scim_auth": "OAUTH", "scim_quirks": [], "idm_readings": []}


def _readings(value, where):
    """IDM readings as the strings passed to ``--reading``: ``"alt"`` or ``"NAME=VALUE"``."""
    if isinstance(value, dict):
        items = []
        for name, reading in value.items():
            if name == "alt":
                if reading not in (True, "alt"):
                    raise ProfileError(f"{where}: \"alt\" takes true, got {reading!r}")
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
        raise ProfileError(f"{where}: provider {provider} supports scim_auth {' or '.join(PROVIDER_AUTH[provider])}, "
                           f"not {auth} (it has no OAuth token endpoint)")
    quirks = profile["scim_quirks"]
    if not isinstance(quirks, list) or not all(isinstance(q, str) for q in quirks):
        raise ProfileError(f"{where}: scim_quirks must be a list of quirk names")
    if quirks:
        if provider != "sandbox":
            raise ProfileError(f"{where}: SCIM quirks are switches of the sandbox provider, not of {provider}")
        from sandbox.scim.quirks import parse_quirks  # pylint: disable=import-outside-toplevel
        try:
            profile["scim_quirks"] = sorted(parse_quirks(quirks))
        except ValueError as exc:
            raise ProfileError(f"{where}: {exc}") from None
    if provider != "sandbox" and scim_version != 2:
        raise ProfileError(f"{where}: provider {provider} speaks SCIM 2.0 only (--scim-version 2)")
    return profile


def build_profiles(args):
    """``{tenant name: profile}`` from the options and ``--tenant-profiles``; raises ProfileError."""
    base = {"provider": args.provider, "scim_auth": args.scim_auth or "",
            "scim_quirks": list(args.scim_quirk), "idm_readings": _readings(list(args.idm_reading), "--idm-reading")}
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
            raise ProfileError(f"--tenant-profiles names {name!r}, but the tenants are {', '.join(names)} "
                               f"(raise --tenants)")
        if not isinstance(override, dict) or set(override) - set(PROFILE_KEYS):
            raise ProfileError(f"--tenant-profiles {name}: expected an object with keys among {', '.join(PROFILE_KEYS)}")
    profiles = {}
    for name in names:
        override = overrides.get(name, {})
        profile = copy.deepcopy({**base, **{k: v for k, v in override.items() if k != "idm_readings"}})
        if "idm_readings" in override:
            profile["idm_readings"] = _merge_readings(base["idm_readings"],
                                                      _readings(override["idm_readings"], f"{name}.idm_readings"))
        where = f"tenant profile {name}" if override else "options"
        profiles[name] = _checked(profile, where, args.scim_version,
                                  auth_given=bool(override.get("scim_auth") or args.scim_auth))
    return profiles


# --- commands ----------------------------------------------------------------------------------------------------

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
        "idm": {"username": IDM_ADMIN[0], "password": old["idm"]["password"] if old else IDM_ADMIN[1],
                "noscript_username": NO_SCRIPT_USER,
                "noscript_password": old.get("idm", {}).get("noscript_password") or secrets.token_urlsafe(16),
                "state_dir": os.path.join(tenant_dir, "idm")},
        "scim": {"provider": provider, "module": PROVIDERS[provider], "auth": profile["scim_auth"],
                 "client_id": old_scim.get("client_id") or f"idm-{name}",
                 "client_secret": old_scim.get("client_secret") or secrets.token_urlsafe(24),
                 "basic_user": old_scim.get("basic_user") or f"idm-{name}",
                 "basic_password": old_scim.get("basic_password") or secrets.token_urlsafe(24),
                 "static_token": old_scim.get("static_token") or secrets.token_urlsafe(32),
                 # One store per provider: switching providers never feeds one the other's file.
                 "state": os.path.join(tenant_dir, "scim-state.json" if provider == "sandbox"
                                       else f"{provider}.sqlite3"),
                 "version": scim_version},
    }


def idm_argv(args, plan, index):
    argv = [sys.executable, "-m", "sandbox.idm",
            "--port", str(args.idm_port_base + index - 1 if args.idm_port_base else 0),
            "--state-dir", plan["idm"]["state_dir"], "--connector-start-delay", str(args.connector_start_delay)]
    for reading in plan["profile"]["idm_readings"]:
        argv += ["--reading", reading]
    return argv


def scim_argv(args, plan, index):
    argv = [sys.executable, "-m", plan["scim"]["module"],
            "--port", str(args.scim_port_base + index - 1 if args.scim_port_base else 0),
            "--state", plan["scim"]["state"], "--users", str(args.users), "--groups", str(args.groups),
            "--seed-salt", plan["name"], "--access-log", os.path.join(plan["dir"], "scim-access.log")]
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
    return (len(previous["tenants"]) == args.tenants and bool(previous.get("tls")) == bool(args.tls)
            and previous.get("scim_version") == args.scim_version
            and all(t.get("profile", default_profile()) == profiles[t["name"]] for t in previous["tenants"]))


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
            print(f"sandbox already up ({len(previous['tenants'])} tenants); inventory: "
                  f"{os.path.join(state_dir, 'inventory.yml')}")
            return 0
        print("sandbox state is not healthy or differs from the request; restarting it")
        cmd_down(args, quiet=True)
        previous = load_state(state_dir)

    tls = ensure_tls(state_dir) if args.tls else None
    tenants, processes = [], []
    for index in range(1, args.tenants + 1):
        plan = _tenant_plan(state_dir, previous, index, args.scim_version, profiles[f"tenant{index}"])
        idm_args, scim_args = idm_argv(args, plan, index), scim_argv(args, plan, index)
        if tls:
            for argv in (idm_args, scim_args):
                argv += ["--tls-cert", tls["server.pem"], "--tls-key", tls["server-key.pem"]]
        idm_prefix = os.path.join(plan["dir"], "idm")
        scim_prefix = os.path.join(plan["dir"], "scim")
        idm_env = {"IDM_SANDBOX_ADMIN_PASSWORD": plan["idm"]["password"],
                   "IDM_SANDBOX_NO_SCRIPT_USERS": f"{NO_SCRIPT_USER}:{plan['idm']['noscript_password']}"}
        if tls:
            # As if the sandbox CA were imported into IDM's truststore: the SCIM connector trusts it.
            idm_env.update(REQUESTS_CA_BUNDLE=tls["ca.pem"], SSL_CERT_FILE=tls["ca.pem"])
        idm_proc = spawn(idm_args, idm_prefix, idm_env)
        scim_proc = spawn(scim_args, scim_prefix, scim_env(plan))
        tenants.append(plan)
        processes.append((plan, idm_proc, idm_prefix, scim_proc, scim_prefix))

    state = {"version": 1, "state_dir": state_dir, "tls": bool(tls), "ca_path": tls["ca.pem"] if tls else None,
             "scim_version": args.scim_version, "users": args.users, "groups": args.groups, "tenants": tenants}
    # Seeding the SCIM provider costs about 1 ms a user, more on a busy machine.
    deadline = time.monotonic() + READY_TIMEOUT + args.users * args.tenants / 250
    try:
        for plan, idm_proc, idm_prefix, scim_proc, scim_prefix in processes:
            plan["idm"]["pid"], plan["scim"]["pid"] = idm_proc.pid, scim_proc.pid
            plan["idm"]["url"] = wait_ready_line(idm_proc, idm_prefix, deadline)
            plan["idm"]["port"] = int(plan["idm"]["url"].rsplit(":", 1)[1])
            scim_url = wait_ready_line(scim_proc, scim_prefix, deadline)
            plan["scim"].update({"url": scim_url, "port": int(scim_url.rsplit(":", 1)[1]),
                                 "endpoint": f"{scim_url}/scim/v{args.scim_version}",
                                 "token_endpoint": f"{scim_url}/oauth2/token"})
        verify = _verify(state)
        for plan in tenants:
            while not (idm_answers(plan, verify) and scim_answers(plan, verify)):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{plan['name']} does not answer")
                time.sleep(0.05)
    except RuntimeError as exc:
        save_state(state_dir, state)
        print(f"sandbox up failed: {exc}", file=sys.stderr)
        cmd_down(args, quiet=True)
        return 1
    save_state(state_dir, state)
    write_inventory(state_dir, state)
    for plan in tenants:
        profile = plan["profile"]
        extras = [f"{profile['provider']} provider", profile["scim_auth"]]
        extras += [f"quirks {','.join(profile['scim_quirks'])}"] if profile["scim_quirks"] else []
        extras += [f"readings {','.join(profile['idm_readings'])}"] if profile["idm_readings"] else []
        print(f"{plan['name']}: idm {plan['idm']['url']} (pid {plan['idm']['pid']}), "
              f"scim {plan['scim']['endpoint']} (pid {plan['scim']['pid']}; {'; '.join(extras)})")
    print(f"inventory: {os.path.join(state_dir, 'inventory.yml')}")
    return 0


def cmd_down(args, quiet=False):
    state_dir = os.path.abspath(args.state)
    state = load_state(state_dir)
    if not state:
        if not quiet:
            print("sandbox is not up (no sandbox.json)")
        return 0
    targets = [(t[kind]["pid"], module) for t in state.get("tenants", [])
               for kind, module in (("idm", "sandbox.idm"), ("scim", scim_module(t))) if t[kind].get("pid")]
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
    verify = _verify(state)
    all_ok = True
    for tenant in state["tenants"]:
        for kind, module, check in (("idm", "sandbox.idm", idm_answers), ("scim", scim_module(tenant), scim_answers)):
            pid = tenant[kind].get("pid")
            running = bool(pid) and pid_alive(pid) and is_sandbox_process(pid, module)
            answers = running and check(tenant, verify)
            all_ok &= answers
            where = tenant[kind].get("endpoint") or tenant[kind].get("url") or "-"
            print(f"{tenant['name']:<10} {kind:<5} pid {pid or '-':<8} "
                  f"{'running' if running else 'stopped':<8} {'answers' if answers else 'no answer':<10} {where}")
    return 0 if all_ok else 1


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m sandbox", description="Local IDM + SCIM sandbox")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start one IDM and one SCIM provider per tenant")
    up.add_argument("--tenants", type=int, default=1)
    up.add_argument("--users", type=int, default=20, help="SCIM users seeded into a new tenant")
    up.add_argument("--groups", type=int, default=3, help="SCIM groups seeded into a new tenant")
    up.add_argument("--tls", action="store_true", help="serve IDM and SCIM over https with a generated CA")
    up.add_argument("--scim-version", type=int, choices=(1, 2), default=2)
    up.add_argument("--idm-port-base", type=int, default=0, help="tenant N's IDM port = base + N - 1 (0 = free)")
    up.add_argument("--scim-port-base", type=int, default=0, help="tenant N's SCIM port = base + N - 1 (0 = free)")
    up.add_argument("--connector-start-delay", type=float, default=1.0)
    up.add_argument("--provider", choices=tuple(PROVIDERS), default="sandbox",
                    help="SCIM server: the sandbox provider (scim2-server) or django_scim (django-scim2-server)")
    up.add_argument("--scim-auth", choices=AUTH_METHODS, default=None,
                    help="the provider's auth method (default: OAUTH, or TOKEN for django_scim)")
    up.add_argument("--scim-quirk", action="append", default=[], metavar="NAME",
                    help="sandbox provider quirk (repeatable): omit_unassigned, compute_name_formatted, "
                         "no_enterprise, bare_members, ignore_count")
    up.add_argument("--idm-reading", action="append", default=[], metavar="NAME=VALUE",
                    help="passed to every IDM as --reading (repeatable; 'alt' = every alternative reading)")
    up.add_argument("--tenant-profiles", metavar="FILE",
                    help="JSON {tenantN: {provider, scim_auth, scim_quirks, idm_readings}} overriding the options")
    for name, command in (("down", "stop what up started"), ("status", "show processes and health")):
        sub.add_parser(name, help=command)
    for command in sub.choices.values():
        command.add_argument("--state", default=default_state_dir(), help="state directory")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.command == "up":
        if args.tenants < 1:
            print("--tenants must be at least 1", file=sys.stderr)
            return 2
        return cmd_up(args)
    if args.command == "down":
        return cmd_down(args)
    return cmd_status(args)
