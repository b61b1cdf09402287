"""IP/MAC bindings, one table row per rule.

Sections: universal-api.md §3.13 (``ip_mac`` entry), §4.4 (IP/MAC rules, gray→white
mirror), §4.5 (flags), §4.6.7 (MAC/IP forms), §6 (dotted IPs, MAC normalisation);
userside-api.md §2.5 (``add_ip{N}``, ``ip_change_mac{N}``, ``delete_ip{N}``); contract §5.2
(``ip_mac`` rows), §8 N12. Ids marked ``deviation`` are deliberate improvements over the
PHP module (README "Addresses and IP/MAC").
"""

from __future__ import annotations

from typing import Any

import pytest

from usm_billing import codec
from usm_billing.config import BillingConfig
from usm_billing.sync.changes import IpChanges, IpEdit
from usm_billing.sync.ips import (
    IpRules,
    billing_bindings,
    diff_ips,
    ip_fields,
    normalise_mac,
)
from usm_billing.universal_api.customers import BillingCustomer
from usm_billing.userside.customers import UsCustomer
from usm_billing.userside.models import UsSettings

MAC_A, MAC_B = "001122aabbcc", "aabbcc112233"
IP_1 = 3232235777  # 192.168.1.1
IP_2 = 3232235778  # 192.168.1.2
IP_10 = 167772427  # 10.0.1.11
GRAY_10 = 167772427  # 10.0.1.11 in 10.0.0.0/16
WHITE_10 = 3103850763  # 185.1.1.11 in 185.1.0.0/16


def entry(ip: Any = "", mac: Any = "", local_ip: Any = "") -> tuple[str, str, str]:
    return (str(ip), str(mac), str(local_ip))


# --- MAC forms (IP forms: tests/test_iprange.py) -----------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(MAC_A, MAC_A, id="3.13-mac-12-lowercase-hex-kept"),
        pytest.param("AABBCC112233", MAC_B, id="4.6.7-mac-upper-case-lowered"),
        pytest.param("aa:bb:cc:11:22:33", MAC_B, id="4.6.7-mac-colons-dropped-deviation"),
        pytest.param("00-1a-2b-3c-4d-5e", "001a2b3c4d5e", id="4.6.7-mac-dashes-dropped-deviation"),
        pytest.param("0011.22aa.bbcc", MAC_A, id="4.6.7-mac-dots-dropped-deviation"),
        pytest.param("AA:BB:CC:11:22:33", MAC_B, id="4.6.7-mac-upper-and-colons"),
        pytest.param(" aabbcc112233 ", MAC_B, id="6-mac-white-space-dropped"),
        pytest.param("aabbcc11223", "", id="3.13-mac-length-not-12-empty"),
        pytest.param("aabbcc1122334", "", id="3.13-mac-length-13-empty"),
        pytest.param("gg11cc112233", "", id="3.13-mac-not-hex-empty"),
        pytest.param("", "", id="3.13-mac-missing-empty"),
        pytest.param(None, "", id="3.13-mac-null-empty"),
        pytest.param({"a": 1}, "", id="3.13-mac-object-empty"),
    ],
)
def test_normalise_mac(value: Any, expected: str) -> None:
    assert normalise_mac(value) == expected


def config(**flags: Any) -> BillingConfig:
    return BillingConfig(billing_id=1, billing_conn_id="b", userside_conn_id="u", **flags)


def rules(settings: dict[str, Any] | None = None, **flags: Any) -> IpRules:
    return IpRules.build(config(**flags), UsSettings(**(settings or {})))


MIRROR = {"ip_gray_net": "10.0.0.0/16", "ip_white_net": "185.1.0.0/16"}
UPDATE_MAC = {"is_update_mac": 1}


def test_rules_come_from_config_and_userside_settings() -> None:
    built = rules(
        UPDATE_MAC,
        skip_delete_empty_ip=True,
        force_delete_empty_ip=True,
        skip_delete_ip=["10.0.0.0/8", "192.168.1.1-192.168.1.2,185.1.2.0/28"],
        **MIRROR,
    )
    assert built == IpRules(
        update_mac=True,
        skip_delete_empty_ip=True,
        force_delete_empty_ip=True,
        skip_ranges=((167772160, 184549375), (IP_1, IP_2), (3103851008, 3103851023)),
        gray=(167772160, 65536),
        white=(3103850496, 65536),
    )
    assert rules() == IpRules()


# --- billing bindings ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entries", "flags", "expected"),
    [
        pytest.param([entry(IP_10, MAC_A)], {}, {IP_10: MAC_A}, id="3.13-ip-and-mac"),
        pytest.param([entry(IP_10)], {}, {IP_10: ""}, id="3.13-ip-without-mac-empty-mac"),
        pytest.param(
            [entry(IP_10, "AA:BB:CC:11:22:33")], {}, {IP_10: MAC_B}, id="4.6.7-mac-normalised"
        ),
        pytest.param([entry(IP_10, "bad")], {}, {IP_10: ""}, id="3.13-bad-mac-sent-empty"),
        pytest.param([entry(0, MAC_A)], {}, {-1: MAC_A}, id="3.13-ip-0-mac-only-binding--1"),
        pytest.param([entry("", MAC_A)], {}, {-1: MAC_A}, id="3.13-ip-missing-mac-only--1"),
        pytest.param([entry(0)], {}, {}, id="3.13-no-ip-no-mac-binds-nothing-deviation"),
        pytest.param(
            [entry(IP_10, MAC_A, IP_1)],
            {},
            {IP_10: MAC_A, IP_1: MAC_A},
            id="3.13-local_ip-second-binding-same-mac",
        ),
        pytest.param(
            [entry(0, MAC_A), entry(0, MAC_B)],
            {},
            {-1: MAC_A},
            id="8-N12-several-mac-only-first-kept",
        ),
        pytest.param(
            [entry(0, "bad"), entry(0, MAC_B)],
            {},
            {-1: MAC_B},
            id="8-N12-mac-only-without-mac-skipped",
        ),
        pytest.param(
            [entry(IP_10), entry(IP_10, MAC_B)],
            {},
            {IP_10: MAC_B},
            id="3.13-same-ip-twice-mac-filled",
        ),
        pytest.param(
            [entry(IP_10, MAC_A), entry(IP_10, MAC_B)],
            {},
            {IP_10: MAC_A},
            id="3.13-same-ip-twice-first-mac-wins",
        ),
        pytest.param(
            [entry(GRAY_10, MAC_A)],
            MIRROR,
            {GRAY_10: MAC_A, WHITE_10: MAC_A},
            id="4.4-gray-ip-mirrored-to-white-same-mac",
        ),
        pytest.param(
            [entry(IP_1, MAC_A)], MIRROR, {IP_1: MAC_A}, id="4.4-ip-outside-gray-not-mirrored"
        ),
        pytest.param(
            [entry(GRAY_10, MAC_A)],
            {"ip_gray_net": "10.0.0.0/16", "ip_white_net": "185.1.2.0/28"},
            {GRAY_10: MAC_A},
            id="4.4-offset-beyond-white-net-not-mirrored",
        ),
        pytest.param(
            [entry(GRAY_10, MAC_A), entry(WHITE_10, MAC_B)],
            MIRROR,
            {GRAY_10: MAC_A, WHITE_10: MAC_B},
            id="4.4-billing-own-white-binding-kept",
        ),
        pytest.param([entry(0, MAC_A)], MIRROR, {-1: MAC_A}, id="4.4-mac-only-never-mirrored"),
    ],
)
def test_billing_bindings(entries: list, flags: dict, expected: dict[int, str]) -> None:
    assert billing_bindings(entries, rules(**flags)) == expected


# --- the group_edit keys of one customer ------------------------------------------------------


def row(
    rule: str,
    entries: list | None,
    view: dict[int, Any],
    expected: dict[str, Any],
    *,
    kept: int = 0,
    settings: dict[str, Any] | None = None,
    **flags: Any,
):
    return pytest.param(entries, view, settings or {}, flags, expected, kept, id=rule)


IP_ROWS = [
    row("5.2-in-sync-nothing-sent", [entry(IP_10, MAC_A)], {IP_10: MAC_A}, {}),
    row("2.5-add_ip-new-binding", [entry(IP_10, MAC_A)], {}, {"add_ip1": f"{IP_10},{MAC_A}"}),
    row("2.5-add_ip-without-mac", [entry(IP_10)], {}, {"add_ip1": f"{IP_10},"}),
    row("2.5-add_ip-mac-only--1", [entry(0, MAC_A)], {}, {"add_ip1": f"-1,{MAC_A}"}),
    row(
        "11-add_ip-numbered-from-1-in-ip-order",
        [entry(IP_2, MAC_B), entry(IP_1, MAC_A)],
        {},
        {"add_ip1": f"{IP_1},{MAC_A}", "add_ip2": f"{IP_2},{MAC_B}"},
    ),
    row(
        "5.2-binding-found-by-ip-key-only",
        [entry(IP_10, MAC_A)],
        {IP_10: MAC_B},
        {},
    ),
    row(
        "2.5-ip_change_mac-with-is_update_mac",
        [entry(IP_10, MAC_A)],
        {IP_10: MAC_B},
        {"ip_change_mac1": f"{IP_10},{MAC_A}"},
        settings=UPDATE_MAC,
    ),
    row(
        "2.5-ip_change_mac-mac-only-binding",
        [entry(0, MAC_A)],
        {-1: MAC_B},
        {"ip_change_mac1": f"-1,{MAC_A}"},
        settings=UPDATE_MAC,
    ),
    row(
        "4.4-ip_change_mac-not-for-empty-billing-mac",
        [entry(IP_10)],
        {IP_10: MAC_B},
        {},
        settings=UPDATE_MAC,
    ),
    row(
        "4.6.7-normalised-mac-equals-stored-nothing-sent",
        [entry(IP_10, "AA-BB-CC-11-22-33")],
        {IP_10: MAC_B},
        {},
        settings=UPDATE_MAC,
    ),
    row(
        "4.4-ip_change_mac-fills-missing-view-mac",
        [entry(IP_10, MAC_A)],
        {IP_10: None},
        {"ip_change_mac1": f"{IP_10},{MAC_A}"},
        settings=UPDATE_MAC,
    ),
    row(
        "2.5-delete_ip-absent-from-billing-as-number",
        [entry(IP_10, MAC_A)],
        {IP_10: MAC_A, IP_1: MAC_B},
        {"delete_ip1": IP_1},
    ),
    row(
        "11-add-change-delete-each-own-counter-from-1",
        [entry(IP_10, MAC_A), entry(IP_2, MAC_B)],
        {IP_10: MAC_B, IP_1: MAC_A},
        {
            "add_ip1": f"{IP_2},{MAC_B}",
            "ip_change_mac1": f"{IP_10},{MAC_A}",
            "delete_ip1": IP_1,
        },
        settings=UPDATE_MAC,
    ),
    row(
        "11-add-ip-numbered-from-1",
        [entry(IP_1, MAC_A), entry(IP_2, MAC_B), entry(IP_10, MAC_A), entry(0, MAC_B)],
        {IP_1: MAC_B, IP_2: MAC_A, GRAY_10 + 1: MAC_A, WHITE_10: MAC_B},
        {
            "add_ip1": f"-1,{MAC_B}",
            "add_ip2": f"{IP_10},{MAC_A}",
            "ip_change_mac1": f"{IP_1},{MAC_A}",
            "ip_change_mac2": f"{IP_2},{MAC_B}",
            "delete_ip1": GRAY_10 + 1,
            "delete_ip2": WHITE_10,
        },
        settings=UPDATE_MAC,
    ),
    row(
        "4.5-skip_delete_ip-cidr-range-survives",
        [entry(IP_10, MAC_A)],
        {IP_10: MAC_A, IP_1: MAC_B},
        {},
        kept=1,
        skip_delete_ip=["192.168.1.0/24"],
    ),
    row(
        "4.5-skip_delete_ip-dash-range-survives",
        [entry(IP_10, MAC_A)],
        {IP_10: MAC_A, IP_1: MAC_B, IP_2: MAC_B},
        {},
        kept=2,
        skip_delete_ip=["192.168.1.1-192.168.1.2"],
    ),
    row(
        "4.5-skip_delete_ip-outside-range-deleted",
        [entry(IP_10, MAC_A)],
        {IP_10: MAC_A, IP_1: MAC_B, IP_2: MAC_B},
        {"delete_ip1": IP_2},
        kept=1,
        skip_delete_ip=["192.168.1.1"],
    ),
    row(
        "4.4-mac-only-deleted-by-default",
        [entry(IP_10, MAC_A)],
        {IP_10: MAC_A, -1: MAC_B},
        {"delete_ip1": -1},
    ),
    row(
        "4.5-skip_delete_empty_ip-mac-only-survives",
        [entry(IP_10, MAC_A)],
        {IP_10: MAC_A, -1: MAC_B},
        {},
        kept=1,
        skip_delete_empty_ip=True,
    ),
    row(
        "4.5-skip_delete_empty_ip-positive-ip-still-deleted",
        [entry(IP_10, MAC_A)],
        {IP_10: MAC_A, IP_1: MAC_B},
        {"delete_ip1": IP_1},
        skip_delete_empty_ip=True,
    ),
    row(
        "4.5-force_delete_empty_ip-mac-only-deleted-despite-skip",
        [entry(IP_10, MAC_A)],
        {IP_10: MAC_A, -1: MAC_B},
        {"delete_ip1": -1},
        skip_delete_empty_ip=True,
        force_delete_empty_ip=True,
    ),
    row(
        "4.4-no-ip_mac-every-binding-deleted",
        None,
        {-1: MAC_B, IP_10: MAC_A},
        {"delete_ip1": -1, "delete_ip2": IP_10},
    ),
    row(
        "4.5-no-ip_mac-skip_delete_empty_ip-keeps-all",
        None,
        {-1: MAC_B, IP_10: MAC_A},
        {},
        kept=2,
        skip_delete_empty_ip=True,
    ),
    row(
        "4.5-no-ip_mac-force-not-consulted",
        None,
        {-1: MAC_B, IP_10: MAC_A},
        {},
        kept=2,
        skip_delete_empty_ip=True,
        force_delete_empty_ip=True,
    ),
    row(
        "4.5-no-ip_mac-skip_delete_ip-range-survives-deviation",
        None,
        {IP_1: MAC_B, IP_10: MAC_A},
        {"delete_ip1": IP_10},
        kept=1,
        skip_delete_ip=["192.168.1.0/24"],
    ),
    row(
        "4.4-ip_mac-of-empty-entries-is-not-absent",
        [entry(0)],
        {IP_10: MAC_A},
        {"delete_ip1": IP_10},
        skip_delete_empty_ip=True,
    ),
    row("4.4-no-ip_mac-nothing-in-userside", None, {}, {}),
    row(
        "4.4-gray-white-mirror-written",
        [entry(GRAY_10, MAC_A)],
        {},
        {"add_ip1": f"{GRAY_10},{MAC_A}", "add_ip2": f"{WHITE_10},{MAC_A}"},
        **MIRROR,
    ),
    row(
        "4.4-gray-white-mirror-not-deleted",
        [entry(GRAY_10, MAC_A)],
        {GRAY_10: MAC_A, WHITE_10: MAC_A},
        {},
        **MIRROR,
    ),
    row(
        "8-N12-several-mac-only-converge",
        [entry(0, MAC_A), entry(0, MAC_B)],
        {-1: MAC_A},
        {},
        settings=UPDATE_MAC,
    ),
]


@pytest.mark.parametrize(("entries", "view", "settings", "flags", "expected", "kept"), IP_ROWS)
def test_ip_fields(
    entries: list | None,
    view: dict[int, Any],
    settings: dict[str, Any],
    flags: dict[str, Any],
    expected: dict[str, Any],
    kept: int,
) -> None:
    fields, kept_by_flags = ip_fields(
        None if entries is None else tuple(entries), view, rules(settings, **flags)
    )
    assert fields == expected
    assert kept_by_flags == kept


# --- the change set -------------------------------------------------------------------------


def customer(uid: str, entries: list | None) -> BillingCustomer:
    return BillingCustomer(id=uid, ip_mac=None if entries is None else tuple(entries))


def view_row(uid: str, us_id: int, bindings: dict[int, Any]) -> UsCustomer:
    return UsCustomer(billing_uid=uid, us_id=us_id, ip_mac=tuple(sorted(bindings.items())))


def test_diff_ips_per_customer() -> None:
    billing = {
        "new": customer("new", [entry(IP_1, MAC_A)]),
        "same": customer("same", [entry(IP_10, MAC_A)]),
        "moved": customer("moved", [entry(IP_2, MAC_B)]),
    }
    userside = {
        "same": view_row("same", 2, {IP_10: MAC_A}),
        "moved": view_row("moved", 3, {IP_1: MAC_B}),
        "gone": view_row("gone", 4, {IP_10: MAC_B}),  # not in the billing: left alone
    }
    changes = diff_ips(billing, userside, IpRules())
    assert changes == IpChanges(
        (
            IpEdit(
                "moved",
                3,
                {"add_ip1": f"{IP_2},{MAC_B}", "delete_ip1": IP_1},
                {"3232235777": MAC_B},
            ),
            IpEdit("new", None, {"add_ip1": f"{IP_1},{MAC_A}"}, {}),
        ),
        0,
    )
    assert changes.summary() == {
        "customers": 2,
        "add_ip": 2,
        "ip_change_mac": 0,
        "delete_ip": 1,
        "kept_by_flags": 0,
    }
    assert codec.from_builtins(codec.to_builtins(changes), IpChanges) == changes
    assert diff_ips(billing, userside, IpRules(), only="moved").edits == changes.edits[:1]
    assert diff_ips(billing, userside, IpRules(), only="nobody").is_empty


def test_kept_bindings_are_counted() -> None:
    billing = {"a": customer("a", None)}
    userside = {"a": view_row("a", 1, {-1: MAC_A, IP_10: MAC_B})}
    changes = diff_ips(billing, userside, IpRules(skip_delete_empty_ip=True))
    assert changes.is_empty
    assert changes.summary()["kept_by_flags"] == 2


def test_audit_line_names_every_action() -> None:
    edit = IpEdit(
        "a",
        7,
        {"add_ip1": f"{IP_1},{MAC_A}", "ip_change_mac1": f"{IP_10},{MAC_B}", "delete_ip1": -1},
        {},
    )
    assert edit.audit() == (f"a (#7): add {IP_1},{MAC_A}; change_mac {IP_10},{MAC_B}; delete -1")
    assert IpEdit("b", None, {"add_ip1": "-1,"}, {}).audit() == "b (new): add -1,"
