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

Modules: ``commands`` (up, down, status), ``profiles`` (per-tenant behaviour), ``processes`` (spawn, health,
stop), ``state`` (sandbox.json, inventory.yml), ``tls`` (the CA), ``common`` (shared names).
"""

from __future__ import annotations

import argparse
import sys

from .commands import cmd_down, cmd_status, cmd_up
from .common import AUTH_METHODS, PROVIDERS, default_state_dir


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
    up.add_argument(
        "--provider",
        choices=tuple(PROVIDERS),
        default="sandbox",
        help="SCIM server: the sandbox provider (scim2-server) or django_scim (django-scim2-server)",
    )
    up.add_argument(
        "--scim-auth",
        choices=AUTH_METHODS,
        default=None,
        help="the provider's auth method (default: OAUTH, or TOKEN for django_scim)",
    )
    up.add_argument(
        "--scim-quirk",
        action="append",
        default=[],
        metavar="NAME",
        help="sandbox provider quirk (repeatable): omit_unassigned, compute_name_formatted, "
        "no_enterprise, bare_members, ignore_count",
    )
    up.add_argument(
        "--idm-reading",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="passed to every IDM as --reading (repeatable; 'alt' = every alternative reading)",
    )
    up.add_argument(
        "--tenant-profiles",
        metavar="FILE",
        help="JSON {tenantN: {provider, scim_auth, scim_quirks, idm_readings}} overriding the options",
    )
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
