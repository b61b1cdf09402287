"""Messages (universal-api.md §3.14, contract §5.5, §8 N1): each billing message is sent
once, scheduled runs take what is new, backfills take their data interval."""

from __future__ import annotations

import pytest

from usm_billing.sync.messages import (
    BillingMessage,
    MessageAdd,
    MessageState,
    parse_messages,
    select_messages,
)

T0 = 1_764_000_000  # a unix time inside the test window


def msg(message_id: str, customer: str = "a", date: int = T0, subject: str = "S") -> BillingMessage:
    return BillingMessage(message_id, customer, date, subject, "text")


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        pytest.param(
            {
                "1": {
                    "id": "1",
                    "user_id": "debtor",
                    "msg_date": "2026-11-20 10:00:00",
                    "subject": "Тікет",
                    "text": "Чому?",
                }
            },
            [BillingMessage("1", "debtor", 1_795_168_800, "Тікет", "Чому?")],
            id="3.14-ubilling-row",
        ),
        pytest.param(
            {
                "1": {
                    "id": 1,
                    "user_id": 2,
                    "msg_date": "2024-03-01",
                    "subject": "No internet",
                    "text": "x",
                }
            },
            [BillingMessage("1", "2", 1_709_251_200, "No internet", "x")],
            id="3.14-axbills-numeric-user-date-only",
        ),
        pytest.param({"5": {"id": 5, "msg_date": "2024-03-01"}}, [], id="3.14-no-customer-skipped"),
        pytest.param("undefined", [], id="1.2-not-a-collection"),
    ],
)
def test_parse(payload, expected):
    assert parse_messages(payload) == expected


def test_body_is_subject_br_text():
    assert msg("1").body == "S<br>text"
    assert msg("1", subject="").body == "text"


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


def test_state_round_trip():
    state = MessageState({"3", "1"})
    assert state.to_json() == {"sent": ["1", "3"]}
    assert MessageState.from_json(state.to_json()) == state
    assert MessageState.from_json(None) == MessageState()
