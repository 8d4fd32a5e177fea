"""Fixtures of the proof tests: sandboxes started through `python -m sandbox up` in tmp state dirs, always
stopped again (by the sandbox CLI, which stops its own PIDs) even when a test fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox import testing as proofkit


@pytest.fixture
def sandbox_factory(tmp_path):
    """Start sandboxes on demand; each one is stopped at teardown."""
    started: list[Path] = []

    def start(name: str = "sandbox", **options) -> proofkit.Sandbox:
        state_dir = tmp_path / name
        started.append(state_dir)
        return proofkit.sandbox_up(state_dir, **options)

    yield start
    for state_dir in started:
        proofkit.sandbox_down(state_dir)


@pytest.fixture
def localhost_inventory(tmp_path):
    return proofkit.write_localhost_inventory(tmp_path / "localhost.yml")
