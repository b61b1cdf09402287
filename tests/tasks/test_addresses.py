"""The address task around failures, dry runs and the cache (contract §1.5: a write that
is not acknowledged; universal-api.md §4.3; issue 3 "Deliver" 5), with a fake UserSide
hook that records every call."""

from __future__ import annotations

from typing import Any

import pytest

from usm_billing.exceptions import FatalApiError
from usm_billing.house_cache import HouseCache
from usm_billing.sync.changes import (
    AddressChanges,
    HouseAdd,
    HouseCompare,
    HouseEdit,
    StreetAdd,
)
from usm_billing.tasks import addresses, run
from usm_billing.tasks.results import StartInfo
from usm_billing.universal_api.catalogues import SystemInformation
from usm_billing.universal_api.customers import BillingSnapshot
from usm_billing.userside.customers import UsView
from usm_billing.userside.models import UsSettings


class FakeUserSide:
    """Records calls; ``fail`` names the calls (or ``call:argument``) that raise."""

    identity = "http://userside.test/api.php"

    def __init__(self, *, fail: set[str] | None = None) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.fail = fail or set()
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


def compare_changes(*ids: str, known: dict[str, int] | None = None) -> AddressChanges:
    known = known or {}
    return AddressChanges(
        mode="compare_house",
        known=known,
        digests={k: f"h{k}" for k in (*ids, *known)},
        compare=tuple(HouseCompare(k, {"c": "Kyiv", "n": k}) for k in ids),
    )


def failed_records(result) -> list[str]:
    return [f.record for f in result.load.failed]


def test_compare_house_batches_and_cache(make_ctx) -> None:
    userside = FakeUserSide()
    ctx = make_ctx(userside, compare_house_batch_size=2)
    result = addresses.load(ctx, compare_changes("1", "2", "3", known={"9": 90, "8": 0}))
    assert userside.calls == [("compare_house", "1,2"), ("compare_house", "3")]
    assert result.house_map == {"1": 10, "2": 20, "3": 30, "9": 90}
    assert result.load.write_requests == 2
    assert result.load.detail == {"created": {"house": 3}, "unmatched": 1}
    assert result.load.failed == ()
    assert HouseCache(ctx.config).load() == {
        "1": ("h1", 10),
        "2": ("h2", 20),
        "3": ("h3", 30),
        "8": ("h8", 0),
        "9": ("h9", 90),
    }


def test_failed_compare_house_batch_is_reported_and_not_cached(make_ctx) -> None:
    ctx = make_ctx(FakeUserSide(fail={"compare_house:3"}), compare_house_batch_size=2)
    result = addresses.load(ctx, compare_changes("1", "2", "3"))
    assert result.house_map == {"1": 10, "2": 20}
    assert failed_records(result) == ["compare_house of 1 houses"]
    assert set(HouseCache(ctx.config).load()) == {"1", "2"}  # house 3 asked next run


def test_unwritable_cache_is_reported_but_the_map_is_used(make_ctx, tmp_path) -> None:
    (tmp_path / "1").write_text("a file where the billing's folder should be", encoding="utf-8")
    result = addresses.load(make_ctx(FakeUserSide()), compare_changes("1"))
    assert result.house_map == {"1": 10}
    assert failed_records(result) == ["house cache"]


def test_converged_compare_house_run_writes_nothing_and_keeps_the_cache(make_ctx, tmp_path) -> None:
    userside = FakeUserSide()
    result = addresses.load(make_ctx(userside), compare_changes(known={"1": 10}))
    assert (userside.calls, result.load.write_requests) == ([], 0)
    assert result.house_map == {"1": 10}
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
def test_dry_run_maps_only_known_houses(make_ctx, changes) -> None:
    userside = FakeUserSide()
    result = addresses.load(make_ctx(userside, dry_run=True), changes)
    assert userside.calls == []
    assert result.house_map == {"2": 20}
    assert result.load.write_requests == 0
    assert result.load.dry_run is True


def test_off_writes_nothing(make_ctx) -> None:
    result = addresses.load(make_ctx(FakeUserSide()), AddressChanges())
    assert (result.load.counts["mode"], result.house_map, result.load.write_requests) == (
        "off",
        {},
        0,
    )


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


def test_old_algorithm_creates_in_order_and_maps_every_billing_house(make_ctx) -> None:
    userside = FakeUserSide()
    result = addresses.load(make_ctx(userside), OLD)
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
    house_map = result.house_map
    assert house_map["1"] == house_map["2"]
    assert set(house_map) == {"1", "2", "3", "4", "5"}
    assert result.load.write_requests == 10
    assert result.load.failed == ()


def test_old_algorithm_failed_city_skips_its_street_and_house(make_ctx) -> None:
    userside = FakeUserSide(fail={"add_city:Lviv"})
    result = addresses.load(make_ctx(userside), OLD)
    assert ("add_street", "Rynok") not in userside.calls
    assert ("add_house", "3") not in userside.calls
    assert failed_records(result) == ["city 'Lviv'"]
    assert set(result.house_map) == {"1", "2", "4", "5"}


def test_diff_addresses_reads_nothing_when_userside_disables_addresses(make_ctx) -> None:
    # neither hook is injected: make_ctx's stand-ins raise on any call
    start = StartInfo(settings=UsSettings(is_update_address=0), billing_time=0, erp_time=0)
    snapshot = BillingSnapshot(
        system=SystemInformation(date="2026-11-25 10:00:00"), tariffs={}, states={}, customers={}
    )
    assert addresses.diff(make_ctx(), start, snapshot, UsView({}, {})) == AddressChanges()


def test_report_leaves_the_house_map_out(make_ctx) -> None:
    ctx = make_ctx(FakeUserSide())
    result = addresses.load(ctx, compare_changes("1"))
    assert result.house_map == {"1": 10}
    report = run.report(ctx, True, None, None, result, None, None, None)
    assert report.entities == {
        "addresses": {
            **compare_changes("1").summary(),
            "created": {"house": 1},
            "unmatched": 0,
            "dry_run": False,
            "write_requests": 1,
            "failed": [],
        }
    }
    assert report.write_requests == 1


def test_one_customer_run_merges_into_the_cache(make_ctx) -> None:
    ctx = make_ctx(FakeUserSide())
    HouseCache(ctx.config).save({"7": ("h7", 70), "8": ("h8", 80)})
    partial = AddressChanges(
        mode="compare_house",
        partial=True,
        digests={"1": "h1"},
        compare=(HouseCompare("1", {"c": "Kyiv"}),),
    )
    result = addresses.load(ctx, partial)
    assert result.house_map == {"1": 10}
    assert HouseCache(ctx.config).load() == {
        "1": ("h1", 10),
        "7": ("h7", 70),
        "8": ("h8", 80),
    }
