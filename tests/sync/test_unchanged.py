"""Which customers a diff may skip (:mod:`usm_billing.sync.unchanged`) and how the customer
and IP diffs skip them (``unchanged=`` of :func:`diff_customers` and :func:`diff_ips`).

Rules: issue 12 ("skip only what is byte-identical": both row digests and the rules
digest equal to what the last run found nothing to write for; any difference diffs the
customer in full); contract §5.2-5.4 (a customer missing from the view is created, one
gone from the billing is flagged ``is_in_billing=0``, whatever the record says);
universal-api.md §4.4-4.5 (IP bindings kept by a flag are counted in the report).
"""

from __future__ import annotations

from typing import Any

import pytest

from usm_billing import codec
from usm_billing.config import BillingConfig
from usm_billing.state import Unchanged
from usm_billing.sync.changes import IpChanges
from usm_billing.sync.customer_rules import CustomerRules
from usm_billing.sync.customers import diff_customers
from usm_billing.sync.ips import IpRules, diff_ips
from usm_billing.sync.unchanged import remember, rules_digest, skippable
from usm_billing.universal_api.customers import BillingCustomer
from usm_billing.userside.customers import UsCustomer
from usm_billing.userside.models import UsSettings

RULES = rules_digest("rules", 1)
BILLING = {"1": "b1", "2": "b2", "3": "b3"}
VIEW = {"1": "v1", "2": "v2", "3": "v3"}
MEMO = Unchanged(rules=RULES, rows={"1": ("b1", "v1"), "2": ("b2", "v2")}, kept={"2": 4})


# --- rules_digest ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("left", "right", "equal"),
    [
        pytest.param(("a", 1), ("a", 1), True, id="issue-12-same-rules-same-digest"),
        pytest.param(
            ({"x": 1, "y": 2},), ({"y": 2, "x": 1},), True, id="issue-12-key-order-ignored"
        ),
        pytest.param(("a", 1), ("a", 2), False, id="issue-12-a-changed-setting-another-digest"),
        pytest.param(
            (IpRules(),), (IpRules(update_mac=True),), False, id="4.5-a-changed-flag-another-digest"
        ),
        pytest.param((IpRules(),), (IpRules(),), True, id="4.5-equal-rules-equal-digest"),
    ],
)
def test_rules_digest(left: tuple[Any, ...], right: tuple[Any, ...], equal: bool) -> None:
    """issue 12: any change of flags, settings or maps changes the rules digest (stable
    JSON, sorted keys), so every customer is diffed again."""
    assert (rules_digest(*left) == rules_digest(*right)) is equal


# --- skippable -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("memo", "rules", "billing", "view", "expected"),
    [
        pytest.param(MEMO, RULES, BILLING, VIEW, {"1", "2"}, id="issue-12-both-digests-equal"),
        pytest.param(None, RULES, BILLING, VIEW, set(), id="issue-12-no-record-nothing"),
        pytest.param(
            MEMO, rules_digest("other"), BILLING, VIEW, set(), id="issue-12-rules-differ-nothing"
        ),
        pytest.param(
            MEMO,
            RULES,
            {**BILLING, "1": "b1-edited"},
            VIEW,
            {"2"},
            id="issue-12-billing-row-changed-not-skipped",
        ),
        pytest.param(
            MEMO,
            RULES,
            BILLING,
            {**VIEW, "2": "v2-written"},
            {"1"},
            id="issue-12-view-row-changed-not-skipped",
        ),
        pytest.param(
            MEMO,
            RULES,
            {"2": "b2", "3": "b3"},
            VIEW,
            {"2"},
            id="issue-12-billing-digest-missing-not-skipped",
        ),
        pytest.param(
            MEMO,
            RULES,
            BILLING,
            {"1": "v1"},
            {"1"},
            id="issue-12-view-digest-missing-not-skipped",
        ),
        pytest.param(
            MEMO,
            RULES,
            {"1": "v1", "2": "v2"},
            {"1": "b1", "2": "b2"},
            set(),
            id="issue-12-sides-swapped-not-skipped",
        ),
        pytest.param(
            Unchanged(rules=RULES), RULES, BILLING, VIEW, set(), id="issue-12-empty-record-nothing"
        ),
    ],
)
def test_skippable(
    memo: Unchanged | None,
    rules: str,
    billing: dict[str, str],
    view: dict[str, str],
    expected: set[str],
) -> None:
    """issue 12: skip only what is byte-identical: a customer the record names, whose
    billing and view digests are both the recorded ones, under the same rules."""
    assert skippable(memo, rules, billing, view) == frozenset(expected)


# --- remember --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("billing", "view", "compared", "changed", "kept", "expected"),
    [
        pytest.param(
            BILLING,
            VIEW,
            ["1", "2", "3"],
            [],
            None,
            Unchanged(RULES, {"1": ("b1", "v1"), "2": ("b2", "v2"), "3": ("b3", "v3")}),
            id="issue-12-every-compared-unchanged-recorded",
        ),
        pytest.param(
            BILLING,
            VIEW,
            ["1", "2", "3"],
            ["2", "9"],
            None,
            Unchanged(RULES, {"1": ("b1", "v1"), "3": ("b3", "v3")}),
            id="issue-12-changed-ids-not-recorded",
        ),
        pytest.param(
            {"1": "b1", "2": "b2"},
            {"2": "v2", "3": "v3"},
            ["1", "2", "3"],
            [],
            None,
            Unchanged(RULES, {"2": ("b2", "v2")}),
            id="issue-12-a-missing-side-not-recorded",
        ),
        pytest.param(
            BILLING,
            VIEW,
            ["1"],
            [],
            None,
            Unchanged(RULES, {"1": ("b1", "v1")}),
            id="issue-12-only-the-compared-recorded",
        ),
        pytest.param(
            BILLING,
            VIEW,
            ["1", "2", "3"],
            ["3"],
            {"1": 2, "2": 0, "3": 5, "9": 1},
            Unchanged(RULES, {"1": ("b1", "v1"), "2": ("b2", "v2")}, {"1": 2}),
            id="4.5-kept-counts-only-recorded-and-non-zero",
        ),
        pytest.param(
            {}, VIEW, ["1", "2"], [], {"1": 1}, Unchanged(RULES), id="issue-12-no-digests-nothing"
        ),
    ],
)
def test_remember(
    billing: dict[str, str],
    view: dict[str, str],
    compared: list[str],
    changed: list[str],
    kept: dict[str, int] | None,
    expected: Unchanged,
) -> None:
    """issue 12: the next run may skip a compared customer this diff found nothing to write
    for, and only when both its rows have a digest; the kept counts go with it."""
    memo = remember(RULES, billing, view, compared, changed, kept=kept)
    assert memo == expected
    assert codec.from_builtins(codec.to_builtins(memo), Unchanged) == memo  # state file


def test_remembered_then_skippable_round_trip() -> None:
    """issue 12: what one run remembers, the next run with the same rows skips."""
    memo = remember(RULES, BILLING, VIEW, ["1", "2", "3"], ["3"])
    assert skippable(memo, RULES, BILLING, VIEW) == {"1", "2"}
    assert skippable(memo, RULES, {**BILLING, "1": "b1-new"}, VIEW) == {"2"}


# --- diff_customers with unchanged -----------------------------------------------------

CRC = "0123456789abcdef0123456789abcdef"
STATES = {"5": "work", "2": "pause", "1": "nomoney", "3": "disable", "4": "new", "6": "stop"}


def customer_rules() -> CustomerRules:
    config = BillingConfig(billing_id=1, billing_conn_id="billing", userside_conn_id="userside")
    return CustomerRules.build(config, UsSettings(), STATES, now_unix=1_750_000_000)


def record(uid: str, **fields: Any) -> BillingCustomer:
    return BillingCustomer(id=uid, crc=CRC, **fields)


def view_row(uid: str, us_id: int, **fields: Any) -> UsCustomer:
    return UsCustomer(billing_uid=uid, us_id=us_id, **{"is_in_billing": 1, **fields})


# 1 and 2 differ (login), 3 is missing from the view, 4 is in sync, 9 left the billing
CUSTOMERS = {
    "1": record("1", login="new-1"),
    "2": record("2", login="new-2"),
    "3": record("3", login="three"),
    "4": record("4"),
}
US_VIEW = {
    "1": view_row("1", 10, login="old-1"),
    "2": view_row("2", 20, login="old-2"),
    "4": view_row("4", 40),
    "9": view_row("9", 90),
}


@pytest.mark.parametrize(
    ("unchanged", "only", "edited", "creates", "flagged"),
    [
        pytest.param(set(), None, ["1", "2"], ["3"], ["9"], id="issue-12-nothing-skipped"),
        pytest.param({"1"}, None, ["2"], ["3"], ["9"], id="issue-12-skipped-customer-not-diffed"),
        pytest.param(
            {"1", "2", "4"}, None, [], ["3"], ["9"], id="issue-12-exactly-the-named-ids-skipped"
        ),
        pytest.param(
            {"3"}, None, ["1", "2"], ["3"], ["9"], id="5.4-missing-from-the-view-still-created"
        ),
        pytest.param({"9"}, None, ["1", "2"], ["3"], ["9"], id="5.2-not-in-billing-still-flagged"),
        pytest.param(
            {"1", "2", "3", "4", "9"},
            None,
            [],
            ["3"],
            ["9"],
            id="5.2-everything-named-creates-and-flags-remain",
        ),
        pytest.param({"7"}, None, ["1", "2"], ["3"], ["9"], id="issue-12-unknown-id-ignored"),
        pytest.param({"1"}, "1", [], [], [], id="issue-12-only-a-skipped-customer-nothing"),
        pytest.param({"1"}, "2", ["2"], [], [], id="issue-12-only-another-customer-diffed"),
    ],
)
def test_diff_customers_skips_unchanged(
    unchanged: set[str],
    only: str | None,
    edited: list[str],
    creates: list[str],
    flagged: list[str],
) -> None:
    """issue 12, contract §5.2-5.4: the customers ``unchanged`` names are not diffed; a
    customer missing from the view is still created and one gone from the billing is
    still flagged, whatever the record says."""
    changes = diff_customers(
        CUSTOMERS, US_VIEW, customer_rules(), only=only, unchanged=frozenset(unchanged)
    )
    new = [e for e in changes.edits if e.us_id is None]
    gone = [e for e in changes.edits if e.fields.get("is_in_billing") == 0]
    existing = [e for e in changes.edits if e.us_id is not None and e not in gone]
    assert [e.billing_uid for e in existing] == edited
    assert list(changes.creates) == creates == [e.billing_uid for e in new]
    assert [e.billing_uid for e in gone] == flagged
    assert changes.not_in_billing == len(flagged)
    for edit in existing:
        assert edit.fields == {"login": f"new-{edit.billing_uid}", "crc_billing": CRC}


def test_diff_customers_skipped_is_what_a_full_diff_would_give_when_unchanged() -> None:
    """issue 12: skipping a customer the full diff finds nothing for changes nothing."""
    rules = customer_rules()
    full = diff_customers(CUSTOMERS, US_VIEW, rules)
    assert diff_customers(CUSTOMERS, US_VIEW, rules, unchanged=frozenset({"4"})) == full


# --- diff_ips with unchanged -----------------------------------------------------------

IP_1 = 3232235777  # 192.168.1.1
IP_2 = 3232235778  # 192.168.1.2
IP_10 = 167772427  # 10.0.1.11, protected by skip_delete_ip
IP_RULES = IpRules(skip_ranges=((IP_10, IP_10),))


def ip_record(uid: str, *ips: int) -> BillingCustomer:
    return BillingCustomer(id=uid, ip_mac=tuple((str(ip), "", "") for ip in ips))


def ip_view(uid: str, us_id: int, *ips: int) -> UsCustomer:
    return UsCustomer(billing_uid=uid, us_id=us_id, ip_mac=tuple((ip, "") for ip in ips))


# a: in sync, one protected binding kept; b: an IP to add; c: only a kept binding;
# d: not in the view yet (an add, us_id None)
IP_BILLING = {
    "a": ip_record("a", IP_1),
    "b": ip_record("b", IP_2),
    "c": ip_record("c"),
    "d": ip_record("d", IP_1),
}
IP_VIEW = {
    "a": ip_view("a", 1, IP_1, IP_10),
    "b": ip_view("b", 2),
    "c": ip_view("c", 3, IP_10),
}


@pytest.mark.parametrize(
    ("unchanged", "only", "edited", "kept_by"),
    [
        pytest.param(None, None, ["b", "d"], {"a": 1, "c": 1}, id="4.5-nothing-skipped"),
        pytest.param({}, None, ["b", "d"], {"a": 1, "c": 1}, id="4.5-empty-mapping"),
        pytest.param(
            {"a": 1}, None, ["b", "d"], {"a": 1, "c": 1}, id="issue-12-skipped-with-its-kept"
        ),
        pytest.param({"b": 0}, None, ["d"], {"a": 1, "c": 1}, id="issue-12-skipped-not-diffed"),
        pytest.param(
            {"a": 3}, None, ["b", "d"], {"a": 3, "c": 1}, id="4.5-kept-taken-from-the-record"
        ),
        pytest.param({"c": 0}, None, ["b", "d"], {"a": 1}, id="4.5-kept-zero-not-in-kept-by"),
        pytest.param(
            {"a": 1, "b": 0, "c": 1, "d": 0},
            None,
            [],
            {"a": 1, "c": 1},
            id="issue-12-all-skipped-kept-summed",
        ),
        pytest.param(
            {"zz": 5}, None, ["b", "d"], {"a": 1, "c": 1}, id="issue-12-id-not-in-billing-ignored"
        ),
        pytest.param({"b": 0}, "b", [], {}, id="issue-12-only-a-skipped-customer"),
        pytest.param({"a": 2}, "a", [], {"a": 2}, id="issue-12-only-a-skipped-customer-kept"),
    ],
)
def test_diff_ips_skips_unchanged(
    unchanged: dict[str, int] | None,
    only: str | None,
    edited: list[str],
    kept_by: dict[str, int],
) -> None:
    """issue 12, universal-api.md §4.4-4.5: the customers ``unchanged`` maps are not
    diffed; the bindings a flag keeps for each are counted from the mapping, summed into
    ``kept`` and listed in ``kept_by`` with the diffed ones (non-zero only)."""
    changes = diff_ips(IP_BILLING, IP_VIEW, IP_RULES, only=only, unchanged=unchanged)
    assert [e.billing_uid for e in changes.edits] == edited
    assert changes.kept_by == kept_by
    assert changes.kept == sum(kept_by.values())
    assert changes.summary()["kept_by_flags"] == changes.kept


def test_diff_ips_edits_of_the_diffed_customers_are_unchanged_by_skipping() -> None:
    """issue 12: skipping customers leaves the other customers' edits exactly as they are."""
    full = diff_ips(IP_BILLING, IP_VIEW, IP_RULES)
    skipped = diff_ips(IP_BILLING, IP_VIEW, IP_RULES, unchanged={"a": 1, "c": 1})
    assert skipped == full
    assert full == IpChanges(full.edits, 2, {"a": 1, "c": 1})
    assert [(e.us_id, e.fields) for e in full.edits] == [
        (2, {"add_ip1": f"{IP_2},"}),
        (None, {"add_ip1": f"{IP_1},"}),
    ]
