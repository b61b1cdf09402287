"""How customer ``group_edit`` writes are cut into requests.

Sections: userside-api.md §1.4 (batch sizes), contract §5.3 (typical fields first, one per
request with ``src=billing``; a customer left with only ``crc_billing`` is dropped), §8 N7
(no customer skipped at a batch boundary).
"""

from __future__ import annotations

from typing import Any

import pytest

from usm_billing.sync.batches import GroupEditRequest, plan_group_edit
from usm_billing.sync.customer_fields import TYPICAL_FIELDS

ACTIVITY = "2025-06-12 21:48:03"


def typical(data: dict[int, dict[str, Any]]) -> GroupEditRequest:
    return GroupEditRequest(data, True)


def other(data: dict[int, dict[str, Any]]) -> GroupEditRequest:
    return GroupEditRequest(data, False)


@pytest.mark.parametrize(
    ("edits", "batch_size", "typical_batch_size", "expected"),
    [
        pytest.param({}, 200, 4000, [], id="5.3-no-edits-no-requests"),
        pytest.param(
            {
                70: {
                    "login": "x",
                    "date_activity_inet": ACTIVITY,
                    "traffic_down": 2,
                    "traffic_up": 1,
                    "balance": "10",
                    "crc_billing": "c",
                },
            },
            200,
            4000,
            [
                typical({70: {"balance": "10"}}),
                typical({70: {"traffic_up": 1}}),
                typical({70: {"traffic_down": 2}}),
                typical({70: {"date_activity_inet": ACTIVITY}}),
                other({70: {"login": "x", "crc_billing": "c"}}),
            ],
            id="5.3-typical-fields-one-per-request-src-billing-first",
        ),
        pytest.param(
            {70: {"date_activity_inet_unix": 1_749_764_883}},
            200,
            4000,
            [typical({70: {"date_activity_inet_unix": 1_749_764_883}})],
            id="5.3-typical-activity-unix",
        ),
        pytest.param(
            {70: {"balance": "1"}, 71: {"balance": "2"}, 72: {"traffic_up": 3}},
            200,
            4000,
            [
                typical({70: {"balance": "1"}, 71: {"balance": "2"}}),
                typical({72: {"traffic_up": 3}}),
            ],
            id="5.3-typical-customers-share-one-request-per-field",
        ),
        pytest.param(
            {70: {"balance": "1", "crc_billing": "c"}, 71: {"crc_billing": "d"}},
            200,
            4000,
            [typical({70: {"balance": "1"}})],
            id="5.3-crc-only-customers-dropped",
        ),
        pytest.param(
            {us_id: {"balance": str(us_id)} for us_id in range(1, 6)},
            200,
            2,
            [
                typical({1: {"balance": "1"}, 2: {"balance": "2"}}),
                typical({3: {"balance": "3"}, 4: {"balance": "4"}}),
                typical({5: {"balance": "5"}}),
            ],
            id="1.4-typical-chunked-by-typical-batch-size",
        ),
        pytest.param(
            {us_id: {"login": str(us_id)} for us_id in range(1, 6)},
            2,
            4000,
            [
                other({1: {"login": "1"}, 2: {"login": "2"}}),
                other({3: {"login": "3"}, 4: {"login": "4"}}),
                other({5: {"login": "5"}}),
            ],
            id="1.4-other-fields-chunked-by-batch-size",
        ),
        pytest.param(
            {
                1: {"balance": "1", "login": "a", "crc_billing": "c1"},
                2: {"balance": "2", "crc_billing": "c2"},
                3: {"balance": "3", "state_id": 2, "crc_billing": "c3"},
            },
            1,
            2,
            [
                typical({1: {"balance": "1"}, 2: {"balance": "2"}}),
                typical({3: {"balance": "3"}}),
                other({1: {"login": "a", "crc_billing": "c1"}}),
                other({3: {"state_id": 2, "crc_billing": "c3"}}),
            ],
            id="8-no-customer-skipped-at-batch-boundary",
        ),
        pytest.param(
            {10: {"login": "b"}, 9: {"login": "a"}, 100: {"balance": "1"}, 2: {"balance": "2"}},
            200,
            4000,
            [
                typical({2: {"balance": "2"}, 100: {"balance": "1"}}),
                other({9: {"login": "a"}, 10: {"login": "b"}}),
            ],
            id="5.3-deterministic-order-by-numeric-us-id",
        ),
    ],
)
def test_plan_group_edit(
    edits: dict[int, dict[str, Any]],
    batch_size: int,
    typical_batch_size: int,
    expected: list[GroupEditRequest],
) -> None:
    requests = plan_group_edit(edits, batch_size=batch_size, typical_batch_size=typical_batch_size)
    assert requests == expected
    assert [list(r.data) for r in requests] == [list(r.data) for r in expected], "key order"


def test_plan_group_edit_order_does_not_depend_on_input_order() -> None:
    edits = {
        us_id: {"balance": str(us_id), "traffic_up": us_id, "comment": f"c{us_id}"}
        for us_id in (5, 3, 11, 1)
    }
    reversed_edits = dict(reversed(list(edits.items())))
    first = plan_group_edit(edits, batch_size=2, typical_batch_size=3)
    second = plan_group_edit(reversed_edits, batch_size=2, typical_batch_size=3)
    assert first == second
    assert [list(r.data) for r in first] == [list(r.data) for r in second]


def test_plan_group_edit_sends_every_field_exactly_once() -> None:
    edits = {
        us_id: {
            **dict.fromkeys(TYPICAL_FIELDS[: us_id % 5], us_id),
            **({"login": f"l{us_id}", "crc_billing": "c"} if us_id % 2 else {"crc_billing": "c"}),
        }
        for us_id in range(1, 40)
    }
    requests = plan_group_edit(edits, batch_size=7, typical_batch_size=5)
    sent: dict[int, dict[str, Any]] = {}
    for request in requests:
        assert len(request.data) <= (5 if request.src_billing else 7)
        for us_id, fields in request.data.items():
            if request.src_billing:
                assert len(fields) == 1
                assert set(fields) <= set(TYPICAL_FIELDS)
            overlap = set(sent.get(us_id, {})) & set(fields)
            assert not overlap
            sent.setdefault(us_id, {}).update(fields)
    expected = {us_id: kept for us_id, f in edits.items() if (kept := without_lone_crc(f))}
    assert sent == expected


def without_lone_crc(fields: dict[str, Any]) -> dict[str, Any]:
    """What reaches UserSide of one customer's fields (contract §5.3)."""
    if set(fields) - {"crc_billing"} - set(TYPICAL_FIELDS):
        return fields
    return {key: value for key, value in fields.items() if key != "crc_billing"}
