# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Controller side of the ``template`` option: render a Jinja template to JSON/YAML data for a module.

PRIVATE to the collection. Used by the action plugins config, connector and mapping (kubernetes.core k8s pattern):
the template is found like ``ansible.builtin.template`` finds its ``src`` (role/playbook ``templates/``), then in
the collection's ``conf_templates/``; rendered with the task variables; parsed; and handed to the module in its
data option. The module never sees ``template``.
"""

from __future__ import annotations

import json
import os

import yaml

from ansible.errors import AnsibleError, AnsibleActionFail
from ansible.module_utils.common.text.converters import to_text
from ansible.template import trust_as_template  # file text must be marked trusted before it is templated

from ansible_collections.idmops.pingidm.plugins.plugin_utils._inprocess import InProcessAction

# plugins/plugin_utils/_render.py -> collection root
COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTION_TEMPLATES = os.path.join(COLLECTION_ROOT, "conf_templates")


class TemplateError(AnsibleActionFail):
    pass


def parse_rendered(text, name):
    """JSON (a document starting with { or [) or else YAML; errors give line and column, never content."""
    stripped = text.strip()
    if not stripped:
        raise TemplateError("Template %s rendered to an empty document." % name)
    if stripped[0] in "{[":
        try:
            return json.loads(text)
        except ValueError as exc:
            line, col = getattr(exc, "lineno", "?"), getattr(exc, "colno", "?")
            message = getattr(exc, "msg", str(exc))
            raise TemplateError("Template %s did not render valid JSON: %s at line %s column %s of the rendered "
                                "text. Render it with ansible.builtin.template to inspect it."
                                % (name, message, line, col))
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = " at line %d column %d" % (mark.line + 1, mark.column + 1) if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid document"
        raise TemplateError("Template %s rendered neither JSON nor valid YAML: %s%s of the rendered text."
                            % (name, problem, where))


class RenderTemplateAction(InProcessAction):
    """Action plugin of a module with a ``template`` option: renders it, then runs the module (in process when it
    can, see ``_inprocess``). Subclasses set MODULE and DATA_OPTIONS and may override to_module_args."""

    DATA_OPTIONS = ("config",)

    def find_template(self, path):
        """Absolute path of the template: ansible.builtin.template's search, then conf_templates/."""
        if os.path.isabs(path):
            if os.path.isfile(path):
                return path
            raise TemplateError("Template %s not found (absolute path)." % path)
        try:
            return self._find_needle("templates", path)
        except AnsibleError:
            pass
        candidate = os.path.join(COLLECTION_TEMPLATES, path)
        if os.path.isfile(candidate):
            return candidate
        raise TemplateError("Template %s not found. Looked in the role's and playbook's templates/ directories "
                            "(like ansible.builtin.template) and in the collection's conf_templates/ (%s)."
                            % (path, COLLECTION_TEMPLATES))

    def render(self, source, task_vars):
        try:
            text = self._loader.get_text_file_contents(source)
        except (AnsibleError, OSError) as exc:
            raise TemplateError("Could not read template %s: %s" % (source, to_text(exc)))
        searchpath = list(task_vars.get("ansible_search_path", []))
        searchpath.extend([self._loader.get_basedir(), os.path.dirname(source)])
        searchpath = [p for base in searchpath for p in (os.path.join(base, "templates"), base)]
        # Last: the collection's templates, so a copied template still imports the helpers it ships with
        # (scim_attributes.j2).
        searchpath.append(COLLECTION_TEMPLATES)
        templar = self._templar.copy_with_new_env(searchpath=searchpath, available_variables=task_vars)
        try:
            return templar.template(trust_as_template(text), escape_backslashes=False)
        except AnsibleError as exc:
            # Jinja syntax errors and undefined variables; the message names the expression, not values.
            raise TemplateError("Rendering template %s failed: %s" % (source, to_text(exc.message or exc)))

    def to_module_args(self, args, data, name):
        """Put the parsed data into the module's data option."""
        if not isinstance(data, dict):
            raise TemplateError("Template %s must render a JSON object for option %s, not %s."
                                % (name, self.DATA_OPTIONS[0], type(data).__name__))
        args[self.DATA_OPTIONS[0]] = data
        return args

    def module_args(self, task_vars):
        """The task's arguments with ``template`` rendered into the module's data option."""
        args = dict(self._task.args)
        template = args.pop("template", None)
        if template is None:
            return args
        given = [option for option in self.DATA_OPTIONS if args.get(option) is not None]
        if given:
            raise AnsibleActionFail("template and %s are mutually exclusive; give one of them." % given[0])
        if not isinstance(template, str):
            raise AnsibleActionFail("template must be a path (a string), got %s." % type(template).__name__)
        source = self.find_template(template)
        rendered = self.render(source, task_vars)
        if rendered is None:  # 2.19 renders an empty template to None
            rendered = ""
        data = parse_rendered(rendered, template) if isinstance(rendered, str) else rendered
        return self.to_module_args(args, data, template)
