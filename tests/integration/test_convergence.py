"""The convergence property (design brief, non-negotiables; contract §12): after any run,
a second run with no billing change sends zero write requests (counted by the UserSide
emulator), across seeds and simulated days of change, in both reply casings and both
emulator profiles, with nothing refused."""

from __future__ import annotations

import pytest

from emulators.billing.generator import generate
from tests.integration.harness import emulator_stack
from usm_billing.cli import run_sync


@pytest.mark.parametrize("casing", ["old", "new"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_each_day_converges_in_one_run(tmp_path, monkeypatch, seed, casing, profile):
    source = generate(120, seed=seed)
    with emulator_stack(tmp_path, monkeypatch, source, casing=casing, profile=profile) as stack:
        for day in range(3):
            stack.billing.replace_source(generate(120, seed=seed, day=day))
            applied = run_sync(stack.config_path)
            assert applied["failed"] == [], (seed, day, applied["failed"][:5])
            writes = stack.userside_stats()["writes"]
            again = run_sync(stack.config_path)
            assert again["write_requests"] == 0, (seed, day, again["entities"])
            stats = stack.userside_stats()
            assert stats["writes"] == writes
            assert stats["refusals_total"] == 0, stats["refusals"]
