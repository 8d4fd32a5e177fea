# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Run a module of this collection inside the controller's worker process instead of as a module process.

PRIVATE to the collection: names here can change without notice. ONLY for action plugins.

A module task costs Ansible about half a CPU-second per host (AnsiballZ packaging, a fork, a new interpreter,
imports); the REST work itself takes milliseconds. The modules of this collection only talk HTTP, so when a task
runs on the controller anyway (``connection: local``), ``InProcessAction`` calls the module's own
``module_spec()`` and ``run()`` here, on ``InProcessModule``, an ``AnsibleModule`` look-alike with the same
``ModuleMixin``. What a module process gave for free is reproduced explicitly:

- the arguments are plain data, as a module would decode them (the controller-to-module JSON profile);
- validation is ansible-core's ``ArgumentSpecValidator`` on the module's own spec: aliases, choices, fallbacks
  (with the task's ``environment:`` applied to ``os.environ`` for the duration), ``required_*``, deprecations;
- check mode and diff mode come from the task; every ``no_log`` value and every value the module adds to
  ``no_log_values`` is removed from results, warnings and failure texts, tracebacks included;
- ``async`` is refused with a message: the REST calls are short, and a module process cannot be polled here.

The module path (``_execute_module``) stays: it is used when the task does not run on the controller (for example
``delegate_to`` a bastion with an ssh connection) or when forced with the variable ``idmops_pingidm_execution``
or the environment variable ``IDMOPS_PINGIDM_EXECUTION`` (``auto``, ``controller`` or ``module``).
"""

from __future__ import annotations

import json
import os
import traceback
from contextlib import contextmanager

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.json import Direction, get_module_decoder, get_module_encoder
from ansible.module_utils.common.parameters import remove_values
from ansible.module_utils.errors import UnsupportedError
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.idmops.pingidm.plugins.module_utils._module import ModuleMixin

display = Display()

EXECUTION_VARIABLE = "idmops_pingidm_execution"
EXECUTION_ENV = "IDMOPS_PINGIDM_EXECUTION"
EXECUTION_CHOICES = ("auto", "controller", "module")
LOCAL_CONNECTIONS = frozenset(("local", "ansible.builtin.local"))


class ModuleExit(BaseException):
    """Raised by InProcessModule.exit_json/fail_json: carries the finished (scrubbed) result.

    A BaseException, like the SystemExit of AnsibleModule, so an ``except Exception`` in module code never
    swallows the module's exit.
    """

    def __init__(self, result):
        super(ModuleExit, self).__init__("module exited")
        self.result = result


def plain_data(value, direction=Direction.CONTROLLER_TO_MODULE):
    """``value`` as a module process would have received it (or the controller its result): plain JSON types."""
    encoded = json.dumps(value, cls=get_module_encoder("legacy", direction))
    return json.loads(encoded, cls=get_module_decoder("legacy", direction))


@contextmanager
def environment(variables):
    """Apply the task's ``environment:`` to os.environ (env fallbacks, proxies, CA bundles), then restore it."""
    saved = dict((name, os.environ.get(name)) for name in variables)
    try:
        for name, value in variables.items():
            os.environ[name] = str(value)
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def known_secrets(spec, args):
    """Values given for no_log options (and their aliases) and the clear secrets in document options, known
    even before validation succeeds."""
    found = spec.document_secrets(args)
    for option, option_spec in spec.argument_spec.items():
        if not option_spec.get("no_log"):
            continue
        for key in [option] + list(option_spec.get("aliases") or []):
            value = args.get(key)
            if isinstance(value, str) and value:
                found.add(value)
    return found


class InProcessModule(ModuleMixin):
    """The ``AnsibleModule`` surface this collection's modules use, for a run inside the worker process."""

    def __init__(self, spec, args, name, check_mode=False, diff=False, verbosity=0):
        self._name = name
        self.argument_spec = spec.argument_spec
        self.supports_check_mode = spec.supports_check_mode
        self.check_mode = check_mode
        self._diff = diff
        self._verbosity = verbosity
        self.no_log_values = set()
        self._warnings = []
        self._deprecations = []
        self.params = dict(args)
        self.no_log_values.update(known_secrets(spec, args))
        validator = ArgumentSpecValidator(spec.argument_spec, spec.mutually_exclusive, spec.required_together,
                                          spec.required_one_of, spec.required_if, spec.required_by)
        validation = validator.validate(self.params)
        self.no_log_values.update(validation._no_log_values)
        self.params.update(validation.validated_parameters)
        for item in validation._deprecations:
            self.deprecate(item["msg"], version=item.get("version"), date=item.get("date"),
                           collection_name=item.get("collection_name"))
        for item in validation._warnings:
            self.warn("Both option %s and its alias %s are set." % (item["option"], item["alias"]))
        try:
            first_error = validation.errors[0]
        except IndexError:  # the error collection is always truthy; only indexing tells it is empty
            first_error = None
        if first_error is not None:
            msg = validation.errors.msg
            if isinstance(first_error, UnsupportedError):
                msg = "Unsupported parameters for (%s) module: %s" % (name, msg)
            self.fail_json(msg=msg)
        if check_mode and not self.supports_check_mode:
            self.exit_json(skipped=True, msg="module (%s) does not support check mode" % name)

    # AnsibleModule surface ---------------------------------------------------------------------------------

    def warn(self, warning):
        if not isinstance(warning, str):
            raise TypeError("warn requires a string not a %s" % type(warning))
        self._warnings.append(warning)

    def deprecate(self, msg, version=None, date=None, collection_name=None):
        entry = {"msg": msg, "collection_name": collection_name}
        if date is not None:
            entry["date"] = date
        else:
            entry["version"] = version
        self._deprecations.append(entry)

    def exit_json(self, **kwargs):
        kwargs.setdefault("changed", False)
        kwargs["failed"] = False
        self._finish(kwargs)

    def fail_json(self, msg, **kwargs):
        kwargs["failed"] = True
        kwargs["msg"] = msg
        if isinstance(kwargs.get("exception"), BaseException):
            exc = kwargs["exception"]
            kwargs["exception"] = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        self._finish(kwargs)

    def _finish(self, kwargs):
        kwargs.setdefault("invocation", {"module_args": self.params})
        if self._warnings:
            kwargs["warnings"] = list(self._warnings)
        if self._deprecations:
            kwargs["deprecations"] = list(self._deprecations)
        # One scrub for every way out: results, diffs, warnings, messages and tracebacks.
        raise ModuleExit(remove_values(kwargs, self.no_log_values))


def execution_mode(task_vars):
    """``auto``, ``controller`` or ``module``: the task variable wins over the environment variable."""
    mode = task_vars.get(EXECUTION_VARIABLE)
    if mode is None:
        mode = os.environ.get(EXECUTION_ENV)
    mode = str(mode or "auto").strip().lower()
    if mode not in EXECUTION_CHOICES:
        raise AnsibleActionFail("%s must be one of %s, got %r." % (EXECUTION_VARIABLE, ", ".join(EXECUTION_CHOICES),
                                                                   mode))
    return mode


class InProcessAction(ActionBase):
    """Action plugin that runs ``MODULE`` (a module file of this collection) in process when it can."""

    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False

    MODULE = None  # the imported module file: module_spec() and run(module)

    def module_name(self):
        return getattr(self._task, "resolved_action", None) or self._task.action

    def module_args(self, task_vars):
        """The module's arguments; subclasses may render a template here."""
        return dict(self._task.args)

    def runs_on_controller(self, task_vars):
        # task_vars hold the variable as written: "{{ ... }}" is resolved here, as for any other task variable.
        mode = execution_mode({EXECUTION_VARIABLE: self._templar.template(task_vars.get(EXECUTION_VARIABLE))})
        if mode != "auto":
            return mode == "controller"
        transport = getattr(self._connection, "transport", None)
        load_name = getattr(self._connection, "_load_name", None)
        return transport in LOCAL_CONNECTIONS or load_name in LOCAL_CONNECTIONS

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        if self._task.async_val:
            raise AnsibleActionFail("%s does not support async: its REST calls are short, and a recon waits for "
                                    "itself (wait, wait_timeout). Use wait=false on recon to start a run without "
                                    "waiting." % self.module_name())
        result = super(InProcessAction, self).run(tmp, task_vars)
        del tmp
        args = self.module_args(task_vars)
        if self.runs_on_controller(task_vars):
            result.update(self.run_in_process(args))
        else:
            result.update(self._execute_module(module_name=self.module_name(), module_args=args,
                                               task_vars=task_vars))
        return result

    def run_in_process(self, args):
        variables = {}
        self._compute_environment_string(variables)
        module = None
        try:
            with environment(variables):
                module = InProcessModule(self.MODULE.module_spec(), plain_data(args), self.module_name(),
                                         check_mode=bool(self._task.check_mode), diff=bool(self._task.diff),
                                         verbosity=display.verbosity)
                module.execute(self.MODULE.run)
        except ModuleExit as done:
            return plain_data(done.result, Direction.MODULE_TO_CONTROLLER)
        except Exception as exc:  # a defect in this shim: report it, never with a secret in it
            if module is not None:
                secrets = module.no_log_values
            else:
                secrets = known_secrets(self.MODULE.module_spec(), args)
            return remove_values({"failed": True, "changed": False,
                                  "msg": "%s failed unexpectedly: %s" % (self.module_name(), exc),
                                  "exception": traceback.format_exc()}, secrets)
        return {"failed": True, "msg": "Internal error: %s ended without a result." % self.module_name()}
