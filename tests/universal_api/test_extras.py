"""Billing records at the edge, issue 4: groups, tags, services, additional data, marks,
passwords and child accounts (universal-api.md §1.2, §3.6-3.8, §3.12-3.14, §4.6.5;
userside-api.md §4 child ids). One table row per rule; the ids name the spec section."""

from __future__ import annotations

import json
from typing import Any

import pytest

from usm_billing import codec
from usm_billing.exceptions import FatalApiError
from usm_billing.universal_api.customers import BillingCustomer, customer_records, parse_customer
from usm_billing.universal_api.fields import RecordError
from usm_billing.universal_api.hook import UniversalApiHook


def parse(**raw: Any) -> BillingCustomer:
    return parse_customer("7", {"login": "a", **raw})


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param({"3": "3"}, ("3",), id="3.13-group-ubilling-key-scalar"),
        pytest.param({"1": {"id": 1}}, ("1",), id="3.13-group-axbills-inner-id"),
        pytest.param([{"id": "1"}, {"id": "2"}], ("1", "2"), id="4.6.5-group-list-inner-id"),
        pytest.param(["4", "9"], ("4", "9"), id="4.6.5-group-list-of-ids-not-indexes"),
        pytest.param({"5": {"name": "x"}}, ("5",), id="1.2-group-key-when-no-inner-id"),
        pytest.param([], (), id="1.2-group-empty"),
        pytest.param("undefined", (), id="1.2-group-not-a-collection"),
    ],
)
def test_groups(raw, expected):
    assert parse(group=raw).groups == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            {"9": {"id": 9, "date_add": "2024-01-10 09:00:00"}},
            (("9", "2024-01-10 09:00:00"),),
            id="3.13-tag-with-date-add",
        ),
        pytest.param({"3": {"id": "3", "date_add": ""}}, (("3", ""),), id="3.13-tag-empty-date"),
        pytest.param(
            [{"id": 1, "date_add": "0000-00-00 00:00:00"}],
            (("1", ""),),
            id="0.5-tag-no-date-sentinel-list",
        ),
        pytest.param({"2": {}}, (("2", ""),), id="1.2-tag-key-without-inner-id"),
    ],
)
def test_tags(raw, expected):
    assert parse(tag=raw).tags == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            {"1": [{"cost": "19.99", "comment": "", "date_add": ""}] * 2},
            (("1", (("19.99", ""), ("19.99", ""))),),
            id="3.13-service-two-instances",
        ),
        pytest.param(
            {"2": [{"cost": 50, "comment": "promo"}]},
            (("2", (("50", "promo"),)),),
            id="3.13-service-cost-number-and-comment",
        ),
        pytest.param(
            {"2": {"cost": "45,00", "comment": ""}},
            (("2", (("45.00", ""),)),),
            id="3.12-service-one-instance-object-comma-cost",
        ),
        pytest.param(
            {"2": {"0": {"cost": 1}, "1": {"cost": 2}}},
            (("2", (("1", ""), ("2", ""))),),
            id="1.2-service-instances-keyed",
        ),
        pytest.param({"2": []}, (), id="3.13-service-without-instances-ignored"),
        pytest.param(
            {"2": [{"cost": "n/a"}]}, (("2", (("", ""),)),), id="3.13-service-bad-cost-empty"
        ),
    ],
)
def test_services(raw, expected):
    assert parse(service=raw).services == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            [{"id": "1", "value": "ВМ 556677"}],
            (("1", "ВМ 556677"),),
            id="3.13-additional-data-list-first-customer",
        ),
        pytest.param(
            {"0": {"id": "2", "value": "ZTEG1A2B3C4D"}, "1": {"id": "3", "value": "1"}},
            (("2", "ZTEG1A2B3C4D"), ("3", "1")),
            id="3.13-additional-data-inner-id-over-running-counter",
        ),
        pytest.param({"4": {"value": 7}}, (("4", "7"),), id="1.2-additional-data-key-fallback"),
        pytest.param({}, (), id="3.13-additional-data-empty-is-not-absent"),
    ],
)
def test_additional_data(raw, expected):
    assert parse(additional_data=raw).additional_data == expected


def test_additional_data_absent_is_none_for_the_fallback():
    customer = parse()
    assert (customer.additional_data, customer.additional_customer_data) == (None, None)
    customer = parse(additional_customer_data={"1": {"id": 5, "value": "x"}})
    assert customer.additional_customer_data == (("5", "x"),)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param({"2": [11, 12]}, ("2",), id="3.13-mark-keyed-by-billing-mark-id"),
        pytest.param([{"id": 4}], ("4",), id="1.2-mark-list-inner-id"),
    ],
)
def test_marks(raw, expected):
    assert parse(mark=raw).marks == expected


@pytest.mark.parametrize(
    ("raw", "seal", "expected"),
    [
        pytest.param({"password": "s3cret"}, None, None, id="4.5-password-dropped-unless-sealed"),
        pytest.param({"password": "s3cret"}, "<{}>", "<s3cret>", id="4.5-password-kept-sealed"),
        pytest.param({"password": 1234}, "<{}>", "<1234>", id="1.2-password-number-as-text"),
        pytest.param(
            {"login": "a", "password": ""}, "<{}>", None, id="4.5-empty-password-not-imported"
        ),
        pytest.param({"login": "a"}, "<{}>", None, id="4.5-absent-password-not-imported"),
        pytest.param({"password": {"x": 1}}, "<{}>", None, id="1.2-password-object-ignored"),
    ],
)
def test_password_only_sealed(raw, seal, expected):
    customer = parse_customer("7", raw, seal=None if seal is None else seal.format)
    assert customer.password == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param({"is_disable": 0}, True, id="2-row-limit-record-has-is-disable"),
        pytest.param({}, False, id="2-row-limit-record-without-is-disable"),
    ],
)
def test_has_is_disable(raw, expected):
    assert parse(**raw).has_is_disable is expected


PARENT = {
    "login": "main",
    "account": {
        "12": {"login": "tv", "balance": 5},
        "13": {"login": "iptv", "account": {"1": {"login": "grandchild"}}},
        "bad": "not a record",
    },
}


@pytest.mark.parametrize(
    ("keep", "expected"),
    [
        pytest.param(
            False,
            [("100", ""), ("100_12", "100"), ("100_13", "100"), ("100_13_1", "100_13")],
            id="3.13-children-parent-underscore-child",
        ),
        pytest.param(
            True,
            [("100", ""), ("12", "100"), ("13", "100"), ("1", "13")],
            id="4.5-dont-change-child-id-keeps-raw-id",
        ),
    ],
)
def test_child_accounts(keep, expected):
    records = list(customer_records("100", PARENT, keep_child_id=keep))
    assert [(key, parent) for key, _raw, parent in records] == expected
    children = [parse_customer(k, raw, parent=p) for k, raw, p in records]
    assert [c.parent for c in children] == [p for _k, p in expected]
    assert children[1].login == "tv"
    assert children[1].balance == "5"


def test_child_record_errors_name_the_child():
    with pytest.raises(RecordError) as err:
        parse_customer("100_12", {"balance": "lots"}, parent="100")
    assert err.value.record_id == "100_12"


def test_json_round_trip_keeps_every_new_field():
    customer = parse_customer(
        "7",
        {
            "group": {"1": "1"},
            "tag": {"2": {"id": 2, "date_add": "2024-01-01"}},
            "service": {"3": [{"cost": 1, "comment": "c"}]},
            "additional_data": [{"id": "1", "value": "v"}],
            "additional_customer_data": {"2": {"id": "2", "value": "w"}},
            "mark": {"4": [5]},
            "password": "pw",
            "is_disable": 1,
        },
        seal=lambda text: "sealed",
        parent="9",
    )
    assert codec.decode(codec.encode(customer), BillingCustomer) == customer
    assert "pw" not in codec.encode(customer).decode()


@pytest.fixture
def billing_hook(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_BILLING_EXTRAS",
        json.dumps({"conn_type": "http", "host": "http://billing.test/", "password": "k"}),
    )
    return UniversalApiHook("billing_extras", attempts=1, backoff=0)


def test_hook_reads_services_messages_and_children(billing_hook, requests_mock):
    def reply(request, context):
        request_name = request.qs["request"][0]
        return {
            "get_services_list": {"2": {"id": 2, "name": "Static IP", "cost": "50,00"}},
            "get_user_messages": {
                "1": {"id": 1, "user_id": 2, "msg_date": "2024-03-01", "subject": "S", "text": "t"}
            },
            "get_user_list": {
                "1": {"login": "a", "account": {"5": {"login": "b"}}},
                "2": {"login": "c"},
            },
        }[request_name]

    requests_mock.get("http://billing.test/", json=reply)
    services = billing_hook.get_services_list()
    assert (services["2"].name, services["2"].cost) == ("Static IP", "50,00")
    [message] = billing_hook.get_user_messages(timezone="UTC")
    assert (message.id, message.customer, message.date) == ("1", "2", 1_709_251_200)
    customers, errors, _ = billing_hook.get_user_list()
    assert sorted(customers) == ["1", "1_5", "2"]
    assert customers["1_5"].parent == "1"
    assert errors == []
    customers, _, _ = billing_hook.get_user_list(keep_child_id=True)
    assert sorted(customers) == ["1", "2", "5"]


@pytest.mark.parametrize("method", ["get_user_tags", "get_services_list", "get_user_messages"])
def test_carbon5_has_no_tags_services_or_messages(monkeypatch, requests_mock, method):
    monkeypatch.setenv(
        "AIRFLOW_CONN_BILLING_CARBON",
        json.dumps({"conn_type": "http", "host": "http://carbon.test/", "password": "k"}),
    )
    hook = UniversalApiHook("billing_carbon", dialect="carbon5", attempts=1)
    with pytest.raises(FatalApiError, match="not part of the carbon5 dialect"):
        getattr(hook, method)()
    assert requests_mock.call_count == 0  # §4.5 `$billingName`: never requested
