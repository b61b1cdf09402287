"""The run context of the task tests: a billing config whose state lives in ``tmp_path``,
with fake hooks set on the context's cached ``userside`` / ``billing`` properties."""

from __future__ import annotations

from typing import Any

import pytest

from usm_billing.config import BillingConfig
from usm_billing.tasks.context import RunContext, RunParams


class Untouchable:
    """The hook of a test that must not talk to this side at all."""

    def __init__(self, side: str) -> None:
        self.side = side

    def __getattr__(self, name: str) -> Any:
        msg = f"{self.side}.{name} must not be called"
        raise AssertionError(msg)


@pytest.fixture
def make_ctx(tmp_path):
    """``make_ctx(userside, billing, billing_id=1, dry_run=False, ..., **config)``: a
    :class:`RunContext` with the given fakes injected (an untouched side raises)."""

    def make(
        userside: Any = None,
        billing: Any = None,
        *,
        billing_id: int = 1,
        dry_run: bool = False,
        customer_id: str | None = None,
        message_interval: tuple[int, int] | None = None,
        **settings: Any,
    ) -> RunContext:
        config = BillingConfig(
            billing_id=billing_id,
            billing_conn_id="b",
            userside_conn_id="u",
            state_path=str(tmp_path),
            **settings,
        )
        params = RunParams(
            dry_run=dry_run, customer_id=customer_id, message_interval=message_interval
        )
        ctx = RunContext(config, params, run_id="test-run")
        ctx.__dict__["userside"] = userside if userside is not None else Untouchable("userside")
        ctx.__dict__["billing"] = billing if billing is not None else Untouchable("billing")
        return ctx

    return make
