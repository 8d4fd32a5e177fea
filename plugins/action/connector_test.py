# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Action plugin of idmops.pingidm.connector_test: runs the module in the controller process when the task runs there."""

from __future__ import annotations

from ansible_collections.idmops.pingidm.plugins.modules import connector_test
from ansible_collections.idmops.pingidm.plugins.plugin_utils._inprocess import InProcessAction


class ActionModule(InProcessAction):
    MODULE = connector_test
