"""The per-side parse cache (``parsed-billing.json``, ``parsed-userside.json``,
:mod:`usm_billing.tasks.parse_cache`) and the two readers that use it:
:func:`~usm_billing.universal_api.customers.collect_customers` (``cached=``) and
:meth:`UserSideHook.get_view <usm_billing.userside.hook.UserSideHook.get_view>`
(``cached=``).

Rules: issue 12 ("a row sent again byte for byte is decoded from the last run's record,
never parsed again"; the cache is a cache, never a record of truth: a missing, corrupt,
foreign or otherwise unusable file or entry only means the row is parsed); issue 11 §4
(an id sent twice refuses every record of it, cache or not); the state folder's ownership
by one UserSide (:mod:`usm_billing.state_store`).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import msgspec
import pytest

from usm_billing.passwords import PasswordBox
from usm_billing.state_store import StateFile
from usm_billing.tasks.parse_cache import ParseCache, ParsedRows, parse_context
from usm_billing.universal_api.customers import BillingCustomer, collect_customers
from usm_billing.universal_api.payload import Row, RowDigest
from usm_billing.userside.customers import UsCustomer, parse_view_row
from usm_billing.userside.hook import UserSideHook

US = "http://us.example/api.php"
OTHER_US = "http://test-us.example/api.php"
BILLING_KEY = "billing-secret-key"
US_KEY = "us-secret-key-123"
US_API = "http://userside.test/api.php"

RICH_BILLING = BillingCustomer(
    id="5",
    login="u5",
    full_name="Іваненко Петро",
    tariff_current=("T1", "T2"),
    tariff_new=("T3", "2026-12-01"),
    phones=("+380501112233", ""),
    ip_mac=(("10.0.0.5", "aa:bb:cc:dd:ee:ff", ""),),
    tags=(("3", "2026-01-01"),),
    services=(("7", (("10.5", "x"), ("0", ""))),),
    additional_data=(("1", "a"),),
    password="sealed-token",
    has_is_disable=True,
)
RICH_VIEW = UsCustomer(
    billing_uid="5",
    us_id=42,
    full_name={"odd": ["shape"]},
    balance=10.5,
    tariff_current=("T1",),
    phones=("1", "", "3"),
    ip_mac=((167772165, "aabbccddeeff"), (-1, "001122334455")),
    groups=(1, 2),
    services=((7, (("10", None),)),),
    additional_data=(("4", None), ("5", "v")),
    password="digest:abc",
)


def cache_path(tmp_path, side: str = "billing", billing_id: int = 1):
    return tmp_path / str(billing_id) / f"parsed-{side}.json"


# --- ParseCache -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("side", "record", "kind", "userside"),
    [
        pytest.param("billing", RICH_BILLING, BillingCustomer, None, id="issue-12-billing"),
        pytest.param("userside", RICH_VIEW, UsCustomer, US, id="issue-12-userside-view"),
    ],
)
def test_round_trip(make_ctx, tmp_path, side: str, record: Any, kind: type, userside) -> None:
    """issue 12: what one run saves, the next run loads: the row's digest and the
    record, decoded as it was saved; a record whose row had no digest (child account,
    row read by the text stream) is not kept."""
    ParseCache(make_ctx(), side, "ctx-1", kind, userside=userside).save(
        {"5": record, "6": record}, {"5": "digest-5"}
    )
    assert cache_path(tmp_path, side).exists()
    loaded = ParseCache(make_ctx(), side, "ctx-1", kind, userside=userside).load()
    assert set(loaded) == {"5"}
    digest, loaded_record = loaded["5"]
    assert digest == "digest-5"
    assert isinstance(loaded_record, kind)
    assert loaded_record == record


def test_the_file_names_its_context_and_owner(make_ctx, tmp_path) -> None:
    """issue 12, state_store: the document carries its parse context and its UserSide."""
    ParseCache(make_ctx(), "userside", "ctx-1", UsCustomer, userside=US).save(
        {"5": RICH_VIEW}, {"5": "d"}
    )
    document = json.loads(cache_path(tmp_path, "userside").read_text(encoding="utf-8"))
    assert document["userside"] == US
    assert document["billing_id"] == 1
    assert document["parsed"]["context"] == "ctx-1"
    assert document["parsed"]["rows"]["5"][0] == "d"


@pytest.mark.parametrize(
    ("saved", "loaded"),
    [
        pytest.param("ctx-1", "ctx-2", id="issue-12-other-parsing-context"),
        pytest.param("ctx-1", "", id="issue-12-empty-context"),
    ],
)
def test_another_context_loads_nothing(make_ctx, saved: str, loaded: str) -> None:
    """issue 12: records parsed under another context (code, password key, flags) are
    not used: every row is parsed."""
    ParseCache(make_ctx(), "billing", saved, BillingCustomer).save({"5": RICH_BILLING}, {"5": "d"})
    assert ParseCache(make_ctx(), "billing", loaded, BillingCustomer).load() == {}


def test_no_file_loads_nothing(make_ctx) -> None:
    """issue 12: the first run has no cache: every row is parsed, silently."""
    assert ParseCache(make_ctx(), "billing", "ctx-1", BillingCustomer).load() == {}


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"{not json", id="issue-12-corrupt-json"),
        pytest.param(b"", id="issue-12-empty-file"),
        pytest.param(b"[]", id="issue-12-not-an-object"),
        pytest.param(b'{"format":1,"billing_id":1}', id="issue-12-no-section"),
        pytest.param(
            b'{"format":2,"billing_id":1,"parsed":{"context":"ctx-1","rows":{}}}',
            id="issue-12-other-format",
        ),
        pytest.param(
            b'{"format":1,"billing_id":1,"parsed":{"context":"ctx-1","rows":{"5":"x"}}}',
            id="issue-12-row-not-a-pair",
        ),
        pytest.param(
            b'{"format":1,"billing_id":1,"parsed":{"context":"ctx-1","rows":{"5":["d"]}}}',
            id="issue-12-row-of-one",
        ),
        pytest.param(
            b'{"format":1,"billing_id":1,"parsed":{"context":1,"rows":{}}}',
            id="issue-12-context-not-text",
        ),
        pytest.param(b"\xff\xfe\x00garbage", id="issue-12-binary-garbage"),
    ],
)
def test_a_corrupt_file_warns_and_loads_nothing(make_ctx, tmp_path, caplog, content) -> None:
    """issue 12: an unreadable cache is a warning naming the side, never a failure:
    every row is parsed."""
    path = cache_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="usm_billing.tasks.parse_cache"):
        assert ParseCache(make_ctx(), "billing", "ctx-1", BillingCustomer).load() == {}
    assert "Parse cache of billing" in caplog.text
    assert "every row is parsed" in caplog.text


@pytest.mark.parametrize(
    "entry",
    [
        pytest.param(b'{"nonsense":1}', id="issue-12-entry-no-customer"),
        pytest.param(b"5", id="issue-12-entry-not-an-object"),
        pytest.param(b'{"id":"6","login":5}', id="issue-12-entry-wrong-type"),
    ],
)
def test_a_broken_entry_means_every_row_is_parsed(make_ctx, tmp_path, caplog, entry) -> None:
    """issue 12: the file is decoded into records as a whole (its bytes are freed before
    the list arrives); an entry that is not a record of the side's type makes the cache
    unusable, named in the warning, and every row is parsed."""
    path = cache_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(
        b'{"format":1,"billing_id":1,"parsed":{"context":"ctx-1",'
        b'"rows":{"5":["d5",{"id":"5"}],"6":["d6",' + entry + b"]}}}"
    )
    with caplog.at_level(logging.WARNING, logger="usm_billing.tasks.parse_cache"):
        assert ParseCache(make_ctx(), "billing", "ctx-1", BillingCustomer).load() == {}
    assert "the entry of customer 6 is not a valid BillingCustomer" in caplog.text
    assert "every row is parsed" in caplog.text


def test_a_file_of_another_userside_loads_nothing(make_ctx, caplog) -> None:
    """issue 12, state_store: the view rows of another UserSide (a test instance, a new
    server) are never used for this one's, even with the same context."""
    ParseCache(make_ctx(), "userside", "ctx-1", UsCustomer, userside=US).save(
        {"5": RICH_VIEW}, {"5": "d"}
    )
    with caplog.at_level(logging.WARNING, logger="usm_billing.tasks.parse_cache"):
        assert (
            ParseCache(make_ctx(), "userside", "ctx-1", UsCustomer, userside=OTHER_US).load() == {}
        )
    assert "belongs to UserSide" in caplog.text
    # the owner itself still reads it
    assert set(ParseCache(make_ctx(), "userside", "ctx-1", UsCustomer, userside=US).load()) == {"5"}


def test_a_file_of_another_billing_id_is_another_file(make_ctx) -> None:
    """issue 12, state_store: the cache lives in the billing's own state folder."""
    ParseCache(make_ctx(billing_id=1), "billing", "ctx-1", BillingCustomer).save(
        {"5": RICH_BILLING}, {"5": "d"}
    )
    assert ParseCache(make_ctx(billing_id=2), "billing", "ctx-1", BillingCustomer).load() == {}


def test_the_sides_are_separate_files(make_ctx, tmp_path) -> None:
    """issue 12: the billing's and UserSide's records never mix."""
    ParseCache(make_ctx(), "billing", "ctx-1", BillingCustomer).save(
        {"5": RICH_BILLING}, {"5": "d"}
    )
    assert ParseCache(make_ctx(), "userside", "ctx-1", UsCustomer, userside=US).load() == {}
    assert not cache_path(tmp_path, "userside").exists()


def test_save_replaces_the_last_runs_rows(make_ctx) -> None:
    """issue 12: a customer gone from this run is gone from the cache."""
    ParseCache(make_ctx(), "billing", "ctx-1", BillingCustomer).save(
        {"5": RICH_BILLING, "6": BillingCustomer(id="6")}, {"5": "d5", "6": "d6"}
    )
    ParseCache(make_ctx(), "billing", "ctx-1", BillingCustomer).save(
        {"6": BillingCustomer(id="6")}, {"6": "d6b"}
    )
    loaded = ParseCache(make_ctx(), "billing", "ctx-1", BillingCustomer).load()
    assert {uid: d for uid, (d, _raw) in loaded.items()} == {"6": "d6b"}


@pytest.mark.parametrize(
    ("records", "digests", "context", "rewritten"),
    [
        pytest.param({"5": RICH_BILLING}, {"5": "d5"}, "ctx-1", False, id="issue-12-same-rows"),
        pytest.param({"5": RICH_BILLING}, {"5": "d5b"}, "ctx-1", True, id="issue-12-row-changed"),
        pytest.param(
            {"5": RICH_BILLING, "6": BillingCustomer(id="6")},
            {"5": "d5", "6": "d6"},
            "ctx-1",
            True,
            id="issue-12-customer-added",
        ),
        pytest.param({}, {}, "ctx-1", True, id="issue-12-customer-gone"),
        pytest.param({"5": RICH_BILLING}, {"5": "d5"}, "ctx-2", True, id="issue-12-other-context"),
    ],
)
def test_a_cache_already_holding_the_rows_is_not_written_again(
    make_ctx, tmp_path, records, digests, context, rewritten
) -> None:
    """issue 12 (no-change run): a record is a pure function of its row's bytes and the
    context, so a file holding exactly this run's rows is left as it is; any other row
    set, or another context, is written."""
    ParseCache(make_ctx(), "billing", context, BillingCustomer).save(
        {"5": RICH_BILLING}, {"5": "d5"}
    )
    path = cache_path(tmp_path)
    path.write_bytes(path.read_bytes() + b" ")  # a mark a rewrite would remove
    cache = ParseCache(make_ctx(), "billing", "ctx-1", BillingCustomer)
    cache.load()
    cache.save(records, digests)
    assert (not path.read_bytes().endswith(b" ")) is rewritten
    loaded = ParseCache(make_ctx(), "billing", "ctx-1", BillingCustomer).load()
    assert {uid: d for uid, (d, _raw) in loaded.items()} == {uid: digests[uid] for uid in records}


def test_the_document_type_reads_back(make_ctx) -> None:
    """issue 12: the file is a :class:`ParsedRows` (context, rows by id)."""
    ParseCache(make_ctx(), "billing", "ctx-1", BillingCustomer).save(
        {"5": RICH_BILLING}, {"5": "d"}
    )
    document = StateFile(make_ctx().config, "parsed-billing.json", "parsed").read(ParsedRows)
    assert document is not None
    assert document.context == "ctx-1"
    assert set(document.rows) == {"5"}


# --- parse_context ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second", "equal"),
    [
        pytest.param(
            (PasswordBox("k1"), "billing", False),
            (PasswordBox("k2"), "billing", False),
            False,
            id="issue-12-other-password-key",
        ),
        pytest.param(
            (None, "billing", False),
            (PasswordBox("k1"), "billing", False),
            False,
            id="issue-12-passwords-now-imported",
        ),
        pytest.param(
            (PasswordBox("k1"), "billing", False),
            (PasswordBox("k1"), "billing", True),
            False,
            id="issue-12-other-flag",
        ),
        pytest.param(
            (PasswordBox("k1"), "billing", False),
            (PasswordBox("k1"), "userside", False),
            False,
            id="issue-12-other-side",
        ),
        pytest.param(
            (PasswordBox("k1"), "userside", True),
            (PasswordBox("k1"), "userside"),
            False,
            id="issue-12-flag-missing",
        ),
        pytest.param(
            (PasswordBox("k1"), "billing", False),
            (PasswordBox("k1"), "billing", False),
            True,
            id="issue-12-same-key-new-box-stable",
        ),
        pytest.param(
            (None, "userside", False),
            (None, "userside", False),
            True,
            id="issue-12-no-passwords-stable",
        ),
    ],
)
def test_parse_context(first: tuple, second: tuple, equal: bool) -> None:
    """issue 12: a cached record depends on the parsing code, the password key (sealed
    passwords, keyed digests) and the extract's flags; the context changes with each of
    them and with nothing else."""
    a, b = parse_context(*first), parse_context(*second)
    assert (a == b) is equal
    assert parse_context(*first) == a  # stable across calls
    assert len(a) == 64
    assert "k1" not in a


def test_parse_context_changes_with_the_parsing_code(monkeypatch) -> None:
    """issue 12: records cached by another version of the parsing code are not used:
    the code's digest is part of the context."""
    from usm_billing.tasks import parse_cache

    box = PasswordBox("k1")
    before = parse_context(box, "billing", False)
    monkeypatch.setattr(parse_cache, "_code_digest", lambda: "another version of the parser")
    assert parse_context(box, "billing", False) != before


# --- collect_customers(cached=) --------------------------------------------------------

DIGEST = RowDigest(BILLING_KEY)


def raw_row(uid: str, **fields: Any) -> tuple[str, msgspec.Raw]:
    value = {"id": uid, "login": f"login-{uid}", "full_name": f"Name {uid}", **fields}
    return uid, msgspec.Raw(msgspec.json.encode(value))


def rows_of(*pairs: tuple[str, msgspec.Raw]) -> list[Row]:
    return [Row(key, raw) for key, raw in pairs]


def entry(raw: msgspec.Raw, record: Any) -> tuple[str, Any]:
    """A cache entry for the row ``raw``: its digest and ``record``."""
    return DIGEST(raw), record


ROW_5 = raw_row("5")
ROW_6 = raw_row("6")
# what the cache says customer 5 is: deliberately not what ROW_5 parses to
CACHED_5 = BillingCustomer(id="5", login="cached-login", full_name="From the cache")


def test_a_matching_digest_yields_the_cached_record() -> None:
    """issue 12: the row is byte for byte the cached one: its record is the cached one
    (proved by a cached record that differs from what the row parses to), with the
    row's digest."""
    found, errors, digests = collect_customers(
        rows_of(ROW_5, ROW_6), digest=DIGEST, cached={"5": entry(ROW_5[1], CACHED_5)}
    )
    assert errors == []
    assert found["5"] == CACHED_5
    assert found["6"].full_name == "Name 6"  # not cached: parsed
    assert digests == {"5": DIGEST(ROW_5[1]), "6": DIGEST(ROW_6[1])}


@pytest.mark.parametrize(
    ("cached", "rows", "digest"),
    [
        pytest.param(
            {"5": (DIGEST(b'{"id":"5"}'), CACHED_5)},
            rows_of(ROW_5),
            DIGEST,
            id="issue-12-other-digest-parsed",
        ),
        pytest.param(
            {"5": (RowDigest("another key")(ROW_5[1]), CACHED_5)},
            rows_of(ROW_5),
            DIGEST,
            id="issue-12-digest-of-another-key-parsed",
        ),
        pytest.param(
            {"5": entry(ROW_5[1], CACHED_5)},
            [Row("5", None, msgspec.json.decode(ROW_5[1]))],
            DIGEST,
            id="issue-12-row-read-by-the-stream-parsed",
        ),
        pytest.param(
            {"5": entry(ROW_5[1], CACHED_5)},
            rows_of(ROW_5),
            None,
            id="issue-12-no-digest-function-parsed",
        ),
        pytest.param(
            {"5": entry(ROW_5[1], CACHED_5)},
            [("5", msgspec.json.decode(ROW_5[1]))],
            DIGEST,
            id="issue-12-plain-pair-parsed",
        ),
        pytest.param(
            {"6": entry(ROW_5[1], CACHED_5)},
            rows_of(ROW_5),
            DIGEST,
            id="issue-12-entry-of-another-id-parsed",
        ),
        pytest.param(
            {"5": entry(ROW_5[1], BillingCustomer(id="5", full_name="child", parent="1"))},
            rows_of(ROW_5),
            DIGEST,
            id="3.13-entry-of-a-child-account-parsed",
        ),
    ],
)
def test_anything_but_a_usable_hit_is_parsed(cached, rows, digest) -> None:
    """issue 12: another digest, a row without its text, or a cache entry that is not
    the row's own customer: the row is parsed, as without a cache (an entry that does not
    decode makes the whole file unusable: see above)."""
    found, errors, _digests = collect_customers(rows, digest=digest, cached=cached)
    assert errors == []
    assert found == {"5": collect_customers(rows, digest=digest)[0]["5"]}
    assert found["5"].login == "login-5"


def test_an_entry_holding_another_customer_is_parsed() -> None:
    """issue 12: a cache entry under id 5 whose record is customer 6 (a damaged file)
    cannot be row 5's record: row 5 is parsed, and customer 6 is not refused as sent
    twice."""
    wrong = BillingCustomer(id="6", full_name="Cached six")
    found, errors, _digests = collect_customers(
        rows_of(ROW_5, ROW_6), digest=DIGEST, cached={"5": entry(ROW_5[1], wrong)}
    )
    assert errors == []
    assert set(found) == {"5", "6"}
    assert found["5"].login == "login-5"
    assert found["6"].full_name == "Name 6"


@pytest.mark.parametrize(
    ("rows", "cached", "refused"),
    [
        pytest.param(
            rows_of(ROW_5, ROW_5),
            {"5": entry(ROW_5[1], CACHED_5)},
            {"5": 2},
            id="issue-11-same-row-twice-both-hits",
        ),
        pytest.param(
            rows_of(ROW_5, raw_row("5", full_name="Other")),
            {"5": entry(ROW_5[1], CACHED_5)},
            {"5": 2},
            id="issue-11-twice-one-hit-one-parsed",
        ),
        pytest.param(
            rows_of(("5&a", ROW_5[1]), ("5+a", ROW_5[1])),
            {"5_a": entry(ROW_5[1], BillingCustomer(id="5_a", full_name="c"))},
            {"5_a": 2},
            id="issue-11-ampersand-plus-both-hits",
        ),
        pytest.param(
            rows_of(
                raw_row("1", account={"6": {"id": "6", "full_name": "child"}}),
                ROW_6,
            ),
            {"6": entry(ROW_6[1], BillingCustomer(id="6", full_name="c"))},
            {"6": 2},
            id="issue-11-child-id-equal-to-a-cached-id",
        ),
    ],
)
def test_an_id_sent_twice_is_refused_even_from_the_cache(rows, cached, refused) -> None:
    """issue 11 §4, issue 12: an id that occurs twice refuses every record of it, also
    when the copies are decoded from the cache: which one is right cannot be known."""
    found, errors, digests = collect_customers(
        rows, digest=DIGEST, cached=cached, keep_child_id=True
    )
    for uid, count in refused.items():
        assert uid not in found
        assert uid not in digests
        assert sum(1 for e in errors if e.record_id == uid) == count


def test_a_cache_hit_is_not_parsed(monkeypatch) -> None:
    """issue 12: the point of the cache: a hit never reaches the parser."""
    from usm_billing.universal_api import customers as module

    parsed: list[str] = []
    real = module.parse_customer

    def counting(key, raw, **kwargs):
        parsed.append(key)
        return real(key, raw, **kwargs)

    monkeypatch.setattr(module, "parse_customer", counting)
    cached = {"5": entry(ROW_5[1], CACHED_5)}
    collect_customers(rows_of(ROW_5, ROW_6), digest=DIGEST, cached=cached)
    assert parsed == ["6"]


# --- UserSideHook.get_view(cached=) -----------------------------------------------------

VIEW_DIGEST = RowDigest(US_KEY)


@pytest.fixture
def hook(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_US_TEST",
        json.dumps({"conn_type": "http", "host": "http://userside.test", "password": US_KEY}),
    )
    return UserSideHook("us_test", attempts=1, backoff=0)


def view_row(uid: str, us: int, **fields: Any) -> dict[str, Any]:
    return {"erp_id": us, "full_name": f"Name {uid}", "login": f"login-{uid}", **fields}


VIEW = {"5": view_row("5", 105), "6": view_row("6", 106)}
BODY = msgspec.json.encode(VIEW)
RAW_5 = msgspec.json.encode(VIEW["5"])
CACHED_VIEW_5 = UsCustomer(billing_uid="5", us_id=105, full_name="From the cache", login="c")


def view_entry(raw: bytes, record: Any) -> tuple[str, Any]:
    return VIEW_DIGEST(raw), record


def test_view_hit_yields_the_cached_row(hook, requests_mock) -> None:
    """issue 12: a view row read byte for byte as the last run read it is the cached
    customer (one that differs from what the row parses to), with the row's digest."""
    requests_mock.get(US_API, content=BODY)
    view, digests = hook.get_view(1, cached={"5": view_entry(RAW_5, CACHED_VIEW_5)})
    assert view["5"] == CACHED_VIEW_5
    assert view["6"] == parse_view_row("6", VIEW["6"])
    assert digests == {"5": VIEW_DIGEST(RAW_5), "6": VIEW_DIGEST(msgspec.json.encode(VIEW["6"]))}


@pytest.mark.parametrize(
    ("cached", "body"),
    [
        pytest.param(
            {"5": (VIEW_DIGEST(b"{}"), CACHED_VIEW_5)},
            BODY,
            id="issue-12-other-digest-parsed",
        ),
        pytest.param(
            {"5": view_entry(RAW_5, CACHED_VIEW_5)},
            json.dumps(VIEW, indent=1).encode(),
            id="issue-12-body-not-split-parsed",
        ),
        pytest.param(
            {"6": view_entry(RAW_5, CACHED_VIEW_5)},
            BODY,
            id="issue-12-entry-of-another-id-parsed",
        ),
        pytest.param({}, BODY, id="issue-12-empty-cache"),
    ],
)
def test_view_anything_but_a_usable_hit_is_parsed(hook, requests_mock, cached, body) -> None:
    """issue 12: another digest, a body the split cannot account for (no row text), or
    an entry of another id: the row is parsed, as without a cache."""
    requests_mock.get(US_API, content=body)
    view, _digests = hook.get_view(1, cached=cached)
    assert view == {uid: parse_view_row(uid, row) for uid, row in VIEW.items()}


def test_view_entry_holding_another_customer_is_parsed(hook, requests_mock) -> None:
    """issue 12: a cache entry under billing id 5 whose record is customer 6 (a damaged
    file) cannot be row 5's record: row 5 is parsed."""
    requests_mock.get(US_API, content=BODY)
    wrong = UsCustomer(billing_uid="6", us_id=106, full_name="Cached six")
    view, _digests = hook.get_view(1, cached={"5": view_entry(RAW_5, wrong)})
    assert view["5"] == parse_view_row("5", VIEW["5"])


def test_view_without_text_has_no_digests_and_uses_no_cache(hook, requests_mock) -> None:
    """issue 12: rows read without their text (a body the split refuses) get no digest:
    nothing for the next run to recognise."""
    requests_mock.get(US_API, content=json.dumps(VIEW, indent=1).encode())
    _view, digests = hook.get_view(1, cached={"5": view_entry(RAW_5, CACHED_VIEW_5)})
    assert digests == {}


def test_view_hit_is_not_parsed(hook, requests_mock, monkeypatch) -> None:
    """issue 12: the point of the cache: a hit never reaches the view parser."""
    from usm_billing.userside import hook as module

    parsed: list[str] = []
    real = module.parse_view_row

    def counting(key, row, **kwargs):
        parsed.append(key)
        return real(key, row, **kwargs)

    monkeypatch.setattr(module, "parse_view_row", counting)
    requests_mock.get(US_API, content=BODY)
    hook.get_view(1, cached={"5": view_entry(RAW_5, CACHED_VIEW_5)})
    assert parsed == ["6"]


def test_view_round_trip_through_the_cache(make_ctx, hook, requests_mock) -> None:
    """issue 12: the records one read saves decode, on the next read of the same bytes,
    to the very records the parser gave (nothing lost in the codec JSON)."""
    rich = {
        "5": view_row(
            "5",
            105,
            phone={"0": {"number": "1"}, "2": {"number": "3"}},
            ip_mac={"167772165": {"ip": 167772165, "mac": "aabbccddeeff"}},
            group={"2": {"id": 2}, "1": {"id": 1}},
            service={"7": {"0": {"cost": "10", "comment": None}}},
            additional_data={"4": {"id": 4, "value": "v"}},
            tariff={"current": {"0": {"id": "T1"}}, "new": [{"id": "T2"}]},
            balance=10.5,
            full_name={"odd": ["shape"]},
        ),
        "6": view_row("6", 106),
    }
    requests_mock.get(US_API, content=msgspec.json.encode(rich))
    first, digests = hook.get_view(1)
    cache = ParseCache(make_ctx(), "userside", "ctx", UsCustomer, userside=US)
    cache.save(first, digests)
    second, again = hook.get_view(1, cached=cache.load())
    assert second == first
    assert again == digests
