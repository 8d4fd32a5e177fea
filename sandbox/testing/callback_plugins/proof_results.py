# Test-only callback of the test harness (sandbox.testing) for the proof tests and benchmarks (never shipped: the
# sandbox is build_ignore'd and not a plugin path of the collection). It writes every task result, as Ansible hands
# it to callbacks (after no_log censoring), to the JSON file named by PROOF_RESULTS_FILE, with wall-clock start and
# end times per task and host.
from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: proof_results
type: aggregate
short_description: write task results with timestamps to PROOF_RESULTS_FILE
description: Test helper of sandbox.testing for tests/proof and benchmarks.
requirements: [the PROOF_RESULTS_FILE environment variable]
"""


def _plain(value):
    """Results can hold Ansible's tagged strings and other wrappers; make them JSON-safe."""
    try:
        return json.loads(json.dumps(value, default=str))
    except (TypeError, ValueError):
        return str(value)


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "proof_results"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._path = os.environ.get("PROOF_RESULTS_FILE")
        self._records = []
        self._task_started = {}
        self._stats = {}

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._task_started[task._uuid] = time.time()

    def v2_playbook_on_handler_task_start(self, task):
        self._task_started[task._uuid] = time.time()

    def _record(self, result, status):
        task = result._task
        self._records.append(
            {
                "task": task.get_name(),
                "action": task.action,
                "host": result._host.get_name(),
                "status": status,
                "started": self._task_started.get(task._uuid),
                "ended": time.time(),
                "result": _plain(result._result),
            }
        )

    def v2_runner_on_ok(self, result):
        self._record(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "ignored" if ignore_errors else "failed")

    def v2_runner_on_unreachable(self, result):
        self._record(result, "unreachable")

    def v2_runner_on_skipped(self, result):
        self._record(result, "skipped")

    def v2_runner_item_on_failed(self, result):
        self._record(result, "item_failed")

    def v2_playbook_on_stats(self, stats):
        for host in sorted(stats.processed):
            self._stats[host] = stats.summarize(host)
        if self._path:
            with open(self._path, "w", encoding="utf-8") as handle:
                json.dump({"tasks": self._records, "stats": self._stats}, handle, indent=1)
