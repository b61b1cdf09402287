"""The convergence property (design brief, non-negotiables): after any run, a second run
with no billing change sends zero writes, across seeds and simulated days of change, in
both UserSide reply casings."""

from __future__ import annotations

import pytest

from emulators.billing.generator import generate
from tests.integration.harness import emulator_stack
from usm_billing.cli import run_sync


@pytest.mark.parametrize("casing", ["old", "new"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_each_day_converges_in_one_run(tmp_path, monkeypatch, seed, casing):
    with emulator_stack(tmp_path, monkeypatch, generate(120, seed=seed), casing=casing) as stack:
        for day in range(3):
            stack.billing.replace_source(generate(120, seed=seed, day=day))
            applied = run_sync(stack.config_path)
            assert applied["failed"] == []
            mutations = stack.userside_stats()["mutations"]
            again = run_sync(stack.config_path)
            assert again["write_requests"] == 0, (seed, day, again["entities"])
            assert stack.userside_stats()["mutations"] == mutations
