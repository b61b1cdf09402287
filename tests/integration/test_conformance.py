"""Conformance, one run per supported billing (issue 5): a full sync of the billing's
fixture set into an empty UserSide emulator converges in one run, and a second run sends
no writes, counted by the UserSide emulator itself (every write request it received).
Each billing's quirks are checked in the resulting UserSide view, and its error replies
become clear errors that name the billing and the request, with nothing written (never
"an empty billing").

The sets are defined in ``tests/integration/billings.py``: real captures for uBilling and
AXbills (``shared/peers``), composed fixtures for Carbon Billing 5, MikBill and Platex.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from tests.integration.billings import BILLING_SETS, CORE_REQUESTS, BillingSet, billing_set
from tests.integration.harness import BILLING_KEY, USERSIDE_KEY, emulator_stack
from usm_billing.cli import run_sync
from usm_billing.exceptions import FatalApiError

if TYPE_CHECKING:
    from pathlib import Path

PLACEHOLDER = "_ run billing module again _"

# (customer key in UserSide, dotted path in its view row, expected value) per billing: the
# quirk each row shows, named after the spec section or the capture's MANIFEST.
QUIRKS: dict[str, list[Any]] = {
    "ubilling": [
        pytest.param("777001", "login", "777001", id="manifest-numeric-login-json-int"),
        pytest.param("777001", "account_number", "", id="manifest-account-number-null"),
        pytest.param(
            "diachenko", "full_name", "Д&#039;яченко Оксана Миколаївна", id="4.4-apostrophe"
        ),
        pytest.param("float_bal", "balance", "8.67", id="4.6.8-string-money-rounded"),
        pytest.param("noname", "full_name", "", id="manifest-full-name-null"),
        pytest.param(
            "sched_change", "tariff.new.0.id", "Оптика 300/300", id="3.13-tariff-new-list"
        ),
    ],
    "ubilling-20k": [
        pytest.param("100000", "login", "100000", id="manifest-numeric-login-json-int"),
        pytest.param("u00001", "tariff.current.0.id", None, id="3.13-tariff-linked"),
    ],
    "axbills": [
        pytest.param("2", "tariff.current.0.id", "2", id="manifest-current-keyed-by-tariff-id"),
        pytest.param("2", "balance", "100.5", id="manifest-balance-string"),
        pytest.param("2", "discount", "5", id="manifest-discount-string"),
        pytest.param("2", "full_name", "Іванов Іван", id="manifest-trailing-spaces"),
        pytest.param("3", "credit", "20", id="manifest-credit-number"),
        pytest.param("1", "agreement", [], id="4.6.9-zero-date-and-empty-number"),
    ],
    "carbon5": [
        pytest.param("5002", "tariff.new.0.id", "14", id="wiki-tariff-change-request"),
        pytest.param("5002", "tariff.new.0.date_start", "2026-12-01", id="3.13-date-start"),
        pytest.param("5004", "phone.0.number", "79137654321", id="4.4-phone-digits-only"),
        pytest.param("5003", "state_id", 1, id="3.5-pause"),
    ],
    "mikbill": [
        pytest.param("1043", "tariff.new.0.id", "7", id="4.6.4-tariff-new-keyed-by-id"),
        pytest.param("1042", "phone.1.number", "0577001122", id="4.6.6-phones-split-on-semicolon"),
        pytest.param("1043", "phone.1.number", "0501112233", id="4.6.6-phones-split-on-comma"),
        pytest.param("1042", "balance", "-12.3", id="4.6.8-balance-string"),
        pytest.param("1043", "date_connect", "1970-01-01", id="4.6.9-zero-date-connect"),
        pytest.param("1044", "flag_corporate", "1", id="3.13-flag-corporate-string"),
    ],
    "platex": [
        pytest.param(
            "A_B-001",
            "tariff.current",
            [{"id": "T-100"}, {"id": "TV-1"}],
            id="1.2-list-with-hole-as-object",
        ),
        pytest.param("C_D-002", "login", "cd002", id="4.6.10-plus-in-id"),
        pytest.param("A_B-001", "full_name", "Орлов Дмитрий Сергеевич", id="4.4-name-whitespace"),
        pytest.param("A_B-001", "balance", "100", id="4.4-balance-2dp"),
        pytest.param("A_B-001", "phone.0.number", "88462000001", id="4.6.6-phone-as-object"),
        pytest.param("003", "login", "003", id="4.6.10-leading-zero-id-stays-text"),
    ],
}


def _at(row: Any, path: str) -> Any:
    for part in path.split("."):
        row = row[int(part)] if isinstance(row, list) else row[part]
    return row


def _same(actual: Any, expected: Any) -> bool:
    if expected is None:  # only "present and not empty"
        return actual not in (None, "", [], {})
    if isinstance(expected, (list, dict)):
        return actual == expected
    return str(actual) == str(expected)


@pytest.fixture(params=BILLING_SETS, ids=lambda s: s.name)
def billing(request, tmp_path) -> tuple[BillingSet, Path]:
    chosen: BillingSet = request.param
    peers = request.getfixturevalue("peers") if chosen.needs_peers else None
    return chosen, chosen.assemble(tmp_path / f"billing-{chosen.name}", peers)


def _stack(
    tmp_path, monkeypatch, chosen: BillingSet, folder: Path, profile: str = "lenient", **config
):
    return emulator_stack(
        tmp_path,
        monkeypatch,
        folder,
        profile=profile,
        dialect=chosen.dialect,
        billing_base_path=chosen.base_path,
        **{"billing_name": chosen.dialect, **config},
    )


def test_full_sync_converges_in_one_run_and_the_second_writes_nothing(
    billing, profile, tmp_path, monkeypatch, record_property
):
    """§12: in either profile, one run leaves every customer with its data, UserSide
    refuses nothing, and the next run sends no write request (the emulator's count)."""
    chosen, folder = billing
    with _stack(tmp_path, monkeypatch, chosen, folder, profile) as stack:
        first = run_sync(stack.config_path)
        after_first = stack.userside_stats()
        second = run_sync(stack.config_path)
        after_second = stack.userside_stats()
        view = stack.view()
        requested = set(stack.billing.stats())

    assert first["failed"] == [], first["failed"]
    assert first["entities"]["customers"]["create"] == chosen.customers
    assert first["entities"]["customers"]["rejected"] == 0
    assert first["entities"]["tariffs"]["add"] == chosen.tariffs
    assert len(view) == chosen.customers
    assert not [uid for uid, row in view.items() if row["full_name"] == PLACEHOLDER]
    assert after_first["mutations"] > 0
    assert after_second["refusals_total"] == 0, after_second["refusals"]
    # the second run: nothing to change, not one write request (counted by the server)
    assert second["write_requests"] == 0, second["entities"]
    assert after_second["writes"] == after_first["writes"]
    assert requested >= CORE_REQUESTS
    assert not requested & chosen.never_requested, requested & chosen.never_requested
    wrong = [
        (uid, path, _at(view[uid], path), expected)
        for uid, path, expected in (p.values for p in QUIRKS[chosen.name])
        if not _same(_at(view[uid], path), expected)
    ]
    assert wrong == [], wrong
    measured = {
        "profile": profile,
        "customers": len(view),
        "runs": 2,
        "writes_first_run": after_first["writes"],
        "mutations_first_run": after_first["mutations"],
        "writes_second_run": after_second["writes"] - after_first["writes"],
        "refusals": after_second["refusals_total"],
    }
    record_property("conformance", json.dumps(measured))


def test_carbon5_asks_method1_and_never_tags_messages_or_services(tmp_path, monkeypatch):
    chosen = billing_set("carbon5")
    folder = chosen.assemble(tmp_path / "carbon5", None)
    with _stack(tmp_path, monkeypatch, chosen, folder) as stack:
        run_sync(stack.config_path)
        # the emulator in the carbon5 dialect answers `request=` with HTTP 400, so every
        # answered request was a `method1=userside_manager.<method>`
        stats = stack.billing.stats()
        view = stack.view()
    # groups exist in this dialect (`&context=userside`, spec §1.1); tags, messages and
    # services do not (§4.5 `$billingName`)
    assert set(stats) == CORE_REQUESTS | {"get_user_group_list"}
    assert view["5003"]["group"]
    assert view["5003"]["group"] != view["5001"]["group"]


ERROR_REPLIES = [
    pytest.param(
        "ubilling",
        {"password": "not-the-key"},
        "the billing refused the API key (GET_WRONG_KEY)",
        id="ubilling-wrong-key-plain-text-http-200",
    ),
    pytest.param(
        "ubilling",
        {"billing_name": "carbon5"},
        "get_system_information: HTTP 400 unknown request",
        id="ubilling-unknown-action-http-400",
    ),
    pytest.param(
        "axbills",
        {"password": "not-the-key"},
        "the billing answered an HTML page instead of JSON",
        id="axbills-wrong-key-html-login-page",
    ),
    pytest.param(
        "axbills",
        {"billing_name": "carbon5"},
        "the billing answered an error (Unknown request)",
        id="axbills-invalid-error-json",
    ),
]


@pytest.mark.parametrize(("name", "change", "message"), ERROR_REPLIES)
def test_error_replies_are_clear_errors_and_nothing_is_written(
    name, change, message, tmp_path, monkeypatch, peers
):
    chosen = billing_set(name)
    folder = chosen.assemble(tmp_path / name, peers)
    config = {k: v for k, v in change.items() if k == "billing_name"}
    with _stack(tmp_path, monkeypatch, chosen, folder, **config) as stack:
        if "password" in change:
            monkeypatch.setenv(
                "AIRFLOW_CONN_USM_BILLING_TEST",
                json.dumps(
                    {
                        "conn_type": "http",
                        "host": stack.billing_url + chosen.base_path,
                        "password": change["password"],
                    }
                ),
            )
        with pytest.raises(FatalApiError) as failure:
            run_sync(stack.config_path)
        stats = stack.userside_stats()
    text = str(failure.value)
    assert text.startswith("billing `usm_billing_test` get_system_information: "), text
    assert message in text
    assert BILLING_KEY not in text
    assert USERSIDE_KEY not in text
    assert stats["writes"] == 0
    assert stats["mutations"] == 0
