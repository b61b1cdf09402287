"""Addresses and IP/MAC bindings end to end: the real uBilling 1.6.4 capture into an empty
UserSide emulator, in both address algorithms (issue 3 "Done when").

* one run gives every customer the right house, flat, floor, entrance and IP/MAC set;
* day 2 moves exactly the customers that moved and changes exactly the IPs and MACs that
  changed (MANIFEST.md "Day 2 mutations"); the next run sends no writes (counted by the
  UserSide emulator's ``/_emulator/stats`` writes and by the importer);
* ``skip_delete_ip`` ranges, ``skip_delete_empty_ip`` and customers without ``ip_mac``.

Spec: universal-api.md §3.9–3.11, §3.13, §4.3–4.5; contract §5.2, §6, §8 N2.
"""

from __future__ import annotations

import copy
import html
import json
import urllib.parse
from typing import TYPE_CHECKING, Any

import pytest

from tests.integration.harness import USERSIDE_KEY, emulator_stack
from tests.integration.test_sync_ubilling import DAY2_CHANGED_VIEW_KEYS, DAY2_NEW, changed_view_keys
from usm_billing.cli import run_sync

if TYPE_CHECKING:
    from pathlib import Path

    from tests.integration.harness import Stack

ALGORITHMS = {
    "compare_house-long": {"is_new_house_billing_compare": 1, "address_compare_format": 0},
    "compare_house-short": {"is_new_house_billing_compare": 1, "address_compare_format": 1},
    "per_object": {"is_new_house_billing_compare": 0},
}
ADDRESS_ON = {"is_update_address": 1, "is_update_mac": 1}


def body(folder: Path, method: str) -> Any:
    return json.loads((folder / f"{method}.body").read_bytes())


def capture_dataset(folder: Path) -> dict[str, Any]:
    """Every ``get_*`` body of a capture folder, to serve (and edit) as a generated dataset."""
    dataset = {}
    for path in folder.glob("get_*.body"):
        if "." in path.name[: -len(".body")]:
            continue
        try:
            dataset[path.name[: -len(".body")]] = json.loads(path.read_bytes())
        except ValueError:
            continue
    return dataset


# --- what UserSide must end up with, computed from the billing bodies -----------------------


def _name(value: Any) -> str:
    return " ".join(html.unescape(str(value or "")).split()).casefold()


def _number(number: str, block: str) -> str:
    composed = number.strip() + (("-" if block.isdigit() else " ") + block if block else "")
    return composed[2:] if composed.startswith(("0-", "0 ")) else composed.strip()


def billing_address(folder: Path, house_id: str) -> tuple[str, str, str]:
    """(city, street, composed number) of a billing house."""
    house = body(folder, "get_house_list")[house_id]
    street = body(folder, "get_street_list")[str(house["street_id"])]
    city = body(folder, "get_city_list").get(str(street["city_id"]), {})
    return (
        _name(city.get("name")),
        _name(street["name"]),
        _name(_number(house["number"], house["block"].strip())),
    )


def userside_address(stack: Stack, us_house_id: Any) -> tuple[str, str, str]:
    data = stack.userside.state.data
    house = data["houses"][str(us_house_id)]
    street = data["streets"][str(house["street_id"])]
    city = data["cities"][str(house["city_id"])]
    return (_name(city["name"]), _name(street["name"]), _name(house["full_number"]))


def _mac(value: Any) -> str:
    text = "".join(ch for ch in str(value or "").lower() if ch not in ":-.")
    return text if len(text) == 12 and all(c in "0123456789abcdef" for c in text) else ""


def expected_bindings(raw: dict[str, Any]) -> dict[str, str]:
    bindings: dict[str, str] = {}
    entries = raw.get("ip_mac") or []
    for entry in entries.values() if isinstance(entries, dict) else entries:
        ip, mac = int(entry.get("ip") or 0), _mac(entry.get("mac"))
        if ip or mac:
            bindings.setdefault(str(ip or -1), mac)
    return bindings


def assert_addresses_and_ips(stack: Stack, folder: Path) -> None:
    view = stack.view()
    users = body(folder, "get_user_list")
    for uid, raw in users.items():
        row = view[str(uid)]
        address = (raw.get("address") or [{}])[0]
        current = row["address"][0]
        if address.get("house_id") not in (None, "", "0", 0):
            assert userside_address(stack, current["house_id"]) == billing_address(
                folder, str(address["house_id"])
            ), uid
        else:
            assert current["house_id"] == 0, uid
        flat = (address.get("apartment") or {}).get("number") or ""
        assert current["apartment"]["number"] == str(flat).replace("'", "&#039;"), uid
        floor = str(address.get("floor") or "").strip()
        assert current["floor"] == ("" if floor in ("", "0") else floor), uid
        assert current["entrance"] == int(address.get("entrance") or 0), uid
        got = {key: entry["mac"] for key, entry in (row["ip_mac"] or {}).items()}
        assert got == expected_bindings(raw), uid


def assert_quiet_run(stack: Stack, **options: Any) -> dict[str, Any]:
    """Another run: no write request sent, no UserSide mutation."""
    before = stack.userside_stats()
    summary = run_sync(stack.config_path, **options)
    assert summary["failed"] == []
    assert summary["write_requests"] == 0, {
        k: v.get("write_requests") for k, v in summary["entities"].items()
    }
    assert stack.userside_stats()["writes"] == before["writes"]
    return summary


@pytest.fixture(params=list(ALGORITHMS))
def stack(request, tmp_path, monkeypatch, peers):
    settings = {**ADDRESS_ON, **ALGORITHMS[request.param]}
    with emulator_stack(
        tmp_path,
        monkeypatch,
        peers / "ubilling-1.6.4",
        settings=settings,
        state_path=str(tmp_path / "state"),
    ) as stack:
        yield stack


def test_one_run_gives_every_customer_house_flat_floor_entrance_and_ips(stack, peers) -> None:
    folder = peers / "ubilling-1.6.4"
    first = run_sync(stack.config_path)
    assert first["failed"] == []
    addresses = first["entities"]["addresses"]
    assert addresses["skipped"] == addresses["unmatched"] == 0
    data = stack.userside.state.data
    assert (len(data["cities"]), len(data["streets"]), len(data["houses"])) == (4, 7, 8)
    assert_addresses_and_ips(stack, folder)
    view = stack.view()
    assert set(view) == {str(k) for k in body(folder, "get_user_list")}
    assert view["mac_dashes"]["ip_mac"]["3232261133"]["mac"] == "001a2b3c4d5e"  # deviation
    assert view["noip"]["ip_mac"] in ({}, [])  # ip 0 and no MAC binds nothing
    assert view["no_address"]["address"][0]["house_id"] == 0
    assert_quiet_run(stack)


def test_day2_moves_and_changes_exactly_what_changed_then_nothing(stack, peers) -> None:
    run_sync(stack.config_path)
    day1 = stack.view()
    stack.billing.replace_source(peers / "ubilling-1.6.4" / "day2")

    summary = run_sync(stack.config_path)

    assert summary["failed"] == []
    day2 = stack.view()
    expected = {uid: set(keys) for uid, keys in DAY2_CHANGED_VIEW_KEYS.items()}
    expected.setdefault("flat_letter", set()).add("address")  # moved to 15А, flat 17
    expected.setdefault("noip", set()).add("ip_mac")  # got an IP and a MAC
    expected.setdefault("mac_up", set()).add("ip_mac")  # MAC changed
    changes = changed_view_keys(day1, day2)
    assert {uid: keys for uid, keys in changes.items() if uid in day1} == expected
    assert set(day2) - set(day1) == DAY2_NEW
    assert_addresses_and_ips(stack, peers / "ubilling-1.6.4" / "day2")
    flat_letter = day2["flat_letter"]["address"][0]
    assert userside_address(stack, flat_letter["house_id"]) == billing_address(
        peers / "ubilling-1.6.4", "2"
    )
    assert (flat_letter["apartment"]["number"], flat_letter["floor"]) == ("17", "4")
    assert day2["noip"]["ip_mac"] == {"3232261270": {"ip": 3232261270, "mac": "704f57000001"}}
    assert day2["mac_up"]["ip_mac"]["3232261132"]["mac"] == "aabbcc112244"
    novyi = day2["novyi_abonent"]
    assert userside_address(stack, novyi["address"][0]["house_id"]) == billing_address(
        peers / "ubilling-1.6.4", "6"
    )
    assert set(novyi["ip_mac"]) == {"3232261271"}
    assert summary["entities"]["addresses"]["write_requests"] == 0  # no new house on day 2
    assert_quiet_run(stack)


def test_full_resync_asks_userside_again_without_changing_anything(tmp_path, monkeypatch, peers):
    with emulator_stack(
        tmp_path,
        monkeypatch,
        peers / "ubilling-1.6.4",
        settings={**ADDRESS_ON, "is_new_house_billing_compare": 1},
        state_path=str(tmp_path / "state"),
    ) as stack:
        run_sync(stack.config_path)
        # a full resync sends compare_house again (one request each time): it changes
        # nothing, so here the emulator's mutations are the measure, not its writes
        mutations = stack.userside_stats()["mutations"]
        again = run_sync(stack.config_path, full_resync=True)
        assert again["entities"]["addresses"]["compare"] == 8
        assert again["entities"]["addresses"]["write_requests"] == 1
        assert stack.userside_stats()["mutations"] == mutations  # compare_house is idempotent
        cache = tmp_path / "state" / "1" / "houses.json"
        cache.unlink()  # a lost cache is rebuilt from UserSide's answers
        rebuilt = run_sync(stack.config_path)
        assert rebuilt["entities"]["addresses"]["write_requests"] == 1
        assert stack.userside_stats()["mutations"] == mutations
        assert cache.exists()
        assert_quiet_run(stack)


@pytest.mark.parametrize("algorithm", ["compare_house-long", "per_object"])
def test_disable_create_address_creates_nothing_and_still_converges(
    tmp_path, monkeypatch, peers, algorithm
):
    with emulator_stack(
        tmp_path,
        monkeypatch,
        peers / "ubilling-1.6.4",
        settings={**ADDRESS_ON, **ALGORITHMS[algorithm]},
        state_path=str(tmp_path / "state"),
        disable_create_address=True,
    ) as stack:
        first = run_sync(stack.config_path)
        assert first["entities"]["addresses"]["unmatched"] == 8
        data = stack.userside.state.data
        assert (data["cities"], data["streets"], data["houses"]) == ({}, {}, {})
        view = stack.view()
        assert view["diachenko"]["address"][0]["house_id"] == 0  # unknown house: unchanged
        assert view["diachenko"]["address"][0]["apartment"]["number"] == "5"  # flat still written
        assert_quiet_run(stack)


# --- deletion flags (§4.4, §4.5) ---------------------------------------------------------------


def add_bindings(stack: Stack, uid: str, *values: str) -> None:
    """Bindings an operator added in UserSide by hand (``group_edit`` ``add_ip{N}``)."""
    us_id = stack.view()[uid]["erp_id"]
    data = {str(us_id): {f"add_ip{n}": value for n, value in enumerate(values)}}
    form = urllib.parse.urlencode(
        {
            "key": USERSIDE_KEY,
            "cat": "customer",
            "action": "group_edit",
            "data": json.dumps(data),
        }
    ).encode()
    status, _headers, _body = stack.userside.handle(
        "POST", "/api.php", {}, form, "application/x-www-form-urlencoded"
    )
    assert status == 200


DIACHENKO = "3232261123"
MANAGEMENT = "184483845"  # 10.255.0.5
OTHER = "184418309"  # 10.254.0.5


@pytest.mark.parametrize(
    ("flags", "kept"),
    [
        pytest.param({}, {DIACHENKO}, id="4.4-absent-from-billing-deleted"),
        pytest.param(
            {"skip_delete_ip": ["10.255.0.0/16"]},
            {DIACHENKO, MANAGEMENT},
            id="4.5-skip_delete_ip-cidr-survives",
        ),
        pytest.param(
            {"skip_delete_ip": ["10.254.0.0-10.255.255.255"]},
            {DIACHENKO, MANAGEMENT, OTHER},
            id="4.5-skip_delete_ip-range-survives",
        ),
        pytest.param(
            {"skip_delete_empty_ip": True},
            {DIACHENKO, "-1"},
            id="4.5-skip_delete_empty_ip-mac-only",
        ),
        pytest.param(
            {"skip_delete_empty_ip": True, "force_delete_empty_ip": True},
            {DIACHENKO},
            id="4.5-force_delete_empty_ip",
        ),
    ],
)
def test_userside_bindings_kept_only_as_the_flags_say(tmp_path, monkeypatch, peers, flags, kept):
    with emulator_stack(
        tmp_path, monkeypatch, peers / "ubilling-1.6.4", settings=ADDRESS_ON, **flags
    ) as stack:
        run_sync(stack.config_path)
        add_bindings(stack, "diachenko", f"{MANAGEMENT},", f"{OTHER},", "-1,a0b1c2d3e4f5")
        summary = run_sync(stack.config_path)
        assert set(stack.view()["diachenko"]["ip_mac"]) == kept
        assert summary["entities"]["ips"]["kept_by_flags"] == len(kept) - 1
        assert_quiet_run(stack)


@pytest.mark.parametrize(
    ("flags", "kept"),
    [
        pytest.param({}, set(), id="4.4-no-ip_mac-every-ip-deleted"),
        pytest.param(
            {"skip_delete_empty_ip": True},
            {"3232261122", "-1"},
            id="4.5-no-ip_mac-skip_delete_empty_ip-keeps-all",
        ),
        pytest.param(
            {"skip_delete_ip": ["192.168.100.0/24"]},
            {"3232261122"},
            id="4.5-no-ip_mac-skip_delete_ip-survives-deviation",
        ),
    ],
)
def test_customer_without_ip_mac_loses_ips_only_when_the_flags_say(
    tmp_path, monkeypatch, peers, flags, kept
):
    dataset = capture_dataset(peers / "ubilling-1.6.4")
    with emulator_stack(tmp_path, monkeypatch, dataset, settings=ADDRESS_ON, **flags) as stack:
        run_sync(stack.config_path)
        add_bindings(stack, "cf_user", "-1,a0b1c2d3e4f5")
        day2 = copy.deepcopy(dataset)
        del day2["get_user_list"]["cf_user"]["ip_mac"]
        stack.billing.replace_source(day2)
        run_sync(stack.config_path)
        assert set(stack.view()["cf_user"]["ip_mac"] or {}) == kept
        assert_quiet_run(stack)


@pytest.mark.parametrize(
    ("algorithm", "seed"),
    [("compare_house-long", 1), ("compare_house-short", 2), ("per_object", 3)],
)
def test_generated_days_converge_in_one_run(tmp_path, monkeypatch, algorithm, seed):
    """The convergence property (design brief) with addresses and IPs on: after each
    simulated day of moves and IP/MAC changes, the next run writes nothing."""
    from emulators.billing.generator import generate

    with emulator_stack(
        tmp_path,
        monkeypatch,
        generate(150, seed=seed),
        settings={**ADDRESS_ON, **ALGORITHMS[algorithm]},
        state_path=str(tmp_path / "state"),
    ) as stack:
        for day in range(3):
            stack.billing.replace_source(generate(150, seed=seed, day=day))
            applied = run_sync(stack.config_path)
            assert applied["failed"] == [], (day, applied["failed"])
            assert_quiet_run(stack)


def test_one_customer_run_imports_its_house_only(tmp_path, monkeypatch, peers):
    """The ``customer_id`` param: that customer, its house, its IPs; the full run after it
    sends the other houses only."""
    with emulator_stack(
        tmp_path,
        monkeypatch,
        peers / "ubilling-1.6.4",
        settings={**ADDRESS_ON, "is_new_house_billing_compare": 1},
        state_path=str(tmp_path / "state"),
    ) as stack:
        one = run_sync(stack.config_path, customer_id="diachenko")
        assert one["entities"]["addresses"]["compare"] == 1
        assert len(stack.userside.state.data["houses"]) == 1
        assert set(stack.view()) == {"diachenko"}
        assert set(stack.view()["diachenko"]["ip_mac"]) == {"3232261123"}
        full = run_sync(stack.config_path)
        assert full["entities"]["addresses"]["compare"] == 7
        assert_addresses_and_ips(stack, peers / "ubilling-1.6.4")
        assert_quiet_run(stack)
