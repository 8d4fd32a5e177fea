# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An action plugin of the collection as the controller builds it for a task, with the module call recorded."""

from __future__ import annotations

from unittest.mock import MagicMock

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar


def make_action(action_module, args, playbook_dir, resolved="idmops.pingidm.config"):
    """``(action, calls)``: the ``ActionModule`` of ``action_module`` for a task with ``args`` in a playbook in
    ``playbook_dir``. Running it executes no module: each call appends ``(module name, module args)`` to ``calls``
    and answers ``{"changed": false, "module_args_seen": [the args' names]}``."""
    task = MagicMock()
    task.args = args
    task.action = resolved.split(".")[-1]
    task.resolved_action = resolved
    task.async_val = 0
    task.check_mode = False
    task.diff = False
    task.get_search_path.return_value = [str(playbook_dir)]
    loader = DataLoader()
    loader.set_basedir(str(playbook_dir))
    action = action_module.ActionModule(task, MagicMock(), MagicMock(), loader, Templar(loader=loader), MagicMock())
    calls = []

    def execute_module(module_name=None, module_args=None, task_vars=None, **kwargs):
        calls.append((module_name, module_args))
        return {"changed": False, "module_args_seen": sorted(module_args)}

    action._execute_module = execute_module  # pylint: disable=protected-access
    return action, calls
