"""Issue 4's per-customer rules and flags through ``customer_fields``: groups, tags and
services (only with a non-empty billing catalogue), additional data with both merge maps
and the fallback, marks, passwords (plain, encoded, into the comment), child accounts
(``parent_id``, ``skip_parent_link``) and the licence cap ``row_limit`` (``without_log``
and the diff task's ``row_limit``: tests/tasks/test_customers.py).

Sections: universal-api.md §3.13, §4.4, §4.5; userside-api.md §2.1, §6; contract §2
(``row_limit``, ``is_encode_customer_password``), §5.2 (rows group, tag, service,
additional_data, mark, password, parent_id, comment). One table row per rule.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from usm_billing.config import BillingConfig
from usm_billing.passwords import SEALED, PasswordBox
from usm_billing.sync.changes import DEFERRED_CUSTOMER
from usm_billing.sync.customer_fields import customer_fields
from usm_billing.sync.customer_rules import CustomerRules
from usm_billing.sync.customers import diff_customers, limit_rows, new_customer_view
from usm_billing.universal_api.customers import BillingCustomer
from usm_billing.userside.customers import UsCustomer
from usm_billing.userside.models import UsSettings

UID, US_ID, CRC = "7", 70, "c" * 32
BOX = PasswordBox("billing-api-key")
CATALOGUES = {
    "enabled": {"groups": True, "tags": True, "services": True},
    "group_map": {"1": 11, "2": 12, "3": 13},
    "tag_map": {"1": 21, "2": 22},
    "service_map": {"1": 31},
}
NO_CATALOGUES = {"enabled": {"groups": False, "tags": False, "services": False}}


def billing(**fields: Any) -> BillingCustomer:
    return BillingCustomer(id=UID, crc=CRC, **fields)


def view(**fields: Any) -> UsCustomer:
    return UsCustomer(billing_uid=UID, us_id=US_ID, **{"is_in_billing": 1, **fields})


def rules(
    config: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    catalogues: dict[str, Any] | None = None,
) -> CustomerRules:
    return CustomerRules.build(
        BillingConfig(billing_id=1, billing_conn_id="b", userside_conn_id="u", **config or {}),
        UsSettings(**settings or {}),
        {},
        now_unix=1_750_000_000,
        catalogues=catalogues,
        customer_ids={"100": 1000},
        passwords=BOX,
    )


def opened(fields: dict[str, Any], us_id: int = US_ID) -> dict[str, Any]:
    """``fields`` with sealed values opened the way the load opens them."""
    return {
        k: BOX.unseal(v, us_id) if isinstance(v, dict) and SEALED in v else v
        for k, v in fields.items()
    }


def row(rule, customer, current, expected, *, config=None, settings=None, catalogues=None):
    return pytest.param(
        customer, current, config or {}, settings or {}, catalogues, expected, id=rule
    )


def encoded(password: str, us_id: int = US_ID) -> str:
    inner = hashlib.md5(password.encode()).hexdigest()
    return hashlib.md5(f"{inner}_us1234567890US_{us_id}".encode()).hexdigest()


ROWS = [
    # groups (§4.4: only when the billing's group catalogue is non-empty)
    row(
        "4.4-groups-not-synced-with-empty-billing-catalogue",
        billing(groups=("1",)),
        view(groups=(99,)),
        {},
        catalogues=NO_CATALOGUES,
    ),
    row(
        "4.4-groups-added-and-every-other-removed",
        billing(groups=("1",)),
        view(groups=(99,)),
        {
            "add_group_id": {"11": 11},
            "delete_group_id": {"99": 99},
            "group": {"11": 1, "99": -1},
            "crc_billing": CRC,
        },
        catalogues=CATALOGUES,
    ),
    row(
        "4.5-always-set-customer-group-id-added-to-every-customer",
        billing(groups=("1",)),
        view(groups=(11,)),
        {"add_group_id": {"13": 13}, "group": {"13": 1}, "crc_billing": CRC},
        config={"always_set_customer_group_id": "3"},
        catalogues=CATALOGUES,
    ),
    row(
        "4.5-always-set-customer-group-id-kept",
        billing(groups=("1",)),
        view(groups=(11, 13)),
        {},
        config={"always_set_customer_group_id": "3"},
        catalogues=CATALOGUES,
    ),
    row(
        "4.5-always-set-without-group-catalogue-nothing",
        billing(),
        view(),
        {},
        config={"always_set_customer_group_id": "3"},
        catalogues=NO_CATALOGUES,
    ),
    # tags (§4.4)
    row(
        "4.4-tag-added-with-date-add",
        billing(tags=(("1", "2024-01-10 09:00:00"),)),
        view(),
        {"tag": {"21": "2024-01-10 09:00:00"}, "crc_billing": CRC},
        catalogues=CATALOGUES,
    ),
    row(
        "4.4-tag-manual-kept-matched-removed",
        billing(),
        view(tags=(21, 77)),
        {"tag": {"21": -1}, "crc_billing": CRC},
        catalogues=CATALOGUES,
    ),
    row(
        "4.4-tags-not-synced-with-empty-billing-catalogue",
        billing(tags=(("1", ""),)),
        view(),
        {},
        catalogues=NO_CATALOGUES,
    ),
    # services (§4.4, contract §8 N10)
    row(
        "9.5-service-two-instances-first-step-adds-one-with-cost",
        billing(services=(("1", (("19.99", ""), ("19.99", ""))),)),
        view(),
        {"service": {"31": 1}, "service_cost": {"31": "19.99"}, "crc_billing": CRC},
        catalogues=CATALOGUES,
    ),
    row(
        "4.4-service-equal-numeric-cost",
        billing(services=(("1", (("19.99", ""),)),)),
        view(services=((31, ((19.99, ""),)),)),
        {},
        catalogues=CATALOGUES,
    ),
    row(
        "4.4-services-not-synced-with-empty-billing-catalogue",
        billing(),
        view(services=((31, ((19.99, ""),)),)),
        {},
        catalogues=NO_CATALOGUES,
    ),
    # additional data (§4.5, userside-api.md §6)
    row(
        "6-additional-customer-data-merge-3.14",
        billing(additional_customer_data=(("1", "ВМ 556677"),)),
        view(),
        {"additional_customer_data": {"4": "ВМ 556677"}, "crc_billing": CRC},
        config={"additional_customer_data_merge": {"1": 4}},
    ),
    row(
        "3.13-additional-customer-data-falls-back-to-additional-data",
        billing(additional_data=(("1", "ЖТ 101010"),)),
        view(),
        {"additional_customer_data": {"4": "ЖТ 101010"}, "crc_billing": CRC},
        config={"additional_customer_data_merge": {"1": 4}},
    ),
    row(
        "3.13-additional-customer-data-present-no-fallback",
        billing(additional_data=(("1", "old"),), additional_customer_data=()),
        view(additional_customer_data=(("4", "x"),)),
        {"additional_customer_data": {"4": ""}, "crc_billing": CRC},
        config={"additional_customer_data_merge": {"1": 4}},
    ),
    row(
        "6-additional-data-merge-3.13",
        billing(additional_data=(("2", "ZTEG1A2B3C4D"), ("3", "1"))),
        view(additional_data=(("8", "1"),)),
        {"additional_data": {"7": "ZTEG1A2B3C4D"}, "crc_billing": CRC},
        config={"additional_data_merge": {"2": 7, "3": 8}},
    ),
    row(
        "4.4-additional-data-compared-as-strings",
        billing(additional_data=(("3", "1"),)),
        view(additional_data=(("8", 1),)),
        {},
        config={"additional_data_merge": {"3": 8}},
    ),
    row(
        "4.5-additional-data-without-merge-map-ignored",
        billing(additional_data=(("2", "x"),)),
        view(),
        {},
    ),
    # marks ($markMerge: only added)
    row(
        "4.5-mark-merge-adds",
        billing(marks=("2",)),
        view(marks=(5,)),
        {"mark": {"6": 1}, "crc_billing": CRC},
        config={"mark_merge": {"2": [5, 6]}},
    ),
    row(
        "4.5-mark-merge-never-removes",
        billing(),
        view(marks=(5,)),
        {},
        config={"mark_merge": {"2": [5]}},
    ),
    # child accounts (§3.13 account, contract §5.2 parent_id)
    row(
        "5.2-parent-id-of-a-child",
        billing(parent="100"),
        view(parent_id=0),
        {"parent_id": "1000", "crc_billing": CRC},
    ),
    row("5.2-parent-id-equal", billing(parent="100"), view(parent_id="1000"), {}),
    row(
        "5.2-parent-created-this-run-filled-by-the-load",
        billing(parent="200"),
        view(),
        {"parent_id": {DEFERRED_CUSTOMER: "200"}, "crc_billing": CRC},
    ),
    row(
        "5.2-parent-id-zero-for-others",
        billing(),
        view(parent_id=1000),
        {"parent_id": "0", "crc_billing": CRC},
    ),
    row(
        "4.5-skip-parent-link",
        billing(parent="100"),
        view(parent_id=0),
        {},
        config={"skip_parent_link": True},
    ),
]


@pytest.mark.parametrize(
    ("customer", "current", "config", "settings", "catalogues", "expected"), ROWS
)
def test_customer_fields(customer, current, config, settings, catalogues, expected):
    assert customer_fields(customer, current, rules(config, settings, catalogues)) == expected


SEAL = BOX.seal("it's")
PASSWORD_ROWS = [
    row(
        "4.5-import-password-plain-apostrophe-escaped",
        billing(password=SEAL),
        view(password=BOX.digest("old")),
        {"password": "it&#039;s", "crc_billing": CRC},
        config={"import_password_to_us_password": True},
    ),
    row(
        "4.5-import-password-plain-equal",
        billing(password=SEAL),
        view(password=BOX.digest("it&#039;s")),
        {},
        config={"import_password_to_us_password": True},
    ),
    row(
        "2-is-encode-customer-password-salted-md5-with-us-id",
        billing(password=SEAL),
        view(password=BOX.digest("it&#039;s")),
        {"password": encoded("it&#039;s"), "crc_billing": CRC},
        config={"import_password_to_us_password": True},
        settings={"is_encode_customer_password": 1},
    ),
    row(
        "2-is-encode-customer-password-equal",
        billing(password=SEAL),
        view(password=BOX.digest(encoded("it&#039;s"))),
        {},
        config={"import_password_to_us_password": True},
        settings={"is_encode_customer_password": 1},
    ),
    row(
        "4.5-import-password-off",
        billing(password=SEAL),
        view(password=BOX.digest("old")),
        {},
    ),
    row(
        "4.5-no-billing-password-never-clears",
        billing(),
        view(password=BOX.digest("old")),
        {},
        config={"import_password_to_us_password": True},
    ),
    row(
        "5.2-save-password-to-comment-appended",
        billing(comment="a/b", password=SEAL),
        view(comment="a&#047;b"),
        {"comment": "a&#047;b<br><b>pass: it&#039;s</b>", "crc_billing": CRC},
        config={"save_password_to_comment": True},
    ),
    row(
        "5.2-save-password-to-comment-equal",
        billing(comment="a/b", password=SEAL),
        view(comment=f"a&#047;b<br><b>pass: {BOX.digest('it&#039;s')}</b>"),
        {},
        config={"save_password_to_comment": True},
    ),
    row(
        "5.2-save-password-to-comment-password-changed",
        billing(comment="", password=SEAL),
        view(comment=f"<br><b>pass: {BOX.digest('old')}</b>"),
        {"comment": "<br><b>pass: it&#039;s</b>", "crc_billing": CRC},
        config={"save_password_to_comment": True},
    ),
    row(
        "5.2-save-password-to-comment-without-password-plain-comment",
        billing(comment="note"),
        view(comment="note"),
        {},
        config={"save_password_to_comment": True},
    ),
]


@pytest.mark.parametrize(
    ("customer", "current", "config", "settings", "catalogues", "expected"), PASSWORD_ROWS
)
def test_passwords_are_sent_sealed(customer, current, config, settings, catalogues, expected):
    fields = customer_fields(customer, current, rules(config, settings, catalogues))
    assert opened(fields) == expected
    for key in ("password", "comment"):  # in the change set (XCom) only sealed
        if key in fields:
            assert isinstance(fields[key], dict), key
            assert SEALED in fields[key], key


def test_new_customer_gets_the_password_encoded_with_its_new_id():
    customer = billing(password=SEAL)
    fields = customer_fields(
        customer,
        new_customer_view(UID),
        rules({"import_password_to_us_password": True}, {"is_encode_customer_password": 1}),
    )
    assert BOX.unseal(fields["password"], 555) == encoded("it&#039;s", 555)


@pytest.mark.parametrize(
    ("records", "row_limit", "kept", "dropped"),
    [
        pytest.param(200, 0, 200, 0, id="2-row-limit-zero-no-limit"),
        pytest.param(200, 150, 200, 0, id="2-row-limit-150-or-less-no-limit"),
        pytest.param(200, 151, 151, 49, id="2-row-limit-above-150-caps"),
        pytest.param(100, 151, 100, 0, id="2-row-limit-not-reached"),
    ],
)
def test_row_limit(records, row_limit, kept, dropped):
    customers = {str(i): BillingCustomer(id=str(i)) for i in range(records)}
    result, gone = limit_rows(customers, row_limit)
    assert (len(result), len(gone)) == (kept, dropped)
    assert list(result) == [str(i) for i in range(kept)]  # the first ones, billing order


def test_row_limit_counts_only_records_without_is_disable_and_flags_the_rest():
    customers = {str(i): BillingCustomer(id=str(i), login="x") for i in range(160)}
    customers.update({f"d{i}": BillingCustomer(id=f"d{i}", has_is_disable=True) for i in range(5)})
    kept, dropped = limit_rows(customers, 155)
    assert dropped == tuple(str(i) for i in range(155, 160))
    assert {f"d{i}" for i in range(5)} <= set(kept)  # closed accounts are not counted
    views = {
        uid: UsCustomer(billing_uid=uid, us_id=i + 1, is_in_billing=1)
        for i, uid in enumerate(customers)
    }
    changes = diff_customers(kept, views, rules())
    flagged = {e.billing_uid for e in changes.edits if e.fields.get("is_in_billing") == 0}
    assert flagged == set(dropped)
