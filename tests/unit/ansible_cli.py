# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Ansible command-line tools of this venv, run against the collection as ``make setup`` links it: for the
tests that need what only ``ansible-playbook`` or ``ansible-doc`` do (role tasks, role documentation)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

# The real path: imported through .venv/collroot, __file__ is below the symlink to the repository.
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
COLLECTIONS = os.path.join(REPO, ".venv", "collroot")
needs_collection = pytest.mark.skipif(
    not os.path.isdir(os.path.join(COLLECTIONS, "ansible_collections")),
    reason="needs the collection symlink made by make setup",
)
_FAILED_TASK = re.compile(r"^fatal: \[localhost\]: FAILED! => (\{.*\})$", re.MULTILINE)


def ansible_tool(tool, *args, check=False):
    """``tool`` (``ansible-playbook``, ``ansible-doc``) with ``args``; the finished process, output as text."""
    env = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=COLLECTIONS,
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default",
        ANSIBLE_LOCALHOST_WARNING="0",
    )
    command = [os.path.join(os.path.dirname(sys.executable), tool), *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=check)


def run_play(tmp_path, play, variables):
    """``play`` (YAML text) on localhost with ``variables`` as extra vars: ``(process, failure)``, where
    ``failure`` is the ``msg`` of the task that failed, or None."""
    playbook = tmp_path / "play.yml"
    playbook.write_text(play)
    extra = tmp_path / "vars.json"
    extra.write_text(json.dumps(variables))
    process = ansible_tool(
        "ansible-playbook",
        "-i",
        "localhost,",
        "-c",
        "local",
        "-e",
        "ansible_python_interpreter=" + sys.executable,
        "-e",
        "@" + str(extra),
        str(playbook),
    )
    failed = _FAILED_TASK.search(process.stdout)
    return process, json.loads(failed.group(1))["msg"] if failed else None
