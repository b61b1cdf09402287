"""Tariffs: billing ``get_tariff_list`` vs UserSide ``get_tariff_list&billing_id=N``.

Sections: universal-api.md §3.4 and §4.6, userside-api.md §2.4, contract §4.1 and §7.
"""

from __future__ import annotations

from typing import Any

import pytest

from usm_billing import codec
from usm_billing.exceptions import ImplausibleExtractError
from usm_billing.sync.changes import TariffAdd, TariffChanges, TariffEdit
from usm_billing.sync.tariffs import desired_tariff_fields, diff_tariffs, tariff_fields_to_send
from usm_billing.universal_api.catalogues import BillingTariff
from usm_billing.userside.models import UsTariff

HOME = {
    "id": "17",
    "name": "Home 100",
    "payment": 250,
    "payment_interval": 30,
    "speed": {"up": 102400, "down": 51200},
    "traffic": -1,
    "service_type": 0,
}
# What UserSide stores for HOME, as the view returns it (numeric strings, contract §4.1).
HOME_VIEW = {
    "userside_id": "301",
    "name": "Home 100",
    "payment": "250.00",
    "payment_interval": "30",
    "speed": {"up": "102400", "down": "51200"},
    "traffic": "-1",
    "service_type": "0",
    "is_in_billing": "1",
}
HOME_FIELDS = {
    "name": "Home 100",
    "payment": 250.0,
    "payment_interval": 30,
    "speed_tx": 102400,
    "speed_rx": 51200,
    "traffic": -1,
    "service_type": 0,
    "is_in_billing": 1,
}


def billing_tariff(key: str = "17", **changes: Any) -> BillingTariff:
    return BillingTariff.from_raw(key, {**HOME, "id": key, **changes})


def view_tariff(key: str = "17", **changes: Any) -> UsTariff:
    tariff = UsTariff.from_row(key, {**HOME_VIEW, **changes})
    assert tariff is not None
    return tariff


# --- desired_tariff_fields ------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param({}, HOME_FIELDS, id="4.1-desired-all-write-keys"),
        pytest.param(
            {"name": "100/100"},
            {**HOME_FIELDS, "name": "100&#047;100"},
            id="3.4-desired-name-slash",
        ),
        pytest.param(
            {"name": "x" * 300}, {**HOME_FIELDS, "name": "x" * 255}, id="3.4-desired-name-cut-255"
        ),
        pytest.param(
            {"payment": "12.3456789"},
            {**HOME_FIELDS, "payment": 12.34568},
            id="4.1-desired-payment-5-decimals",
        ),
        pytest.param(
            {"payment": "9.90", "payment_interval": "31"},
            {**HOME_FIELDS, "payment": 9.9, "payment_interval": 30},
            id="3.4-desired-interval-31-is-30",
        ),
        pytest.param(
            {"payment": 0, "payment_interval": 1},
            {**HOME_FIELDS, "payment": 0.0, "payment_interval": 30},
            id="3.4-desired-free-tariff-interval-30",
        ),
        pytest.param(
            {"payment_interval": None},
            {**HOME_FIELDS, "payment_interval": 30},
            id="3.4-desired-interval-missing-is-30",
        ),
        pytest.param(
            {"speed": {"up": 1, "down": 2}},
            {**HOME_FIELDS, "speed_tx": 1, "speed_rx": 2},
            id="2.4-desired-up-is-tx-down-is-rx",
        ),
        pytest.param(
            {"additional_comment": "promo"},
            {**HOME_FIELDS, "additional_comment": "promo"},
            id="3.4-desired-additional-comment-when-present",
        ),
        pytest.param(
            {"service_type": "3", "traffic": "0"},
            {**HOME_FIELDS, "service_type": 3, "traffic": 0},
            id="3.4-desired-service-type-and-traffic-as-is",
        ),
    ],
)
def test_desired_tariff_fields(changes: dict[str, Any], expected: dict[str, Any]) -> None:
    assert desired_tariff_fields(billing_tariff(**changes)) == expected


# --- tariff_fields_to_send --------------------------------------------------------------


@pytest.mark.parametrize(
    ("billing", "view", "expected_changed", "expected_previous"),
    [
        pytest.param({}, {}, {}, {}, id="4.1-send-numeric-string-view-no-change"),
        pytest.param(
            {},
            {
                "payment": 250,
                "payment_interval": 30,
                "speed": {"up": 102400, "down": 51200},
                "traffic": -1,
                "service_type": None,
                "is_in_billing": 1,
            },
            {},
            {},
            id="4.1-send-number-view-no-change",
        ),
        pytest.param(
            {"payment": "12.345674"},
            {"payment": "12.34567"},
            {},
            {},
            id="4.1-send-payment-equal-at-5-decimals",
        ),
        pytest.param(
            {"speed": {"up": 102400, "down": 102400}},
            {},
            {"speed_rx": 102400},
            {"speed_rx": "51200"},
            id="4.1-send-only-changed-field",
        ),
        pytest.param(
            {"payment": 300},
            {},
            {"payment": 300.0, "payment_interval": 30},
            {"payment": "250.00", "payment_interval": "30"},
            id="2.4-send-payment-with-interval",
        ),
        pytest.param(
            {"payment_interval": 1},
            {},
            {"payment": 250.0, "payment_interval": 1},
            {"payment": "250.00", "payment_interval": "30"},
            id="2.4-send-interval-with-payment",
        ),
        pytest.param(
            {"name": "100/100"},
            {"name": "100&#047;100"},
            {},
            {},
            id="4.1-send-escaped-name-stored-verbatim-equal",
        ),
        pytest.param(
            {"name": "100/100"},
            {"name": "100/100"},
            {"name": "100&#047;100"},
            {"name": "100/100"},
            id="4.1-send-name-unescaped-in-view-resent",
        ),
        pytest.param(
            {},
            {"is_in_billing": "0"},
            {"is_in_billing": 1},
            {"is_in_billing": "0"},
            id="4.1-send-is-in-billing-when-not-1",
        ),
        pytest.param(
            {},
            {"is_in_billing": None},
            {"is_in_billing": 1},
            {"is_in_billing": None},
            id="4.1-send-is-in-billing-when-absent",
        ),
        pytest.param(
            {"additional_comment": ""},
            {},
            {},
            {},
            id="4.1-send-additional-comment-absent-reads-empty",
        ),
        pytest.param(
            {"additional_comment": "promo"},
            {},
            {"additional_comment": "promo"},
            {"additional_comment": ""},
            id="4.1-send-additional-comment-changed",
        ),
        pytest.param(
            {"traffic": 0},
            {"traffic": "-1"},
            {"traffic": 0},
            {"traffic": "-1"},
            id="4.1-send-traffic-minus-one-kept-distinct",
        ),
    ],
)
def test_tariff_fields_to_send(
    billing: dict[str, Any],
    view: dict[str, Any],
    expected_changed: dict[str, Any],
    expected_previous: dict[str, Any],
) -> None:
    desired = desired_tariff_fields(billing_tariff(**billing))
    changed, previous = tariff_fields_to_send(desired, view_tariff(**view))
    assert changed == expected_changed
    assert previous == expected_previous


def test_tariff_fields_to_send_without_view_sends_what_absent_does_not_equal() -> None:
    """Contract §4.1: an absent view value reads as null, so ``service_type`` 0 (absent → 0)
    is not sent, everything else is."""
    desired = desired_tariff_fields(billing_tariff())
    changed, previous = tariff_fields_to_send(desired, None)
    expected = {k: v for k, v in HOME_FIELDS.items() if k != "service_type"}
    assert changed == expected
    assert previous == dict.fromkeys(expected)


# --- diff_tariffs ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("billing", "userside", "expected"),
    [
        pytest.param(
            {"17": {}},
            {"17": {}},
            TariffChanges(),
            id="4.1-diff-unchanged-empty-change-set",
        ),
        pytest.param(
            {"17": {}, "30": {"name": "TV/Basic", "payment": "120.5"}},
            {"17": {}},
            TariffChanges(
                adds=(
                    TariffAdd(
                        "30",
                        "TV&#047;Basic",
                        {**HOME_FIELDS, "name": "TV&#047;Basic", "payment": 120.5},
                    ),
                )
            ),
            id="2.4-diff-missing-tariff-added-with-fields",
        ),
        pytest.param(
            {"17": {"speed": {"up": 102400, "down": 102400}, "traffic": 2048}},
            {"17": {}},
            TariffChanges(
                edits=(
                    TariffEdit(
                        301,
                        "17",
                        {"speed_rx": 102400, "traffic": 2048},
                        {"speed_rx": "51200", "traffic": "-1"},
                    ),
                )
            ),
            id="4.1-diff-edit-only-changed-fields",
        ),
        pytest.param(
            {"17": {"payment": "260"}},
            {"17": {}},
            TariffChanges(
                edits=(
                    TariffEdit(
                        301,
                        "17",
                        {"payment": 260.0, "payment_interval": 30},
                        {"payment": "250.00", "payment_interval": "30"},
                    ),
                )
            ),
            id="2.4-diff-payment-and-interval-together",
        ),
        pytest.param(
            {"17": {"name": "Home 100/50"}},
            {"17": {}},
            TariffChanges(
                edits=(TariffEdit(301, "17", {"name": "Home 100&#047;50"}, {"name": "Home 100"}),)
            ),
            id="3.4-diff-name-with-slash",
        ),
        pytest.param(
            {"17": {}},
            {"17": {}, "21": {"userside_id": "302"}},
            TariffChanges(
                vanished=(TariffEdit(302, "21", {"is_in_billing": 0}, {"is_in_billing": "1"}),)
            ),
            id="2.4-diff-vanished-flagged-is-in-billing-0",
        ),
        pytest.param(
            {"17": {}},
            {"17": {}, "21": {"userside_id": "302", "is_in_billing": "0"}},
            TariffChanges(),
            id="2.4-diff-vanished-flagged-once",
        ),
        pytest.param(
            {"17": {}},
            {"17": {"is_in_billing": 0}},
            TariffChanges(
                edits=(TariffEdit(301, "17", {"is_in_billing": 1}, {"is_in_billing": 0}),)
            ),
            id="2.4-diff-reappearing-gets-is-in-billing-1",
        ),
        pytest.param(
            {},
            {"21": {"userside_id": "302", "is_in_billing": 0}},
            TariffChanges(),
            id="4.6-diff-empty-catalogue-nothing-live-is-fine",
        ),
        pytest.param({}, {}, TariffChanges(), id="4.6-diff-both-empty"),
        pytest.param(
            {"21": {}, "017": {}, "17": {}},
            {"17": {}},
            TariffChanges(
                adds=(
                    TariffAdd("017", "Home 100", HOME_FIELDS),
                    TariffAdd("21", "Home 100", HOME_FIELDS),
                )
            ),
            id="4.1-diff-keys-exact-strings-sorted",
        ),
    ],
)
def test_diff_tariffs(
    billing: dict[str, dict[str, Any]],
    userside: dict[str, dict[str, Any]],
    expected: TariffChanges,
) -> None:
    changes = diff_tariffs(
        {key: billing_tariff(key, **raw) for key, raw in billing.items()},
        {key: view_tariff(key, **raw) for key, raw in userside.items()},
    )
    assert changes == expected
    assert changes.is_empty is (expected == TariffChanges())


@pytest.mark.parametrize(
    "userside",
    [
        pytest.param({"17": {}}, id="4.6-empty-catalogue-one-live-tariff"),
        pytest.param(
            {"17": {"is_in_billing": 0}, "21": {"userside_id": "302", "is_in_billing": True}},
            id="4.6-empty-catalogue-live-among-flagged",
        ),
    ],
)
def test_diff_tariffs_refuses_empty_billing_catalogue(userside: dict[str, Any]) -> None:
    views = {key: view_tariff(key, **raw) for key, raw in userside.items()}
    with pytest.raises(ImplausibleExtractError, match=r"ubilling returned no tariffs"):
        diff_tariffs({}, views, billing_label="ubilling")


def test_tariff_changes_survive_json_and_count() -> None:
    changes = diff_tariffs(
        {"17": billing_tariff(payment=300), "30": billing_tariff("30")},
        {"17": view_tariff(), "21": view_tariff("21", userside_id="302")},
    )
    restored = codec.decode(codec.encode(changes), TariffChanges)
    assert restored == changes
    assert changes.summary() == {
        "add": 1,
        "edit": 1,
        "not_in_billing": 1,
        "fields": {"payment": 1, "payment_interval": 1},
    }


def test_rejected_tariff_row_is_left_alone_not_flagged() -> None:
    """Issue "hostile input" item 4: a tariff row the parser refused is still in the
    billing; flagging it ``is_in_billing=0`` would be a guess."""
    changes = diff_tariffs(
        {"17": billing_tariff()},
        {"17": view_tariff(), "21": view_tariff("21", userside_id="302")},
        rejected={"21"},
    )
    assert changes.vanished == ()
