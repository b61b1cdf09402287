"""Billing messages as ``get_user_messages`` returns them (universal-api.md §3.14,
contract §5.5)."""

from __future__ import annotations

import pytest

from usm_billing.universal_api.messages import BillingMessage, parse_messages


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
        pytest.param(
            {"1": {"id": 1, "user_id": 2, "msg_date": "P1D", "text": "x"}},
            [BillingMessage("1", "2", 0, "", "x")],
            id="3.14-iso-duration-is-no-date",  # pendulum parses it to a Duration
        ),
        pytest.param({"5": {"id": 5, "msg_date": "2024-03-01"}}, [], id="3.14-no-customer-skipped"),
        pytest.param("undefined", [], id="1.2-not-a-collection"),
    ],
)
def test_parse(payload, expected):
    assert parse_messages(payload) == expected


def test_body_is_subject_br_text():
    assert BillingMessage("1", "a", 0, "S", "text").body == "S<br>text"
    assert BillingMessage("1", "a", 0, "", "text").body == "text"
