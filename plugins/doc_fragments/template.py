# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment(object):
    """The O(template) option, rendered on the controller by the collection's action plugin."""

    DOCUMENTATION = r"""
options:
  template:
    description:
      - Jinja2 template of the JSON (or YAML) document, rendered on the controller with the task's variables,
        like M(ansible.builtin.template).
      - A relative path is looked up like M(ansible.builtin.template) does (the role's C(templates/), the playbook's
        C(templates/) and directory), then in the collection's C(conf_templates/) directory.
      - The rendered text is parsed as JSON, or as YAML when it is not JSON, and passed to the module as its data option.
      - Mutually exclusive with the data option.
    type: path
attributes:
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
    support: full
    details:
      - The collection's action plugin renders O(template) on the controller; the module itself runs as usual.
notes:
  - Rendered templates often hold secrets. Their values never appear in the module's output, C(diff) or messages,
    but use C(no_log) on the task if the rest of the document is sensitive too.
"""
