"""Customer writes of the UserSide emulator per profile (``customers.py``, ``entries.py``,
``checks.py``): one row per UNKNOWN of contract §9 (and §11) and profile.

Each row: entries applied first (must be accepted), then one ``group_edit`` request; the
row states the HTTP status, the read-back of the customer view and the refusal counters.
A refused strict request answers HTTP 400 without ``Count``, names the customer (US id and
billing uid), the key and the reason, and the other customers of the request are applied.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.emulators.userside_client import seeded

if TYPE_CHECKING:
    from collections.abc import Callable

A, B = "10452", "10453"  # billing uids of US customers 1 and 2


def tariffs(uid: str = A) -> Callable[[dict], Any]:
    return lambda v: [t["id"] for t in v[uid]["tariff"]["current"]]


def field(*path: Any, uid: str = A) -> Callable[[dict], Any]:
    def read(v: dict) -> Any:
        value: Any = v[uid]
        for p in path:
            value = value[p]
        return value

    return read


def services(v: dict) -> Any:
    return [(i["cost"], i["comment"]) for i in (v[A]["service"] or {}).get("1", [])]


def keys_of(*path: Any, uid: str = A) -> Callable[[dict], Any]:
    return lambda v: sorted(field(*path, uid=uid)(v) or {})


def ips(v: dict) -> Any:
    return {uid: {k: e["mac"] for k, e in (v[uid]["ip_mac"] or {}).items()} for uid in (A, B)}


MAC1, MAC2 = "001122aabbcc", "aabbccddeeff"
IP = "167772427"

# (profile, setup, request data, status, read, expected, refusals)
# fmt: off
ROWS = [
    # §9.4 add_tariff_id / tariff_new_id with no tariff of the customer's billing
    pytest.param(
        "lenient", [], {"1": {"add_tariff_id": ["99"]}}, 200, tariffs(), ["99"], {},
        id="9.4-lenient-add-unknown-tariff-listed",
    ),
    pytest.param(
        "strict", [], {"1": {"add_tariff_id": ["99"]}}, 400, tariffs(), [],
        {"unknown_tariff": 1}, id="9.4-strict-add-unknown-tariff-refused",
    ),
    pytest.param(
        "lenient", [], {"1": {"tariff_new_id": "99|2025-07-01"}}, 200,
        field("tariff", "new"), [{"id": "99", "date_start": "2025-07-01"}], {},
        id="9.4-lenient-tariff-new-unknown-accepted",
    ),
    pytest.param(
        "strict", [], {"1": {"tariff_new_id": "99|2025-07-01"}}, 400, field("tariff", "new"),
        [], {"unknown_tariff": 1}, id="9.4-strict-tariff-new-unknown-refused",
    ),
    pytest.param(
        "strict", [], {"1": {"tariff_new_id": "|1970-01-01"}}, 200, field("tariff", "new"), [],
        {}, id="9.4-strict-tariff-new-empty-id-clears",
    ),
    # §9.4 delete_tariff_id: one link vs every link
    pytest.param(
        "lenient", [{"1": {"add_tariff_id": ["17", "17", "21"]}}],
        {"1": {"delete_tariff_id": ["17"]}}, 200, tariffs(), ["17", "21"], {},
        id="9.4-lenient-delete-tariff-removes-one",
    ),
    pytest.param(
        "strict", [{"1": {"add_tariff_id": ["17", "17", "21"]}}],
        {"1": {"delete_tariff_id": ["17"]}}, 200, tariffs(), ["21"], {},
        id="9.4-strict-delete-tariff-removes-all",
    ),
    pytest.param(
        "strict", [{"1": {"add_tariff_id": ["17"]}}], {"1": {"delete_tariff_id": ["17", "17"]}},
        200, tariffs(), [], {}, id="9.4-strict-delete-tariff-duplicates-are-protocol",
    ),
    pytest.param(
        "lenient", [{"1": {"add_tariff_id": ["17"]}}], {"1": {"delete_tariff_id": ["21"]}}, 200,
        tariffs(), ["17"], {}, id="9.4-lenient-delete-tariff-not-linked-ignored",
    ),
    pytest.param(
        "strict", [{"1": {"add_tariff_id": ["17"]}}], {"1": {"delete_tariff_id": ["21"]}}, 400,
        tariffs(), ["17"], {"not_present": 1}, id="9.4-strict-delete-tariff-not-linked-refused",
    ),
    pytest.param(
        "strict", [], {"1": {"add_tariff_id": ["17", "17"]}}, 200, tariffs(), ["17", "17"], {},
        id="9.4-strict-links-are-a-multiset",
    ),
    # §9.5 service values, -1, cost/comment target, initial cost
    pytest.param(
        "lenient", [], {"1": {"service": {"1": 2}}}, 200, services,
        [("5.5", ""), ("5.5", "")], {}, id="9.5-lenient-service-n-adds-n",
    ),
    pytest.param(
        "strict", [], {"1": {"service": {"1": 2}}}, 400, services, [], {"service_value": 1},
        id="9.5-strict-service-value-other-than-1-refused",
    ),
    pytest.param(
        "lenient", [], {"1": {"service": {"1": 1}}}, 200, services, [("5.5", "")], {},
        id="9.5-lenient-initial-cost-from-catalogue",
    ),
    pytest.param(
        "strict", [], {"1": {"service": {"1": 1}}}, 200, services, [(0, "")], {},
        id="9.5-strict-initial-cost-zero",
    ),
    pytest.param(
        "lenient", [{"1": {"service": {"1": 1}}}, {"1": {"service": {"1": 1}}}],
        {"1": {"service": {"1": -1}}}, 200, lambda v: len(services(v)), 1, {},
        id="9.5-lenient-service-minus-one-removes-one",
    ),
    pytest.param(
        "strict", [{"1": {"service": {"1": 1}}}, {"1": {"service": {"1": 1}}}],
        {"1": {"service": {"1": -1}}}, 200, lambda v: len(services(v)), 0, {},
        id="9.5-strict-service-minus-one-removes-all",
    ),
    pytest.param(
        "lenient", [], {"1": {"service": {"1": -1}}}, 200, services, [], {},
        id="9.5-lenient-service-remove-not-held-ignored",
    ),
    pytest.param(
        "strict", [], {"1": {"service": {"1": -1}}}, 400, services, [], {"not_present": 1},
        id="9.5-strict-service-remove-not-held-refused",
    ),
    pytest.param(
        "lenient", [{"1": {"service": {"1": 1}}}, {"1": {"service": {"1": 1}}}],
        {"1": {"service_cost": {"1": "7"}, "service_comment": {"1": "c"}}}, 200, services,
        [("7", "c"), ("7", "c")], {}, id="9.5-lenient-cost-comment-every-instance",
    ),
    pytest.param(
        "strict", [{"1": {"service": {"1": 1}}}, {"1": {"service": {"1": 1}}}],
        {"1": {"service_cost": {"1": "7"}, "service_comment": {"1": "c"}}}, 200, services,
        [("7", "c"), (0, "")], {}, id="9.5-strict-cost-comment-first-instance",
    ),
    pytest.param(
        "strict", [], {"1": {"service": {"1": 1}, "service_cost": {"1": "7"}}}, 200, services,
        [("7", "")], {}, id="9.5-strict-add-and-cost-in-one-entry",
    ),
    pytest.param(
        "strict", [], {"1": {"service_cost": {"1": "7"}}}, 400, services, [],
        {"not_present": 1}, id="9.5-strict-cost-of-service-not-held-refused",
    ),
    pytest.param(
        "strict", [], {"1": {"service": {"9": 1}}}, 400, services, [], {"unknown_id": 1},
        id="9.5-strict-unknown-service-id-refused",
    ),
    # §9.6 groups
    pytest.param(
        "lenient", [], {"1": {"delete_group_id": {"2": 2}}}, 200, keys_of("group"), [], {},
        id="9.6-lenient-remove-group-not-held-ignored",
    ),
    pytest.param(
        "strict", [], {"1": {"delete_group_id": {"2": 2}}}, 400, keys_of("group"), [],
        {"not_present": 1}, id="9.6-strict-remove-group-not-held-refused",
    ),
    pytest.param(
        "strict", [{"1": {"add_group_id": {"1": 1, "2": 2}}}],
        {"1": {"delete_group_id": {"2": 2}, "group": {"2": -1}}}, 200, keys_of("group"), ["1"],
        {}, id="9.6-strict-removal-in-both-forms-accepted",
    ),
    pytest.param(
        "lenient", [{"1": {"add_group_id": {"1": 1}}}],
        {"1": {"delete_group_id": {"1": 1}, "group": {"1": 1}}}, 200, keys_of("group"), ["1"],
        {}, id="9.6-lenient-add-wins-over-remove",
    ),
    pytest.param(
        "strict", [{"1": {"add_group_id": {"1": 1}}}],
        {"1": {"delete_group_id": {"1": 1}, "group": {"1": 1}}}, 400, keys_of("group"), ["1"],
        {"conflict": 1}, id="9.6-strict-add-and-remove-same-group-refused",
    ),
    pytest.param(
        "lenient", [], {"1": {"add_group_id": {"7": 7}}}, 200, keys_of("group"), ["7"], {},
        id="9.6-lenient-unknown-group-id-added",
    ),
    pytest.param(
        "strict", [], {"1": {"add_group_id": {"7": 7}}}, 400, keys_of("group"), [],
        {"unknown_id": 1}, id="9.6-strict-unknown-group-id-refused",
    ),
    pytest.param(
        "strict", [], {"1": {"add_group_id": {"1": 1, "2": 2}}}, 200, keys_of("group"),
        ["1", "2"], {}, id="9.6-strict-multi-group",
    ),
    # tags and marks
    pytest.param(
        "lenient", [], {"1": {"tag": {"1": -1}}}, 200, keys_of("tag"), [], {},
        id="5.2-lenient-remove-tag-not-held-ignored",
    ),
    pytest.param(
        "strict", [], {"1": {"tag": {"1": -1}}}, 400, keys_of("tag"), [], {"not_present": 1},
        id="5.2-strict-remove-tag-not-held-refused",
    ),
    pytest.param(
        "strict", [], {"1": {"tag": {"5": 1}}}, 400, keys_of("tag"), [], {"unknown_id": 1},
        id="5.2-strict-unknown-tag-id-refused",
    ),
    pytest.param(
        "strict", [], {"1": {"mark": {"3": 2}}}, 400, keys_of("mark"), [],
        {"malformed_value": 1}, id="5.2-strict-mark-value-other-than-1-refused",
    ),
    # §9.9 ip bindings
    pytest.param(
        "lenient", [{"1": {"add_ip1": f"{IP},{MAC1}"}}], {"1": {"add_ip1": f"{IP},{MAC2}"}}, 200,
        ips, {A: {IP: MAC2}, B: {}}, {}, id="9.9-lenient-re-add-ip-replaces-mac",
    ),
    pytest.param(
        "strict", [{"1": {"add_ip1": f"{IP},{MAC1}"}}], {"1": {"add_ip1": f"{IP},{MAC2}"}}, 400,
        ips, {A: {IP: MAC1}, B: {}}, {"ip_bound": 1}, id="9.9-strict-re-add-ip-refused",
    ),
    pytest.param(
        "lenient", [{"1": {"add_ip1": f"{IP},{MAC1}"}}], {"2": {"add_ip1": f"{IP},{MAC2}"}}, 200,
        ips, {A: {IP: MAC1}, B: {IP: MAC2}}, {}, id="9.9-lenient-ip-of-other-customer-added",
    ),
    pytest.param(
        "strict", [{"1": {"add_ip1": f"{IP},{MAC1}"}}], {"2": {"add_ip1": f"{IP},{MAC2}"}}, 400,
        ips, {A: {IP: MAC1}, B: {}}, {"ip_bound": 1}, id="9.9-strict-ip-of-other-customer-refused",
    ),
    pytest.param(
        "strict", [], {"1": {"add_ip1": f"{IP},{MAC1}"}, "2": {"add_ip1": f"{IP},{MAC2}"}}, 400,
        ips, {A: {IP: MAC1}, B: {}}, {"ip_bound": 1},
        id="9.9-strict-checked-against-earlier-entries-of-the-request",
    ),
    pytest.param(
        "strict", [{"1": {"add_ip1": f"-1,{MAC1}"}}], {"2": {"add_ip1": f"-1,{MAC2}"}}, 200,
        ips, {A: {"-1": MAC1}, B: {"-1": MAC2}}, {}, id="9.9-strict-mac-only-on-two-customers",
    ),
    pytest.param(
        "strict", [{"1": {"add_ip1": f"{IP},{MAC1}"}}],
        {"1": {"delete_ip1": int(IP), "add_ip1": f"{IP},{MAC2}"}}, 200, ips,
        {A: {IP: MAC2}, B: {}}, {}, id="9.9-strict-delete-then-add-in-one-entry",
    ),
    pytest.param(
        "lenient", [], {"1": {"delete_ip1": int(IP)}}, 200, ips, {A: {}, B: {}}, {},
        id="9.9-lenient-delete-unbound-ip-ignored",
    ),
    pytest.param(
        "strict", [], {"1": {"delete_ip1": int(IP)}}, 400, ips, {A: {}, B: {}},
        {"not_present": 1}, id="9.9-strict-delete-unbound-ip-refused",
    ),
    pytest.param(
        "strict", [], {"1": {"ip_change_mac1": f"{IP},{MAC2}"}}, 400, ips, {A: {}, B: {}},
        {"not_present": 1}, id="9.9-strict-change-mac-of-unbound-ip-refused",
    ),
    pytest.param(
        "strict", [{"1": {"add_ip1": f"{IP},{MAC1}"}}], {"1": {"ip_change_mac1": f"{IP},"}}, 400,
        ips, {A: {IP: MAC1}, B: {}}, {"malformed_value": 1},
        id="5.2-strict-change-mac-without-mac-refused",
    ),
    # §11 numbering of add_ip{N} / ip_change_mac{N} / delete_ip{N}
    pytest.param(
        "lenient", [], {"1": {"add_ip0": f"{IP},{MAC1}"}}, 200, ips, {A: {IP: MAC1}, B: {}}, {},
        id="11-lenient-add-ip0-accepted",
    ),
    pytest.param(
        "strict", [], {"1": {"add_ip0": f"{IP},{MAC1}"}}, 400, ips, {A: {}, B: {}},
        {"ip_numbering": 1}, id="11-strict-add-ip0-refused",
    ),
    pytest.param(
        "strict", [], {"1": {"add_ip1": f"{IP},{MAC1}", "add_ip3": f"-1,{MAC2}"}}, 400, ips,
        {A: {}, B: {}}, {"ip_numbering": 1}, id="11-strict-gap-in-numbering-refused",
    ),
    pytest.param(
        "strict", [], {"1": {"add_ip1": f"{IP},{MAC1}", "add_ip2": f"-1,{MAC2}"}}, 200, ips,
        {A: {IP: MAC1, "-1": MAC2}, B: {}}, {}, id="11-strict-numbered-from-1-accepted",
    ),
    # §9.12 activity moving backwards
    pytest.param(
        "lenient", [{"1": {"date_activity_inet": "2025-06-12 21:48:03"}}],
        {"1": {"date_activity_inet": "2024-01-01 00:00:00"}}, 200, field("date_activity_inet"),
        "2024-01-01 00:00:00", {}, id="9.12-lenient-activity-goes-back",
    ),
    pytest.param(
        "strict", [{"1": {"date_activity_inet": "2025-06-12 21:48:03"}}],
        {"1": {"date_activity_inet": "2024-01-01 00:00:00"}}, 200, field("date_activity_inet"),
        "2025-06-12 21:48:03", {}, id="9.12-strict-activity-never-goes-back",
    ),
    # unknown key / malformed value: the whole request (lenient) vs that customer (strict)
    pytest.param(
        "lenient", [], {"1": {"bogus": 1}, "2": {"login": "b"}}, 400, field("login", uid=B), "",
        {"unknown_key": 1}, id="5.3-lenient-unknown-key-refuses-request",
    ),
    pytest.param(
        "strict", [], {"1": {"bogus": 1}, "2": {"login": "b"}}, 400, field("login", uid=B), "b",
        {"unknown_key": 1}, id="5.3-strict-unknown-key-refuses-that-customer",
    ),
    pytest.param(
        "lenient", [], {"1": {"add_ip1": "10.0.0.1,"}, "2": {"login": "b"}}, 400,
        field("login", uid=B), "", {"malformed_value": 1},
        id="5.3-lenient-malformed-value-refuses-request",
    ),
    pytest.param(
        "strict", [], {"1": {"add_ip1": "10.0.0.1,"}, "2": {"login": "b"}}, 400,
        field("login", uid=B), "b", {"malformed_value": 1},
        id="5.3-strict-malformed-value-refuses-that-customer",
    ),
    pytest.param(
        "strict", [], {"1": {"login": "a", "bogus": 1}}, 400, field("login"), "",
        {"unknown_key": 1}, id="5.3-strict-refused-entry-applies-nothing-of-it",
    ),
    pytest.param(
        "strict", [], {"1": {"tariff_new_id": "17"}}, 400, field("tariff", "new"), [],
        {"malformed_value": 1}, id="5.2-strict-tariff-new-without-bar-refused",
    ),
    pytest.param(
        "lenient", [], {"1": {"tariff_new_id": "17"}}, 200, field("tariff", "new"),
        [{"id": "17", "date_start": ""}], {}, id="5.2-lenient-tariff-new-without-bar-accepted",
    ),
    pytest.param(
        "strict", [], {"9": {"login": "x"}, "2": {"login": "b"}}, 400, field("login", uid=B), "b",
        {"unknown_id": 1}, id="5.3-strict-unknown-customer-refused-others-applied",
    ),
]
# fmt: on


@pytest.mark.parametrize(
    ("profile", "setup", "data", "status", "read", "expected", "refusals"), ROWS
)
def test_unknowns_per_profile(
    profile: str,
    setup: list[dict[str, Any]],
    data: dict[str, Any],
    status: int,
    read: Callable[[dict], Any],
    expected: Any,
    refusals: dict[str, int],
) -> None:
    c = seeded(profile)
    for step in setup:
        assert c.edit(step)[0] == 200, step
    assert c.stats()["refusals_total"] == 0
    got_status, reply = c.edit(data)
    assert got_status == status, reply
    assert read(c.view()) == expected
    stats = c.stats()
    assert stats["refusals"] == refusals
    assert stats["refusals_total"] == sum(refusals.values())
    if status == 400:
        assert reply["result"] == "ERROR"
        assert "count" not in reply
        assert "Count" not in reply
        assert [r["reason"] for r in reply["refused"]] == list(refusals)
    else:
        assert "count" in reply


@pytest.mark.parametrize("profile", ["lenient", "strict"])
def test_refusal_names_customer_key_and_reason(profile: str) -> None:
    c = seeded(profile)
    status, reply = c.edit({"2": {"add_ip0" if profile == "strict" else "bogus": "x"}})
    assert status == 400
    (refused,) = reply["refused"]
    key = "add_ip0" if profile == "strict" else "bogus"
    assert refused["customer_id"] == 2
    assert refused["billing_uid"] == B
    assert refused["key"] == key
    assert refused["reason"] == ("ip_numbering" if profile == "strict" else "unknown_key")
    assert f"customer 2 (billing uid '{B}'): key '{key}'" in reply["ErrorText"]


def test_strict_partial_refusal_is_a_mutation_lenient_is_not() -> None:
    for profile, applied in (("lenient", 0), ("strict", 1)):
        c = seeded(profile)
        before = c.stats()["mutations"]
        c.edit({"1": {"bogus": 1}, "2": {"login": "b"}})
        assert c.stats()["mutations"] == before + applied


@pytest.mark.parametrize(
    ("profile", "status", "created", "refusals"),
    [
        pytest.param("lenient", 200, ["10452", "10453", "n1"], {}, id="9.3-lenient-existing-no-op"),
        pytest.param(
            "strict",
            400,
            ["10452", "10453", "n1"],
            {"already_exists": 1},
            id="9.3-strict-existing-refused-new-created",
        ),
    ],
)
def test_group_add_existing(
    profile: str, status: int, created: list[str], refusals: dict[str, int]
) -> None:
    c = seeded(profile)
    data = [{"billing_customer_id": 10452, "name": "x"}, {"billing_customer_id": "n1", "name": "y"}]
    got, reply = c.post(cat="customer", action="group_add", billing_id=1, data=data)
    assert got == status
    assert sorted(c.view()) == created
    assert c.view()[A]["full_name"] == "a"
    assert c.stats()["refusals"] == refusals
    if status == 400:
        assert "count" not in reply
        assert reply["refused"][0]["billing_uid"] == A
    else:
        assert reply["count"] == 2
