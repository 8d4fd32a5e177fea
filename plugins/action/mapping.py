# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Action plugin of idmops.pingidm.mapping: renders `template` on the controller into `mapping` or `mappings`.

A template may render one mapping (an object with `name`), a list of mappings, or `{"mappings": [...]}`
(the shape of IDM's sync.json).
"""

from __future__ import annotations

from ansible_collections.idmops.pingidm.plugins.modules import mapping
from ansible_collections.idmops.pingidm.plugins.plugin_utils._render import RenderTemplateAction, TemplateError


class ActionModule(RenderTemplateAction):
    MODULE = mapping
    DATA_OPTIONS = ("mapping", "mappings")

    def to_module_args(self, args, data, name):
        if isinstance(data, dict) and isinstance(data.get("mappings"), list):
            args["mappings"] = data["mappings"]
        elif isinstance(data, list):
            args["mappings"] = data
        elif isinstance(data, dict):
            args["mapping"] = data
            if args.get("name") is None and isinstance(data.get("name"), str):
                args["name"] = data["name"]
        else:
            raise TemplateError("Template %s must render a mapping (an object), a list of mappings or "
                                "{\"mappings\": [...]}, not %s." % (name, type(data).__name__))
        return args
