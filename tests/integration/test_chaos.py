"""Seeded chaos (issue 6 deliverable 5): with 10 % of UserSide's requests failing (5xx,
timeouts, replies lost after the write was applied), re-running the import ends with the
state a fault-free run produces, and nothing duplicated. ``make chaos`` runs more seeds."""

from __future__ import annotations

import pytest

from scripts.chaos import run_chaos


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_chaos_converges_to_the_fault_free_state(seed):
    result = run_chaos(seed, customers=40, rate=0.1)
    assert sum(result.faults_injected.values()) > 0, "no fault was injected"
    assert result.converged, result
    assert result.mismatches == 0, result
    assert result.duplicates == 0, result
