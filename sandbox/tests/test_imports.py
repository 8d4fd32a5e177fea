"""Every sandbox module imports on its own: no import cycle, no module that works only after another was imported.

A driver process (started fresh, without any sandbox module loaded) forks one child per module; each child
imports exactly that module into an interpreter where no other sandbox module is loaded yet. The driver imports the
third-party libraries first, so the children share them and the test stays fast; they play no part in how sandbox
modules find each other. Modules of the Django project (``sandbox.django_scim``) are imported after
``django.setup()``, which is Django's own precondition for a project module (its middleware uses the app registry).
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

SANDBOX = pathlib.Path(__file__).resolve().parents[1]
REPO = SANDBOX.parent

DRIVER = r"""
import importlib, json, os, sys, traceback
for library in ("cheroot.wsgi", "cryptography.hazmat.primitives.ciphers", "quickjs", "requests", "yaml",
                "scim2_models", "scim2_server.service", "django"):
    importlib.import_module(library)
assert not [name for name in sys.modules if name == "sandbox" or name.startswith("sandbox.")]
failures = {}
for name in json.loads(sys.argv[1]):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            if name.startswith("sandbox.django_scim"):
                import django
                django.setup()
            importlib.import_module(name)
            os._exit(0)
        except BaseException:
            os.write(write, traceback.format_exc(limit=4).encode())
            os._exit(1)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        error = pipe.read().decode()
    _, status = os.waitpid(pid, 0)
    if status != 0:
        failures[name] = error or f"exit status {status}"
print(json.dumps(failures))
"""


def sandbox_modules() -> list[str]:
    names = []
    for path in sorted(SANDBOX.rglob("*.py")):
        relative = path.relative_to(REPO).with_suffix("")
        if "tests" in relative.parts:
            continue
        parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
        names.append(".".join(parts))
    return names


def test_every_sandbox_module_imports_on_its_own():
    modules = sandbox_modules()
    assert "sandbox.idm.sync.recon" in modules and "sandbox.scim.v1" in modules
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="sandbox.django_scim.settings", DJANGO_SCIM_DB=":memory:")
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, json.dumps(modules)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    failures = json.loads(done.stdout.splitlines()[-1])
    assert failures == {}, "\n".join(f"{name}:\n{error}" for name, error in failures.items())
