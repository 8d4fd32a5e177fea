# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Action plugin of idmops.pingidm.config: renders `template` on the controller into the
`config` option, then runs the module (in the controller process when the task runs there)."""

from __future__ import annotations

from ansible_collections.idmops.pingidm.plugins.modules import config
from ansible_collections.idmops.pingidm.plugins.plugin_utils._render import RenderTemplateAction


class ActionModule(RenderTemplateAction):
    MODULE = config
    DATA_OPTIONS = ("config",)
