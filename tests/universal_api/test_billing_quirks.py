"""Per-billing quirks of ``get_user_list`` rows and reply bodies (issue 5; spec §1.2, §3.13,
§4.6; ``shared/peers/*/MANIFEST.md``), one table row per quirk, parsed by the importer's
own parsers. The ids name the spec section or the capture manifest."""

from __future__ import annotations

from typing import Any

import pytest

from usm_billing.exceptions import FatalApiError
from usm_billing.universal_api.customers import parse_customer
from usm_billing.universal_api.fields import RecordError
from usm_billing.universal_api.payload import decode_body


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        pytest.param({"flag_corporate": 0}, 0, id="3.13-flag-corporate-0"),
        pytest.param({"flag_corporate": "1"}, 1, id="3.13-flag-corporate-string-1"),
        pytest.param({}, None, id="3.13-absent-is-not-compared"),
        pytest.param({"company_id": 0}, 0, id="3.13-abills-company-id-0-private"),
        pytest.param({"company_id": 17}, 1, id="3.13-abills-company-id-nonzero-corporate"),
        pytest.param({"company_id": "17"}, 1, id="3.13-abills-company-id-string"),
        pytest.param({"company_id": ""}, 0, id="3.13-abills-company-id-empty"),
        pytest.param({"company_id": None}, 0, id="3.13-abills-company-id-null"),
        pytest.param({"company_id": "c-17"}, 1, id="3.13-abills-company-id-text"),
        pytest.param(
            {"flag_corporate": 0, "company_id": 5}, 1, id="3.13-abills-company-id-wins-over-0"
        ),
        pytest.param({"flag_corporate": 42}, 1, id="3.13-abills-company-id-in-flag-corporate"),
    ],
)
def test_flag_corporate(row: dict[str, Any], expected: int | None) -> None:
    assert parse_customer("1", {"login": "a", **row}).flag_corporate == expected


def test_company_id_that_is_an_object_names_the_field() -> None:
    with pytest.raises(RecordError, match=r"customer `1`: field `company_id`"):
        parse_customer("1", {"company_id": {"id": 3}})


@pytest.mark.parametrize(
    ("raw_key", "row", "attribute", "expected"),
    [
        pytest.param(
            "2",
            {"tariff": {"current": {"2": {"id": 2}}}},
            "tariff_current",
            ("2",),
            id="manifest-axbills-current-keyed-by-tariff-id",
        ),
        pytest.param(
            "1043",
            {"tariff": {"new": {"7": {"id": "7", "date_start": "2026-12-01"}}}},
            "tariff_new",
            ("7", "2026-12-01"),
            id="4.6.4-tariff-new-keyed-by-id-is-read",
        ),
        pytest.param(
            "x",
            {"tariff": {"current": {"1": {"id": "T-100"}, "2": {"id": "TV-1"}}}},
            "tariff_current",
            ("T-100", "TV-1"),
            id="1.2-list-with-hole-as-object",
        ),
        pytest.param("A&B+1", {"login": "a"}, "id", "A_B_1", id="4.6.10-ampersand-and-plus-in-id"),
        pytest.param(
            "1",
            {"phone": [{"number": "+38 (050) 123-45-67; 0577001122", "flag_main": "1"}]},
            "phones",
            ("380501234567", "0577001122"),
            id="4.6.6-phones-separated-and-stripped",
        ),
        pytest.param(
            "1",
            {"phone": {"1": {"number": "8 (846) 200-00-01", "flag_main": 1}}},
            "phones",
            ("88462000001",),
            id="4.6.6-phone-as-object",
        ),
        pytest.param("1", {"balance": "-12.30"}, "balance", "-12.30", id="4.6.8-balance-string"),
        pytest.param(
            "1", {"date_connect": "0000-00-00"}, "date_connect", "1970-01-01", id="4.6.9-zero"
        ),
        pytest.param(
            "1",
            {"agreement": [{"number": "", "date": "0000-00-00"}]},
            "agreement_date",
            "",
            id="4.6.9-zero-agreement-date-is-none",
        ),
        pytest.param(
            "1", {"comment": "VIP\\nline2"}, "comment", "VIP\\nline2", id="manifest-axbills-bs-n"
        ),
        pytest.param(
            "777001", {"login": 777001}, "login", "777001", id="manifest-ubilling-json-int-login"
        ),
        pytest.param(
            "1",
            {"login": "a", "account_number": None},
            "account_number",
            "",
            id="manifest-ubilling-null",
        ),
    ],
)
def test_customer_quirks(raw_key: str, row: dict, attribute: str, expected: Any) -> None:
    assert getattr(parse_customer(raw_key, row), attribute) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            b'{ "2" : { "phone" : [{ "number" : 0501234567 }] } }',
            {"2": {"phone": [{"number": "0501234567"}]}},
            id="manifest-axbills-bare-number-with-leading-zero-stays-text",
        ),
        pytest.param(
            b'{ "3" : { "agreement" : [{ "number" : 00042 , "date" : "2020-01-01" }] } }',
            {"3": {"agreement": [{"number": "00042", "date": "2020-01-01"}]}},
            id="manifest-axbills-contract-00042",
        ),
        pytest.param(
            b'{ "4" : { "comment" : "code 0123, room 007" , "credit" : 0 , "balance" : 0.5 } }',
            {"4": {"comment": "code 0123, room 007", "credit": 0, "balance": 0.5}},
            id="manifest-axbills-digits-inside-strings-untouched",
        ),
        pytest.param(
            b'{ "5" : { "password" : "\xb7\xc5C<" , "id" : 05 } }',
            {"5": {"password": "\ufffd\ufffdC<", "id": "05"}},
            id="manifest-axbills-invalid-utf8-and-leading-zero",
        ),
    ],
)
def test_axbills_bodies_are_read(body: bytes, expected: Any) -> None:
    assert decode_body(body, source="billing `ax` get_user_list") == expected


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(
            b'{  { "ERROR" :  "Unknown request"  } }',
            r"answered an error \(Unknown request\)",
            id="manifest-axbills-invalid-error-json",
        ),
        pytest.param(
            b'{ "1" : { "n" : 0123 ',
            r"not JSON",
            id="4.6.1-truncated-body-with-leading-zero-still-fatal",
        ),
        pytest.param(
            b"<!DOCTYPE html>\n<html><form name=form_login></form></html>",
            r"HTML page",
            id="manifest-axbills-login-page",
        ),
    ],
)
def test_axbills_error_bodies_stay_errors(body: bytes, message: str) -> None:
    with pytest.raises(FatalApiError, match=message):
        decode_body(body, source="billing `ax` get_user_list")
