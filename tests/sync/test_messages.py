"""Messages (universal-api.md §3.14, contract §5.5, §8 N1): each billing message is sent
once, scheduled runs take what is new, backfills take their data interval."""

from __future__ import annotations

import pytest

from usm_billing.state import MessageState
from usm_billing.sync.messages import MessageAdd, select_messages
from usm_billing.universal_api.messages import BillingMessage

T0 = 1_764_000_000  # a unix time inside the test window


def msg(message_id: str, customer: str = "a", date: int = T0, subject: str = "S") -> BillingMessage:
    return BillingMessage(message_id, customer, date, subject, "text")


@pytest.mark.parametrize(
    ("state", "interval", "expected_ids"),
    [
        pytest.param(MessageState(), None, ["1", "2", "3"], id="scheduled-first-run-takes-all"),
        pytest.param(MessageState({"1", "2"}), None, ["3"], id="scheduled-skips-sent"),
        pytest.param(MessageState(), (T0 + 60, T0 + 120), ["2"], id="backfill-takes-its-interval"),
        pytest.param(
            MessageState({"2"}), (T0 + 60, T0 + 120), [], id="backfill-twice-sends-nothing"
        ),
        pytest.param(MessageState(), (T0, T0 + 60), ["1"], id="interval-end-exclusive"),
    ],
)
def test_select(state, interval, expected_ids):
    messages = [msg("1", date=T0), msg("2", date=T0 + 60), msg("3", date=T0 + 120)]
    adds, unknown = select_messages(messages, {"a": 7}, state, interval=interval)
    assert [a.billing_msg_id for a in adds] == expected_ids
    assert unknown == 0


def test_unknown_customer_is_counted_not_sent():
    adds, unknown = select_messages([msg("1", customer="ghost")], {"a": 7}, MessageState())
    assert (adds, unknown) == ([], 1)


def test_add_carries_userside_id_and_unix_date():
    [add], _ = select_messages([msg("9")], {"a": 7}, MessageState())
    assert add == MessageAdd("9", 7, T0, "S<br>text")
