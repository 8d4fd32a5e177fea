# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""IDM's synchronization vocabulary: situations, actions, the default policy table. The one place that names them.

PRIVATE to the collection: names here can change without notice.

Sources: OpenIDM ``Situation.java`` / ``ReconAction.java`` (the default action per situation) and the PingIDM 7/8
synchronization guide; ``TARGET_CHANGED``, ``SOURCE_TARGET_CONFLICT`` and ``INCORPORATE_CHANGES`` are Identity
Cloud additions. IDM reads situation and action names with Java's ``valueOf``: they are case-sensitive.
"""

from __future__ import annotations

# IDM's default action per situation when a mapping has no policy for it (Situation.java). Where IDM's docs say
# IGNORE (SOURCE_IGNORED, TARGET_IGNORED, ALL_GONE) the code says REPORT/NOREPORT; both write nothing.
DEFAULT_POLICY_ACTIONS = {
    "CONFIRMED": "UPDATE",
    "FOUND": "UPDATE",
    "FOUND_ALREADY_LINKED": "EXCEPTION",
    "ABSENT": "CREATE",
    "AMBIGUOUS": "EXCEPTION",
    "MISSING": "EXCEPTION",
    "UNQUALIFIED": "DELETE",
    "SOURCE_IGNORED": "REPORT",
    "TARGET_IGNORED": "REPORT",
    "LINK_ONLY": "EXCEPTION",
    "ALL_GONE": "NOREPORT",
    "UNASSIGNED": "EXCEPTION",
    "SOURCE_MISSING": "EXCEPTION",
}

# Identity Cloud only; their default action is not documented.
CLOUD_SITUATIONS = ("TARGET_CHANGED", "SOURCE_TARGET_CONFLICT")
SITUATIONS = tuple(DEFAULT_POLICY_ACTIONS) + CLOUD_SITUATIONS

ACTIONS = ("CREATE", "UPDATE", "DELETE", "LINK", "UNLINK", "EXCEPTION", "IGNORE", "REPORT", "NOREPORT", "ASYNC",
           "INCORPORATE_CHANGES")

# What a policy whose action is a script (decided per entry) counts as, where a fixed name is needed.
SCRIPT_ACTION = "SCRIPT"

# EXCEPTION flags the entry: IDM writes nothing and, in the OpenIDM source (SourceRecon/TargetRecon), counts the
# entry as SUCCESS in statusSummary with the exception message in its audit entry.
EXCEPTION_ACTION = "EXCEPTION"

# Actions whose write a recon run summary counts, and the counter that counts it.
ACTION_COUNTERS = {"CREATE": "created", "DELETE": "deleted", "LINK": "links_created", "UNLINK": "links_deleted"}

# Situations without a link whose UPDATE first links the correlated target: the link is a write for sure.
LINKING_UPDATE_SITUATIONS = frozenset(("FOUND", "FOUND_ALREADY_LINKED"))


def policy_actions(mapping_config):
    """situation -> action for a mapping: its ``policies`` over IDM's defaults.

    The first policy of a situation counts (IDM takes the first whose ``condition`` passes; a condition cannot be
    evaluated here). An action that is a script object is ``SCRIPT``.
    """
    actions = dict(DEFAULT_POLICY_ACTIONS)
    seen = set()
    policies = mapping_config.get("policies") if isinstance(mapping_config, dict) else None
    for policy in policies or []:
        if not isinstance(policy, dict) or not isinstance(policy.get("situation"), str):
            continue
        situation = policy["situation"]
        if situation in seen:
            continue
        seen.add(situation)
        action = policy.get("action")
        actions[situation] = action.upper() if isinstance(action, str) else SCRIPT_ACTION
    return actions
