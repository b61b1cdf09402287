"""Customers: billing ``get_user_list`` vs UserSide's view, one table row per field rule.

Sections: universal-api.md §3.5, §3.13, §4.4 (per-field rules), §4.5 (flags), §4.6;
userside-api.md §2.5 (group_edit dictionary); contract §1.3 (loose comparison), §2
(get_settings gates), §5.2 (field table), §5.3 (typical fields), §10 (corrections).

Every row builds the billing record (``BillingCustomer``) and the view row (``UsCustomer``)
directly and spells out the whole dict of ``group_edit`` fields expected.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from usm_billing import codec
from usm_billing.config import BillingConfig
from usm_billing.exceptions import ImplausibleExtractError
from usm_billing.sync.changes import CustomerChanges, CustomerEdit
from usm_billing.sync.customer_fields import customer_fields
from usm_billing.sync.customer_rules import CustomerRules
from usm_billing.sync.customers import diff_customers, new_customer_view, require_plausible_count
from usm_billing.universal_api.customers import BillingCustomer
from usm_billing.userside.customers import NEW_CUSTOMER_NAME, UsCustomer
from usm_billing.userside.models import UsSettings

UID = "7"
US_ID = 70
CRC = "0123456789abcdef0123456789abcdef"
NOW = 1_750_000_000
STAMP_UTC = 1_749_764_883  # 2025-06-12 21:48:03 UTC
STAMP_KYIV = 1_749_754_083  # 2025-06-12 21:48:03 Europe/Kyiv (EEST, +03:00)
ACTIVITY = "2025-06-12 21:48:03"
MOBILE, HOME = "380501234567", "0445556677"
STATES = {"5": "work", "2": "pause", "1": "nomoney", "3": "disable", "4": "new", "6": "stop"}
TRAFFIC_ON = {"is_update_traffic": 1, "date_traffic_update": 0}
UNIX = {"is_customer_activity_timestamp": 1}


def billing(**fields: Any) -> BillingCustomer:
    """A billing record of customer ``7``; unspecified fields are the parser's defaults."""
    return BillingCustomer(id=UID, crc=CRC, **fields)


def view(**fields: Any) -> UsCustomer:
    """UserSide's view row of customer ``7`` (US id 70), live in the billing."""
    return UsCustomer(billing_uid=UID, us_id=US_ID, **{"is_in_billing": 1, **fields})


def make_rules(config: dict[str, Any] | None = None, settings: dict[str, Any] | None = None):
    return CustomerRules.build(
        BillingConfig(
            billing_id=1, billing_conn_id="billing", userside_conn_id="userside", **config or {}
        ),
        UsSettings(**settings or {}),
        STATES,
        now_unix=NOW,
    )


def row(
    rule: str,
    customer: BillingCustomer,
    current: UsCustomer,
    expected: dict[str, Any],
    *,
    config: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
):
    return pytest.param(customer, current, config or {}, settings or {}, expected, id=rule)


FIELD_ROWS = [
    row("5.2-in-sync-nothing-sent", billing(), view(), {}),
    # name
    row(
        "5.2-name-escaped-collapsed-trimmed",
        billing(full_name=" O'Brien \\ \r\n  Smith "),
        view(full_name="Ivanov"),
        {"name": "O&#039;Brien Smith", "crc_billing": CRC},
    ),
    row(
        "5.2-name-stored-entity-form-equal",
        billing(full_name="O'Brien"),
        view(full_name="O&#039;Brien"),
        {},
    ),
    row(
        "5.4-name-replaces-placeholder",
        billing(full_name="Ivanov"),
        view(full_name=NEW_CUSTOMER_NAME),
        {"name": "Ivanov", "crc_billing": CRC},
    ),
    row(
        "4.4-name-missing-clears",
        billing(),
        view(full_name="Ivanov"),
        {"name": "", "crc_billing": CRC},
    ),
    # login
    row(
        "5.2-login-apostrophe-escaped",
        billing(login="o'neil"),
        view(login="oneil"),
        {"login": "o&#039;neil", "crc_billing": CRC},
    ),
    row("1.3-login-numeric-loose-equal", billing(login="0123"), view(login=123), {}),
    row(
        "4.4-login-missing-clears",
        billing(),
        view(login="old"),
        {"login": "", "crc_billing": CRC},
    ),
    row("5.2-login-absent-view-reads-empty", billing(login=""), view(login=None), {}),
    # account_number
    row(
        "5.2-account-number-written",
        billing(account_number="100010452"),
        view(account_number="1"),
        {"account_number": "100010452", "crc_billing": CRC},
    ),
    row(
        "5.2-account-number-apostrophe-escaped",
        billing(account_number="A'1"),
        view(),
        {"account_number": "A&#039;1", "crc_billing": CRC},
    ),
    row(
        "1.3-account-number-number-in-view-equal",
        billing(account_number="100010452"),
        view(account_number=100010452),
        {},
    ),
    # comment
    row(
        "5.2-comment-escaped",
        billing(comment="ONU 1/2\nit's C:\\"),
        view(),
        {"comment": "ONU 1&#047;2 it&#039;s C:&#092;", "crc_billing": CRC},
    ),
    row(
        "5.2-comment-stored-entities-equal",
        billing(comment="a/b"),
        view(comment="a&#047;b"),
        {},
    ),
    row(
        "4.4-comment-missing-clears",
        billing(),
        view(comment="old"),
        {"comment": "", "crc_billing": CRC},
    ),
    # balance (a typical field: no crc_billing on its own)
    row(
        "5.2-balance-rounded-2dp",
        billing(balance="2.675"),
        view(balance=0),
        {"balance": "2.68"},
    ),
    row(
        "5.2-balance-equal-after-rounding",
        billing(balance="125.504"),
        view(balance="125.50"),
        {},
    ),
    row("1.3-balance-number-vs-string-equal", billing(balance="125.50"), view(balance=125.5), {}),
    row(
        "5.2-balance-minus-zero",
        billing(balance="-0.004"),
        view(balance="0.01"),
        {"balance": "-0"},
    ),
    row(
        "5.2-balance-absent-view-reads-0",
        billing(balance="12.30"),
        view(balance=None),
        {"balance": "12.3"},
    ),
    row("5.2-balance-zero-equals-absent", billing(balance="0.00"), view(balance=None), {}),
    # credit
    row(
        "5.2-credit-rounded-2dp-not-typical",
        billing(credit="100.005"),
        view(credit="0"),
        {"credit": "100.01", "crc_billing": CRC},
    ),
    row("5.2-credit-equal", billing(credit="100"), view(credit="100.00"), {}),
    # discount
    row(
        "5.2-discount-not-rounded",
        billing(discount="2.505"),
        view(discount=0),
        {"discount": "2.505", "crc_billing": CRC},
    ),
    row("5.2-discount-numeric-equal", billing(discount="5.50"), view(discount="5.5"), {}),
    row(
        "4.4-discount-missing-is-0",
        billing(),
        view(discount="10"),
        {"discount": "0", "crc_billing": CRC},
    ),
    # flag_corporate
    row(
        "5.2-flag-corporate-1-written",
        billing(flag_corporate=1),
        view(flag_corporate=0),
        {"flag_corporate": "1", "crc_billing": CRC},
    ),
    row(
        "5.2-flag-corporate-0-vs-absent-written",
        billing(flag_corporate=0),
        view(),
        {"flag_corporate": "0", "crc_billing": CRC},
    ),
    row("5.2-flag-corporate-equal", billing(flag_corporate=1), view(flag_corporate="1"), {}),
    row("4.4-flag-corporate-absent-not-cleared", billing(), view(flag_corporate=1), {}),
    row(
        "4.5-skip-sync-customer-is-corporate",
        billing(flag_corporate=1),
        view(flag_corporate=0),
        {},
        config={"skip_sync_customer_is_corporate": True},
    ),
    # is_disable
    row(
        "5.2-is-disable-1-written",
        billing(is_disable=1),
        view(is_disable=0),
        {"is_disable": "1", "crc_billing": CRC},
    ),
    row(
        "5.2-is-disable-0-written",
        billing(),
        view(is_disable="1"),
        {"is_disable": "0", "crc_billing": CRC},
    ),
    row("5.2-is-disable-absent-reads-0", billing(), view(is_disable=None), {}),
    row("1.3-is-disable-true-equals-1", billing(is_disable=1), view(is_disable=True), {}),
    # date_connect
    row(
        "5.2-date-connect-written-verbatim",
        billing(date_connect="2019-03-15"),
        view(),
        {"date_connect": "2019-03-15", "crc_billing": CRC},
    ),
    row(
        "1.3-date-connect-datetime-in-view-differs",
        billing(date_connect="2019-03-15"),
        view(date_connect="2019-03-15 00:00:00"),
        {"date_connect": "2019-03-15", "crc_billing": CRC},
    ),
    row(
        "5.2-date-connect-equal",
        billing(date_connect="2019-03-15"),
        view(date_connect="2019-03-15"),
        {},
    ),
    row(
        "5.2-date-connect-1970-written-as-is",
        billing(date_connect="1970-01-01"),
        view(date_connect=""),
        {"date_connect": "1970-01-01", "crc_billing": CRC},
    ),
    row(
        "4.4-date-connect-missing-clears",
        billing(),
        view(date_connect="2019-03-15"),
        {"date_connect": "", "crc_billing": CRC},
    ),
    row(
        "4.5-dont-update-date-connect-keeps-existing",
        billing(date_connect="2019-03-15 10:00:00"),
        view(date_connect="2018-01-01"),
        {},
        config={"dont_update_date_connect": True},
    ),
    row(
        "4.5-dont-update-date-connect-fills-empty-as-date",
        billing(date_connect="2019-03-15 10:00:00"),
        view(),
        {"date_connect": "2019-03-15", "crc_billing": CRC},
        config={"dont_update_date_connect": True},
    ),
    row(
        "4.5-dont-update-date-connect-fills-1970",
        billing(date_connect="2019-03-15"),
        view(date_connect="1970-01-01 00:00:00"),
        {"date_connect": "2019-03-15", "crc_billing": CRC},
        config={"dont_update_date_connect": True},
    ),
    row(
        "4.5-dont-update-date-connect-fills-0000",
        billing(date_connect="2019-03-15"),
        view(date_connect="0000-00-00"),
        {"date_connect": "2019-03-15", "crc_billing": CRC},
        config={"dont_update_date_connect": True},
    ),
    row(
        "4.5-dont-update-date-connect-never-clears",
        billing(),
        view(date_connect="2019-03-15"),
        {},
        config={"dont_update_date_connect": True},
    ),
    # state_id
    row(
        "3.5-state-work-is-2",
        billing(state_id="5"),
        view(state_id=0),
        {"state_id": 2, "crc_billing": CRC},
    ),
    row("3.5-state-pause-equals-1", billing(state_id="2"), view(state_id="1"), {}),
    row(
        "3.5-state-nomoney-is-0",
        billing(state_id="1"),
        view(state_id=2),
        {"state_id": 0, "crc_billing": CRC},
    ),
    row(
        "3.5-state-custom-id-passes-through",
        billing(state_id="9"),
        view(state_id=None),
        {"state_id": 9, "crc_billing": CRC},
    ),
    row("3.5-state-custom-id-equal", billing(state_id="9"), view(state_id="9"), {}),
    row(
        "3.5-state-long-id-is-0",
        billing(state_id="123456"),
        view(state_id=2),
        {"state_id": 0, "crc_billing": CRC},
    ),
    row(
        "4.4-state-missing-is-0",
        billing(state_id=""),
        view(state_id=2),
        {"state_id": 0, "crc_billing": CRC},
    ),
    # tariff links (multiset)
    row(
        "5.2-tariff-add",
        billing(tariff_current=("17", "21")),
        view(),
        {"add_tariff_id": ["17", "21"], "crc_billing": CRC},
    ),
    row(
        "5.2-tariff-delete-as-view-returned",
        billing(tariff_current=("17",)),
        view(tariff_current=("17", "021")),
        {"delete_tariff_id": ["021"], "crc_billing": CRC},
    ),
    row(
        "4.4-tariff-replaced",
        billing(tariff_current=("21",)),
        view(tariff_current=("17",)),
        {"add_tariff_id": ["21"], "delete_tariff_id": ["17"], "crc_billing": CRC},
    ),
    row(
        "5.2-tariff-multiset-duplicate-added",
        billing(tariff_current=("17", "17")),
        view(tariff_current=("17",)),
        {"add_tariff_id": ["17"], "crc_billing": CRC},
    ),
    row(
        "9.4-two-links-billing-wants-one-delete-all-then-again",
        billing(tariff_current=("17",)),
        view(tariff_current=("17", "17")),
        {"delete_tariff_id": ["17", "17"], "crc_billing": CRC},
    ),
    row(
        "5.2-tariff-loose-equal-link-consumed",
        billing(tariff_current=("17",)),
        view(tariff_current=("017",)),
        {},
    ),
    row(
        "4.4-tariff-non-numeric-ids-case-sensitive",
        billing(tariff_current=("Home",)),
        view(tariff_current=("home",)),
        {"add_tariff_id": ["Home"], "delete_tariff_id": ["home"], "crc_billing": CRC},
    ),
    row(
        "5.2-tariff-empty-view-id-not-deleted",
        billing(),
        view(tariff_current=("",)),
        {},
    ),
    row(
        "4.4-tariff-none-in-billing-deletes-all",
        billing(),
        view(tariff_current=("17", "21")),
        {"delete_tariff_id": ["17", "21"], "crc_billing": CRC},
    ),
    # tariff_new_id
    row(
        "5.2-tariff-new-set",
        billing(tariff_new=("21", "2025-07-01")),
        view(),
        {"tariff_new_id": "21|2025-07-01", "crc_billing": CRC},
    ),
    row(
        "5.2-tariff-new-without-date-1970",
        billing(tariff_new=("21", "")),
        view(),
        {"tariff_new_id": "21|1970-01-01", "crc_billing": CRC},
    ),
    row(
        "5.2-tariff-new-clear",
        billing(),
        view(tariff_new_id="21"),
        {"tariff_new_id": "|1970-01-01", "crc_billing": CRC},
    ),
    row(
        "5.2-tariff-new-case-insensitive",
        billing(tariff_new=("Home", "2025-07-01")),
        view(tariff_new_id="HOME"),
        {},
    ),
    row(
        "5.2-tariff-new-ids-only-compared",
        billing(tariff_new=("21", "2025-08-01")),
        view(tariff_new_id=21),
        {},
    ),
    row(
        "5.2-tariff-new-changed",
        billing(tariff_new=("30", "2025-08-01")),
        view(tariff_new_id="21"),
        {"tariff_new_id": "30|2025-08-01", "crc_billing": CRC},
    ),
    # agreement
    row(
        "5.2-agreement-number-written",
        billing(agreement_number="A-2"),
        view(agreement_number="A-1"),
        {"agreement_number": "A-2", "crc_billing": CRC},
    ),
    row(
        "5.2-agreement-number-never-cleared",
        billing(),
        view(agreement_number="A-1"),
        {},
    ),
    row(
        "8-agreement-number-escaped-form-compared",
        billing(agreement_number="O'1"),
        view(agreement_number="O&#039;1"),
        {},
    ),
    row(
        "5.2-agreement-number-apostrophe-escaped",
        billing(agreement_number="O'1"),
        view(),
        {"agreement_number": "O&#039;1", "crc_billing": CRC},
    ),
    row(
        "5.2-agreement-date-written",
        billing(agreement_date="2019-03-14"),
        view(),
        {"agreement_date": "2019-03-14", "crc_billing": CRC},
    ),
    row(
        "5.2-agreement-date-exact-string",
        billing(agreement_date="2019-03-14"),
        view(agreement_date="2019-03-14 00:00:00"),
        {"agreement_date": "2019-03-14", "crc_billing": CRC},
    ),
    row(
        "5.2-agreement-date-never-cleared",
        billing(),
        view(agreement_date="2019-03-14"),
        {},
    ),
    row(
        "4.5-skip-update-agreement-date-keeps-existing",
        billing(agreement_date="2019-03-14"),
        view(agreement_date="2018-01-01"),
        {},
        config={"skip_update_agreement_date": True},
    ),
    row(
        "4.5-skip-update-agreement-date-fills-empty",
        billing(agreement_date="2019-03-14"),
        view(),
        {"agreement_date": "2019-03-14", "crc_billing": CRC},
        config={"skip_update_agreement_date": True},
    ),
    row(
        "4.5-skip-update-agreement-date-fills-1970",
        billing(agreement_date="2019-03-14"),
        view(agreement_date="1970-01-01"),
        {"agreement_date": "2019-03-14", "crc_billing": CRC},
        config={"skip_update_agreement_date": True},
    ),
    # traffic (typical; only when UserSide enables it and its interval elapsed)
    row(
        "2-traffic-update-off",
        billing(traffic_up=100, traffic_down=200),
        view(),
        {},
        settings={"is_update_traffic": 0, "date_traffic_update": 0},
    ),
    row(
        "2-traffic-first-update-due",
        billing(traffic_up=100, traffic_down=200),
        view(),
        {"traffic_up": 100, "traffic_down": 200},
        settings=TRAFFIC_ON,
    ),
    row(
        "2-traffic-interval-elapsed",
        billing(traffic_up=100, traffic_down=200),
        view(),
        {"traffic_up": 100, "traffic_down": 200},
        settings={
            "is_update_traffic": 1,
            "date_traffic_update": NOW - 600,
            "date_traffic_update_interval": 10,
        },
    ),
    row(
        "2-traffic-interval-not-elapsed",
        billing(traffic_up=100, traffic_down=200),
        view(),
        {},
        settings={
            "is_update_traffic": 1,
            "date_traffic_update": NOW - 599,
            "date_traffic_update_interval": 10,
        },
    ),
    row(
        "5.2-traffic-numeric-equal",
        billing(traffic_up=100, traffic_down=200),
        view(traffic_up="100", traffic_down=200.0),
        {},
        settings=TRAFFIC_ON,
    ),
    row(
        "5.2-traffic-only-changed-direction",
        billing(traffic_up=100, traffic_down=200),
        view(traffic_up=100, traffic_down=1),
        {"traffic_down": 200},
        settings=TRAFFIC_ON,
    ),
    # phones
    row(
        "4.4-phone-slots-filled-in-order",
        billing(phones=(MOBILE, HOME)),
        view(),
        {"phone0": MOBILE, "phone1": HOME, "crc_billing": CRC},
    ),
    row(
        "4.4-phone-only-differing-slot",
        billing(phones=(MOBILE, HOME)),
        view(phones=(MOBILE, "111")),
        {"phone1": HOME, "crc_billing": CRC},
    ),
    row(
        "4.4-phone-number-already-in-another-slot",
        billing(phones=(MOBILE, HOME)),
        view(phones=(HOME, MOBILE)),
        {},
    ),
    row(
        "4.4-phone-number-in-later-slot-not-written",
        billing(phones=(MOBILE,)),
        view(phones=("", "", MOBILE)),
        {},
    ),
    row(
        "4.4-phone-slot-beyond-view-written",
        billing(phones=(MOBILE, HOME)),
        view(phones=(MOBILE,)),
        {"phone1": HOME, "crc_billing": CRC},
    ),
    row(
        "4.4-phone-five-slots-at-most",
        billing(phones=("1", "2", "3", "4", "5", "6")),
        view(),
        {
            "phone0": "1",
            "phone1": "2",
            "phone2": "3",
            "phone3": "4",
            "phone4": "5",
            "crc_billing": CRC,
        },
    ),
    row(
        "4.4-phone-unfilled-slots-left-alone",
        billing(phones=(MOBILE,)),
        view(phones=(MOBILE, HOME)),
        {},
    ),
    row(
        "4.5-import-less-phone-clears-unfilled-slot",
        billing(phones=(MOBILE,)),
        view(phones=(MOBILE, HOME, "", "333")),
        {"phone1": "", "phone3": "", "crc_billing": CRC},
        config={"import_less_phone": True},
    ),
    row(
        "4.5-import-less-phone-empty-slots-not-cleared",
        billing(),
        view(phones=("", "")),
        {},
        config={"import_less_phone": True},
    ),
    row(
        "4.5-do-not-update-add-phone-freezes-slots-2-4",
        billing(phones=("1", "2", "3", "4")),
        view(),
        {"phone0": "1", "phone1": "2", "crc_billing": CRC},
        config={"do_not_update_add_phone": True},
    ),
    row(
        "4.5-do-not-update-add-phone-slots-2-4-not-cleared",
        billing(phones=("1",)),
        view(phones=("1", "2", "3")),
        {"phone1": "", "crc_billing": CRC},
        config={"do_not_update_add_phone": True, "import_less_phone": True},
    ),
    # email
    row(
        "5.2-email-written",
        billing(email="a@x.com, b@y.com"),
        view(),
        {"email": "a@x.com, b@y.com", "crc_billing": CRC},
    ),
    row("4.4-email-never-cleared", billing(), view(email="a@x.com"), {}),
    row(
        "5.2-email-apostrophe-escaped",
        billing(email="o'neil@x.com"),
        view(email=""),
        {"email": "o&#039;neil@x.com", "crc_billing": CRC},
    ),
    row("5.2-email-equal", billing(email="a@x.com"), view(email="a@x.com"), {}),
    # date_activity_inet (typical)
    row(
        "5.2-date-activity-inet-written",
        billing(date_activity=ACTIVITY),
        view(),
        {"date_activity_inet": ACTIVITY},
    ),
    row(
        "5.2-date-activity-inet-equal",
        billing(date_activity=ACTIVITY),
        view(date_activity_inet=ACTIVITY),
        {},
    ),
    row(
        "10-date-activity-inet-older-overwritten",
        billing(date_activity="2025-06-01 00:00:00"),
        view(date_activity_inet=ACTIVITY),
        {"date_activity_inet": "2025-06-01 00:00:00"},
    ),
    row(
        "3.13-date-activity-empty-ignored",
        billing(date_activity=""),
        view(date_activity_inet=ACTIVITY),
        {},
    ),
    row(
        "3.13-date-activity-1970-ignored",
        billing(date_activity="1970-01-01 03:00:00"),
        view(date_activity_inet=ACTIVITY),
        {},
    ),
    row(
        "4.5-skip-update-date-activity",
        billing(date_activity=ACTIVITY),
        view(),
        {},
        config={"skip_update_date_activity": True},
    ),
    # date_activity_inet_unix (typical; UserSide setting is_customer_activity_timestamp)
    row(
        "5.2-date-activity-unix-written",
        billing(date_activity=ACTIVITY),
        view(date_activity_inet=ACTIVITY),
        {"date_activity_inet_unix": STAMP_UTC},
        settings=UNIX,
    ),
    row(
        "5.2-date-activity-unix-numeric-string-equal",
        billing(date_activity=ACTIVITY),
        view(date_activity_inet_unix=str(STAMP_UTC)),
        {},
        settings=UNIX,
    ),
    row(
        "5.2-date-activity-unix-billing-timezone",
        billing(date_activity=ACTIVITY),
        view(),
        {"date_activity_inet_unix": STAMP_KYIV},
        config={"billing_timezone": "Europe/Kyiv"},
        settings=UNIX,
    ),
    row(
        "5.2-date-activity-unix-only-above-1000000",
        billing(date_activity="1970-01-05"),
        view(),
        {},
        settings=UNIX,
    ),
    row(
        "5.2-date-activity-unix-unparsable-skipped",
        billing(date_activity="yesterday-ish"),
        view(),
        {},
        settings=UNIX,
    ),
    row(
        "5.2-date-activity-unix-iso-duration-skipped",  # pendulum parses it to a Duration
        billing(date_activity="P1D"),
        view(),
        {},
        settings=UNIX,
    ),
    row(
        "4.5-skip-update-date-activity-unix",
        billing(date_activity=ACTIVITY),
        view(),
        {},
        config={"skip_update_date_activity": True},
        settings=UNIX,
    ),
    # is_in_billing
    row(
        "5.1-is-in-billing-absent-set-1",
        billing(),
        view(is_in_billing=None),
        {"is_in_billing": 1, "crc_billing": CRC},
    ),
    row(
        "4.2-is-in-billing-found-again-set-1",
        billing(),
        view(is_in_billing=0),
        {"is_in_billing": 1, "crc_billing": CRC},
    ),
    row("1.3-is-in-billing-string-1-equal", billing(), view(is_in_billing="1"), {}),
    # crc_billing
    row(
        "5.3-crc-not-sent-with-typical-fields-only",
        billing(balance="10", traffic_up=5, date_activity=ACTIVITY),
        view(),
        {"balance": "10", "traffic_up": 5, "date_activity_inet": ACTIVITY},
        settings=TRAFFIC_ON,
    ),
    row(
        "5.2-crc-sent-with-any-non-typical-field",
        billing(balance="10", login="x"),
        view(),
        {"balance": "10", "login": "x", "crc_billing": CRC},
    ),
]


@pytest.mark.parametrize(("customer", "current", "config", "settings", "expected"), FIELD_ROWS)
def test_customer_fields(
    customer: BillingCustomer,
    current: UsCustomer,
    config: dict[str, Any],
    settings: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    assert customer_fields(customer, current, make_rules(config, settings)) == expected


@pytest.mark.parametrize(
    ("settings", "traffic_due", "activity_as_unix"),
    [
        pytest.param({}, False, False, id="2-rules-defaults"),
        pytest.param({"is_update_traffic": 1}, True, False, id="2-rules-traffic-never-updated"),
        pytest.param(
            {"is_update_traffic": 1, "date_traffic_update": NOW - 60},
            True,
            False,
            id="2-rules-traffic-default-interval-1-minute",
        ),
        pytest.param(
            {"is_update_traffic": 1, "date_traffic_update": NOW - 59},
            False,
            False,
            id="2-rules-traffic-within-interval",
        ),
        pytest.param(
            {"is_update_traffic": 0, "date_traffic_update": 1},
            False,
            False,
            id="2-rules-traffic-disabled",
        ),
        pytest.param(UNIX, False, True, id="2-rules-activity-timestamp"),
    ],
)
def test_customer_rules_build(
    settings: dict[str, Any], traffic_due: bool, activity_as_unix: bool
) -> None:
    rules = make_rules({}, settings)
    assert (rules.traffic_due, rules.activity_as_unix) == (traffic_due, activity_as_unix)


@pytest.mark.parametrize(
    ("count", "fails"),
    [
        pytest.param(0, True, id="4.4-safety-no-customers"),
        pytest.param(1, True, id="4.6-safety-one-customer"),
        pytest.param(2, False, id="4.4-safety-two-customers"),
        pytest.param(100_000, False, id="4.4-safety-many-customers"),
    ],
)
def test_require_plausible_count(count: int, fails: bool) -> None:
    if fails:
        with pytest.raises(ImplausibleExtractError, match=rf"ubilling returned {count} "):
            require_plausible_count(count, billing_label="ubilling")
    else:
        require_plausible_count(count, billing_label="ubilling")


def test_new_customer_view_is_the_group_add_row() -> None:
    assert new_customer_view("7") == UsCustomer(
        billing_uid="7", us_id=0, full_name=NEW_CUSTOMER_NAME, is_in_billing=1
    )


# --- diff_customers -------------------------------------------------------------------

RULES = make_rules()
SYNCED = {"7": billing(login="ivanov")}
SYNCED_VIEW = {"7": view(login="ivanov")}


@pytest.mark.parametrize(
    ("billing_rows", "userside", "kwargs", "expected"),
    [
        pytest.param(SYNCED, SYNCED_VIEW, {}, CustomerChanges(), id="4.2-diff-unchanged-empty"),
        pytest.param(
            {
                **SYNCED,
                "9": replace(
                    billing(
                        full_name="Petrenko",
                        login="petrenko",
                        balance="125.50",
                        state_id="5",
                        tariff_current=("17",),
                        phones=(MOBILE,),
                    ),
                    id="9",
                ),
            },
            SYNCED_VIEW,
            {},
            CustomerChanges(
                creates=("9",),
                edits=(
                    CustomerEdit(
                        "9",
                        None,
                        {
                            "name": "Petrenko",
                            "login": "petrenko",
                            "balance": "125.5",
                            "state_id": 2,
                            "add_tariff_id": ["17"],
                            "phone0": MOBILE,
                            "crc_billing": CRC,
                        },
                        {},
                    ),
                ),
            ),
            id="4.2-diff-create-filled-same-run-vs-placeholder",
        ),
        pytest.param(
            {"7": billing(full_name="New", phones=(MOBILE, HOME), tariff_current=("21",))},
            {"7": view(full_name="Old", phones=("999",), tariff_current=("17",))},
            {},
            CustomerChanges(
                edits=(
                    CustomerEdit(
                        "7",
                        US_ID,
                        {
                            "name": "New",
                            "add_tariff_id": ["21"],
                            "delete_tariff_id": ["17"],
                            "phone0": MOBILE,
                            "phone1": HOME,
                            "crc_billing": CRC,
                        },
                        {
                            "name": "Old",
                            "add_tariff_id": ["17"],
                            "delete_tariff_id": ["17"],
                            "phone0": "999",
                            "phone1": "",
                        },
                    ),
                ),
            ),
            id="5.2-diff-edit-with-previous-view-values",
        ),
        pytest.param(
            SYNCED,
            {
                **SYNCED_VIEW,
                "8": UsCustomer("8", 80, is_in_billing=1),
                "10": UsCustomer("10", 100, is_in_billing="1"),
                "11": UsCustomer("11", 110, is_in_billing=0),
            },
            {},
            CustomerChanges(
                edits=(
                    CustomerEdit(
                        "10",
                        100,
                        {"is_in_billing": 0, "crc_billing": "n-a"},
                        {"is_in_billing": "1"},
                    ),
                    CustomerEdit(
                        "8", 80, {"is_in_billing": 0, "crc_billing": "n-a"}, {"is_in_billing": 1}
                    ),
                ),
                not_in_billing=2,
            ),
            id="4.2-diff-vanished-flagged-once-crc-n-a",
        ),
        pytest.param(
            SYNCED,
            {**SYNCED_VIEW, "8": UsCustomer("8", 80, is_in_billing=1)},
            {"rejected": ("8",)},
            CustomerChanges(rejected=("8",)),
            id="4.6-diff-rejected-never-flagged",
        ),
        pytest.param(
            {"7": billing(login="new"), "9": replace(billing(login="x"), id="9")},
            {"7": view(login="old"), "8": UsCustomer("8", 80, is_in_billing=1)},
            {"only": "7"},
            CustomerChanges(
                edits=(
                    CustomerEdit(
                        "7", US_ID, {"login": "new", "crc_billing": CRC}, {"login": "old"}
                    ),
                )
            ),
            id="3.13-diff-only-one-customer-no-vanished",
        ),
        pytest.param(
            {"7": billing(login="new")},
            {"7": view(login="old")},
            {"only": "404"},
            CustomerChanges(),
            id="3.13-diff-only-unknown-customer-nothing",
        ),
    ],
)
def test_diff_customers(
    billing_rows: dict[str, BillingCustomer],
    userside: dict[str, UsCustomer],
    kwargs: dict[str, Any],
    expected: CustomerChanges,
) -> None:
    changes = diff_customers(billing_rows, userside, RULES, **kwargs)
    assert changes == expected
    assert codec.decode(codec.encode(changes), CustomerChanges) == changes


def test_customer_changes_summary_counts_fields() -> None:
    changes = diff_customers(
        {"7": billing(login="new"), "9": replace(billing(balance="5"), id="9")},
        {"7": view(login="old"), "8": UsCustomer("8", 80, is_in_billing=1)},
        RULES,
    )
    assert changes.summary() == {
        "create": 1,
        "edit": 2,
        "not_in_billing": 1,
        "rejected": 0,
        "unknown_tariff": 0,
        "again": 0,
        "fields": {"balance": 1, "crc_billing": 3, "is_in_billing": 1, "login": 1, "name": 1},
    }


# --- convergence: the second diff after applying the fields sends nothing --------------


def store(current: UsCustomer, fields: dict[str, Any]) -> UsCustomer:
    """UserSide per contract §1.1/§5.2: every value stored verbatim under its read path;
    tariff links a multiset (deletions first), ``tariff_new_id`` split at the last ``|``,
    ``phoneN`` the list slot N."""
    values: dict[str, Any] = {}
    links = list(current.tariff_current)
    for tariff_id in fields.get("delete_tariff_id", []):
        links.remove(next(link for link in links if str(link) == str(tariff_id)))
    links.extend(fields.get("add_tariff_id", []))
    phones = list(current.phones)
    for key, value in fields.items():
        if key in ("crc_billing", "add_tariff_id", "delete_tariff_id"):
            continue
        if key == "tariff_new_id":
            values["tariff_new_id"] = value.rsplit("|", 1)[0] or None
        elif key.startswith("phone"):
            slot = int(key[5:])
            phones.extend([""] * (slot + 1 - len(phones)))
            phones[slot] = value
        else:
            values["full_name" if key == "name" else key] = value
    return replace(current, **values, tariff_current=tuple(links), phones=tuple(phones))


FULL = billing(
    full_name=" O'Brien \\ John ",
    login="o'brien",
    account_number="100010452",
    comment="ONU 1/2\nloan",
    balance="125.555",
    credit="-0.004",
    discount="2.50",
    flag_corporate=0,
    is_disable=1,
    date_connect="2019-03-15",
    state_id="5",
    tariff_current=("17", "17", "21"),
    tariff_new=("30", ""),
    agreement_number="A'1",
    agreement_date="2019-03-14",
    traffic_up=1_837_201_920,
    traffic_down=25_400_123_904,
    phones=(MOBILE, HOME, HOME),
    email="a@x.com, b@y.com",
    date_activity=ACTIVITY,
)
STALE = view(
    full_name="Old",
    login="x",
    comment="c",
    balance="1",
    credit=5,
    flag_corporate=None,
    is_disable=0,
    date_connect="2019-03-15 00:00:00",
    state_id=0,
    tariff_current=("17", "99", "99"),
    tariff_new_id="21",
    agreement_number="A-0",
    traffic_up=1,
    phones=("111", "", "777", "888"),
    email="old@x.com",
    date_activity_inet="2020-01-01 00:00:00",
    is_in_billing=0,
)


@pytest.mark.parametrize(
    ("customer", "current", "config", "settings"),
    [
        pytest.param(FULL, view(), {}, TRAFFIC_ON, id="1.1-converges-full-record-empty-view"),
        pytest.param(FULL, STALE, {}, TRAFFIC_ON, id="1.1-converges-full-record-stale-view"),
        pytest.param(
            FULL, new_customer_view(UID), {}, {}, id="1.1-converges-from-group-add-placeholder"
        ),
        pytest.param(
            FULL,
            STALE,
            {"import_less_phone": True, "do_not_update_add_phone": True},
            {},
            id="1.1-converges-phone-flags",
        ),
        pytest.param(
            FULL,
            STALE,
            {"billing_timezone": "Europe/Kyiv"},
            UNIX,
            id="1.1-converges-activity-unix",
        ),
        pytest.param(
            replace(FULL, date_connect="2019-03-15 10:00:00"),
            view(date_connect="0000-00-00"),
            {"dont_update_date_connect": True, "skip_update_agreement_date": True},
            {},
            id="1.1-converges-dont-update-flags",
        ),
        pytest.param(
            billing(state_id="", tariff_current=("017",)),
            STALE,
            {"import_less_phone": True},
            {},
            id="1.1-converges-clearing-everything",
        ),
    ],
)
def test_second_diff_after_applying_sends_nothing(
    customer: BillingCustomer,
    current: UsCustomer,
    config: dict[str, Any],
    settings: dict[str, Any],
) -> None:
    rules = make_rules(config, settings)
    fields = customer_fields(customer, current, rules)
    assert fields, "the case must start with something to write"
    assert customer_fields(customer, store(current, fields), rules) == {}


def test_second_diff_of_a_whole_change_set_is_empty() -> None:
    billing_rows = {
        "7": FULL,
        "9": replace(FULL, id="9", login="second", phones=()),
        "12": replace(FULL, id="12", tariff_current=(), tariff_new=None),
    }
    userside = {
        "7": STALE,
        "12": replace(STALE, billing_uid="12", us_id=120),
        "8": UsCustomer("8", 80, is_in_billing=1),
    }
    rules = make_rules({}, TRAFFIC_ON)
    changes = diff_customers(billing_rows, userside, rules)
    assert changes.creates == ("9",)
    assert changes.not_in_billing == 1
    applied = dict(userside)
    for edit in changes.edits:
        current = applied.get(edit.billing_uid) or replace(new_customer_view("9"), us_id=90)
        applied[edit.billing_uid] = store(current, edit.fields)
    assert diff_customers(billing_rows, applied, rules) == CustomerChanges()


def test_placeholder_row_is_filled_as_a_new_customer() -> None:
    """Issue 11 item 11: a row ``group_add`` created but no ``group_edit`` reached (the run
    was killed in between) gets exactly the fields a fault-free run sends a new customer,
    whatever UserSide's defaults compare equal to (its ``flag_corporate`` 0 is no "0")."""
    customer = billing(full_name="Ivanov", flag_corporate=0, balance="5")
    defaults = view(full_name=NEW_CUSTOMER_NAME, flag_corporate=0, balance=0, discount=0)
    fresh = diff_customers({UID: customer}, {}, RULES).edits[0].fields
    recovered = diff_customers({UID: customer}, {UID: defaults}, RULES).edits[0]
    assert recovered.fields == fresh
    assert recovered.fields["flag_corporate"] == "0"
    assert recovered.us_id == US_ID


@pytest.mark.parametrize(
    ("fields", "previous", "line"),
    [
        pytest.param(
            {"delete_tariff_id": ["5"]},
            {"delete_tariff_id": ["5", "7"]},
            "u (#9): delete_tariff_id ['5']: ['5', '7'] → ['7']",
            id="13.6-delete-says-what-remains",
        ),
        pytest.param(
            {"delete_tariff_id": [5, 5]},
            {"delete_tariff_id": [5, 5]},
            "u (#9): delete_tariff_id [5, 5]: [5, 5] → []",
            id="13.6-delete-every-link-of-an-id",
        ),
        pytest.param(
            {"add_tariff_id": ["7"]},
            {"add_tariff_id": ["5"]},
            "u (#9): add_tariff_id ['7']: ['5'] → ['5', '7']",
            id="13.6-add-says-the-result",
        ),
        pytest.param(
            {"crc_billing": "abc", "name": "B"},
            {"name": "A"},
            "u (#9): name: 'A' → 'B'",
            id="13.6-internal-crc-billing-not-audited",
        ),
    ],
)
def test_audit_lines_say_what_really_changes(
    fields: dict[str, Any], previous: dict[str, Any], line: str
) -> None:
    assert CustomerEdit("u", 9, fields, previous).audit() == line
