"""The catalogue, message and customer load steps of issue 4 with fake hooks that record
every call: optional billing catalogues, create → re-read → cost edit, the message state
saved in batches so a retry resumes (never a message twice), and sealed values opened only
by the load (universal-api.md §3.6-3.7, §3.12, §3.14, §4.5; contract §1.5, §4.2-4.3,
§5.5, §7, §8 N1)."""

from __future__ import annotations

from typing import Any

import pytest

from usm_billing import steps
from usm_billing.config import BillingConfig
from usm_billing.exceptions import FatalApiError, RetriableApiError, StateError
from usm_billing.passwords import PasswordBox
from usm_billing.state import MessageState
from usm_billing.state_store import MessageStore
from usm_billing.sync.catalogues import service_key
from usm_billing.sync.changes import (
    DEFERRED_CUSTOMER,
    CustomerChanges,
    CustomerEdit,
    MessageChanges,
)
from usm_billing.universal_api.messages import BillingMessage
from usm_billing.universal_api.models import BillingService, NamedItem
from usm_billing.userside.models import UsCustomer


def config(tmp_path, **settings: Any) -> BillingConfig:
    return BillingConfig(
        billing_id=4,
        billing_conn_id="b",
        userside_conn_id="u",
        state_path=str(tmp_path),
        **settings,
    )


class FakeBilling:
    def __init__(self, *, fail: set[str] = frozenset(), **lists: Any) -> None:
        self.lists = lists
        self.fail = fail
        self.asked: list[str] = []

    def _get(self, name: str) -> Any:
        self.asked.append(name)
        if name in self.fail:
            msg = f"billing `b` {name}: HTTP 500"
            raise RetriableApiError(msg)
        return self.lists.get(name, {})

    def get_user_group_list(self):
        return {k: NamedItem(id=k, name=v) for k, v in self._get("groups").items()}

    def get_user_tags(self):
        return {k: NamedItem(id=k, name=v) for k, v in self._get("tags").items()}

    def get_services_list(self):
        return {
            k: BillingService(id=k, name=n, cost=c) for k, (n, c) in self._get("services").items()
        }

    def get_user_messages(self, *, timezone):
        return self._get("messages")


class FakeUserSide:
    """UserSide's catalogues in memory; ``fail`` names calls (or ``call:arg``) that raise."""

    def __init__(self, *, fail: set[str] = frozenset(), retriable: set[str] = frozenset()):
        self.groups: dict[int, str] = {}
        self.tags: dict[int, str] = {}
        self.services: dict[str, tuple[int, Any]] = {}
        self.calls: list[tuple[str, Any]] = []
        self.fail, self.retriable = fail, retriable
        self.writes_sent = 0
        self.next_id = 100
        self.view: dict[str, int] = {}

    def _write(self, name: str, argument: Any) -> int:
        self.calls.append((name, argument))
        self.writes_sent += 1
        if f"{name}:{argument}" in self.retriable:
            msg = f"UserSide `u` {name}: cannot connect"
            raise RetriableApiError(msg)
        if name in self.fail or f"{name}:{argument}" in self.fail:
            msg = f"UserSide `u` {name}: refused"
            raise FatalApiError(msg)
        self.next_id += 1
        return self.next_id

    def get_user_group_list(self):
        self.calls.append(("read", "groups"))
        return dict(self.groups)

    def get_user_tags(self):
        self.calls.append(("read", "tags"))
        return dict(self.tags)

    def get_services_list(self, billing_id):
        self.calls.append(("read", "services"))
        return dict(self.services)

    def add_group(self, name):
        self.groups[self._write("add_group", name)] = name

    def add_tag(self, name):
        self.tags[self._write("add_tag", name)] = name

    def service_add(self, billing_id, name):
        self.services[service_key(name.replace("&#047;", "/"))] = (
            self._write("service_add", name),
            0,
        )

    def service_edit(self, us_id, cost):
        self._write("service_edit", f"{us_id}={cost}")

    def customer_msg_add(self, customer_id, text, *, billing_msg_id, billing_msg_date):
        return self._write("msg_add", billing_msg_id)

    def customer_group_add(self, billing_id, rows):
        self._write("group_add", len(rows))
        for row in rows:
            uid = str(row["billing_customer_id"])
            self.view.setdefault(uid, 500 + len(self.view))
        return len(rows)

    def get_user_list(self, billing_id, **kwargs):
        return {uid: UsCustomer(billing_uid=uid, us_id=us_id) for uid, us_id in self.view.items()}

    def customer_group_edit(self, data, *, src_billing):
        self._write("group_edit", data)
        return len(data)


def test_catalogues_planned_by_name_and_an_unavailable_one_skipped(tmp_path):
    billing = FakeBilling(
        fail={"services"},
        groups={"1": "VIP", "2": "Боржник/суд"},
        tags={"3": "IPTV"},
    )
    userside = FakeUserSide()
    userside.groups = {50: "Боржник&#047;суд"}
    changes = steps.diff_catalogue_step(config(tmp_path), billing, userside)
    assert changes["enabled"] == {"groups": True, "tags": True, "services": False}
    assert changes["unavailable"] == ["services"]
    assert changes["group_creates"] == ["VIP"]
    assert changes["group_map"] == {"2": 50}
    assert changes["tag_creates"] == ["IPTV"]
    assert ("read", "services") not in userside.calls  # contract §4.3: only when non-empty


def test_carbon5_reads_groups_only(tmp_path):
    billing = FakeBilling(groups={"1": "Home"}, tags={"3": "IPTV"})
    changes = steps.diff_catalogue_step(
        config(tmp_path, billing_name="carbon5"), billing, FakeUserSide()
    )
    assert billing.asked == ["groups"]
    assert changes["enabled"] == {"groups": True, "tags": False, "services": False}


def test_empty_billing_catalogue_reads_nothing_from_userside(tmp_path):
    userside = FakeUserSide()
    changes = steps.diff_catalogue_step(config(tmp_path), FakeBilling(), userside)
    assert userside.calls == []
    assert changes["enabled"] == {"groups": False, "tags": False, "services": False}


def test_load_creates_rereads_and_sets_the_new_service_cost(tmp_path):
    billing = FakeBilling(
        groups={"1": "VIP"}, tags={"3": "IPTV"}, services={"9": ("TV/box", "45,00")}
    )
    userside = FakeUserSide()
    conf = config(tmp_path)
    changes = steps.diff_catalogue_step(conf, billing, userside)
    assert changes["service_adds"] == ["TV&#047;box"]
    summary = steps.load_catalogues(conf, userside, changes, dry_run=False)
    assert summary["failed"] == []
    assert summary["group_map"] == {"1": 101}
    assert summary["tag_map"] == {"3": 102}
    assert summary["service_map"] == {"9": 103}
    assert ("service_edit", "103=45.00") in userside.calls  # the new service gets its cost
    assert summary["write_requests"] == 4
    # the next run: everything matched, nothing to write
    again = steps.diff_catalogue_step(conf, billing, userside)
    userside.services[service_key("TV/box")] = (103, "45")
    again = steps.diff_catalogue_step(conf, billing, userside)
    summary = steps.load_catalogues(conf, userside, again, dry_run=False)
    assert summary["write_requests"] == 0
    assert summary["service_map"] == {"9": 103}


def test_failed_create_is_reported_and_left_unmapped(tmp_path):
    billing = FakeBilling(groups={"1": "VIP", "2": "Home"})
    userside = FakeUserSide(fail={"add_group:VIP"})
    conf = config(tmp_path)
    summary = steps.load_catalogues(
        conf, userside, steps.diff_catalogue_step(conf, billing, userside), dry_run=False
    )
    assert summary["group_map"] == {"2": 101}
    assert [f["record"] for f in summary["failed"]] == ["group 'VIP'"]


def test_dry_run_creates_nothing(tmp_path):
    billing = FakeBilling(groups={"1": "VIP"})
    userside = FakeUserSide()
    conf = config(tmp_path)
    summary = steps.load_catalogues(
        conf, userside, steps.diff_catalogue_step(conf, billing, userside), dry_run=True
    )
    assert userside.writes_sent == 0
    assert summary["group_add"] == 1
    assert summary["group_map"] == {}


# --- messages -------------------------------------------------------------------------


def messages(*ids: str, customer: str = "a", date: int = 1_000) -> list[BillingMessage]:
    return [BillingMessage(i, customer, date + int(i), "S", "t") for i in ids]


def view_json(**us_ids: int) -> dict[str, Any]:
    return {
        "customers": {
            uid: UsCustomer(billing_uid=uid, us_id=i).to_json() for uid, i in us_ids.items()
        }
    }


@pytest.mark.parametrize(
    ("settings", "interval", "expected"),
    [
        pytest.param({}, None, [], id="4.5-import-message-off-nothing"),
        pytest.param(
            {"import_message": True, "billing_name": "carbon5"},
            None,
            [],
            id="4.5-carbon5-has-no-messages",
        ),
        pytest.param({"import_message": True}, None, ["1", "2", "3"], id="3.14-all-not-sent"),
        pytest.param({"import_message": True}, (1_002, 1_003), ["2"], id="3.14-backfill-interval"),
    ],
)
def test_message_diff(tmp_path, settings, interval, expected):
    billing = FakeBilling(messages=messages("1", "2", "3"))
    changes = steps.diff_message_step(
        config(tmp_path, **settings), billing, view_json(a=70), None, interval=interval
    )
    assert [add[0] for add in changes["adds"]] == expected
    if not settings.get("import_message") or settings.get("billing_name") == "carbon5":
        assert billing.asked == []


def test_message_diff_uses_customers_created_this_run_and_counts_unknown(tmp_path):
    billing = FakeBilling(messages=messages("1", customer="new") + messages("2", customer="x"))
    changes = steps.diff_message_step(
        config(tmp_path, import_message=True),
        billing,
        view_json(a=70),
        {"customer_ids": {"new": 501}},
    )
    assert changes["adds"] == [["1", 501, 1_001, "S<br>t"]]
    assert changes["unknown_customer"] == 1


def adds(*ids: str) -> dict[str, Any]:
    return MessageChanges(enabled=True, adds=tuple((i, 70, 1_000, "text") for i in ids)).to_json()


def test_load_saves_the_state_in_batches_and_a_retry_resumes(tmp_path, monkeypatch):
    monkeypatch.setattr(steps, "MESSAGE_SAVE_BATCH", 2)
    conf = config(tmp_path, import_message=True)
    ids = [str(i) for i in range(1, 6)]
    saves: list[list[str]] = []
    original = MessageStore.save
    monkeypatch.setattr(
        MessageStore,
        "save",
        lambda self, state: (saves.append(sorted(state.sent)), original(self, state))[1],
    )
    userside = FakeUserSide(retriable={"msg_add:4"})
    with pytest.raises(RetriableApiError):  # an outage: the task fails, Airflow retries it
        steps.load_messages(conf, userside, adds(*ids), dry_run=False)
    assert saves == [["1", "2"], ["1", "2", "3"]]  # a batch, then what was sent before the stop
    assert MessageStore(conf).load().sent == {"1", "2", "3"}
    retry = FakeUserSide()
    summary = steps.load_messages(conf, retry, adds(*ids), dry_run=False)  # same change set
    assert retry.calls == [("msg_add", "4"), ("msg_add", "5")]
    assert summary["sent"] == 2
    assert MessageStore(conf).load().sent == set(ids)


def test_refused_message_is_reported_and_retried_next_run(tmp_path):
    conf = config(tmp_path, import_message=True)
    summary = steps.load_messages(
        conf, FakeUserSide(fail={"msg_add:2"}), adds("1", "2", "3"), dry_run=False
    )
    assert [f["record"] for f in summary["failed"]] == ["message 2"]
    assert MessageStore(conf).load().sent == {"1", "3"}


def test_dry_run_sends_and_saves_nothing(tmp_path):
    conf = config(tmp_path, import_message=True)
    userside = FakeUserSide()
    summary = steps.load_messages(conf, userside, adds("1"), dry_run=True)
    assert (userside.calls, summary["add"]) == ([], 1)
    assert not MessageStore(conf).path.exists()


@pytest.mark.parametrize(
    ("body", "error"),
    [
        pytest.param("not json", "unreadable", id="state-not-json"),
        pytest.param('{"format": 7, "sent": []}', "unknown format", id="state-unknown-format"),
        pytest.param('{"format": 1, "sent": {}}', "not a list", id="state-sent-not-a-list"),
    ],
)
def test_unreadable_message_state_stops_the_import(tmp_path, body, error):
    conf = config(tmp_path, import_message=True)
    (tmp_path / "4").mkdir()
    (tmp_path / "4" / "messages.json").write_text(body, encoding="utf-8")
    with pytest.raises(StateError, match=error):
        MessageStore(conf).load()


def test_message_state_lives_next_to_the_house_cache(tmp_path):
    conf = config(tmp_path)
    store = MessageStore(conf)
    assert store.load() == MessageState()
    store.save(MessageState({"2", "10"}))
    assert (tmp_path / "4" / "messages.json").read_text(encoding="utf-8") == (
        '{"billing_id":4,"format":1,"sent":["10","2"]}'
    )
    assert store.load() == MessageState({"2", "10"})


# --- customers: sealed values and new parents are resolved by the load ----------------


def test_load_customers_opens_sealed_values_and_fills_new_parents(tmp_path, monkeypatch):
    monkeypatch.setattr(steps, "password_box_for", lambda c: BOX)
    conf = config(tmp_path)
    changes = CustomerChanges(
        creates=("p", "p_1"),
        edits=(
            CustomerEdit("p", None, {"name": "P"}, {}),
            CustomerEdit(
                "p_1",
                None,
                {"parent_id": {DEFERRED_CUSTOMER: "p"}, "password": BOX.sealed("pw", encode=False)},
                {},
            ),
            CustomerEdit("x", 9, {"comment": BOX.sealed("c<br><b>pass: pw</b>")}, {}),
            CustomerEdit("y", 8, {"parent_id": {DEFERRED_CUSTOMER: "gone"}, "login": "y"}, {}),
        ),
    )
    userside = FakeUserSide()
    summary = steps.load_customers(conf, userside, changes.to_json(), dry_run=False)
    [(_, sent)] = [c for c in userside.calls if c[0] == "group_edit"]
    assert sent == {
        "500": {"name": "P"},
        "501": {"parent_id": "500", "password": "pw"},
        "9": {"comment": "c<br><b>pass: pw</b>"},
        "8": {"login": "y"},  # its parent was never created: parent_id left out
    }
    assert summary["customer_ids"] == {"p": 500, "p_1": 501}
    assert summary["failed"] == []


BOX = PasswordBox("billing-api-key")
