"""Billing catalogue rows (universal-api.md §3.4 tariffs): the nested ``speed``, loose
numbers, rows that are no object."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from usm_billing.universal_api.catalogues import BillingTariff
from usm_billing.universal_api.fields import RecordError

TARIFF = {
    "id": "21",
    "name": "Day pass",
    "payment": "9.90",
    "payment_interval": 1,
    "speed": {"up": 20480, "down": 51200},
    "traffic": 2048,
    "service_type": 0,
}


@pytest.mark.parametrize(
    ("changes", "field", "expected"),
    [
        pytest.param({}, "id", "21", id="3.4-tariff-id-is-the-key"),
        pytest.param({"id": "999"}, "id", "21", id="0.2-tariff-key-wins-over-inner-id"),
        pytest.param({}, "payment", Decimal("9.90"), id="0.3-tariff-payment-string"),
        pytest.param({"payment": 250}, "payment", Decimal(250), id="3.4-tariff-payment-number"),
        pytest.param({"payment": None}, "payment", Decimal(0), id="3.4-tariff-payment-null-0"),
        pytest.param(
            {"payment_interval": "30"}, "payment_interval", 30, id="0.3-tariff-interval-string"
        ),
        pytest.param(
            {"payment_interval": None}, "payment_interval", 0, id="3.4-tariff-interval-missing"
        ),
        pytest.param({}, "speed_up", 20480, id="3.4-tariff-speed-up"),
        pytest.param({}, "speed_down", 51200, id="3.4-tariff-speed-down"),
        pytest.param(
            {"speed": {"up": "1024", "down": "2048"}},
            "speed_down",
            2048,
            id="0.3-tariff-speed-strings",
        ),
        pytest.param({"speed": []}, "speed_up", 0, id="1.2-tariff-speed-empty-list"),
        pytest.param({"traffic": "-1"}, "traffic", -1, id="3.4-tariff-traffic-unlimited"),
        pytest.param({"service_type": "3"}, "service_type", 3, id="3.4-tariff-service-type-tv"),
        pytest.param({"name": None}, "name", "", id="3.4-tariff-name-null-empty"),
        pytest.param({"name": "100/100"}, "name", "100/100", id="3.4-tariff-name-raw"),
        pytest.param({}, "additional_comment", None, id="3.4-tariff-comment-absent-none"),
        pytest.param(
            {"additional_comment": ""},
            "additional_comment",
            "",
            id="3.4-tariff-comment-empty-present",
        ),
        pytest.param(
            {"additional_comment": 5},
            "additional_comment",
            "5",
            id="3.4-tariff-comment-number-as-text",
        ),
    ],
)
def test_billing_tariff_from_raw(changes: dict[str, Any], field: str, expected: Any) -> None:
    assert getattr(BillingTariff.from_raw("21", {**TARIFF, **changes}), field) == expected


@pytest.mark.parametrize(
    ("raw", "error", "message"),
    [
        pytest.param(
            ["x"], RecordError, r"^tariff `21`: field `\(row\)`", id="3.4-tariff-row-list"
        ),
        pytest.param(
            "Day", RecordError, r"^tariff `21`: field `\(row\)`", id="3.4-tariff-row-text"
        ),
        pytest.param(
            {**TARIFF, "payment": "free"}, ValidationError, r"payment", id="3.4-tariff-bad-payment"
        ),
    ],
)
def test_billing_tariff_from_raw_rejects(raw: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        BillingTariff.from_raw("21", raw)
