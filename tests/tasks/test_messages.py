"""The message task of issue 4 with fake hooks that record every call: the message state
saved in batches so a retry resumes (never a message twice), a refused message retried
next run, and the state file itself (universal-api.md §3.14, §4.5; contract §1.5, §5.5,
§8 N1)."""

from __future__ import annotations

from typing import Any

import pytest

from usm_billing.exceptions import FatalApiError, RetriableApiError, StateError
from usm_billing.state import MessageState
from usm_billing.state_store import MessageStore
from usm_billing.sync.changes import MessageChanges
from usm_billing.sync.messages import MessageAdd
from usm_billing.tasks import messages
from usm_billing.tasks.results import CustomerResult, LoadResult
from usm_billing.universal_api.messages import BillingMessage
from usm_billing.userside.customers import UsCustomer, UsView


class FakeBilling:
    def __init__(self, messages: list[BillingMessage]) -> None:
        self.messages = messages
        self.asked: list[str] = []

    def get_user_messages(self, *, timezone):
        self.asked.append("messages")
        return self.messages


class FakeUserSide:
    """Records ``msg_add``; ``fail`` / ``retriable`` name the ``msg_add:<id>`` that are
    refused / get no reply."""

    identity = "http://userside.test/api.php"

    def __init__(self, *, fail: set[str] = frozenset(), retriable: set[str] = frozenset()):
        self.calls: list[tuple[str, Any]] = []
        self.fail, self.retriable = fail, retriable
        self.writes_sent = 0
        self.next_id = 100

    def customer_msg_add(self, customer_id, text, *, billing_msg_id, billing_msg_date):
        self.calls.append(("msg_add", billing_msg_id))
        self.writes_sent += 1
        if f"msg_add:{billing_msg_id}" in self.retriable:
            msg = "UserSide `u` msg_add: cannot connect"
            raise RetriableApiError(msg)
        if f"msg_add:{billing_msg_id}" in self.fail:
            msg = "UserSide `u` msg_add: refused"
            raise FatalApiError(msg)
        self.next_id += 1
        return self.next_id


def billing_messages(*ids: str, customer: str = "a", date: int = 1_000) -> list[BillingMessage]:
    return [BillingMessage(i, customer, date + int(i), "S", "t") for i in ids]


def view(**us_ids: int) -> UsView:
    return UsView(
        tariffs={},
        customers={uid: UsCustomer(billing_uid=uid, us_id=i) for uid, i in us_ids.items()},
    )


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
def test_message_diff(make_ctx, settings, interval, expected):
    billing = FakeBilling(billing_messages("1", "2", "3"))
    ctx = make_ctx(FakeUserSide(), billing, billing_id=4, message_interval=interval, **settings)
    changes = messages.diff(ctx, view(a=70), None)
    assert [add.billing_msg_id for add in changes.adds] == expected
    if not settings.get("import_message") or settings.get("billing_name") == "carbon5":
        assert billing.asked == []


def test_message_diff_uses_customers_created_this_run_and_counts_unknown(make_ctx):
    billing = FakeBilling(
        billing_messages("1", customer="new") + billing_messages("2", customer="x")
    )
    ctx = make_ctx(FakeUserSide(), billing, billing_id=4, import_message=True)
    customers = CustomerResult(load=LoadResult("customers", {}, False), customer_ids={"new": 501})
    changes = messages.diff(ctx, view(a=70), customers)
    assert changes.adds == (MessageAdd("1", 501, 1_001, "S<br>t"),)
    assert changes.unknown_customer == 1


def adds(*ids: str) -> MessageChanges:
    return MessageChanges(enabled=True, adds=tuple(MessageAdd(i, 70, 1_000, "text") for i in ids))


def test_load_saves_the_state_in_batches_and_a_retry_resumes(make_ctx, monkeypatch):
    monkeypatch.setattr(messages, "SAVE_EVERY", 2)
    ids = [str(i) for i in range(1, 6)]
    saves: list[list[str]] = []
    original = MessageStore.save
    monkeypatch.setattr(
        MessageStore,
        "save",
        lambda self, state: (saves.append(sorted(state.sent)), original(self, state))[1],
    )
    ctx = make_ctx(FakeUserSide(retriable={"msg_add:4"}), billing_id=4, import_message=True)
    with pytest.raises(RetriableApiError):  # an outage: the task fails, Airflow retries it
        messages.load(ctx, adds(*ids))
    assert saves == [["1", "2"], ["1", "2", "3"]]  # a batch, then what was sent before the stop
    assert MessageStore(ctx.config).load().sent == {"1", "2", "3"}
    retry = FakeUserSide()
    result = messages.load(
        make_ctx(retry, billing_id=4, import_message=True), adds(*ids)
    )  # same change set
    assert retry.calls == [("msg_add", "4"), ("msg_add", "5")]
    assert result.detail["sent"] == 2
    assert MessageStore(ctx.config).load().sent == set(ids)


def test_refused_message_is_reported_and_retried_next_run(make_ctx):
    ctx = make_ctx(FakeUserSide(fail={"msg_add:2"}), billing_id=4, import_message=True)
    result = messages.load(ctx, adds("1", "2", "3"))
    assert [f.record for f in result.failed] == ["message 2"]
    assert MessageStore(ctx.config).load().sent == {"1", "3"}


def test_dry_run_sends_and_saves_nothing(make_ctx):
    userside = FakeUserSide()
    ctx = make_ctx(userside, billing_id=4, import_message=True, dry_run=True)
    result = messages.load(ctx, adds("1"))
    assert (userside.calls, result.counts["add"]) == ([], 1)
    assert not MessageStore(ctx.config).path.exists()


@pytest.mark.parametrize(
    ("body", "error"),
    [
        pytest.param("not json", "unreadable", id="state-not-json"),
        pytest.param('{"format": 7, "sent": []}', "unknown format", id="state-unknown-format"),
        pytest.param('{"format": 1, "sent": {}}', "`sent` not a valid", id="state-sent-not-a-list"),
    ],
)
def test_unreadable_message_state_stops_the_import(make_ctx, tmp_path, body, error):
    ctx = make_ctx(billing_id=4, import_message=True)
    (tmp_path / "4").mkdir()
    (tmp_path / "4" / "messages.json").write_text(body, encoding="utf-8")
    with pytest.raises(StateError, match=error):
        MessageStore(ctx.config).load()


def test_message_state_lives_next_to_the_house_cache(make_ctx, tmp_path):
    store = MessageStore(make_ctx(billing_id=4).config)
    assert store.load() == MessageState()
    store.save(MessageState({"2", "10"}))
    assert (tmp_path / "4" / "messages.json").read_text(encoding="utf-8") == (
        '{"billing_id":4,"format":1,"sent":["10","2"]}'
    )
    assert store.load() == MessageState({"2", "10"})


class Killed(BaseException):
    """The worker died: nothing after this point of the task ran (not even ``finally``)."""


def test_kill_between_send_and_record_sends_that_message_again(make_ctx, monkeypatch):
    """At-least-once (docs/reliability.md): message 2 reached UserSide, the worker died
    before it was recorded; the next run sends it again, and no message is ever skipped."""
    userside = FakeUserSide()
    sent = userside.customer_msg_add

    def applied_then_killed(customer_id, text, *, billing_msg_id, billing_msg_date):
        sent(customer_id, text, billing_msg_id=billing_msg_id, billing_msg_date=billing_msg_date)
        if billing_msg_id == "2":
            raise Killed

    userside.customer_msg_add = applied_then_killed
    monkeypatch.setattr(MessageStore, "save", lambda self, state: None)  # SIGKILL: no finally
    ctx = make_ctx(userside, billing_id=4, import_message=True)
    with pytest.raises(Killed):
        messages.load(ctx, adds("1", "2", "3"))
    assert userside.calls == [("msg_add", "1"), ("msg_add", "2")]
    monkeypatch.undo()
    rerun = FakeUserSide()
    messages.load(make_ctx(rerun, billing_id=4, import_message=True), adds("1", "2", "3"))
    assert rerun.calls == [("msg_add", "1"), ("msg_add", "2"), ("msg_add", "3")]
    assert MessageStore(ctx.config).load().sent == {"1", "2", "3"}


def test_message_state_of_another_userside_is_refused(make_ctx):
    config = make_ctx(billing_id=4).config
    MessageStore(config, userside="http://old.example/api.php").save(MessageState({"1"}))
    with pytest.raises(StateError) as caught:
        MessageStore(config, userside="http://new.example/api.php").load()
    text = str(caught.value)
    assert "belongs to UserSide http://old.example/api.php" in text
    assert "UserSide http://new.example/api.php" in text
    assert "state_path" in text


def test_message_state_without_an_owner_is_adopted(make_ctx, tmp_path):
    config = make_ctx(billing_id=4).config
    (tmp_path / "4").mkdir()
    (tmp_path / "4" / "messages.json").write_text(
        '{"billing_id":4,"format":1,"sent":["1"]}', encoding="utf-8"
    )
    store = MessageStore(config, userside="http://us.example/api.php")
    assert store.load() == MessageState({"1"})
    store.save(MessageState({"1", "2"}))
    assert '"userside":"http://us.example/api.php"' in (tmp_path / "4" / "messages.json").read_text(
        encoding="utf-8"
    )
