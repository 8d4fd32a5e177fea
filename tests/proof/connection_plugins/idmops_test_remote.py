# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A connection for the proof tests only: it runs commands on this machine like ansible.builtin.local, but under
another name, so the collection's action plugins treat it as a remote host (as they would an ssh bastion)."""

from __future__ import annotations

from ansible.plugins.connection.local import Connection as LocalConnection

DOCUMENTATION = r"""
name: idmops_test_remote
short_description: Local execution that does not call itself local (tests only)
description:
  - Runs commands on the controller like ansible.builtin.local; its name makes it a non-local connection.
author: idmops.pingidm contributors
"""


class Connection(LocalConnection):
    transport = "idmops_test_remote"
