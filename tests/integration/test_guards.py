"""Issue 6 deliverable 1: implausible extracts abort before a single write; the
not-in-billing guard refuses mass flagging unless an operator lifts it for one run."""

from __future__ import annotations

import pytest

from emulators.billing.generator import generate
from tests.integration.harness import emulator_stack
from usm_billing.cli import main, run_sync
from usm_billing.exceptions import FatalApiError, ImplausibleExtractError


@pytest.fixture
def stack(tmp_path, monkeypatch):
    with emulator_stack(tmp_path, monkeypatch, generate(120, seed=1)) as stack:
        run_sync(stack.config_path)
        yield stack


def _writes(stack) -> int:
    return stack.userside_stats()["writes"]


def test_billing_losing_most_customers_is_refused_then_allowed_once(stack):
    small = generate(20, seed=1)
    stack.billing.replace_source(small)
    gone = len(set(stack.view()) - {str(k) for k in small["get_user_list"]})
    assert gone > 90
    before = _writes(stack)
    with pytest.raises(ImplausibleExtractError, match=f"would flag {gone} of 120"):
        run_sync(stack.config_path)
    assert _writes(stack) == before
    summary = run_sync(stack.config_path, allow_mass_not_in_billing=True)
    assert summary["entities"]["customers"]["not_in_billing"] == gone
    view = stack.view()
    assert len(view) >= 120  # flagged, never deleted
    assert sum(1 for row in view.values() if row["is_in_billing"] == 0) == gone


def test_cli_flag_lifts_the_guard(stack, capsys):
    stack.billing.replace_source(generate(20, seed=1))
    assert main(["sync", "--config", str(stack.config_path)]) == 1
    assert "allow_mass_not_in_billing" in capsys.readouterr().err
    assert main(["sync", "--config", str(stack.config_path), "--allow-mass-not-in-billing"]) == 0


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        pytest.param({"truncate": {"get_user_list"}}, FatalApiError, id="truncated-body"),
        pytest.param({"truncate": {"get_tariff_list"}}, FatalApiError, id="truncated-tariffs"),
    ],
)
def test_failed_extract_writes_nothing(stack, fault, error):
    stack.billing.truncate = frozenset(fault["truncate"])
    before = _writes(stack)
    with pytest.raises(error):
        run_sync(stack.config_path)
    assert _writes(stack) == before


def test_one_customer_billing_is_refused(stack):
    stack.billing.replace_source(generate(1, seed=1))
    before = _writes(stack)
    with pytest.raises(ImplausibleExtractError, match="at least 2"):
        run_sync(stack.config_path)
    assert _writes(stack) == before
