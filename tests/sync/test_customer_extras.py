"""Per-customer groups, tags, services, additional data and marks (universal-api.md §4.4–4.5,
contract §5.2 rows group/tag/service/additional_data/mark); passwords: tests/test_passwords.py."""

from __future__ import annotations

import pytest

from usm_billing.sync.customer_extras import (
    additional_fields,
    group_fields,
    mark_fields,
    service_fields,
    service_step,
    tag_fields,
)

GROUPS = {"1": 11, "2": 12, "3": 13}


@pytest.mark.parametrize(
    ("billing", "view", "always", "expected"),
    [
        pytest.param(("1",), (11,), "", {}, id="4.4-groups-equal"),
        pytest.param(
            ("1", "2"),
            (11,),
            "",
            {"add_group_id": {"12": 12}, "group": {"12": 1}},
            id="4.4-group-added",
        ),
        pytest.param(
            ("1",),
            (11, 99),
            "",
            {"delete_group_id": {"99": 99}, "group": {"99": -1}},
            id="4.4-every-other-group-removed-manual-too",
        ),
        pytest.param(
            (),
            (11,),
            "3",
            {
                "add_group_id": {"13": 13},
                "delete_group_id": {"11": 11},
                "group": {"11": -1, "13": 1},
            },
            id="4.5-always-set-customer-group-id",
        ),
        pytest.param(
            ("1", "2", "3"),
            (),
            "",
            {"add_group_id": {"11": 11, "12": 12, "13": 13}, "group": {"13": 1}},
            id="10-old-group-holds-last-added",
        ),
        pytest.param(("7",), (), "", {}, id="4.4-unmapped-billing-group-ignored"),
    ],
)
def test_groups(billing, view, always, expected):
    assert group_fields(billing, view, GROUPS, always=always) == expected


TAGS = {"1": 21, "2": 22}


@pytest.mark.parametrize(
    ("billing", "view", "expected"),
    [
        pytest.param({"1": "2024-01-10 09:00:00"}, (21,), {}, id="4.4-tag-present"),
        pytest.param(
            {"1": "2024-01-10 09:00:00"},
            (),
            {"tag": {"21": "2024-01-10 09:00:00"}},
            id="5.2-tag-added-with-date",
        ),
        pytest.param({"2": ""}, (), {"tag": {"22": 1}}, id="5.2-tag-added-with-1"),
        pytest.param({}, (21, 99), {"tag": {"21": -1}}, id="4.4-only-matched-tags-removed"),
    ],
)
def test_tags(billing, view, expected):
    assert tag_fields(billing, view, TAGS) == expected


SERVICES = {"1": 31, "2": 32}
ONE = (("19.99", ""),)
TWO = ONE * 2
THREE = ONE * 3


@pytest.mark.parametrize(
    ("billing", "view", "expected", "again"),
    [
        pytest.param({"1": ONE}, {31: ONE}, {}, False, id="4.4-service-equal"),
        pytest.param({"1": ONE}, {31: ((19.99, None),)}, {}, False, id="1.3-service-equal-loose"),
        pytest.param(
            {"1": ONE},
            {},
            {"service": {"31": 1}, "service_cost": {"31": "19.99"}},
            True,
            id="9.5-service-added-with-cost-then-again",
        ),
        pytest.param(
            {"1": THREE},
            {},
            {"service": {"31": 1}, "service_cost": {"31": "19.99"}},
            True,
            id="9.5-service-three-instances-one-step-each",
        ),
        pytest.param(
            {"1": THREE},
            {31: ONE},
            {"service": {"31": 1}},
            True,
            id="9.5-service-three-instances-second-step",
        ),
        pytest.param(
            {"1": THREE},
            {31: TWO},
            {"service": {"31": 1}},
            True,
            id="9.5-service-three-instances-last-add-still-again",
        ),
        pytest.param(
            {"1": (("", ""),)},
            {},
            {"service": {"31": 1}},
            True,
            id="9.5-service-added-without-cost-or-comment",
        ),
        pytest.param(
            {"1": (("25", "x"), ("25", "x"))},
            {31: (("20", ""),)},
            {"service": {"31": 1}, "service_cost": {"31": "25"}, "service_comment": {"31": "x"}},
            True,
            id="9.5-add-with-first-instance-cost-and-comment",
        ),
        pytest.param(
            {}, {31: (("5", ""),)}, {"service": {"31": -1}}, False, id="9.5-last-instance-removed"
        ),
        pytest.param(
            {},
            {31: (("5", ""), ("5", ""))},
            {"service": {"31": -1}},
            True,
            id="9.5-minus-1-may-remove-one-then-again",
        ),
        pytest.param(
            {"1": (("25", "promo"),)},
            {31: (("5", ""), ("5", ""), ("5", ""))},
            {"service": {"31": -1}},
            True,
            id="9.5-minus-1-may-remove-all-cost-deferred-then-again",
        ),
        pytest.param(
            {"1": (("25", "promo"),)},
            {31: (("19.99", ""),)},
            {"service_cost": {"31": "25"}, "service_comment": {"31": "promo"}},
            False,
            id="9.5-cost-and-comment-of-first-instance-final",
        ),
        pytest.param(
            {"1": (("25", "a"), ("25", "a"))},
            {31: (("19", "a"), ("25", "a"))},
            {"service_cost": {"31": "25"}},
            False,
            id="9.5-only-first-instance-compared",
        ),
        pytest.param(
            {"1": (("25", ""), ("25", ""))},
            {31: (("25", ""), ("0", "old"))},
            {},
            False,
            id="9.5-strict-reading-converged-not-resent",
        ),
        pytest.param(
            {"1": (("25", ""), ("30", ""))},
            {31: (("25", ""), ("25", ""))},
            {},
            False,
            id="9.5-lenient-reading-converged-not-resent-8-N10",
        ),
        pytest.param(
            {"1": TWO, "2": ONE},
            {32: TWO},
            {"service": {"31": 1, "32": -1}, "service_cost": {"31": "19.99"}},
            True,
            id="9.5-one-step-per-service-in-one-entry",
        ),
        pytest.param({"7": ONE}, {}, {}, False, id="4.4-unmapped-billing-service-ignored"),
    ],
)
def test_services(billing, view, expected, again):
    assert service_step(billing, view, SERVICES) == (expected, again)
    assert service_fields(billing, view, SERVICES) == expected


@pytest.mark.parametrize(
    ("billing", "view", "merge", "expected"),
    [
        pytest.param(
            {"1": "ВМ 556677"},
            {},
            {"1": 4},
            {"additional_customer_data": {"4": "ВМ 556677"}},
            id="4.5-mapped-field-set",
        ),
        pytest.param({"1": "x"}, {"4": "x"}, {"1": 4}, {}, id="4.5-equal-not-sent"),
        pytest.param({"2": "y"}, {}, {"1": 4}, {}, id="4.5-unmapped-ignored-missing-empty"),
        pytest.param({"1": "x"}, {}, {"1": 0}, {}, id="6-zero-target-not-imported"),
        pytest.param(
            {},
            {"4": "old"},
            {"1": 4},
            {"additional_customer_data": {"4": ""}},
            id="4.4-missing-value-cleared",
        ),
    ],
)
def test_additional_data(billing, view, merge, expected):
    assert additional_fields("additional_customer_data", billing, view, merge) == expected


def test_marks_only_added():
    assert mark_fields(("1",), (5,), {"1": [5, 6]}) == {"mark": {"6": 1}}
    assert mark_fields((), (5,), {"1": [5]}) == {}
