"""The check's judgement (issue 5 §6) as a table of pure cases: probes in, findings out;
ids name the spec section."""

from __future__ import annotations

import pytest

from tests.check.probes import ERP_DATE, Fail, customer, judged
from usm_billing.check.render import render

CASES = [
    pytest.param({}, {}, ERP_DATE, "", id="baseline-compatible"),
    pytest.param(
        {"get_system_information": {"os": "Linux"}},
        {},
        ERP_DATE,
        "blocking: get_system_information has no `date`",
        id="3.2-no-date-blocks",
    ),
    pytest.param(
        {"get_user_list": Fail("billing `b` get_user_list: HTTP 500")},
        {},
        ERP_DATE,
        "blocking: required `get_user_list` failed: billing `b` get_user_list: HTTP 500",
        id="0.1-required-list-failing-blocks",
    ),
    pytest.param(
        {"get_services_list": Fail("billing `b` get_services_list: HTTP 500")},
        {},
        ERP_DATE,
        "warning: `get_services_list` failed, so services will not be imported",
        id="0.1-optional-catalogue-failing-only-warns",
    ),
    pytest.param(
        {"get_supported_method_list": {"get_service_list": {}, "get_user_list": {}}},
        {},
        ERP_DATE,
        "note: advertises `get_service_list`, which is not a Universal API method "
        "(the importer asks `get_services_list`)",
        id="3.3-advertised-name-not-a-method",
    ),
    pytest.param(
        {"get_supported_method_list": {"get_user_list": {}}},
        {},
        ERP_DATE,
        "note: `get_tariff_list` answers although get_supported_method_list does not list it",
        id="3.3-answered-but-not-advertised",
    ),
    pytest.param(
        {"get_supported_method_list": Fail("billing `b` get_supported_method_list: HTTP 400")},
        {},
        ERP_DATE,
        "note: get_supported_method_list failed",
        id="3.3-no-method-list-is-only-a-note",
    ),
    pytest.param(
        {"get_user_list": {"a": customer()}},
        {},
        ERP_DATE,
        "blocking: 1 usable customer(s); the import needs at least 2",
        id="4.4-fewer-than-2-customers-blocks",
    ),
    pytest.param(
        {"get_user_list": {}},
        {},
        ERP_DATE,
        "blocking: 0 usable customer(s)",
        id="4.6.2-undefined-is-no-customers-blocks",
    ),
    pytest.param(
        {"get_user_list": {"a": customer(), "b": customer(), "c": customer(balance="x")}},
        {},
        ERP_DATE,
        "warning: 1 record(s) fail validation",
        id="3.13-bad-record-only-warns",
    ),
    pytest.param(
        {"get_user_state_list": {"5": {"id": 5, "functional": "vip"}}},
        {},
        ERP_DATE,
        "warning: state `5`: field `functional`: `vip` is not one of",
        id="3.5-unknown-functional-warns",
    ),
    pytest.param(
        {"get_user_list": {"a": customer("9"), "b": customer("9")}},
        {},
        ERP_DATE,
        "note: 2 customer(s) have a tariff get_tariff_list does not list: `9` (2); the "
        "import leaves those tariff links alone (contract §11): `a`, `b`",
        id="11-unknown-tariff-is-a-note",
    ),
    pytest.param(
        {"get_user_list": {"a": customer(state_id=8), "b": customer()}},
        {},
        ERP_DATE,
        "note: 1 customer(s) have state_id `8`, which get_user_state_list does not list",
        id="3.5-unknown-state-is-a-note",
    ),
    pytest.param(
        {"get_tariff_list": {}},
        {},
        ERP_DATE,
        "warning: get_tariff_list is empty",
        id="4.6.1-empty-tariff-list-warns",
    ),
    pytest.param(
        {},
        {},
        "2026-11-25 13:00:00",
        "warning: clock skew -3600 s (billing minus UserSide)",
        id="3.2-clock-skew-over-5-minutes-warns",
    ),
    pytest.param(
        {"get_system_information": {"date": "2026-11-25 14:00:05"}},
        {"billing_timezone": "Europe/Kyiv"},
        ERP_DATE,
        "",
        id="3.2-billing-clock-read-in-billing-timezone",
    ),
    pytest.param(
        {},
        {},
        Fail("UserSide `u` cat=module&request=get_system_information: cannot connect"),
        "blocking: UserSide cannot be asked, the import cannot run: UserSide `u`",
        id="2.1-userside-unreachable-blocks",
    ),
    pytest.param(
        {"get_user_messages": Fail("billing `b` get_user_messages: HTTP 400")},
        {"import_message": True},
        ERP_DATE,
        "blocking: required `get_user_messages` failed",
        id="4.5-import-message-needs-messages",
    ),
    pytest.param(
        {"get_user_tags": Fail("HTTP 400"), "get_services_list": Fail("HTTP 400")},
        {"billing_name": "carbon5"},
        ERP_DATE,
        "",
        id="4.5-carbon5-needs-no-tags-or-services",
    ),
]


@pytest.mark.parametrize(("overrides", "settings", "erp", "finding"), CASES)
def test_findings(overrides, settings, erp, finding) -> None:
    report = judged(overrides, erp, **settings)
    lines = [f"{f.severity}: {f.text}" for f in report.findings]
    if finding:
        assert any(line.startswith(finding) for line in lines), lines
    else:
        assert lines == []
    blocking = finding.startswith("blocking")
    assert report.exit_code == (1 if blocking else 0)
    assert report.verdict.startswith("NOT COMPATIBLE" if blocking else "COMPATIBLE")


def test_unknown_tariffs_count_and_first_customer_ids() -> None:
    """Contract §11: customers naming a tariff the billing's list lacks (uBilling's
    ``*_NO_TARIFF_*`` marker, or a scheduled tariff) are counted and the first ids named."""
    marker = "*_NO_TARIFF_*"
    customers = {f"u{n}": customer(marker) for n in range(7)}
    customers["s"] = {**customer(), "tariff": {"current": [{"id": "1"}], "new": [{"id": "8"}]}}
    customers["ok"] = customer()
    report = judged({"get_user_list": customers}, ERP_DATE)
    notes = [f.text for f in report.findings if "get_tariff_list does not list" in f.text]
    assert notes == [
        f"8 customer(s) have a tariff get_tariff_list does not list: `{marker}` (7), `8` (1); "
        "the import leaves those tariff links alone (contract §11): "
        "`s`, `u0`, `u1`, `u2`, `u3` and 3 more"
    ]
    assert report.exit_code == 0
    assert f"note: {notes[0]}" in render(report)


def test_record_errors_name_the_record_and_the_field() -> None:
    report = judged(
        {
            "get_tariff_list": {"1": {"name": "Home"}, "2": {"payment": "ten"}},
            "get_user_list": {"a": customer(), "b": customer(), "c": customer(credit="x")},
            "get_user_group_list": {"3": "Business"},
        }
    )
    assert report.record_errors == [
        "tariff `2`: field `payment`: expected a number, got 'ten'",
        "customer `c`: field `credit`: expected a number, got 'x'",
        "group `3`: field `(row)`: expected a JSON object",
    ]
    assert report.counts == {
        "customers": 2,
        "tariffs": 2,
        "states": 1,
        "groups": 1,
    } | dict.fromkeys(("tags", "services", "cities", "streets", "houses"), 0)
    assert report.exit_code == 0
