"""The address and IP load steps around failures, dry runs and the cache (contract §1.5:
a write that is not acknowledged; universal-api.md §4.3; issue 3 "Deliver" 5), with fake
hooks that record every call."""

from __future__ import annotations

from typing import Any

import pytest

from usm_billing import steps
from usm_billing.config import BillingConfig
from usm_billing.exceptions import FatalApiError
from usm_billing.house_cache import HouseCache
from usm_billing.sync.changes import (
    AddressChanges,
    HouseAdd,
    HouseCompare,
    HouseEdit,
    IpChanges,
    IpEdit,
    StreetAdd,
)
from usm_billing.userside.models import UsCustomer


class FakeUserSide:
    """Records calls; ``fail`` names the calls (or ``call:argument``) that raise."""

    def __init__(self, *, fail: set[str] | None = None, view: dict[str, int] | None = None):
        self.calls: list[tuple[str, Any]] = []
        self.fail = fail or set()
        self.view = view or {}
        self.writes_sent = 0
        self.next_id = 100

    def _call(self, name: str, argument: Any) -> int:
        self.calls.append((name, argument))
        self.writes_sent += 1
        if name in self.fail or f"{name}:{argument}" in self.fail:
            msg = f"UserSide `us` {name}: refused"
            raise FatalApiError(msg)
        self.next_id += 1
        return self.next_id

    def compare_house(self, data, *, is_disable_create, billing_crc_id):
        self._call("compare_house", ",".join(data))
        return {k: int(k) * 10 for k in data}, {"house": list(data)}

    def add_city(self, name):
        return self._call("add_city", name)

    def add_street(self, city_id, name):
        return self._call("add_street", name)

    def add_house(self, city_id, street_id, number, block, *, floor, entrance):
        return self._call("add_house", number)

    def edit_house(self, us_id, fields):
        self._call("edit_house", us_id)

    def get_user_list(self, billing_id):
        self.calls.append(("get_user_list", billing_id))
        return {uid: UsCustomer(billing_uid=uid, us_id=us_id) for uid, us_id in self.view.items()}

    def customer_group_edit(self, data, *, src_billing):
        self._call("group_edit", ",".join(sorted(data)))
        return len(data)


def config(tmp_path, **settings: Any) -> BillingConfig:
    return BillingConfig(
        billing_id=1,
        billing_conn_id="b",
        userside_conn_id="u",
        state_path=str(tmp_path),
        **settings,
    )


def compare_changes(*ids: str, known: dict[str, int] | None = None) -> AddressChanges:
    known = known or {}
    return AddressChanges(
        mode="compare_house",
        known=known,
        digests={k: f"h{k}" for k in (*ids, *known)},
        compare=tuple(HouseCompare(k, {"c": "Kyiv", "n": k}) for k in ids),
    )


def test_compare_house_batches_and_cache(tmp_path) -> None:
    userside = FakeUserSide()
    summary = steps.load_addresses(
        config(tmp_path, compare_house_batch_size=2),
        userside,
        compare_changes("1", "2", "3", known={"9": 90, "8": 0}).to_json(),
        dry_run=False,
    )
    assert userside.calls == [("compare_house", "1,2"), ("compare_house", "3")]
    assert summary["house_map"] == {"1": 10, "2": 20, "3": 30, "9": 90}
    assert summary["write_requests"] == 2
    assert summary["created"] == {"house": 3}
    assert summary["unmatched"] == 1
    assert summary["failed"] == []
    assert HouseCache(config(tmp_path)).load() == {
        "1": ["h1", 10],
        "2": ["h2", 20],
        "3": ["h3", 30],
        "8": ["h8", 0],
        "9": ["h9", 90],
    }


def test_failed_compare_house_batch_is_reported_and_not_cached(tmp_path) -> None:
    userside = FakeUserSide(fail={"compare_house:3"})
    summary = steps.load_addresses(
        config(tmp_path, compare_house_batch_size=2),
        userside,
        compare_changes("1", "2", "3").to_json(),
        dry_run=False,
    )
    assert summary["house_map"] == {"1": 10, "2": 20}
    assert [f["record"] for f in summary["failed"]] == ["compare_house of 1 houses"]
    assert set(HouseCache(config(tmp_path)).load()) == {"1", "2"}  # house 3 asked next run


def test_unwritable_cache_is_reported_but_the_map_is_used(tmp_path) -> None:
    (tmp_path / "1").write_text("a file where the billing's folder should be", encoding="utf-8")
    summary = steps.load_addresses(
        config(tmp_path), FakeUserSide(), compare_changes("1").to_json(), dry_run=False
    )
    assert summary["house_map"] == {"1": 10}
    assert [f["record"] for f in summary["failed"]] == ["house cache"]


def test_converged_compare_house_run_writes_nothing_and_keeps_the_cache(tmp_path) -> None:
    userside = FakeUserSide()
    summary = steps.load_addresses(
        config(tmp_path), userside, compare_changes(known={"1": 10}).to_json(), dry_run=False
    )
    assert (userside.calls, summary["write_requests"]) == ([], 0)
    assert summary["house_map"] == {"1": 10}
    assert not (tmp_path / "1").exists()


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param(compare_changes("1", known={"2": 20, "3": 0}), id="compare_house"),
        pytest.param(
            AddressChanges(
                mode="per_object",
                known={"2": 20},
                city_adds=("Kyiv",),
                house_edits=(HouseEdit(20, "2", {"floor": 9}, {"floor": 0}),),
            ),
            id="per_object",
        ),
    ],
)
def test_dry_run_maps_only_known_houses(tmp_path, changes) -> None:
    userside = FakeUserSide()
    summary = steps.load_addresses(config(tmp_path), userside, changes.to_json(), dry_run=True)
    assert userside.calls == []
    assert summary["house_map"] == {"2": 20}
    assert summary["write_requests"] == 0


def test_off_writes_nothing(tmp_path) -> None:
    summary = steps.load_addresses(
        config(tmp_path), FakeUserSide(), AddressChanges().to_json(), dry_run=False
    )
    assert (summary["mode"], summary["house_map"], summary["write_requests"]) == ("off", {}, 0)


OLD = AddressChanges(
    mode="per_object",
    known={"5": 55},
    city_adds=("Kyiv", "Lviv"),
    street_adds=(
        StreetAdd(None, "Kyiv", "Main"),
        StreetAdd(None, "Lviv", "Rynok"),
        StreetAdd(7, "Odesa", "Sea"),
    ),
    house_adds=(
        HouseAdd(("1", "2"), None, "Kyiv", None, "Main", "1", "", 9, 2, "01001"),
        HouseAdd(("3",), None, "Lviv", None, "Rynok", "3", "", 0, 0, ""),
        HouseAdd(("4",), 7, "Odesa", 70, "Sea", "4", "A", 0, 0, ""),
    ),
    house_edits=(HouseEdit(55, "5", {"floor": 9}, {"floor": 0}),),
)


def test_old_algorithm_creates_in_order_and_maps_every_billing_house(tmp_path) -> None:
    userside = FakeUserSide()
    summary = steps.load_addresses(config(tmp_path), userside, OLD.to_json(), dry_run=False)
    assert [name for name, _ in userside.calls] == [
        "add_city",
        "add_city",
        "add_street",
        "add_street",
        "add_street",
        "add_house",
        "edit_house",  # postcode is not sent by add_house (contract §6.2)
        "add_house",
        "add_house",
        "edit_house",
    ]
    house_map = summary["house_map"]
    assert house_map["1"] == house_map["2"]
    assert set(house_map) == {"1", "2", "3", "4", "5"}
    assert summary["write_requests"] == 10
    assert summary["failed"] == []


def test_old_algorithm_failed_city_skips_its_street_and_house(tmp_path) -> None:
    userside = FakeUserSide(fail={"add_city:Lviv"})
    summary = steps.load_addresses(config(tmp_path), userside, OLD.to_json(), dry_run=False)
    assert ("add_street", "Rynok") not in userside.calls
    assert ("add_house", "3") not in userside.calls
    assert [f["record"] for f in summary["failed"]] == ["city 'Lviv'"]
    assert set(summary["house_map"]) == {"1", "2", "4", "5"}


def ip_changes() -> IpChanges:
    return IpChanges(
        (
            IpEdit("a", 1, {"add_ip0": "5,"}, {}),
            IpEdit("new", None, {"add_ip0": "6,"}, {}),
            IpEdit("failed_create", None, {"add_ip0": "7,"}, {}),
        )
    )


def test_load_ips_finds_customers_created_this_run(tmp_path) -> None:
    userside = FakeUserSide(view={"a": 1, "new": 2})
    summary = steps.load_ips(config(tmp_path), userside, ip_changes().to_json(), dry_run=False)
    assert userside.calls == [("get_user_list", 1), ("group_edit", "1,2")]
    assert summary["not_in_userside"] == 1
    assert (summary["write_requests"], summary["failed"]) == (1, [])


def test_load_ips_retries_a_failed_batch_one_customer_at_a_time(tmp_path) -> None:
    userside = FakeUserSide(view={"a": 1, "new": 2}, fail={"group_edit:1,2", "group_edit:2"})
    summary = steps.load_ips(config(tmp_path), userside, ip_changes().to_json(), dry_run=False)
    assert [c for c in userside.calls if c[0] == "group_edit"] == [
        ("group_edit", "1,2"),
        ("group_edit", "1"),
        ("group_edit", "2"),
    ]
    assert [f["record"] for f in summary["failed"]] == ["customer new"]


def test_load_ips_dry_run_writes_nothing(tmp_path) -> None:
    userside = FakeUserSide()
    summary = steps.load_ips(config(tmp_path), userside, ip_changes().to_json(), dry_run=True)
    assert userside.calls == []
    assert (summary["add_ip"], summary["write_requests"]) == (3, 0)


def test_diff_addresses_reads_nothing_when_userside_disables_addresses(tmp_path) -> None:
    class NoReads:
        def __getattr__(self, name):
            msg = f"{name} must not be called"
            raise AssertionError(msg)

    start_info = {"settings": {"is_update_address": 0}, "erp_time": 0, "billing_time": 0}
    changes = steps.diff_address_step(config(tmp_path), start_info, {}, NoReads(), NoReads())
    assert AddressChanges.from_json(changes) == AddressChanges()


def test_report_leaves_the_house_map_out() -> None:
    summary = steps.report(
        [{"entity": "addresses", "house_map": {"1": 2}, "write_requests": 1, "failed": []}]
    )
    assert summary["entities"] == {
        "addresses": {"entity": "addresses", "write_requests": 1, "failed": []}
    }
    assert summary["write_requests"] == 1


def test_one_customer_run_merges_into_the_cache(tmp_path) -> None:
    HouseCache(config(tmp_path)).save({"7": ["h7", 70], "8": ["h8", 80]})
    partial = AddressChanges(
        mode="compare_house",
        partial=True,
        digests={"1": "h1"},
        compare=(HouseCompare("1", {"c": "Kyiv"}),),
    )
    summary = steps.load_addresses(
        config(tmp_path), FakeUserSide(), partial.to_json(), dry_run=False
    )
    assert summary["house_map"] == {"1": 10}
    assert HouseCache(config(tmp_path)).load() == {
        "1": ["h1", 10],
        "7": ["h7", 70],
        "8": ["h8", 80],
    }
