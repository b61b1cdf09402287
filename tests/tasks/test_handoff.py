"""What crosses a task boundary (``tasks/handoff.py``): small results inline, the extracts
and any big result as a reference (path + content hash), so XCom rows and task arguments
stay small; a tampered or foreign file is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from usm_billing.config import BillingConfig
from usm_billing.sync.changes import CustomerChanges, CustomerEdit
from usm_billing.tasks import handoff
from usm_billing.tasks.results import LoadResult
from usm_billing.universal_api.catalogues import SystemInformation
from usm_billing.universal_api.customers import BillingCustomer, BillingSnapshot
from usm_billing.userside.customers import UsCustomer, UsView


@pytest.fixture
def config(tmp_path: Path) -> BillingConfig:
    return BillingConfig(
        billing_id=3, billing_conn_id="b", userside_conn_id="u", state_path=str(tmp_path)
    )


def _changes(count: int) -> CustomerChanges:
    edits = tuple(CustomerEdit(str(i), i, {"name": f"customer {i}"}, {}) for i in range(count))
    return CustomerChanges(creates=(), edits=edits)


SNAPSHOT = BillingSnapshot(
    system=SystemInformation(date="2026-11-25 10:00:00"),
    tariffs={},
    states={},
    customers={"1": BillingCustomer(id="1", login="a")},
)
VIEW = UsView(tariffs={}, customers={"1": UsCustomer(billing_uid="1", us_id=5)})


@pytest.mark.parametrize(
    ("value", "kind", "by_reference"),
    [
        pytest.param(_changes(3), CustomerChanges, False, id="small-change-set-inline"),
        pytest.param(_changes(5000), CustomerChanges, True, id="big-change-set-by-reference"),
        pytest.param(SNAPSHOT, BillingSnapshot, True, id="billing-extract-by-reference"),
        pytest.param(VIEW, UsView, True, id="userside-extract-by-reference"),
        pytest.param(
            LoadResult("ips", {"add": 1}, dry_run=False, write_requests=2),
            LoadResult,
            False,
            id="load-result-inline",
        ),
    ],
)
def test_round_trip_and_xcom_size(config, value, kind, by_reference):
    packed = handoff.pack(config, "manual__2026-11-25T10:00", "step", value)
    assert (handoff.REFERENCE in packed) is by_reference
    if by_reference:  # a path and a content hash, nothing of the data
        assert set(packed) == {handoff.REFERENCE, "sha256"}
    assert len(json.dumps(packed)) <= (512 if by_reference else handoff.INLINE_LIMIT)
    assert handoff.unpack(packed, kind) == value


def test_a_changed_file_is_refused(config):
    packed = handoff.pack(config, "run", "extract_billing", SNAPSHOT)
    path = Path(packed[handoff.REFERENCE])
    path.write_bytes(path.read_bytes().replace(b'"a"', b'"b"'))
    with pytest.raises(ValueError, match="content hash differs"):
        handoff.unpack(packed, BillingSnapshot)
