"""UserSide's side of issue 4: the view's groups, tags, services, additional data, marks,
parent and password (contract §5.1-5.2), and the catalogue and message calls of the hook
(userside-api.md §2.2, §2.4-2.5; contract §1.5, §4.2-4.3, §5.5, §7, §10)."""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import parse_qs

import pytest

from usm_billing import codec
from usm_billing.exceptions import FatalApiError
from usm_billing.passwords import PasswordBox
from usm_billing.userside.customers import UsCustomer, parse_view_row
from usm_billing.userside.hook import UserSideHook

KEY = "us-secret-key-123"
API = "http://userside.test/api.php"
BOX = PasswordBox("billing-key")


def view(**row: Any) -> UsCustomer:
    customer = parse_view_row("7", {"erp_id": 70, **row}, passwords=BOX)
    assert customer is not None
    return customer


@pytest.mark.parametrize(
    ("row", "attribute", "expected"),
    [
        pytest.param({"group": {"5": {"id": 5}}}, "groups", (5,), id="5.2-group-keyed-by-us-id"),
        pytest.param({"group": [{"id": 3}, {"id": 1}]}, "groups", (1, 3), id="1.4-group-as-list"),
        pytest.param(
            {"tag": {"9": {"id": 9, "date_add": "2026-01-01"}}},
            "tags",
            (9,),
            id="4.3-tag-keyed-by-us-id",
        ),
        pytest.param({"tag": []}, "tags", (), id="1.4-empty-map-as-list"),
        pytest.param(
            {"service": {"4": [{"cost": 19.99, "comment": "", "date_add": "x"}] * 2}},
            "services",
            ((4, ((19.99, ""), (19.99, ""))),),
            id="5.2-service-instances",
        ),
        pytest.param(
            {"additional_data": {"2": {"id": 2, "value": "ZTE"}}},
            "additional_data",
            (("2", "ZTE"),),
            id="5.2-additional-data",
        ),
        pytest.param(
            {"additional_customer_data": [{"id": 4, "value": "x"}]},
            "additional_customer_data",
            (("4", "x"),),
            id="5.2-additional-customer-data-list",
        ),
        pytest.param({"mark": {"6": {"id": 6}}}, "marks", (6,), id="5.2-mark-with-inner-id"),
        pytest.param({"parent_id": 12}, "parent_id", 12, id="5.2-parent-id"),
        pytest.param({}, "password", None, id="5.1-password-not-loaded"),
    ],
)
def test_view_fields(row, attribute, expected):
    assert getattr(view(**row), attribute) == expected


def test_password_and_comment_password_are_digests_only():
    row = view(password="s3cret", comment="note<br><b>pass: s3cret</b>")
    assert row.password == BOX.digest("s3cret")
    assert row.comment == f"note<br><b>pass: {BOX.digest('s3cret')}</b>"
    assert "s3cret" not in codec.encode(row).decode()
    plain = parse_view_row("7", {"erp_id": 70, "password": "s3cret"})
    assert plain is not None
    assert plain.password is None  # without a box the password is not kept


def test_view_json_round_trip():
    row = view(
        group={"5": {"id": 5}},
        tag={"9": {"id": 9}},
        service={"4": [{"cost": "1", "comment": "c"}]},
        additional_data={"2": {"id": 2, "value": "v"}},
        mark={"6": {"id": 6}},
        password="pw",
    )
    assert codec.decode(codec.encode(row), UsCustomer) == row


@pytest.fixture
def hook(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_US_EXTRAS",
        json.dumps({"conn_type": "http", "host": "http://userside.test", "password": KEY}),
    )
    return UserSideHook("us_extras", attempts=1, backoff=0)


def test_catalogue_reads(hook, requests_mock):
    def reply(request, context):
        return {
            "get_user_group_list": [{"id": 1, "name": "VIP"}, {"id": "2", "name": "A&#43;B"}],
            "get_user_tags": {"7": {"id": 7, "name": "IPTV"}},
            "get_services_list": {
                hashlib.md5(b"IPTV").hexdigest(): {"id": 3, "name": "IPTV", "cost": "19.99"}
            },
        }[request.qs["request"][0]]

    requests_mock.get(API, json=reply)
    assert hook.get_user_group_list() == {1: "VIP", 2: "A&#43;B"}
    assert hook.get_user_tags() == {7: "IPTV"}
    assert hook.get_services_list(4) == {hashlib.md5(b"IPTV").hexdigest(): (3, "19.99")}
    assert requests_mock.last_request.qs == {
        "key": [KEY.lower()],
        "cat": ["module"],
        "request": ["get_services_list"],
        "billing_id": ["4"],
        "is_id_name": ["1"],
    }


def test_view_with_passwords_asks_is_load_password(hook, requests_mock):
    requests_mock.get(API, json={"a": {"erp_id": 5, "password": "pw"}})
    rows = hook.get_user_list(1, passwords=BOX, load_password=True)
    assert requests_mock.last_request.qs["is_load_password"] == ["1"]
    assert rows["a"].password == BOX.digest("pw")
    with pytest.raises(ValueError, match="PasswordBox"):
        hook.get_user_list(1, load_password=True)


@pytest.mark.parametrize(
    ("call", "form"),
    [
        pytest.param(
            lambda h: h.add_group("A&#43;B"),
            {"cat": "customer", "action": "add_group", "name": "A&#43;B"},
            id="5.5-add-group",
        ),
        pytest.param(
            lambda h: h.add_tag("IPTV "),
            {"cat": "customer", "action": "add_tag", "name": "IPTV "},
            id="5.5-add-tag-name-as-is",
        ),
        pytest.param(
            lambda h: h.service_add(4, "TV&#047;box"),
            {"cat": "service", "action": "add", "billing_id": "4", "name": "TV&#047;box"},
            id="7-service-add",
        ),
        pytest.param(
            lambda h: h.customer_msg_add(70, "S<br>t", billing_msg_id="9", billing_msg_date=17),
            {
                "cat": "customer",
                "action": "msg_add",
                "customer_id": "70",
                "text": "S<br>t",
                "billing_msg_id": "9",
                "billing_msg_date": "17",
            },
            id="5.5-msg-add",
        ),
    ],
)
def test_creates_need_a_lowercase_id(hook, requests_mock, call, form):
    requests_mock.post(API, json={"result": "OK", "id": 12})
    assert call(hook) == 12
    sent = {k: v[0] for k, v in parse_qs(requests_mock.last_request.text).items()}
    assert sent == {"key": KEY, **form}
    assert hook.writes_sent == 1
    requests_mock.post(API, json={"Result": "OK", "Id": 12})
    with pytest.raises(FatalApiError, match="did not confirm"):
        call(hook)  # contract §10: only a lowercase `id` acknowledges these


@pytest.mark.parametrize(
    ("reply", "ok"),
    [
        pytest.param({"Result": "OK"}, True, id="7-service-edit-old-casing"),
        pytest.param({"result": "OK", "id": 3}, True, id="7-service-edit-new-casing"),
        pytest.param({"Result": "ERROR", "ErrorText": "no"}, False, id="7-service-edit-refused"),
    ],
)
def test_service_edit(hook, requests_mock, reply, ok):
    requests_mock.post(API, json=reply)
    if ok:
        hook.service_edit(3, "25")
        sent = {k: v[0] for k, v in parse_qs(requests_mock.last_request.text).items()}
        assert (sent["cat"], sent["action"], sent["id"], sent["cost"]) == (
            "service",
            "edit",
            "3",
            "25",
        )
    else:
        with pytest.raises(FatalApiError, match="service edit #3"):
            hook.service_edit(3, "25")
