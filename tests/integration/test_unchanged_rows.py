"""Converged runs against the real emulators with the parse caches (``parsed-billing.json``,
``parsed-userside.json``) and the records of unchanged customers
(``unchanged-customers.json``, ``unchanged-ips.json``) in the billing's state folder.

Rules: issue 12 ("a customer is skipped only when its two rows are byte for byte the
ones the last run found nothing to write for, under the same rules"; a row sent again
byte for byte is decoded from the cache; every cache is a cache: missing, corrupt or
foreign means "parse and diff everything", never a failure or a missed write); the
convergence property (contract §12: a second run with no change writes nothing); the
state folder's ownership by one UserSide (:mod:`usm_billing.state_store`). Every write is
counted by the UserSide emulator (``writes``: each ``api.php`` POST of a write call) and
attributed to customers from the requests it answered; both emulator profiles.
"""

from __future__ import annotations

import copy
import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest

from emulators.billing.generator import generate
from emulators.userside.common import parse_form
from emulators.userside.handler import UserSideEmulator
from emulators.userside.server import start_server as start_userside_server
from emulators.userside.state import UserSideState
from tests.integration.harness import USERSIDE_KEY, emulator_stack, write_config
from usm_billing.cli import run_sync
from usm_billing.universal_api import customers as billing_parser
from usm_billing.userside import hook as userside_hook

CUSTOMERS = 60
SEED = 12
CACHES = (
    "parsed-billing.json",
    "parsed-userside.json",
    "unchanged-customers.json",
    "unchanged-ips.json",
)


@dataclass
class Written:
    """The write calls UserSide answered during one run, by the emulator's own count
    (``writes``) and by billing customer (from the requests' ``data``)."""

    writes: int = 0
    calls: Counter = field(default_factory=Counter)
    customers: set[str] = field(default_factory=set)


class Recorder:
    """Wraps the UserSide emulator's :meth:`handle`: every write call (a POST that is no
    lifecycle call) is noted with the billing customers it names."""

    def __init__(self, stack) -> None:
        self.stack = stack
        self.current = Written()
        handle = stack.userside.handle

        def recording(method, path, query, body, content_type):
            if method == "POST" and path.endswith("api.php"):
                self._note({**query, **parse_form(body)})
            return handle(method, path, query, body, content_type)

        stack.userside.handle = recording

    def _note(self, params: dict[str, str]) -> None:
        cat, action = params.get("cat", ""), params.get("action", "")
        if cat == "usm_billing":
            return
        self.current.calls[f"{cat}/{action}"] += 1
        if cat != "customer" or "data" not in params:
            return
        data = json.loads(params["data"])
        state = self.stack.userside.state
        if action == "group_edit" and isinstance(data, dict):
            for us_id in data:
                customer = state.customer(us_id)
                self.current.customers.add(customer["billing_uid"] if customer else f"?{us_id}")
        elif action == "group_add":
            entries = data.values() if isinstance(data, dict) else data
            self.current.customers.update(str(e.get("billing_customer_id")) for e in entries)

    def run(self, config_path, **kwargs: Any) -> tuple[dict[str, Any], Written]:
        """One importer run (the CLI path, in-process); what it wrote, server-counted."""
        self.current = Written()
        before = self.stack.userside_stats()["writes"]
        report = run_sync(config_path, **kwargs)
        self.current.writes = self.stack.userside_stats()["writes"] - before
        assert report["failed"] == [], report["failed"][:5]
        assert report["errors"] == [], report["errors"]
        assert self.current.writes == report["write_requests"], (self.current, report)
        return report, self.current


@dataclass
class Parsed:
    """The rows each side's parser was asked for during a run (a cache hit is none)."""

    billing: list[str] = field(default_factory=list)
    userside: list[str] = field(default_factory=list)

    def clear(self) -> None:
        self.billing.clear()
        self.userside.clear()


@pytest.fixture
def parsed(monkeypatch) -> Parsed:
    seen = Parsed()
    parse_customer = billing_parser.parse_customer
    parse_view_row = userside_hook.parse_view_row

    def billing(key, raw, **kwargs):
        seen.billing.append(key)
        return parse_customer(key, raw, **kwargs)

    def userside(key, row, **kwargs):
        seen.userside.append(key)
        return parse_view_row(key, row, **kwargs)

    monkeypatch.setattr(billing_parser, "parse_customer", billing)
    monkeypatch.setattr(userside_hook, "parse_view_row", userside)
    return seen


def state_dir(tmp_path):
    return tmp_path / "billings" / "state" / "1"


def cache_file(tmp_path, name: str) -> dict[str, Any]:
    return json.loads((state_dir(tmp_path) / name).read_text(encoding="utf-8"))


def us_customer(stack, uid: str) -> dict[str, Any]:
    """The emulator's stored record of billing customer ``uid`` (edited in place)."""
    customer = stack.userside.state.find_customer(1, uid)
    assert customer is not None, uid
    return customer


def converge(stack, recorder: Recorder) -> None:
    """The import, then the run that finds nothing to write."""
    _report, first = recorder.run(stack.config_path)
    assert first.writes > 0
    _report, second = recorder.run(stack.config_path)
    assert second.writes == 0, second


def dataset() -> dict[str, Any]:
    return generate(CUSTOMERS, seed=SEED)


def billing_ids(source: dict[str, Any]) -> set[str]:
    return set(source["get_user_list"])


# --- a. convergence with the caches -----------------------------------------------------


def test_converged_runs_write_nothing_and_skip_everyone(tmp_path, monkeypatch, profile, parsed):
    """issue 12, contract §12: the import, then a run that writes nothing; the run after
    it writes nothing either, parses no row of either side (every row is the cached one)
    and skips every customer, both diffs naming them all in their records."""
    source = dataset()
    with emulator_stack(tmp_path, monkeypatch, source, profile=profile) as stack:
        recorder = Recorder(stack)
        converge(stack, recorder)
        for name in CACHES:
            assert (state_dir(tmp_path) / name).is_file(), name
        parsed.clear()
        _report, third = recorder.run(stack.config_path)
        assert third.writes == 0, third
        assert parsed.billing == [], "billing rows parsed again although byte-identical"
        assert parsed.userside == [], "view rows parsed again although byte-identical"
        everyone = billing_ids(source)
        for name in ("unchanged-customers.json", "unchanged-ips.json"):
            rows = cache_file(tmp_path, name)["unchanged"]["rows"]
            assert set(rows) <= everyone
            assert len(rows) >= 0.9 * len(everyone), (name, len(rows), len(everyone))
        assert set(cache_file(tmp_path, "parsed-billing.json")["parsed"]["rows"]) <= everyone
        view = cache_file(tmp_path, "parsed-userside.json")
        assert view["userside"] == f"{stack.userside_url}/api.php"
        assert set(view["parsed"]["rows"]) == everyone


# --- b. an admin edits UserSide ----------------------------------------------------------


def _edit_name(customer: dict[str, Any]) -> None:
    customer["full_name"] = "Змінено адміністратором"


def _edit_phone(customer: dict[str, Any]) -> None:
    customer["phones"] = ["0000000", *customer["phones"][1:]]


def _drop_ip(customer: dict[str, Any]) -> None:
    assert customer["ip_mac"], "the chosen customer has an IP binding"
    customer["ip_mac"].pop(next(iter(customer["ip_mac"])))


def _edit_balance(customer: dict[str, Any]) -> None:
    customer["balance"] = "-999.99"


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(_edit_name, id="5.2-full-name"),
        pytest.param(_edit_phone, id="5.2-phone"),
        pytest.param(_edit_balance, id="5.2-balance"),
        pytest.param(_drop_ip, id="4.4-ip-binding-removed"),
    ],
)
def test_an_admin_edit_in_userside_is_written_back(
    tmp_path, monkeypatch, profile, parsed, edit
) -> None:
    """issue 12: an edit made in UserSide (out of band) changes that customer's view row,
    so that customer alone is parsed, diffed and written back; the run after writes
    nothing."""
    source = dataset()
    with emulator_stack(tmp_path, monkeypatch, source, profile=profile) as stack:
        recorder = Recorder(stack)
        converge(stack, recorder)
        uid = next(u for u in sorted(billing_ids(source)) if us_customer(stack, u)["ip_mac"])
        original = copy.deepcopy(us_customer(stack, uid))
        edit(us_customer(stack, uid))
        parsed.clear()
        _report, back = recorder.run(stack.config_path)
        assert back.writes > 0, "the admin's edit was not written back"
        assert back.customers == {uid}, back
        assert set(back.calls) == {"customer/group_edit"}, back
        assert parsed.userside == [uid]
        assert parsed.billing == []
        restored = us_customer(stack, uid)
        for key in ("full_name", "phones", "comment", "balance", "ip_mac"):
            assert restored[key] == original[key], key
        _report, again = recorder.run(stack.config_path)
        assert again.writes == 0, again


# --- c. the billing changes a customer ---------------------------------------------------


def _billing_name(row: dict[str, Any]) -> None:
    row["full_name"] = "Нове Ім’я"


def _billing_balance(row: dict[str, Any]) -> None:
    row["balance"] = "1234.5"


def _billing_ip(row: dict[str, Any]) -> None:
    row["ip_mac"][0]["ip"] = int(row["ip_mac"][0]["ip"]) + 7000


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(_billing_name, id="3.13-full-name"),
        pytest.param(_billing_balance, id="3.13-balance"),
        pytest.param(_billing_ip, id="4.4-ip"),
    ],
)
def test_a_billing_change_is_written(tmp_path, monkeypatch, profile, parsed, change) -> None:
    """issue 12: a customer the billing sends otherwise is parsed, diffed and written;
    no other customer is; the run after writes nothing."""
    source = dataset()
    with emulator_stack(tmp_path, monkeypatch, source, profile=profile) as stack:
        recorder = Recorder(stack)
        converge(stack, recorder)
        edited = copy.deepcopy(source)
        rows = edited["get_user_list"]
        uid = next(u for u in sorted(rows) if rows[u].get("ip_mac") and not rows[u].get("account"))
        change(rows[uid])
        stack.billing.replace_source(edited)
        parsed.clear()
        _report, written = recorder.run(stack.config_path)
        assert written.writes > 0
        assert written.customers == {uid}, written
        assert set(written.calls) == {"customer/group_edit"}, written
        assert parsed.billing == [uid]
        _report, again = recorder.run(stack.config_path)
        assert again.writes == 0, again


# --- d. rules that change for every customer --------------------------------------------


def _with_password(stack, source: dict[str, Any]) -> set[str]:
    return {uid for uid, row in source["get_user_list"].items() if row.get("password")}


def _not_in_group(stack, source: dict[str, Any]) -> set[str]:
    """The customers whose UserSide record lacks the billing's group 1 (by name)."""
    name = source["get_user_group_list"]["1"]["name"]
    state = stack.userside.state.to_dict()
    us_group = next(int(k) for k, g in state["groups"].items() if g["name"] == name)
    return {
        c["billing_uid"]
        for c in state["customers"].values()
        if str(us_group) not in {str(k) for k in c["group"]}
    }


def _with_activity(stack, source: dict[str, Any]) -> set[str]:
    return {uid for uid, row in source["get_user_list"].items() if row.get("date_activity")}


def stored(stack) -> dict[str, dict[str, Any]]:
    """Every customer's stored record by billing id."""
    return {c["billing_uid"]: c for c in stack.userside.state.to_dict()["customers"].values()}


@pytest.mark.parametrize(
    ("flags", "settings", "affected"),
    [
        pytest.param(
            {"save_password_to_comment": True},
            {},
            _with_password,
            id="4.5-config-password-to-comment",
        ),
        pytest.param(
            {"import_password_to_us_password": True},
            {},
            _with_password,
            id="4.5-config-import-password",
        ),
        pytest.param(
            {"always_set_customer_group_id": "1"}, {}, _not_in_group, id="4.4-config-always-group"
        ),
        pytest.param(
            {},
            {"is_customer_activity_timestamp": 1},
            _with_activity,
            id="2-setting-activity-as-unix",
        ),
    ],
)
def test_new_rules_diff_everyone(tmp_path, monkeypatch, profile, flags, settings, affected) -> None:
    """issue 12: a flag (or UserSide setting) that changes what is written for every
    customer changes the rules: no customer is skipped, every affected one is written
    (server-counted, and exactly the customers whose stored record changed), and the run
    after writes nothing."""
    source = dataset()
    with emulator_stack(tmp_path, monkeypatch, source, profile=profile) as stack:
        recorder = Recorder(stack)
        converge(stack, recorder)
        recorder.run(stack.config_path)  # every customer now in the unchanged records
        expected = affected(stack, source)
        assert len(expected) >= CUSTOMERS // 3, len(expected)
        before = stored(stack)
        if flags:
            write_config(stack.config_path.parent, **flags)
        if settings:
            stack.userside.state.merge_settings(1, settings)
        _report, written = recorder.run(stack.config_path)
        after = stored(stack)
        changed = {uid for uid, record in after.items() if record != before.get(uid)}
        assert written.customers == changed, sorted(written.customers ^ changed)[:10]
        assert changed >= expected, sorted(expected - changed)[:10]
        _report, again = recorder.run(stack.config_path)
        assert again.writes == 0, again


# --- e. caches deleted or damaged between runs ------------------------------------------


def _delete(path) -> None:
    path.unlink()


def _garbage(path) -> None:
    path.write_bytes(b"\x00{not json at all")


def _truncate(path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _wrong_shape(path) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    section = next(k for k in document if k not in ("format", "billing_id", "userside"))
    document[section] = {"rows": "nonsense"}
    path.write_text(json.dumps(document), encoding="utf-8")


def _wrong_records(path) -> None:
    """Every cached record replaced by one that decodes to no customer at all."""
    document = json.loads(path.read_text(encoding="utf-8"))
    rows = document["parsed"]["rows"]
    for uid in rows:
        rows[uid] = [rows[uid][0], {"nonsense": 1}]
    path.write_text(json.dumps(document), encoding="utf-8")


def _other_format(path) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    document["format"] = 99
    path.write_text(json.dumps(document), encoding="utf-8")


DAMAGES = (_delete, _garbage, _truncate, _wrong_shape, _other_format)


@pytest.mark.parametrize("name", CACHES)
def test_a_damaged_cache_changes_nothing(tmp_path, monkeypatch, profile, name) -> None:
    """issue 12: a cache deleted or damaged between runs (deleted, garbage, cut short,
    of another shape or format) is only parsing and diffing again: no failure, nothing
    written, and the run leaves a readable cache behind."""
    source = dataset()
    with emulator_stack(tmp_path, monkeypatch, source, profile=profile) as stack:
        recorder = Recorder(stack)
        converge(stack, recorder)
        path = state_dir(tmp_path) / name
        for damage in DAMAGES:
            damage(path)
            _report, written = recorder.run(stack.config_path)
            assert written.writes == 0, (damage.__name__, written)
            assert json.loads(path.read_bytes())["format"] == 1, damage.__name__
        _report, again = recorder.run(stack.config_path)
        assert again.writes == 0, again


@pytest.mark.parametrize("name", ["parsed-billing.json", "parsed-userside.json"])
def test_cached_records_that_no_longer_decode_are_parsed(
    tmp_path, monkeypatch, profile, parsed, name
) -> None:
    """issue 12: cached records that no longer decode (the digests still match) are
    parsed again, row by row: nothing written, nothing refused."""
    source = dataset()
    with emulator_stack(tmp_path, monkeypatch, source, profile=profile) as stack:
        recorder = Recorder(stack)
        converge(stack, recorder)
        _wrong_records(state_dir(tmp_path) / name)
        (state_dir(tmp_path) / "unchanged-customers.json").unlink()
        (state_dir(tmp_path) / "unchanged-ips.json").unlink()
        parsed.clear()
        report, written = recorder.run(stack.config_path)
        assert written.writes == 0, written
        side = parsed.billing if name == "parsed-billing.json" else parsed.userside
        assert len(side) >= 0.9 * CUSTOMERS
        assert report["entities"]["customers"]["rejected"] == 0


# --- f. another UserSide -----------------------------------------------------------------


def _tamper_view_cache(tmp_path) -> None:
    """Every cached view record says the customer's name is something else: if this
    cache were used, the importer would write every name."""
    path = state_dir(tmp_path) / "parsed-userside.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    for row in document["parsed"]["rows"].values():
        row[1]["full_name"] = "from a foreign cache"
    path.write_text(json.dumps(document), encoding="utf-8")


def test_a_restored_userside_at_another_url_uses_no_foreign_cache(
    tmp_path, monkeypatch, profile, caplog
) -> None:
    """issue 12, state_store: the same converged billing, its state folder with every
    cache, and a fresh UserSide restored from the same data at another URL: the caches
    of the old UserSide are not used (a tampered view cache would show it), the run
    converges at once and the caches now belong to the new UserSide."""
    source = dataset()
    with emulator_stack(tmp_path, monkeypatch, source, profile=profile) as stack:
        recorder = Recorder(stack)
        converge(stack, recorder)
        recorder.run(stack.config_path)  # the caches of a converged run
        old_url = f"{stack.userside_url}/api.php"
        _tamper_view_cache(tmp_path)
        restored = UserSideEmulator(
            UserSideState(stack.userside.state.to_dict()), key=USERSIDE_KEY, profile=profile
        )
        server, thread = start_userside_server(restored, port=0)
        new_url = f"http://127.0.0.1:{server.server_address[1]}"
        monkeypatch.setenv(
            "AIRFLOW_CONN_USM_USERSIDE_TEST",
            json.dumps({"conn_type": "http", "host": new_url, "password": USERSIDE_KEY}),
        )
        try:
            stack.userside, stack.userside_url = restored, new_url
            recorder = Recorder(stack)
            with caplog.at_level(logging.WARNING):
                _report, first = recorder.run(stack.config_path)
            assert first.writes == 0, first
            assert "belongs to UserSide" in caplog.text
            for name in ("parsed-userside.json", "unchanged-customers.json", "unchanged-ips.json"):
                owner = cache_file(tmp_path, name)["userside"]
                assert owner == f"{new_url}/api.php", (name, owner, old_url)
            _report, again = recorder.run(stack.config_path)
            assert again.writes == 0, again
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)


def test_control_the_tampered_view_cache_is_used_by_its_own_userside(tmp_path, monkeypatch) -> None:
    """issue 12: the control of the test above: the same tampered cache, read by the
    UserSide it belongs to (and no record of unchanged customers), is trusted (its
    digests match), so the names are written: the foreign-UserSide test would see it."""
    source = dataset()
    with emulator_stack(tmp_path, monkeypatch, source) as stack:
        recorder = Recorder(stack)
        converge(stack, recorder)
        recorder.run(stack.config_path)
        _tamper_view_cache(tmp_path)
        (state_dir(tmp_path) / "unchanged-customers.json").unlink()
        _report, written = recorder.run(stack.config_path)
        assert written.writes > 0
