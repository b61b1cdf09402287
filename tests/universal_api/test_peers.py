"""Every reply captured from real uBilling and AXbills servers (shared/peers) is accepted:
lists parse with no rejected record, error replies become clear errors (issue: foundation
§10, spec §1.2 and §4.6)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.conftest import PEERS
from usm_billing.exceptions import FatalApiError
from usm_billing.universal_api.catalogues import BillingTariff
from usm_billing.universal_api.customers import collect_customers, parse_customer
from usm_billing.universal_api.payload import decode_body, iter_items, iter_json_items

if TYPE_CHECKING:
    from pathlib import Path


def _captures() -> list[Path]:
    if not PEERS.is_dir():
        return []
    return sorted(p for p in PEERS.rglob("*") if p.suffix in (".body", ".raw"))


def _body(path: Path) -> bytes:
    data = path.read_bytes()
    if path.suffix == ".raw":  # CGI output: header lines, an empty line, then the body
        return data.split(b"\n\n", 1)[1]
    return data


def _request(path: Path) -> str:
    return path.name.split(".", 1)[0]


@pytest.mark.parametrize("path", _captures(), ids=lambda p: str(p.relative_to(PEERS)))
def test_every_capture_is_accepted(path: Path):
    request = _request(path)
    source = f"billing `peer` {request}"
    body = _body(path)
    if request == "error" or b'"result":"error"' in body:  # error replies of the billing
        with pytest.raises(FatalApiError, match="billing `peer`"):
            decode_body(body, source=source)
        return
    value = decode_body(body, source=source)
    assert isinstance(value, (dict, list))
    if request == "get_user_list":
        for key, row in iter_items(value):
            parse_customer(key, row)  # raises RecordError naming the field
    if request == "get_tariff_list":
        for key, row in iter_items(value):
            BillingTariff.from_raw(key, row)


@pytest.mark.parametrize(
    "path",
    [p for p in _captures() if _request(p) == "get_user_list" and "customer_id" not in p.name],
    ids=lambda p: str(p.relative_to(PEERS)),
)
def test_every_customer_list_is_read_without_a_refused_record(path: Path):
    """The hook's own reading (row by row, repeated ids and deep rows refused) refuses
    nothing a real billing sent."""
    rows = iter_json_items(_body(path), source="peer")
    customers, errors, _ = collect_customers(rows)
    assert errors == []
    assert customers


def test_captures_are_present(peers):
    assert len(_captures()) > 100


def test_axbills_quirks(peers):
    value = decode_body(_body(peers / "axbills-2026.08" / "get_user_list.raw"), source="ax")
    customers = {k: parse_customer(k, row) for k, row in iter_items(value)}
    ivanov = customers["2"]
    assert ivanov.tariff_current == ("2",)  # `current` keyed by tariff id
    assert ivanov.balance == "100.50"
    assert ivanov.agreement_number == "1001"
    assert customers["1"].agreement_date == ""  # 0000-00-00 is no date
    assert (
        "\ufffd"
        in decode_body(_body(peers / "axbills-2026.08" / "get_user_list.raw"), source="ax")["2"][
            "password"
        ]
    )  # invalid UTF-8 replaced, not fatal
