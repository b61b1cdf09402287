"""Fault injection in both emulators (issue 6, deliverable 4).

UserSide: seeded ``error`` (HTTP 500/503, nothing applied), ``timeout`` (held, then the
connection closes, nothing applied), ``reply_lost`` (applied, then no reply or HTTP 502),
``partial`` (a batch write applies the first half of its entries, then answers 400 without
``Count`` or loses its reply), ``fail_action`` (every request of a call answers 500),
latency; counted in ``/_emulator/stats``; deterministic by (seed, request number).
Billing: ``truncate`` and ``fail_requests``. Timeouts and latencies are tiny, so the file
runs in about a second.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any
from urllib.parse import urlencode

import pytest
import requests

from emulators.billing import BillingEmulator, generate
from emulators.billing import start_server as start_billing_server
from emulators.billing.__main__ import _parser as billing_parser
from emulators.userside import Faults, UserSideEmulator, UserSideState, start_server, stop_server
from emulators.userside.__main__ import _parse_args as userside_args
from emulators.userside.faults import FAULT_HEADER, FAULT_KINDS, NO_REPLY, PARTIAL_CALLS, call_name

KEY = "fault-key"
FORM = "application/x-www-form-urlencoded"
TINY = 0.05  # seconds: the timeout fault's hold in-process


def seed_for(kind: str, status: int | None = None) -> int:
    """A seed whose first request gets ``kind`` (and ``status``) at rate 1."""
    for seed in range(1000):
        drawn = Faults(rate=1.0, seed=seed).draw_for(1)
        if drawn and drawn[0] == kind and status in (None, drawn[1]):
            return seed
    raise AssertionError(kind)


def emulator(**faults: Any) -> UserSideEmulator:
    faults.setdefault("timeout_s", TINY)
    return UserSideEmulator(UserSideState(), key=KEY, faults=Faults(**faults))


def call(em: UserSideEmulator, **params: Any) -> tuple[int, dict[str, str], bytes]:
    params.setdefault("key", KEY)
    if params.get("cat") == "module":
        return em.handle("GET", "/api.php", {k: str(v) for k, v in params.items()}, b"", FORM)
    body = urlencode(
        {k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in params.items()}
    )
    return em.handle("POST", "/api.php", {}, body.encode(), FORM)


def add_tariff(em: UserSideEmulator, tariff_id: str = "17") -> tuple[int, dict[str, str], bytes]:
    return call(em, cat="tariff", action="add", billing_id=1, billing_tariff_id=tariff_id, name="T")


def tariffs(em: UserSideEmulator) -> dict[str, Any]:
    return em.state.to_dict()["tariffs"]


def stats(em: UserSideEmulator) -> dict[str, Any]:
    status, _, body = em.handle("GET", "/_emulator/stats", {}, b"", "")
    assert status == 200
    return json.loads(body)


# --------------------------------------------------------------------------- the draw
def test_the_draw_depends_only_on_seed_and_request_number() -> None:
    first = [Faults(rate=0.3, seed=7).draw_for(k) for k in range(1, 401)]
    again = Faults(rate=0.3, seed=7)
    assert [again.draw_for(k) for k in range(1, 401)] == first
    # out of order, on a used instance: the same answer for the same k
    assert again.draw_for(123) == first[122]
    other = [Faults(rate=0.3, seed=8).draw_for(k) for k in range(1, 401)]
    assert other != first
    hits = [d for d in first if d]
    assert 80 <= len(hits) <= 160  # rate 0.3 of 400
    assert {d[0] for d in hits} == {"error", "timeout", "reply_lost", "partial"}
    assert {d[1] for d in hits if d[0] == "error"} == {500, 503}
    assert {d[1] for d in hits if d[0] == "reply_lost"} == {NO_REPLY, 502}
    assert {d[1] for d in hits if d[0] == "timeout"} == {NO_REPLY}
    assert {d[1] for d in hits if d[0] == "partial"} == {400, NO_REPLY}


@pytest.mark.parametrize("call", ["tariff.add", "module.get_user_list", "customer.add_tag"])
def test_a_drawn_partial_is_an_error_where_nothing_can_be_applied_in_part(call: str) -> None:
    faults = Faults(rate=0.3, seed=7)
    for k in range(1, 401):
        as_batch, as_call = faults.draw_for(k, "customer.group_edit"), faults.draw_for(k, call)
        if as_batch is not None and as_batch[0] == "partial":
            assert as_call is not None
            assert as_call[0] == "error"
            assert as_call[1] in (500, 503)
        else:
            assert as_call == as_batch


def test_rate_zero_and_one() -> None:
    assert all(Faults(rate=0.0, seed=1).draw_for(k) is None for k in range(1, 200))
    assert all(Faults(rate=1.0, seed=1).draw_for(k) for k in range(1, 200))


@pytest.mark.parametrize(
    "settings",
    [{"rate": 1.5}, {"rate": -0.1}, {"timeout_s": -1}, {"latency_ms": -5}],
    ids=["rate>1", "rate<0", "timeout<0", "latency<0"],
)
def test_bad_settings_are_refused(settings: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be"):
        Faults(**settings)


def test_call_names() -> None:
    assert call_name({"cat": "customer", "action": "group_edit"}) == "customer.group_edit"
    assert call_name({"cat": "module", "request": "get_user_list"}) == "module.get_user_list"
    assert call_name({"cat": "usm_billing", "action": "set_start_info"}) == (
        "usm_billing.set_start_info"
    )


# --------------------------------------------------------------------------- each kind
@pytest.mark.parametrize("status", [500, 503])
def test_error_answers_5xx_json_and_applies_nothing(status: int) -> None:
    em = emulator(rate=1.0, seed=seed_for("error", status))
    code, headers, body = add_tariff(em)
    assert code == status
    assert headers[FAULT_HEADER] == "error"
    reply = json.loads(body)
    assert reply["result"] == "ERROR"
    assert f"HTTP {status}" in reply["ErrorText"]
    assert tariffs(em) == {}
    counts = stats(em)
    assert (counts["requests"], counts["writes"], counts["mutations"]) == (1, 0, 0)
    assert counts["faults_injected"]["error"] == 1


def test_timeout_holds_then_sends_nothing_and_applies_nothing() -> None:
    em = emulator(rate=1.0, seed=seed_for("timeout"), timeout_s=0.2)
    started = time.monotonic()
    code, headers, body = add_tariff(em)
    assert time.monotonic() - started >= 0.2
    assert (code, body, headers[FAULT_HEADER]) == (NO_REPLY, b"", "timeout")
    assert tariffs(em) == {}
    assert stats(em)["mutations"] == 0
    assert stats(em)["faults_injected"]["timeout"] == 1


@pytest.mark.parametrize("status", [NO_REPLY, 502], ids=["connection-closed", "bad-gateway"])
def test_reply_lost_applies_the_write(status: int) -> None:
    em = emulator(rate=1.0, seed=seed_for("reply_lost", status))
    code, headers, body = add_tariff(em)
    assert code == status
    assert headers[FAULT_HEADER] == "reply_lost"
    if status == 502:
        assert "reply_lost" in json.loads(body)["ErrorText"]
    else:
        assert body == b""
    [tariff] = tariffs(em).values()
    assert tariff["billing_tariff_id"] == "17"
    counts = stats(em)
    assert (counts["writes"], counts["mutations"]) == (1, 1)
    assert counts["faults_injected"]["reply_lost"] == 1


def test_reply_lost_write_converges_when_repeated() -> None:
    """The client cannot tell a lost reply from a failure, so it retries: no duplicate."""
    em = emulator(rate=1.0, seed=seed_for("reply_lost"))
    add_tariff(em)
    em.faults = Faults()
    assert add_tariff(em)[0] == 200
    assert len(tariffs(em)) == 1


def test_fail_action_fails_every_request_of_that_call_only() -> None:
    em = emulator(fail_actions=frozenset({"tariff.add", "get_user_list"}))
    for _ in range(3):
        code, headers, body = add_tariff(em)
        assert code == 500
        assert headers[FAULT_HEADER] == "fail_action"
        assert json.loads(body)["result"] == "ERROR"
    assert call(em, cat="module", request="get_user_list", billing_id=1)[0] == 500
    assert call(em, cat="module", request="get_tariff_list", billing_id=1)[0] == 200
    status, _, _ = call(
        em, cat="customer", action="group_add", billing_id=1, data=[{"billing_customer_id": 1}]
    )
    assert status == 200
    assert tariffs(em) == {}
    assert stats(em)["faults_injected"] == {
        "error": 0,
        "timeout": 0,
        "reply_lost": 0,
        "fail_action": 4,
        "partial": 0,
    }


def test_lifecycle_calls_and_reads_fault_too() -> None:
    em = emulator(rate=1.0, seed=seed_for("error"))
    status, _, _ = call(em, cat="usm_billing", action="set_start_info", billing_id=1)
    assert status in (500, 503)
    assert em.state.to_dict()["runs"] == []
    em = emulator(rate=1.0, seed=seed_for("error"))
    assert call(em, cat="module", request="get_system_information")[0] in (500, 503)


def test_latency_delays_every_api_request_but_not_control() -> None:
    em = emulator(latency_ms=60)
    started = time.monotonic()
    assert call(em, cat="module", request="get_system_information")[0] == 200
    assert time.monotonic() - started >= 0.06
    started = time.monotonic()
    stats(em)
    assert time.monotonic() - started < 0.05


# --------------------------------------------------------------------------- partial
def _houses(n: int) -> dict[str, Any]:
    return {str(100 + i): {"city": "Town", "street": "Main", "number": str(i)} for i in range(n)}


def _setup(em: UserSideEmulator, call_: str) -> list[str]:
    """Four objects for ``call_`` to change (none for the creating calls); their ids."""
    if call_ == "customer.group_edit":
        rows = [{"billing_customer_id": n, "name": f"c{n}"} for n in range(4)]
        assert call(em, cat="customer", action="group_add", billing_id=1, data=rows)[0] == 200
        return sorted(em.state.to_dict()["customers"], key=int)
    if call_ == "tariff.group_edit":
        for n in range(4):
            assert add_tariff(em, str(n))[0] == 200
        return sorted(tariffs(em), key=int)
    return []


def _send(em: UserSideEmulator, call_: str, ids: list[str]) -> tuple[int, dict[str, str], bytes]:
    if call_ == "customer.group_add":
        rows = [{"billing_customer_id": n, "name": f"c{n}"} for n in range(4)]
        return call(em, cat="customer", action="group_add", billing_id=1, data=rows)
    if call_ == "customer.group_edit":
        data = {cid: {"name": "renamed"} for cid in ids}
        return call(em, cat="customer", action="group_edit", data=data)
    if call_ == "tariff.group_edit":
        return call(em, cat="tariff", action="group_edit", data={t: {"name": "N"} for t in ids})
    return call(em, cat="address", action="compare_house", data=_houses(4))


def _applied(em: UserSideEmulator, call_: str) -> list[str]:
    """Which of the four entries UserSide now holds as sent (by entry position)."""
    state = em.state.to_dict()
    if call_ == "customer.group_add":
        return sorted(str(c["billing_uid"]) for c in state["customers"].values())
    if call_ == "customer.group_edit":
        customers = sorted(state["customers"].values(), key=lambda c: int(c["id"]))
        return [str(i) for i, c in enumerate(customers) if c["full_name"] == "renamed"]
    if call_ == "tariff.group_edit":
        rows = sorted(state["tariffs"].values(), key=lambda t: int(t["id"]))
        return [str(i) for i, t in enumerate(rows) if t["name"] == "N"]
    return sorted(str(h["number"]) for h in state["houses"].values())


PARTIAL_CASES = [
    (call_, reply, profile)
    for call_ in sorted(PARTIAL_CALLS)
    for reply in ("refused", "lost")
    for profile in ("lenient", "strict")
]


@pytest.mark.parametrize(("call_", "reply", "profile"), PARTIAL_CASES)
def test_partial_applies_the_first_half_then_refuses_or_loses_the_reply(
    call_: str, reply: str, profile: str
) -> None:
    em = emulator()
    em.profile = profile
    ids = _setup(em, call_)
    before = stats(em)
    em.faults = Faults(partial_actions=frozenset({call_}), partial_reply=reply)
    status, headers, body = _send(em, call_, ids)
    assert headers[FAULT_HEADER] == "partial"
    if reply == "refused":
        assert status == 400
        answer = json.loads(body)
        assert answer["result"] == "ERROR"
        assert "applied 2 of 4 entries" in answer["ErrorText"]
        assert not {"Count", "count"} & answer.keys()
    else:
        assert (status, body) == (NO_REPLY, b"")
    assert _applied(em, call_) == ["0", "1"]
    after = stats(em)
    assert after["writes"] - before["writes"] == 1
    assert after["mutations"] - before["mutations"] == 1
    assert after["refusals_total"] == 0, "an injected fault is not a refusal"
    assert after["faults_injected"] == {**dict.fromkeys(FAULT_KINDS, 0), "partial": 1}
    # the same request again, faults off: the rest is applied, nothing twice (strict
    # refuses to re-create the two customers that exist, and creates the other two)
    em.faults = Faults()
    refused_again = profile == "strict" and call_ == "customer.group_add"
    assert _send(em, call_, ids)[0] == (400 if refused_again else 200)
    assert _applied(em, call_) == ["0", "1", "2", "3"]


@pytest.mark.parametrize(
    ("entries", "applied"), [(1, 1), (2, 1), (3, 2), (5, 3)], ids=["1", "2", "3", "5"]
)
def test_partial_applies_ceil_half(entries: int, applied: int) -> None:
    em = emulator(partial_actions=frozenset({"compare_house"}), partial_reply="refused")
    status, _, body = call(em, cat="address", action="compare_house", data=_houses(entries))
    assert status == 400
    assert f"applied {applied} of {entries} entries" in json.loads(body)["ErrorText"]
    assert len(em.state.to_dict()["houses"]) == applied


def test_partial_by_rate_and_its_drawn_variant_are_deterministic() -> None:
    def script(em: UserSideEmulator) -> list[tuple[int, str]]:
        out = []
        for n in range(40):
            rows = [{"billing_customer_id": f"{n}-{i}", "name": "x"} for i in range(2)]
            status, headers, _ = call(
                em, cat="customer", action="group_add", billing_id=1, data=rows
            )
            out.append((status, headers.get(FAULT_HEADER, "")))
        return out

    first = script(emulator(rate=0.5, seed=3, timeout_s=0.001))
    again = emulator(rate=0.5, seed=3, timeout_s=0.001)
    assert script(again) == first
    partial = {status for status, kind in first if kind == "partial"}
    assert partial == {400, NO_REPLY}
    assert again.faults.injected["partial"] == sum(1 for _, kind in first if kind == "partial")
    drawn = emulator(seed=3, partial_actions=frozenset({"group_add"}))
    assert {s for s, _ in script(drawn)} == {400, NO_REPLY}


@pytest.mark.parametrize(
    ("settings", "error"),
    [
        ({"partial_actions": frozenset({"tariff.add"})}, "partial_actions"),
        ({"partial_actions": frozenset({"get_user_list"})}, "partial_actions"),
        ({"partial_reply": "sometimes"}, "partial_reply"),
    ],
    ids=["single-object-write", "read", "unknown-variant"],
)
def test_bad_partial_settings_are_refused(settings: dict[str, Any], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        Faults(**settings)


def test_partial_settings_by_the_control_endpoint() -> None:
    em = emulator()
    body = json.dumps({"partial_actions": ["group_edit"], "partial_reply": "lost"}).encode()
    status, _, reply = em.handle("POST", "/_emulator/faults", {}, body, "")
    assert status == 200
    described = json.loads(reply)["data"]
    assert (described["partial_actions"], described["partial_reply"]) == (["group_edit"], "lost")
    bad = json.dumps({"partial_actions": ["tariff.add"]}).encode()
    assert em.handle("POST", "/_emulator/faults", {}, bad, "")[0] == 400


# --------------------------------------------------------------------------- determinism
def _script(em: UserSideEmulator) -> list[int]:
    """The same 60 requests, as a sequential client sends them."""
    codes = []
    for n in range(20):
        codes.append(add_tariff(em, str(n))[0])
        codes.append(call(em, cat="module", request="get_tariff_list", billing_id=1)[0])
        status, _, _ = call(
            em,
            cat="customer",
            action="group_add",
            billing_id=1,
            data=[{"billing_customer_id": n, "name": f"c{n}"}],
        )
        codes.append(status)
    return codes


def test_same_seed_same_faults_same_state() -> None:
    runs = []
    for _ in range(2):
        em = emulator(rate=0.3, seed=42, timeout_s=0.001)
        codes = _script(em)
        state = em.state.to_dict()
        runs.append((codes, list(em.faults.events), state["tariffs"].keys(), stats(em)))
    assert runs[0][:3] == runs[1][:3]
    assert runs[0][3] == runs[1][3]
    assert runs[0][1], "rate 0.3 over 60 requests injected nothing"
    em = emulator(rate=0.3, seed=43, timeout_s=0.001)
    _script(em)
    assert list(em.faults.events) != runs[0][1]


def test_reset_restarts_the_numbering() -> None:
    em = emulator(rate=0.3, seed=5, timeout_s=0.001)
    first = _script(em)
    events = [(f.k, f.kind, f.status) for f in em.faults.events]
    assert em.handle("POST", "/_emulator/reset", {}, b"", "")[0] == 200
    assert stats(em)["faults_injected"] == dict.fromkeys(FAULT_KINDS, 0)
    assert _script(em) == first
    assert [(f.k, f.kind, f.status) for f in em.faults.events] == events


def test_every_injected_fault_is_counted() -> None:
    em = emulator(rate=0.5, seed=9, timeout_s=0.001, fail_actions=frozenset({"group_add"}))
    _script(em)
    counts = stats(em)["faults_injected"]
    kinds = [f.kind for f in em.faults.events]
    assert counts == {k: kinds.count(k) for k in counts}
    assert counts["fail_action"] == 20
    assert sum(counts.values()) == len(kinds)


def test_faults_control_endpoint() -> None:
    em = emulator()
    body = json.dumps({"rate": 1.0, "seed": seed_for("error"), "fail_actions": ["tariff.edit"]})
    status, _, reply = em.handle("POST", "/_emulator/faults", {}, body.encode(), "")
    assert status == 200
    assert json.loads(reply)["data"]["fail_actions"] == ["tariff.edit"]
    assert add_tariff(em)[0] in (500, 503)
    status, _, reply = em.handle("GET", "/_emulator/faults", {}, b"", "")
    described = json.loads(reply)
    assert described["faults_injected"]["error"] == 1
    assert described["events"] == [[1, "tariff.add", "error", described["events"][0][3]]]
    bad = json.dumps({"rate": 2}).encode()
    assert em.handle("POST", "/_emulator/faults", {}, bad, "")[0] == 400
    bad = json.dumps({"fail_rate": 0.1}).encode()
    assert em.handle("POST", "/_emulator/faults", {}, bad, "")[0] == 400


# --------------------------------------------------------------------------- over HTTP
@pytest.fixture
def served() -> Any:
    started: list[tuple[Any, Any]] = []

    def serve(em: UserSideEmulator) -> str:
        server, thread = start_server(em, port=0)
        started.append((server, thread))
        return f"http://127.0.0.1:{server.server_address[1]}/api.php"

    yield serve
    for server, thread in started:
        stop_server(server, thread)


def _post_tariff(url: str, timeout: float = 5) -> requests.Response:
    form = {"key": KEY, "cat": "tariff", "action": "add", "billing_id": "1"}
    return requests.post(url, data={**form, "billing_tariff_id": "17"}, timeout=timeout)


def test_http_error_fault(served: Any) -> None:
    em = emulator(rate=1.0, seed=seed_for("error", 503))
    reply = _post_tariff(served(em))
    assert reply.status_code == 503
    assert reply.json()["result"] == "ERROR"
    assert tariffs(em) == {}


def test_http_timeout_fault_outlasts_the_client(served: Any) -> None:
    em = emulator(rate=1.0, seed=seed_for("timeout"), timeout_s=0.6)
    url = served(em)
    with pytest.raises(requests.Timeout):
        _post_tariff(url, timeout=0.2)
    time.sleep(0.6)
    assert tariffs(em) == {}


def test_http_timeout_fault_then_closes(served: Any) -> None:
    em = emulator(rate=1.0, seed=seed_for("timeout"), timeout_s=0.1)
    with pytest.raises(requests.ConnectionError):
        _post_tariff(served(em), timeout=5)
    assert tariffs(em) == {}


def test_http_reply_lost_connection_closed(served: Any) -> None:
    em = emulator(rate=1.0, seed=seed_for("reply_lost", NO_REPLY))
    with pytest.raises(requests.ConnectionError):
        _post_tariff(served(em))
    assert len(tariffs(em)) == 1


def test_http_reply_lost_bad_gateway(served: Any) -> None:
    em = emulator(rate=1.0, seed=seed_for("reply_lost", 502))
    assert _post_tariff(served(em)).status_code == 502
    assert len(tariffs(em)) == 1


def test_http_stats_count_faults(served: Any) -> None:
    em = emulator(fail_actions=frozenset({"tariff.add"}))
    url = served(em)
    assert _post_tariff(url).status_code == 500
    counts = requests.get(url.replace("/api.php", "/_emulator/stats"), timeout=5).json()
    assert counts["faults_injected"]["fail_action"] == 1
    assert counts["requests"] == 1


def test_stopping_the_server_wakes_a_held_request() -> None:
    em = emulator(rate=1.0, seed=seed_for("timeout"), timeout_s=30)
    server, thread = start_server(em, port=0)
    url = f"http://127.0.0.1:{server.server_address[1]}/api.php"
    outcome: list[str] = []

    def send() -> None:
        try:
            _post_tariff(url, timeout=30)
        except requests.ConnectionError:
            outcome.append("closed")

    client = threading.Thread(target=send)
    client.start()
    deadline = time.monotonic() + 5
    while not em.faults.events and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    stop_server(server, thread)
    assert time.monotonic() - started < 5
    client.join(timeout=5)
    assert not client.is_alive()
    assert outcome == ["closed"]
    assert tariffs(em) == {}


# --------------------------------------------------------------------------- CLI
def test_userside_cli_options() -> None:
    base = ["--port", "0", "--state", "s.json"]
    args = userside_args(
        [
            *base,
            *("--fail-rate", "0.1", "--fail-seed", "3", "--timeout-s", "2", "--latency-ms", "5"),
            *("--fail-action", "customer.group_edit", "--fail-action", "tariff.add"),
        ]
    )
    assert (args.fail_rate, args.fail_seed, args.timeout_s, args.latency_ms) == (0.1, 3, 2, 5)
    assert args.fail_action == ["customer.group_edit", "tariff.add"]
    args = userside_args([*base, "--partial-action", "group_edit", "--partial-reply", "lost"])
    assert (args.partial_action, args.partial_reply) == (["group_edit"], "lost")
    defaults = userside_args(base)
    assert (defaults.partial_action, defaults.partial_reply) == ([], "drawn")
    assert (defaults.fail_rate, defaults.timeout_s, defaults.fail_action) == (0.0, 30.0, [])
    with pytest.raises(SystemExit):
        userside_args([*base, "--fail-rate", "1.5"])


def test_billing_cli_options() -> None:
    args = billing_parser().parse_args(
        [
            *("--customers", "5", "--truncate"),
            *("--fail-request", "get_user_list", "--fail-request", "get_tariff_list"),
        ]
    )
    assert args.truncate is True
    assert args.fail_request == ["get_user_list", "get_tariff_list"]
    assert billing_parser().parse_args(["--customers", "5"]).truncate is False


# --------------------------------------------------------------------------- billing
@pytest.fixture(scope="module")
def dataset() -> dict[str, object]:
    return generate(12, seed=3)


def _get(em: BillingEmulator, method: str, key: str = KEY) -> tuple[int, dict[str, str], bytes]:
    return em.handle("GET", "/", {"key": key, "request": method})


def test_billing_fail_request_answers_500(dataset: dict[str, object]) -> None:
    em = BillingEmulator(dataset, key=KEY, fail_requests={"get_user_list"})
    for _ in range(2):
        status, headers, body = _get(em, "get_user_list")
        assert (status, body) == (500, b"")
        assert headers["Content-Length"] == "0"
    assert _get(em, "get_tariff_list")[0] == 200
    assert _get(em, "get_user_list", key="wrong")[2] == b"ERROR:GET_WRONG_KEY"
    assert em.faults() == {"truncated": 0, "failed_request": 2}
    assert em.stats()["get_user_list"] == 3


def test_billing_fail_request_in_carbon5(dataset: dict[str, object]) -> None:
    em = BillingEmulator(dataset, dialect="carbon5", fail_requests={"get_user_list"})
    status, _, _ = em.handle("GET", "/", {"method1": "userside_manager.get_user_list"})
    assert status == 500


def test_billing_truncate_cuts_list_replies_in_half(dataset: dict[str, object]) -> None:
    full = BillingEmulator(dataset, key=KEY)
    cut = BillingEmulator(dataset, key=KEY, truncate=True)
    for method in ("get_user_list", "get_tariff_list", "get_city_list"):
        whole = _get(full, method)[2]
        status, headers, body = _get(cut, method)
        assert status == 200
        assert body == whole[: len(whole) // 2]
        assert headers["Content-Length"] == str(len(body))
        with pytest.raises(json.JSONDecodeError):
            json.loads(body)
    assert _get(cut, "get_system_information") == _get(full, "get_system_information")
    assert _get(cut, "get_user_list", key="wrong")[2] == b"ERROR:GET_WRONG_KEY"
    assert cut.faults() == {"truncated": 3, "failed_request": 0}
    cut.reset_stats()
    assert cut.faults() == {"truncated": 0, "failed_request": 0}


def test_billing_truncate_only_named_methods(dataset: dict[str, object]) -> None:
    em = BillingEmulator(dataset, truncate={"get_user_list"})
    json.loads(_get(em, "get_tariff_list")[2])
    with pytest.raises(json.JSONDecodeError):
        json.loads(_get(em, "get_user_list")[2])


def test_billing_server_serves_truncated_bodies_and_fault_counts(
    dataset: dict[str, object],
) -> None:
    em = BillingEmulator(dataset, key=KEY, truncate=True, fail_requests={"get_user_tags"})
    server, thread = start_billing_server(em, port=0)
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        reply = requests.get(base, params={"key": KEY, "request": "get_user_list"}, timeout=5)
        assert reply.status_code == 200
        assert reply.content == _get(BillingEmulator(dataset, truncate=True), "get_user_list")[2]
        reply = requests.get(base, params={"key": KEY, "request": "get_user_tags"}, timeout=5)
        assert reply.status_code == 500
        counts = requests.get(f"{base}/_emulator/faults", timeout=5).json()
        assert counts == {"failed_request": 1, "truncated": 1}
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
