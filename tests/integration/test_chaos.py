"""Seeded chaos (issue 6 deliverable 5): with 10 % of UserSide's requests failing (5xx,
timeouts, replies lost after the write was applied, batch writes applied in part and then
refused or their reply lost), re-running the import ends with the state a fault-free run
of the same emulator profile produces, and nothing duplicated. ``make chaos`` runs more
seeds; both profiles here (contract §12)."""

from __future__ import annotations

import pytest

from scripts.chaos import run_chaos


# Seeds whose faults, at 40 customers and 10 %, include partial applications in both
# profiles: a drawn ``partial`` lands on a batch write only (elsewhere it is an error), and
# 40 customers send few of them. The draw follows the importer's request sequence, so a
# change of what the importer sends can move it; the assertion below says so when it does.
@pytest.mark.parametrize("seed", [11, 20])
def test_chaos_converges_to_the_fault_free_state(seed, profile):
    result = run_chaos(seed, customers=40, rate=0.1, profile=profile)
    assert sum(result.faults_injected.values()) > 0, "no fault was injected"
    assert result.faults_injected["partial"] > 0, result
    assert result.converged, result
    assert result.mismatches == 0, result
    assert result.duplicates == 0, result
