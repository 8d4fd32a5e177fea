# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The skeleton every module of the collection shares: its spec, its failure type, its run loop.

PRIVATE to the collection: names here can change without notice.

A module file declares ``module_spec()`` (options and rules) and ``run(module)`` (the decision), and its
``main()`` is ``IdmModule(module_spec()).execute(run)``. The same two functions run in the controller process
through the collection's action plugins (``plugins/plugin_utils/_inprocess.py``), on an ``AnsibleModule``
look-alike that mixes in the same ``ModuleMixin``: validation, check mode, secrets and failures behave the same
on both paths because they are this code.

``run(module)`` returns the result dict, or raises ``ModuleFailure(msg, **result)``; an ``ApiError`` that escapes
becomes a failure with the request's method, path and status. ``module.client`` is the IDM client, created on
first use and always closed.
"""

from __future__ import annotations

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.common.validation import check_type_dict

from ansible_collections.idmops.pingidm.plugins.module_utils import _client, _compare, _http, _transport


class ModuleFailure(Exception):
    """The one way a module's logic fails: a message for the user and the result fields that go with it."""

    def __init__(self, msg, **result):
        super(ModuleFailure, self).__init__(msg)
        self.msg = msg
        self.result = result


class ModuleSpec(object):
    """The options and rules of one module, as ``AnsibleModule`` takes them.

    ``connection=True`` merges the IDM connection options (doc fragment ``idmops.pingidm.connection``) and their
    ``required_if`` rules into the module's own. ``document_options`` names the options that carry IDM documents:
    the clear secrets inside them (``clientSecret``, ``password``...) are no_log values from the first moment.
    """

    def __init__(self, options, connection=True, supports_check_mode=True, mutually_exclusive=None,
                 required_together=None, required_one_of=None, required_if=None, required_by=None,
                 document_options=()):
        self.argument_spec = _client.idm_argument_spec() if connection else {}
        self.argument_spec.update(options)
        self.connection = connection
        self.document_options = tuple(document_options)
        self.supports_check_mode = supports_check_mode
        self.mutually_exclusive = list(mutually_exclusive or [])
        self.required_together = list(required_together or [])
        self.required_one_of = list(required_one_of or [])
        self.required_if = (list(_client.IDM_REQUIRED_IF) if connection else []) + list(required_if or [])
        self.required_by = dict(required_by or {})

    def kwargs(self):
        """Keyword arguments for ``AnsibleModule`` (and the in-process look-alike)."""
        return dict(argument_spec=self.argument_spec, supports_check_mode=self.supports_check_mode,
                    mutually_exclusive=self.mutually_exclusive, required_together=self.required_together,
                    required_one_of=self.required_one_of, required_if=self.required_if,
                    required_by=self.required_by)

    def document_secrets(self, params):
        """Clear secrets in the document options of raw (not yet validated) ``params``.

        Known before validation so that neither a validation failure (its ``invocation``) nor the module's
        syslog entry can show them; a document given as a JSON string is read the way validation will read it.
        """
        found = set()
        for option in self.document_options:
            value = params.get(option)
            if isinstance(value, str):
                try:
                    value = check_type_dict(value)
                except (TypeError, ValueError):
                    continue  # validation will refuse it; a string that is no document holds no secret key
            found.update(_compare.secret_values(value))
        return found


class ModuleMixin(object):
    """What module logic relies on besides the ``AnsibleModule`` surface: the client and the run loop."""

    _idm_client = None

    @property
    def client(self):
        """The IDM client for the connection options, created on first use."""
        if self._idm_client is None:
            if not _transport.HAS_REQUESTS:
                raise ModuleFailure(missing_required_lib("requests"), exception=_transport.REQUESTS_IMPORT_ERROR)
            try:
                self._idm_client = _client.IdmClient.from_params(self.params)
            except ValueError as exc:
                raise ModuleFailure(str(exc))
        return self._idm_client

    def execute(self, logic):
        """Run ``logic(self)`` and exit with its result, or fail with its ``ModuleFailure``/``ApiError``."""
        try:
            try:
                result = logic(self)
            finally:
                if self._idm_client is not None:
                    self._idm_client.close()
                    self._idm_client = None
        except ModuleFailure as exc:
            result = dict(exc.result)
            result.setdefault("changed", False)
            self.fail_json(msg=exc.msg, **result)
        except _http.ApiError as exc:
            result = exc.as_result()
            result["changed"] = False
            self.fail_json(msg=str(exc), **result)
        except Exception as exc:  # a defect: fail through fail_json, whose scrub keeps secrets out of the text
            self.fail_json(msg="%s failed unexpectedly: %s: %s" % (self._name, type(exc).__name__, exc),
                           exception=traceback.format_exc(), changed=False)
        self.exit_json(**result)


def refuse_template(module, fqcn, data_option):
    """``template`` reaches the module only when the action plugin was bypassed: say how to call it instead."""
    if module.params.get("template") is not None:
        raise ModuleFailure("template must be rendered on the controller by the %s action plugin; call the module "
                            "by its FQCN %s or pass %s instead." % (fqcn, fqcn, data_option))


class IdmModule(ModuleMixin, AnsibleModule):
    """``AnsibleModule`` for a ``ModuleSpec``: the module path (a separate Python process per task)."""

    def __init__(self, spec):
        self._spec = spec
        AnsibleModule.__init__(self, **spec.kwargs())

    def _load_params(self):
        # AnsibleModule validates, may fail (with the arguments as its invocation) and logs the arguments right
        # after loading them: the document secrets must be no_log values before any of that.
        AnsibleModule._load_params(self)
        self.no_log_values.update(self._spec.document_secrets(self.params))
