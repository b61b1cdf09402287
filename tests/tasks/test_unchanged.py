"""The record of unchanged customers (``unchanged-<entity>.json``,
:class:`usm_billing.tasks.unchanged.UnchangedRecord`) and the customer and IP diffs that
read and write it.

Rules: issue 12 ("skip only what is byte-identical"; the record is a cache, never a
record of truth: a missing, corrupt or foreign file means "diff everything"); the state
folder's ownership by one UserSide (:mod:`usm_billing.state_store`); contract §5.2 and
universal-api.md §4.4 (what a customer or IP diff writes once a row changes).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any

import pytest

from usm_billing.state import Unchanged
from usm_billing.state_store import StateFile
from usm_billing.tasks import customers, ips
from usm_billing.tasks.results import StartInfo
from usm_billing.tasks.unchanged import UnchangedRecord
from usm_billing.universal_api.catalogues import SystemInformation
from usm_billing.universal_api.customers import BillingCustomer, BillingSnapshot
from usm_billing.userside.customers import UsCustomer, UsView
from usm_billing.userside.models import UsSettings

US = "http://us.example/api.php"
OTHER_US = "http://test-us.example/api.php"
START = StartInfo(settings=UsSettings(), billing_time=1_750_000_000, erp_time=1_750_000_000)
RULES = "rules-digest"
BILLING_DIGESTS = {"1": "b1", "2": "b2", "3": "b3"}
VIEW_DIGESTS = {"1": "v1", "2": "v2", "3": "v3"}


class FakeUserSide:
    """Only what the record reads of the UserSide hook: its identity (the api.php URL)."""

    def __init__(self, identity: str = US) -> None:
        self.identity = identity


def snapshot(
    records: dict[str, BillingCustomer] | None = None, digests: dict[str, str] | None = None
) -> BillingSnapshot:
    return BillingSnapshot(
        system=SystemInformation(date="2026-11-25 10:00:00"),
        tariffs={},
        states={},
        customers=records or {},
        digests=dict(BILLING_DIGESTS if digests is None else digests),
    )


def view(
    rows: dict[str, UsCustomer] | None = None, digests: dict[str, str] | None = None
) -> UsView:
    return UsView(
        tariffs={}, customers=rows or {}, digests=dict(VIEW_DIGESTS if digests is None else digests)
    )


def resync(ctx: Any) -> Any:
    ctx.params = dataclasses.replace(ctx.params, full_resync=True)
    return ctx


def record_path(tmp_path, entity: str = "customers", billing_id: int = 1):
    return tmp_path / str(billing_id) / f"unchanged-{entity}.json"


def saved(ctx: Any, entity: str = "customers", identity: str = US) -> Unchanged | None:
    return StateFile(ctx.config, f"unchanged-{entity}.json", "unchanged", userside=identity).read(
        Unchanged
    )


def remember_all(make_ctx, entity: str = "customers", **kwargs: Any) -> None:
    """A previous run that found nothing to write for 1 and 2 (3 changed)."""
    record = UnchangedRecord(make_ctx(FakeUserSide()), entity, snapshot(), view())
    record.save(RULES, ["1", "2", "3"], ["3"], **kwargs)


# --- the record ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entity", "kept", "rules", "billing", "userside", "expected"),
    [
        pytest.param(
            "customers",
            None,
            RULES,
            BILLING_DIGESTS,
            VIEW_DIGESTS,
            {"1": 0, "2": 0},
            id="issue-12-saved-then-skippable",
        ),
        pytest.param(
            "ips",
            {"1": 2, "3": 7},
            RULES,
            BILLING_DIGESTS,
            VIEW_DIGESTS,
            {"1": 2, "2": 0},
            id="4.5-kept-counts-come-back-for-the-skipped",
        ),
        pytest.param(
            "customers",
            None,
            "other-rules",
            BILLING_DIGESTS,
            VIEW_DIGESTS,
            {},
            id="issue-12-other-rules-nothing-skipped",
        ),
        pytest.param(
            "customers",
            None,
            RULES,
            {**BILLING_DIGESTS, "1": "b1-edited"},
            VIEW_DIGESTS,
            {"2": 0},
            id="issue-12-billing-row-edited-diffed-again",
        ),
        pytest.param(
            "customers",
            None,
            RULES,
            BILLING_DIGESTS,
            {**VIEW_DIGESTS, "2": "v2-edited"},
            {"1": 0},
            id="issue-12-view-row-edited-diffed-again",
        ),
    ],
)
def test_round_trip(
    make_ctx,
    tmp_path,
    entity: str,
    kept: dict[str, int] | None,
    rules: str,
    billing: dict[str, str],
    userside: dict[str, str],
    expected: dict[str, int],
) -> None:
    """issue 12: what one run saves in ``unchanged-<entity>.json``, the next run skips,
    only under the same rules and for rows whose two digests are the saved ones."""
    remember_all(make_ctx, entity, kept=kept)
    assert record_path(tmp_path, entity).exists()
    record = UnchangedRecord(
        make_ctx(FakeUserSide()), entity, snapshot(digests=billing), view(digests=userside)
    )
    assert record.skippable(rules) == expected


def test_the_file_holds_digests_and_its_owner(make_ctx, tmp_path) -> None:
    """issue 12, state_store: the record belongs to one UserSide and holds digests only."""
    remember_all(make_ctx, "ips", kept={"1": 2})
    document = json.loads(record_path(tmp_path, "ips").read_text(encoding="utf-8"))
    assert document["userside"] == US
    assert document["billing_id"] == 1
    assert document["unchanged"] == {
        "rules": RULES,
        "rows": {"1": ["b1", "v1"], "2": ["b2", "v2"]},
        "kept": {"1": 2},
    }


@pytest.mark.parametrize(
    ("changed", "full_resync", "rewritten"),
    [
        pytest.param(["3"], False, False, id="issue-12-same-result-not-written"),
        pytest.param(["2", "3"], False, True, id="issue-12-another-result-written"),
        pytest.param(["3"], True, True, id="issue-12-full-resync-always-writes"),
    ],
)
def test_a_record_saying_so_already_is_not_written_again(
    make_ctx, tmp_path, changed, full_resync, rewritten
) -> None:
    """issue 12 (no-change run): the record is written only when this run's result
    differs from the file it read; a full resync did not read it, so it writes."""
    remember_all(make_ctx)
    path = record_path(tmp_path)
    path.write_bytes(path.read_bytes() + b" ")  # a mark a rewrite would remove
    ctx = make_ctx(FakeUserSide())
    if full_resync:
        ctx = resync(ctx)
    record = UnchangedRecord(ctx, "customers", snapshot(), view())
    record.skippable(RULES)
    record.save(RULES, ["1", "2", "3"], changed)
    assert (not path.read_bytes().endswith(b" ")) is rewritten
    assert set(saved(make_ctx()).rows) == {"1", "2", "3"} - set(changed)


def test_a_customer_id_run_neither_reads_nor_writes(make_ctx, tmp_path) -> None:
    """issue 12: a one-customer run (``customer_id``) diffs its customer in full and
    leaves the record as it is (the UserSide hook is never asked for its identity)."""
    remember_all(make_ctx)
    before = record_path(tmp_path).read_bytes()
    record = UnchangedRecord(make_ctx(None, customer_id="1"), "customers", snapshot(), view())
    assert record.enabled is False
    assert record.skippable(RULES) == {}
    record.save(RULES, ["1", "2", "3"], [])
    assert record_path(tmp_path).read_bytes() == before


def test_full_resync_skips_nothing_but_writes(make_ctx, tmp_path) -> None:
    """issue 12: a ``full_resync`` diffs every customer, then records what it found."""
    remember_all(make_ctx)
    record = UnchangedRecord(resync(make_ctx(FakeUserSide())), "customers", snapshot(), view())
    assert (record.enabled, record.trusted) == (True, False)
    assert record.skippable(RULES) == {}
    record.save("new-rules", ["1", "2", "3"], ["1"])
    assert saved(make_ctx()) == Unchanged(
        rules="new-rules", rows={"2": ("b2", "v2"), "3": ("b3", "v3")}
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(b"{not json", "unreadable", id="issue-12-corrupt-json"),
        pytest.param(b"", "unreadable", id="issue-12-empty-file"),
        pytest.param(
            b'{"format":99,"billing_id":1,"unchanged":{}}', "unknown format", id="issue-12-format"
        ),
        pytest.param(
            b'{"format":1,"billing_id":1,"other":{}}', "unknown format", id="issue-12-no-section"
        ),
        pytest.param(
            b'{"format":1,"billing_id":1,"unchanged":{"rows":{"1":"b1"}}}',
            "`unchanged`",
            id="issue-12-rows-of-the-wrong-shape",
        ),
        pytest.param(
            b'{"format":1,"billing_id":1,"userside":"' + OTHER_US.encode() + b'",'
            b'"unchanged":{"rules":"rules-digest","rows":{"1":["b1","v1"]}}}',
            f"belongs to UserSide {OTHER_US}",
            id="state-store-file-of-another-userside",
        ),
    ],
)
def test_an_unusable_file_means_diff_everything(
    make_ctx, tmp_path, caplog, content: bytes, message: str
) -> None:
    """issue 12: the record is a cache: a corrupt file or one of another UserSide's is
    warned about and every customer is diffed; the next save replaces it."""
    path = record_path(tmp_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    record = UnchangedRecord(make_ctx(FakeUserSide()), "customers", snapshot(), view())
    with caplog.at_level(logging.WARNING, logger="usm_billing.tasks.unchanged"):
        assert record.skippable(RULES) == {}
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert message in warnings[0].getMessage()
    assert "every customer is diffed" in warnings[0].getMessage()
    record.save(RULES, ["1"], [])
    assert saved(make_ctx()) == Unchanged(rules=RULES, rows={"1": ("b1", "v1")})


def test_the_record_of_another_userside_is_not_used(make_ctx, tmp_path, caplog) -> None:
    """state_store, issue 12: a config pointed at another UserSide (a test instance)
    never skips by the record of the first one's view."""
    remember_all(make_ctx)
    other = UnchangedRecord(make_ctx(FakeUserSide(OTHER_US)), "customers", snapshot(), view())
    with caplog.at_level(logging.WARNING, logger="usm_billing.tasks.unchanged"):
        assert other.skippable(RULES) == {}
    assert f"belongs to UserSide {US}" in caplog.text
    # the record of the first UserSide is still there for its own runs
    assert UnchangedRecord(make_ctx(FakeUserSide()), "customers", snapshot(), view()).skippable(
        RULES
    ) == {"1": 0, "2": 0}


@pytest.mark.parametrize(
    ("billing", "userside"),
    [
        pytest.param({}, VIEW_DIGESTS, id="issue-12-no-billing-digests"),
        pytest.param(BILLING_DIGESTS, {}, id="issue-12-no-view-digests"),
        pytest.param({}, {}, id="issue-12-no-digests-at-all"),
    ],
)
def test_without_digests_the_file_is_never_touched(
    make_ctx, tmp_path, billing: dict[str, str], userside: dict[str, str]
) -> None:
    """issue 12: without digests on both sides (a reply the stream read, a test's
    snapshot) there is nothing to recognise and nothing to record: no file is read or
    written (the UserSide hook is never asked for its identity)."""
    record = UnchangedRecord(
        make_ctx(None), "customers", snapshot(digests=billing), view(digests=userside)
    )
    assert record.enabled is False
    assert record.skippable(RULES) == {}
    record.save(RULES, ["1", "2", "3"], [])
    assert not (tmp_path / "1").exists()


# --- through the customer and IP diffs -------------------------------------------------

CRC = "0123456789abcdef0123456789abcdef"


def customer(uid: str, **fields: Any) -> BillingCustomer:
    return BillingCustomer(id=uid, crc=CRC, **fields)


def us_row(uid: str, us_id: int, **fields: Any) -> UsCustomer:
    return UsCustomer(billing_uid=uid, us_id=us_id, **{"is_in_billing": 1, **fields})


def customer_edits(changes: Any) -> dict[str, dict[str, Any]]:
    return {e.billing_uid: e.fields for e in changes.edits}


def test_customer_diff_skips_what_the_last_run_found_unchanged(make_ctx, tmp_path) -> None:
    """issue 12, contract §5.2: the second diff of the same rows skips the customer the
    first found nothing for (even a record that now differs behind the same digest is
    not looked at); an edited view row (another digest) is diffed again and yields
    the edit."""
    ctx = make_ctx(FakeUserSide())
    records = {"1": customer("1", login="one"), "2": customer("2", login="two")}
    rows = {"1": us_row("1", 10, login="one"), "2": us_row("2", 20, login="old")}
    digests = ({"1": "b1", "2": "b2"}, {"1": "v1", "2": "v2"})

    first = customers.diff(
        ctx, START, snapshot(records, digests[0]), view(rows, digests[1]), None, None
    )
    assert customer_edits(first) == {"2": {"login": "two", "crc_billing": CRC}}
    assert saved(ctx) is not None
    assert set(saved(ctx).rows) == {"1"}  # 2 had an edit: not recorded

    # the same digests: 1 is skipped, so even a changed record behind them is not diffed
    records_now = {**records, "1": customer("1", login="changed-behind-the-digest")}
    second = customers.diff(
        ctx, START, snapshot(records_now, digests[0]), view(rows, digests[1]), None, None
    )
    assert customer_edits(second) == {"2": {"login": "two", "crc_billing": CRC}}

    # an admin edited 1 in UserSide: its view row has another digest, so it is diffed
    edited_rows = {**rows, "1": us_row("1", 10, login="admin-edit")}
    third = customers.diff(
        ctx,
        START,
        snapshot(records, digests[0]),
        view(edited_rows, {**digests[1], "1": "v1-edited"}),
        None,
        None,
    )
    assert customer_edits(third) == {
        "1": {"login": "one", "crc_billing": CRC},
        "2": {"login": "two", "crc_billing": CRC},
    }
    assert saved(ctx).rows == {}  # both had edits


def test_customer_diff_on_a_full_resync_diffs_everything(make_ctx) -> None:
    """issue 12: ``full_resync`` does not trust the record; the diff sees every row."""
    ctx = make_ctx(FakeUserSide())
    records = {"1": customer("1", login="one")}
    rows = {"1": us_row("1", 10, login="one")}
    digests = ({"1": "b1"}, {"1": "v1"})
    assert customers.diff(
        ctx, START, snapshot(records, digests[0]), view(rows, digests[1]), None, None
    ).is_empty
    changed = {"1": customer("1", login="changed-behind-the-digest")}
    again = customers.diff(
        resync(ctx), START, snapshot(changed, digests[0]), view(rows, digests[1]), None, None
    )
    assert customer_edits(again) == {
        "1": {"login": "changed-behind-the-digest", "crc_billing": CRC}
    }


IP_1 = 3232235777  # 192.168.1.1
IP_2 = 3232235778  # 192.168.1.2
IP_10 = 167772427  # 10.0.1.11, kept by skip_delete_ip


def ip_customer(uid: str, *ips: int) -> BillingCustomer:
    return BillingCustomer(id=uid, ip_mac=tuple((str(ip), "", "") for ip in ips))


def ip_row(uid: str, us_id: int, *ips: int) -> UsCustomer:
    return UsCustomer(billing_uid=uid, us_id=us_id, ip_mac=tuple((ip, "") for ip in ips))


def test_ip_diff_skips_what_the_last_run_found_unchanged(make_ctx) -> None:
    """issue 12, universal-api.md §4.4-4.5: the second IP diff of the same rows skips the
    customer the first found nothing for and still counts its kept binding; an edited
    view row (another digest) is diffed again and yields the edit."""
    ctx = make_ctx(FakeUserSide(), skip_delete_ip=["10.0.1.11"])
    records = {"a": ip_customer("a", IP_1), "b": ip_customer("b", IP_2)}
    rows = {"a": ip_row("a", 1, IP_1, IP_10), "b": ip_row("b", 2)}
    digests = ({"a": "ba", "b": "bb"}, {"a": "va", "b": "vb"})

    first = ips.diff(ctx, START, snapshot(records, digests[0]), view(rows, digests[1]))
    assert [(e.billing_uid, e.fields) for e in first.edits] == [("b", {"add_ip1": f"{IP_2},"})]
    assert (first.kept, first.kept_by) == (1, {"a": 1})
    assert saved(ctx, "ips") == Unchanged(
        rules=saved(ctx, "ips").rules, rows={"a": ("ba", "va")}, kept={"a": 1}
    )

    # the same digests: a is skipped (a billing change behind them is not seen), and its
    # kept binding is counted from the record
    records_now = {**records, "a": ip_customer("a", IP_1, IP_2)}
    second = ips.diff(ctx, START, snapshot(records_now, digests[0]), view(rows, digests[1]))
    assert [e.billing_uid for e in second.edits] == ["b"]
    assert (second.kept, second.kept_by) == (1, {"a": 1})

    # UserSide's row of a changed (a binding deleted by hand): diffed again
    edited = {**rows, "a": ip_row("a", 1, IP_10)}
    third = ips.diff(
        ctx, START, snapshot(records, digests[0]), view(edited, {**digests[1], "a": "va-2"})
    )
    assert [(e.billing_uid, e.fields) for e in third.edits] == [
        ("a", {"add_ip1": f"{IP_1},"}),
        ("b", {"add_ip1": f"{IP_2},"}),
    ]
    assert (third.kept, third.kept_by) == (1, {"a": 1})


def test_ip_diff_with_other_flags_diffs_everything(make_ctx) -> None:
    """issue 12, universal-api.md §4.5: another flag is another rules digest: the record
    of the last run is not used."""
    records = {"a": ip_customer("a", IP_1)}
    rows = {"a": ip_row("a", 1, IP_1, IP_10)}
    digests = ({"a": "ba"}, {"a": "va"})
    ctx = make_ctx(FakeUserSide(), skip_delete_ip=["10.0.1.11"])
    assert ips.diff(ctx, START, snapshot(records, digests[0]), view(rows, digests[1])).is_empty
    # the protection is lifted: the binding the record "kept" is now deleted
    ctx = make_ctx(FakeUserSide())
    changes = ips.diff(ctx, START, snapshot(records, digests[0]), view(rows, digests[1]))
    assert [(e.billing_uid, e.fields) for e in changes.edits] == [("a", {"delete_ip1": IP_10})]
    assert changes.kept_by == {}
