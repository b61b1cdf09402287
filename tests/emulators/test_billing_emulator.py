"""Universal API (billing) emulator: captures byte-exact, generated data, dialects, server."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from emulators.billing import (
    BillingEmulator,
    FixtureFolder,
    generate,
    php_json_encode,
    start_server,
)
from emulators.billing.fixtures import parse_cgi_output, parse_headers_file
from emulators.billing.generator import GENERATED_METHODS, NO_TARIFF, STATE_LIST

REPO = Path(__file__).resolve().parents[2]
PEERS = Path(__file__).resolve().parents[3] / "shared" / "peers"
NO_PEERS = f"shared captures not found at {PEERS} (the shared/ folder beside the repository root)"
CAPTURE_FOLDERS = ("ubilling-1.6.4", "ubilling-1.6.4/day2", "axbills-2026.08")
KEY = "KEY"
# ubilling-1.6.4/MANIFEST.md: the bare get_user_history capture is the customer_id=diachenko call.
BARE_STEM_PARAMS = {"get_user_history": {"customer_id": "diachenko"}}
HOP_BY_HOP = {"connection", "transfer-encoding", "date", "keep-alive"}


# ---------------------------------------------------------------------------- helpers


def _capture_cases() -> list[Any]:
    cases = []
    for folder in CAPTURE_FOLDERS:
        path = PEERS / folder
        if not path.is_dir():
            cases.append(
                pytest.param(folder, "", marks=pytest.mark.skip(reason=NO_PEERS), id=folder)
            )
            continue
        stems = sorted(
            {p.name.rsplit(".", 1)[0] for p in path.iterdir() if p.suffix in (".body", ".raw")}
        )
        cases += [pytest.param(folder, stem, id=f"{folder}:{stem}") for stem in stems]
    return cases


def _expected(folder: Path, stem: str) -> tuple[int, bytes, dict[str, str]]:
    """Status, body and header dict read straight from the capture files (independent parser)."""
    raw = folder / f"{stem}.raw"
    if raw.exists():
        data = raw.read_bytes()
        head, _, body = data.partition(b"\n\n")
        headers = dict(line.split(": ", 1) for line in head.decode().splitlines())
        return 200, body, headers
    lines = (folder / f"{stem}.headers").read_bytes().decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = dict(line.split(": ", 1) for line in lines[1:] if line)
    return status, (folder / f"{stem}.body").read_bytes(), headers


def _query_for(stem: str) -> dict[str, str]:
    if stem == "error.wrong_key":
        return {"key": "UBwrongkey", "request": "get_user_list"}
    if stem == "error.no_request":
        return {"key": KEY}
    if stem == "error.unknown_request":
        return {"key": KEY, "request": "get_foo_bar"}
    if stem.startswith("error.unknown_request."):
        return {"key": KEY, "request": stem.split(".", 2)[2]}
    name, _, variant = stem.partition(".")
    query = {"key": KEY, "request": name, **BARE_STEM_PARAMS.get(stem, {})}
    if variant and not variant.startswith("no_"):
        param, _, value = variant.partition("=")
        query[param] = value
    return query


@pytest.fixture(scope="module")
def dataset() -> dict[str, object]:
    return generate(2000, 1)


@pytest.fixture(scope="module")
def dataset_day1() -> dict[str, object]:
    return generate(2000, 1, day=1)


@pytest.fixture(scope="module")
def dataset_day3() -> dict[str, object]:
    return generate(2000, 1, day=3)


def _index(customer_id: str) -> int:
    """Creation number of a generated id: ``u000042`` → 42, numeric ``700042`` → 42."""
    return int(customer_id[1:]) if customer_id.startswith("u") else int(customer_id) - 700_000


def _users(data: dict[str, object]) -> dict[str, dict[str, Any]]:
    users = data["get_user_list"]
    assert isinstance(users, dict)
    return users


# ---------------------------------------------------------------------------- captures


@pytest.mark.parametrize(("folder", "stem"), _capture_cases())
def test_capture_served_byte_exact_with_status(folder: str, stem: str) -> None:
    path = PEERS / folder
    status, body, headers = _expected(path, stem)
    emulator = BillingEmulator(path, key=KEY)

    got_status, got_headers, got_body = emulator.handle("GET", "/", _query_for(stem))

    assert (got_status, got_body) == (status, body)
    assert got_headers["Content-Length"] == str(len(body))
    assert got_headers["Content-Type"] == headers["Content-Type"]
    assert not HOP_BY_HOP & {h.lower() for h in got_headers}


def test_capture_reply_keeps_reason_and_repeated_headers() -> None:
    if not PEERS.is_dir():
        pytest.skip(NO_PEERS)
    ubilling = BillingEmulator(PEERS / "ubilling-1.6.4")
    assert ubilling.respond("GET", "/", {"request": "get_foo_bar"}).reason == 'Unknown Action"'
    axbills = BillingEmulator(PEERS / "axbills-2026.08").respond(
        "GET", "/admin/index.cgi", {"request": "get_user_list"}
    )
    assert [name for name, _ in axbills.headers].count("Set-Cookie") == 2
    assert (
        b"\xb7" in axbills.body
    )  # AXbills' ENCODE() password bytes: not valid UTF-8, served as is


def test_capture_get_user_history_without_customer_id_serves_no_variant() -> None:
    if not PEERS.is_dir():
        pytest.skip(NO_PEERS)
    folder = PEERS / "ubilling-1.6.4"
    status, _, body = BillingEmulator(folder).handle("GET", "/", {"request": "get_user_history"})
    assert (status, body) == (200, (folder / "get_user_history.no_customer_id.body").read_bytes())


@pytest.mark.parametrize(
    ("query", "status", "body"),
    [
        pytest.param(
            {"request": "get_foo_bar", "key": KEY}, 400, b"Unknown Action", id="unknown-request"
        ),
        pytest.param({"key": KEY}, 400, b"Undefined request", id="no-request"),
        pytest.param(
            {"request": "get_tariff_list", "key": "nope"},
            200,
            b"ERROR:GET_WRONG_KEY",
            id="wrong-key",
        ),
        pytest.param(
            {"request": "error.wrong_key", "key": KEY},
            400,
            b"Unknown Action",
            id="error-file-is-no-method",
        ),
        pytest.param(
            {"request": "../ubilling-1.6.4/get_user_list", "key": KEY},
            400,
            b"Unknown Action",
            id="no-path-escape",
        ),
    ],
)
def test_capture_folder_without_error_files_uses_ubilling_defaults(
    query: dict[str, str], status: int, body: bytes
) -> None:
    if not PEERS.is_dir():
        pytest.skip(NO_PEERS)
    got_status, headers, got_body = BillingEmulator(PEERS / "axbills-2026.08", key=KEY).handle(
        "GET", "/", query
    )
    assert (got_status, got_body) == (status, body)
    assert headers["Content-Type"] == "text/html; charset=UTF-8"


def test_fixture_folder_layout_rules(tmp_path: Path) -> None:
    (tmp_path / "get_a.body").write_bytes(b"undefined")
    (tmp_path / "get_b.body").write_bytes(b'{"x":"\xff"}')
    (tmp_path / "get_b.headers").write_bytes(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nDate: x\r\nTransfer-Encoding: chunked\r\n"
        b"Connection: close\r\nContent-Length: 999\r\nContent-Type: application/json\r\n\r\n"
    )
    (tmp_path / "get_b.p=1.body").write_bytes(b"one")
    (tmp_path / "get_c.raw").write_bytes(
        b"Status: 404 Not Found\nContent-Type: text/plain\n\nmissing\n\nstill body"
    )
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "get_d.body").write_bytes(b"{}")
    emulator = BillingEmulator(FixtureFolder(tmp_path))

    assert emulator.handle("GET", "/", {"request": "get_a"}) == (
        200,
        {"Content-Type": "application/json", "Content-Length": "9"},
        b"undefined",
    )
    assert emulator.handle("GET", "/", {"request": "get_b", "temp": "1"}) == (
        200,
        {"Content-Type": "application/json", "Content-Length": "9"},
        b'{"x":"\xff"}',
    )
    assert emulator.handle("GET", "/", {"request": "get_b", "p": "1"})[2] == b"one"
    assert emulator.handle("GET", "/", {"request": "get_b", "p": "2"})[2] == b'{"x":"\xff"}'
    assert emulator.handle("GET", "/", {"request": "get_c"}) == (
        404,
        {"Content-Type": "text/plain", "Content-Length": "19"},
        b"missing\n\nstill body",
    )
    assert emulator.handle("GET", "/", {"request": "get_d"})[0] == 400


def test_header_parsers() -> None:
    assert parse_headers_file(b'HTTP/1.1 400 Unknown Action"\r\nA: 1\r\n\r\n') == (
        400,
        'Unknown Action"',
        [("A", "1")],
    )
    assert parse_cgi_output(b"A: 1\r\n\r\nbody") == (200, "OK", [("A", "1")], b"body")
    assert parse_cgi_output(b"no header block") == (200, "OK", [], b"no header block")
    with pytest.raises(ValueError, match="HTTP status line"):
        parse_headers_file(b"Content-Type: x\r\n\r\n")


def test_missing_fixture_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        BillingEmulator(tmp_path / "nope")


# ---------------------------------------------------------------------------- PHP json_encode


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        pytest.param({"a/b": "c/d"}, b'{"a\\/b":"c\\/d"}', id="slash-escaped"),
        pytest.param(
            "Київ", b'"\\u041a\\u0438\\u0457\\u0432"', id="non-ascii-escaped-lowercase-hex"
        ),
        pytest.param("\U0001f600", b'"\\ud83d\\ude00"', id="astral-as-surrogate-pair"),
        pytest.param("a'b<c>&\"\\\n\r", b'"a\'b<c>&\\"\\\\\\n\\r"', id="quotes-and-controls"),
        pytest.param({}, b"[]", id="empty-array-is-list"),
        pytest.param({"0": [1, -1, None]}, b'{"0":[1,-1,null]}', id="compact"),
    ],
)
def test_php_json_encode(value: object, encoded: bytes) -> None:
    assert php_json_encode(value) == encoded


def test_php_json_encode_reproduces_every_ubilling_json_capture() -> None:
    if not PEERS.is_dir():
        pytest.skip(NO_PEERS)
    checked = 0
    for body_file in sorted((PEERS / "ubilling-1.6.4").glob("**/*.body")):
        body = body_file.read_bytes()
        if body[:1] not in (b"{", b"["):
            continue
        assert php_json_encode(json.loads(body)) == body, body_file.name
        checked += 1
    assert checked > 40


# ---------------------------------------------------------------------------- request rules


@pytest.mark.parametrize(
    ("dialect", "query", "status", "body"),
    [
        pytest.param(
            "standart",
            {"key": "bad", "request": "get_tariff_list"},
            200,
            b"ERROR:GET_WRONG_KEY",
            id="1.1-wrong-key",
        ),
        pytest.param(
            "standart",
            {"request": "get_tariff_list"},
            200,
            b"ERROR:GET_WRONG_KEY",
            id="1.1-missing-key",
        ),
        pytest.param(
            "standart", {"key": "bad"}, 200, b"ERROR:GET_WRONG_KEY", id="1.1-key-checked-first"
        ),
        pytest.param(
            "standart",
            {"key": KEY, "request": "get_foo_bar"},
            400,
            b"Unknown Action",
            id="unknown-request",
        ),
        pytest.param(
            "standart",
            {"key": KEY, "request": "get_user_history"},
            400,
            b"Unknown Action",
            id="not-generated",
        ),
        pytest.param("standart", {"key": KEY}, 400, b"Undefined request", id="no-request"),
        pytest.param(
            "standart",
            {"key": KEY, "method1": "userside_manager.get_tariff_list"},
            400,
            b"Unknown Action",
            id="1.1-standart-rejects-method1",
        ),
        pytest.param(
            "carbon5",
            {"key": KEY, "request": "get_tariff_list"},
            400,
            b"Unknown Action",
            id="1.1-carbon5-rejects-request",
        ),
        pytest.param(
            "carbon5",
            {"key": KEY, "method1": "get_tariff_list"},
            400,
            b"Unknown Action",
            id="1.1-carbon5-needs-prefix",
        ),
        pytest.param("carbon5", {"key": KEY}, 400, b"Undefined request", id="carbon5-no-request"),
    ],
)
def test_error_replies(
    dataset: dict[str, object], dialect: str, query: dict[str, str], status: int, body: bytes
) -> None:
    got_status, headers, got_body = BillingEmulator(dataset, dialect=dialect, key=KEY).handle(
        "GET", "/", query
    )
    assert (got_status, got_body) == (status, body)
    assert headers["Content-Type"] == "text/html; charset=UTF-8"
    assert headers["Content-Length"] == str(len(body))


@pytest.mark.parametrize("method", GENERATED_METHODS)
def test_carbon5_serves_the_same_bytes_as_standart(dataset: dict[str, object], method: str) -> None:
    standart = BillingEmulator(dataset, key=KEY).handle("GET", "/", {"key": KEY, "request": method})
    carbon5 = BillingEmulator(dataset, dialect="carbon5", key=KEY).handle(
        "GET", "/", {"key": KEY, "method1": f"userside_manager.{method}", "context": "userside"}
    )
    assert carbon5 == standart
    assert standart[0] == 200
    assert standart[1]["Content-Type"] == "application/json"
    assert json.loads(standart[2]) == json.loads(php_json_encode(dataset[method]))


@pytest.mark.parametrize(
    "path",
    ["/", "/billing/", "/admin/index.cgi", "/api/index/abonents", "/api.php"],
)
def test_1_1_any_base_path_and_extra_params_are_accepted(
    dataset: dict[str, object], path: str
) -> None:
    emulator = BillingEmulator(dataset)
    plain = emulator.handle("GET", "/", {"request": "get_city_list"})
    extra = {
        "module": "remoteapi",
        "action": "userside",
        "get_index": "us_api",
        "cat": "module",
        "temp": "1764100000",
        "request": "get_city_list",
    }
    assert emulator.handle("GET", path, extra) == plain


def test_dialect_must_be_known(dataset: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="Unknown dialect"):
        BillingEmulator(dataset, dialect="mikbill")


def test_get_user_list_customer_id_filter(dataset: dict[str, object]) -> None:
    emulator = BillingEmulator(dataset)
    users = _users(dataset)
    login = next(k for k, v in users.items() if isinstance(v["id"], str))
    numeric = next(k for k, v in users.items() if isinstance(v["id"], int))
    for cid in (login, numeric):
        status, _, body = emulator.handle(
            "GET", "/", {"request": "get_user_list", "customer_id": cid}
        )
        assert status == 200
        assert json.loads(body) == {cid: users[cid]}
    assert (
        emulator.handle("GET", "/", {"request": "get_user_list", "customer_id": "nosuch_login"})[2]
        == b"[]"
    )
    assert emulator.handle("GET", "/", {"request": "get_tariff_list", "customer_id": login})[
        2
    ] == php_json_encode(dataset["get_tariff_list"])


def test_stats_count_requests_per_method(dataset: dict[str, object]) -> None:
    emulator = BillingEmulator(dataset, key=KEY)
    for query in (
        {"key": KEY, "request": "get_tariff_list"},
        {"key": KEY, "request": "get_tariff_list"},
        {"key": "bad", "request": "get_user_list"},
        {"key": KEY},
        {"key": KEY, "request": "get_x"},
    ):
        emulator.handle("GET", "/", query)
    assert emulator.stats() == {
        "_no_request": 1,
        "get_tariff_list": 2,
        "get_user_list": 1,
        "get_x": 1,
    }
    emulator.reset_stats()
    assert emulator.stats() == {}


def test_replace_source_switches_day(
    dataset: dict[str, object], dataset_day1: dict[str, object]
) -> None:
    emulator = BillingEmulator(dataset)
    before = json.loads(emulator.handle("GET", "/", {"request": "get_system_information"})[2])
    emulator.replace_source(dataset_day1)
    after = json.loads(emulator.handle("GET", "/", {"request": "get_system_information"})[2])
    assert (before["date"], after["date"]) == ("2026-11-25 22:00:00", "2026-11-26 22:00:00")


# ------------------------------------------------------------ generator: determinism and day


def _encoded(data: dict[str, object]) -> dict[str, bytes]:
    return {method: php_json_encode(payload) for method, payload in data.items()}


def test_generate_is_deterministic() -> None:
    assert _encoded(generate(300, 7)) == _encoded(generate(300, 7))
    assert _encoded(generate(300, 7, day=3)) == _encoded(generate(300, 7, day=3))
    assert (
        _encoded(generate(300, 7))["get_user_list"] != _encoded(generate(300, 8))["get_user_list"]
    )
    assert (
        _encoded(generate(300, 7))["get_user_list"]
        != _encoded(generate(300, 7, day=1))["get_user_list"]
    )


def test_generate_small_is_fast_and_has_at_least_two_customers() -> None:
    started = time.perf_counter()
    day0, day1 = generate(500, 1), generate(500, 1, day=1)
    assert time.perf_counter() - started < 1.0
    assert len(_users(day0)) >= 2
    assert len(_users(day1)) >= 2
    assert len(_users(day0)) == 500


def test_generate_rejects_negative_arguments() -> None:
    with pytest.raises(ValueError, match="day must be"):
        generate(10, 1, day=-1)
    with pytest.raises(ValueError, match="customers must be"):
        generate(-1, 1)


@pytest.mark.parametrize(
    ("days", "fixture"),
    [pytest.param(1, "dataset_day1", id="day1"), pytest.param(3, "dataset_day3", id="day3")],
)
def test_day_changes_are_realistic(
    dataset: dict[str, object], request: pytest.FixtureRequest, days: int, fixture: str
) -> None:
    later = request.getfixturevalue(fixture)
    before, after = _users(dataset), _users(later)
    common = before.keys() & after.keys()
    n = len(before)

    def changed(pick: Any) -> int:
        return sum(pick(before[k]) != pick(after[k]) for k in common)

    new, gone = after.keys() - before.keys(), before.keys() - after.keys()
    assert 1 <= len(new) <= n * 0.012 * days
    assert 1 <= len(gone) <= n * 0.008 * days
    assert list(after)[-len(new) :] == sorted(new, key=_index)  # appended, in creation order
    assert min(map(_index, new)) > max(map(_index, before))  # ids are never reused
    assert n * 0.05 * days <= changed(lambda c: c["balance"]) <= n * 0.15 * days
    assert 0 < changed(lambda c: c["tariff"]["current"][0]["id"]) <= n * 0.03 * days
    assert 0 < changed(lambda c: c["ip_mac"]) <= n * 0.015 * days
    assert 0 < changed(lambda c: c.get("address")) <= n * 0.015 * days
    assert 0 < changed(lambda c: c.get("phone")) <= n * 0.01 * days
    assert changed(lambda c: c["date_activity"]) >= n * 0.05
    assert changed(lambda c: (c["full_name"], c["password"], c.get("agreement"))) == 0
    assert 1 <= len(later["get_user_messages"]) - len(dataset["get_user_messages"]) <= 2 * days
    assert later["get_tariff_list"] == dataset["get_tariff_list"]
    assert later["get_house_list"] == dataset["get_house_list"]


def test_system_date_is_base_date_plus_day() -> None:
    dates = [generate(20, 5, day=d)["get_system_information"]["date"] for d in range(3)]  # type: ignore[index]
    assert dates == ["2026-11-25 22:00:00", "2026-11-26 22:00:00", "2026-11-27 22:00:00"]


# ---------------------------------------------------------------------------- generator: shapes


def test_catalogue_shapes(dataset: dict[str, object]) -> None:
    assert set(dataset) == set(GENERATED_METHODS)
    assert dataset["get_api_information"] == {"version": "1.5", "date": "06.10.2017"}
    system = dataset["get_system_information"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", system["date"])  # type: ignore[index]
    assert set(system["billing"]) == {"name", "version"}  # type: ignore[index]
    assert set(dataset["get_supported_method_list"]) == set(GENERATED_METHODS)  # type: ignore[arg-type]

    tariffs: dict[str, dict[str, Any]] = dataset["get_tariff_list"]  # type: ignore[assignment]
    assert 5 <= len(tariffs) <= 8
    for key, tariff in tariffs.items():
        assert list(tariff) == [
            "id",
            "name",
            "payment",
            "payment_interval",
            "speed",
            "traffic",
            "service_type",
        ]
        assert tariff["id"] == tariff["name"] == key
        assert isinstance(tariff["payment"], str)
        assert set(tariff["speed"]) == {"up", "down"}
    assert any("/" in k for k in tariffs)
    assert any(t["payment_interval"] == 1 for t in tariffs.values())
    assert any(t["payment"] == "0" for t in tariffs.values())
    assert any(isinstance(t["traffic"], str) for t in tariffs.values())

    states = dataset["get_user_state_list"]
    assert {s["functional"] for s in states.values()} == {
        "work",
        "nomoney",
        "pause",
        "disable",
        "new",
    }  # type: ignore[attr-defined]
    assert all(str(s["id"]) == k for k, s in states.items())  # type: ignore[attr-defined]

    cities: dict[str, Any] = dataset["get_city_list"]  # type: ignore[assignment]
    streets: dict[str, Any] = dataset["get_street_list"]  # type: ignore[assignment]
    houses: dict[str, Any] = dataset["get_house_list"]  # type: ignore[assignment]
    assert len(cities) == 3
    assert all(list(c) == ["id", "name", "type_name"] for c in cities.values())
    assert 8 <= len(streets) <= 12
    assert all(
        s["city_id"] in cities and s["full_name"].endswith(s["name"]) for s in streets.values()
    )
    assert len(houses) == 2000 // 40 + 5
    for key, house in houses.items():
        assert list(house) == [
            "id",
            "city_district_id",
            "street_id",
            "full_name",
            "postcode",
            "floor",
            "entrance",
            "number",
            "block",
            "coordinates",
        ]
        assert str(house["id"]) == key
        assert house["street_id"] in streets

    for method in (
        "get_user_group_list",
        "get_user_tags",
        "get_services_list",
        "get_user_additional_data_type_list",
    ):
        rows: dict[str, Any] = dataset[method]  # type: ignore[assignment]
        assert rows
        assert all(
            str(row["id"]) == key and isinstance(row["name"], str) for key, row in rows.items()
        )

    messages: dict[str, Any] = dataset["get_user_messages"]  # type: ignore[assignment]
    users = _users(dataset)
    assert messages
    for key, msg in messages.items():
        assert list(msg) == ["id", "user_id", "msg_date", "subject", "text"]
        assert msg["id"] == key
        assert msg["user_id"] in users


def _check_customer(key: str, c: dict[str, Any], data: dict[str, Any]) -> None:
    assert str(c["id"]) == key
    assert c["login"] == c["id"]
    assert isinstance(c["id"], int) or re.fullmatch(r"u\d{6}", c["id"])
    assert c["full_name"] is None or isinstance(c["full_name"], str)
    assert c["flag_corporate"] == 0
    assert c["discount"] == 0
    current = c["tariff"]["current"]
    assert isinstance(current, list)
    assert len(current) == 1
    assert current[0]["id"] in data["get_tariff_list"] or current[0]["id"] == NO_TARIFF
    if "new" in c["tariff"]:
        assert isinstance(c["tariff"]["new"], list)
        assert c["tariff"]["new"][0]["date_start"] == current[0]["date_finish"]
        assert c["tariff"]["new"][0]["id"] in data["get_tariff_list"]
    if "agreement" in c:
        assert isinstance(c["agreement"], list)
        assert isinstance(c["agreement"][0]["number"], (int, str))
    assert isinstance(c["account_number"], str)
    float(c["balance"])
    float(c["credit"])
    assert isinstance(c["balance"], str)
    assert str(c["state_id"]) in STATE_LIST
    assert isinstance(c["traffic"]["month"]["up"], str)
    assert isinstance(c["traffic"]["month"]["down"], str)
    for field in ("date_create", "date_connect", "date_activity"):
        assert c[field] == "" or re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", c[field])
    if "address" in c:
        address = c["address"]
        assert isinstance(address, list)
        assert address[0]["type"] == "connect"
        assert address[0]["house_id"] in data["get_house_list"]
        assert address[0]["apartment"]["number"].isdigit()
    if "phone" in c:
        phones = c["phone"] if isinstance(c["phone"], list) else list(c["phone"].values())
        assert all(set(p) == {"number", "flag_main"} for p in phones)
        assert phones[-1]["flag_main"] == 1
    if "email" in c:
        assert isinstance(c["email"], list)
        assert "@" in c["email"][0]["address"]
    (entry,) = c["ip_mac"]
    assert isinstance(entry["ip"], int)
    if "mac" in entry:
        assert re.fullmatch(r"[0-9a-f]{12}", entry["mac"])
        assert re.fullmatch(r"10\.2\d\.0\.0/16", entry["ip_net"])
    for field in ("group", "tag", "service"):
        if field in c:
            assert isinstance(c[field], dict)
            assert set(c[field]) <= set(
                data["get_services_list" if field == "service" else "get_user_tags"]
            )
    if "group" in c:
        assert all(k == v for k, v in c["group"].items())
        assert set(c["group"]) == set(c["tag"])
    if "tag" in c:
        assert all(v == {"id": k, "date_add": ""} for k, v in c["tag"].items())
    if "service" in c:
        assert all(
            isinstance(rows, list) and set(rows[0]) == {"cost", "comment", "date_add"}
            for rows in c["service"].values()
        )
    assert isinstance(c["password"], str)


def test_customer_shapes_and_proportions(dataset: dict[str, object]) -> None:
    users = _users(dataset)
    order = list(users.values())
    for key, customer in users.items():
        _check_customer(key, customer, dataset)  # type: ignore[arg-type]
        assert list(customer)[:4] == ["id", "login", "full_name", "flag_corporate"]
        assert list(customer)[-1] == "password"

    def share(pick: Any) -> float:
        return sum(1 for c in order if pick(c)) / len(order)

    with_data = [c for c in order if "additional_data" in c]
    assert isinstance(with_data[0]["additional_data"], list)
    assert all(isinstance(c["additional_data"], dict) for c in with_data[1:])
    assert 0.02 <= share(lambda c: isinstance(c["id"], int)) <= 0.08
    assert 0.005 <= share(lambda c: "address" not in c) <= 0.04
    assert 0.33 <= share(lambda c: "email" in c) <= 0.47
    assert share(lambda c: "email" in c and " " in c["email"][0]["address"]) > 0
    assert 0.005 <= share(lambda c: "new" in c["tariff"]) <= 0.04
    assert 0.06 <= share(lambda c: "group" in c) <= 0.14
    assert 0.06 <= share(lambda c: "tag" in c) <= 0.14
    assert 0.03 <= share(lambda c: "service" in c) <= 0.08
    assert 0.25 <= share(lambda c: "additional_data" in c) <= 0.35
    assert 0.06 <= share(lambda c: "comment" in c) <= 0.14
    assert share(lambda c: "phone" not in c) > 0
    assert share(lambda c: isinstance(c.get("phone"), dict)) > 0
    assert share(lambda c: c["ip_mac"][0]["ip"] == 0) > 0
    assert share(lambda c: "mac" not in c["ip_mac"][0]) > 0
    assert share(lambda c: c["balance"].startswith("-")) > 0
    assert share(lambda c: len(c["balance"].partition(".")[2]) > 2) > 0  # float noise
    assert share(lambda c: c["date_activity"] == "") > 0
    assert share(lambda c: "'" in (c["full_name"] or "")) > 0
    assert share(lambda c: isinstance(c.get("agreement", [{}])[0].get("number"), str)) > 0
    comments = " ".join(c.get("comment", "") for c in order)
    assert all(ch in comments for ch in ("/", "\\", "\n", "'"))
    assert {c["state_id"] for c in order} == {int(k) for k in STATE_LIST}


def test_generated_json_matches_ubilling_encoding(dataset: dict[str, object]) -> None:
    _, _, body = BillingEmulator(dataset).handle("GET", "/", {"request": "get_tariff_list"})
    assert body.isascii()
    assert b"\\/" in body
    assert b"/" not in body.replace(b"\\/", b"")


# ---------------------------------------------------------------------------- server and CLI


def test_server_serves_tariff_list_and_stats(dataset: dict[str, object]) -> None:
    emulator = BillingEmulator(dataset, key=KEY)
    server, thread = start_server(emulator, port=0)
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        with urllib.request.urlopen(
            f"{base}/?module=remoteapi&key={KEY}&action=userside&request=get_tariff_list", timeout=5
        ) as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "application/json"
            assert json.loads(response.read()) == dataset["get_tariff_list"]
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"{base}/?key={KEY}&request=get_foo", timeout=5)
        assert err.value.code == 400
        with urllib.request.urlopen(f"{base}/_emulator/stats", timeout=5) as response:
            assert json.loads(response.read()) == {"get_foo": 1, "get_tariff_list": 1}
    finally:
        server.shutdown()
        server.server_close()
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_cli_prints_one_line_and_stops_on_sigterm() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "emulators.billing",
            "--port",
            "0",
            "--customers",
            "30",
            "--seed",
            "2",
            "--dialect",
            "carbon5",
            "--key",
            KEY,
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()  # type: ignore[union-attr]
        match = re.fullmatch(r"billing emulator listening on (http://127\.0\.0\.1:\d+)\n", line)
        assert match, line
        url = f"{match[1]}/?key={KEY}&method1=userside_manager.get_user_list"
        with urllib.request.urlopen(url, timeout=5) as response:
            assert len(json.loads(response.read())) == 30
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert process.stdout.read() == ""  # type: ignore[union-attr]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
