"""Protocol steps: tariff links, service instances and unknown tariff ids through
``diff_customers`` (contract §5.2 rows ``tariff.current``, ``tariff.new``, ``service``;
§9.4, §9.5 UNKNOWNs; §11 confirmed facts; §12 one importer for every reading).

Table rows spell out the whole ``group_edit`` dict, ``again`` and ``unknown_tariffs``. The
last tests apply the diff's fields to a small model of each reading of §9.4/§9.5, re-diff
while ``again`` and assert that every reading ends with an empty diff within a few steps.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any

import pytest

from usm_billing import codec
from usm_billing.config import BillingConfig
from usm_billing.sync.changes import CustomerChanges, CustomerEdit
from usm_billing.sync.customer_extras import service_step
from usm_billing.sync.customer_rules import CustomerRules
from usm_billing.sync.customers import diff_customers
from usm_billing.sync.normalize import loose_equal
from usm_billing.universal_api.customers import BillingCustomer
from usm_billing.userside.customers import UsCustomer
from usm_billing.userside.models import UsSettings

UID, US_ID, CRC = "7", 70, "c" * 32
NO_TARIFF = "*_NO_TARIFF_*"
TARIFFS = ("17", "21", "30")
CATALOGUES = {"enabled": {"services": True}, "service_map": {"1": 31, "2": 32}}


def billing(**fields: Any) -> BillingCustomer:
    return BillingCustomer(id=UID, crc=CRC, **fields)


def view(**fields: Any) -> UsCustomer:
    return UsCustomer(billing_uid=UID, us_id=US_ID, **{"is_in_billing": 1, **fields})


def rules(*, tariff_ids: Any = TARIFFS) -> CustomerRules:
    return CustomerRules.build(
        BillingConfig(billing_id=1, billing_conn_id="b", userside_conn_id="u"),
        UsSettings(),
        {},
        now_unix=1_750_000_000,
        catalogues=CATALOGUES,
        tariff_ids=tariff_ids,
    )


def edit(fields: dict[str, Any], previous: dict[str, Any], *, again: bool = False):
    return CustomerEdit(UID, US_ID, {**fields, "crc_billing": CRC}, previous, again)


def tariffs(current: tuple[str, ...]) -> dict[str, Any]:
    """``previous`` of an edit with both tariff keys: the view's links."""
    return {"add_tariff_id": list(current), "delete_tariff_id": list(current)}


ROWS = [
    # §9.4 multiset rule: k > m adds, k < m deletes every link of the id (+ again if k > 0)
    pytest.param(
        billing(tariff_current=("17",)),
        view(tariff_current=("17", "17")),
        rules(),
        CustomerChanges(
            edits=(
                edit(
                    {"delete_tariff_id": ["17", "17"]},
                    {"delete_tariff_id": ["17", "17"]},
                    again=True,
                ),
            )
        ),
        id="9.4-two-links-billing-wants-one-delete-all-then-again",
    ),
    pytest.param(
        billing(tariff_current=("17", "17")),
        view(tariff_current=("17", "17", "17")),
        rules(),
        CustomerChanges(
            edits=(
                edit(
                    {"delete_tariff_id": ["17", "17", "17"]},
                    {"delete_tariff_id": ["17", "17", "17"]},
                    again=True,
                ),
            )
        ),
        id="9.4-three-links-billing-wants-two-delete-all-then-again",
    ),
    pytest.param(
        billing(tariff_current=("17",)),
        view(tariff_current=("17", "017")),
        rules(),
        CustomerChanges(
            edits=(
                edit(
                    {"delete_tariff_id": ["17", "017"]},
                    {"delete_tariff_id": ["17", "017"]},
                    again=True,
                ),
            )
        ),
        id="9.4-loose-equal-links-each-deleted-as-the-view-returned-it",
    ),
    pytest.param(
        billing(),
        view(tariff_current=("17", "17")),
        rules(),
        CustomerChanges(
            edits=(edit({"delete_tariff_id": ["17", "17"]}, {"delete_tariff_id": ["17", "17"]}),)
        ),
        id="9.4-two-links-billing-wants-none-final-without-again",
    ),
    pytest.param(
        billing(tariff_current=("17", "17", "17")),
        view(tariff_current=("17",)),
        rules(),
        CustomerChanges(edits=(edit({"add_tariff_id": ["17", "17"]}, {"add_tariff_id": ["17"]}),)),
        id="9.4-one-link-billing-wants-three-adds-two-final",
    ),
    pytest.param(
        billing(tariff_current=("17", "30")),
        view(tariff_current=("17", "17", "21")),
        rules(),
        CustomerChanges(
            edits=(
                edit(
                    {"add_tariff_id": ["30"], "delete_tariff_id": ["17", "17", "21"]},
                    tariffs(("17", "17", "21")),
                    again=True,
                ),
            )
        ),
        id="9.4-surplus-id-deleted-whole-other-id-added-same-entry",
    ),
    # §11: a tariff id the billing's own get_tariff_list lacks is never sent
    pytest.param(
        billing(login="new", tariff_current=(NO_TARIFF,)),
        view(login="old"),
        rules(),
        CustomerChanges(
            edits=(edit({"login": "new"}, {"login": "old"}),),
            unknown_tariffs=((UID, NO_TARIFF),),
        ),
        id="11-no-tariff-marker-left-alone",
    ),
    pytest.param(
        billing(tariff_current=(NO_TARIFF, "17")),
        view(tariff_current=(NO_TARIFF, "21")),
        rules(),
        CustomerChanges(
            edits=(
                edit(
                    {"add_tariff_id": ["17"], "delete_tariff_id": ["21"]},
                    tariffs((NO_TARIFF, "21")),
                ),
            ),
            unknown_tariffs=((UID, NO_TARIFF),),
        ),
        id="11-no-tariff-view-link-kept-the-rest-synced",
    ),
    pytest.param(
        billing(tariff_current=("17",)),
        view(tariff_current=("17", NO_TARIFF)),
        rules(),
        CustomerChanges(
            edits=(
                edit({"delete_tariff_id": [NO_TARIFF]}, {"delete_tariff_id": ["17", NO_TARIFF]}),
            )
        ),
        id="11-link-the-billing-no-longer-names-deleted-as-usual",
    ),
    pytest.param(
        billing(tariff_current=(NO_TARIFF,), tariff_new=("99", "2025-07-01")),
        view(tariff_new_id="21"),
        rules(),
        CustomerChanges(unknown_tariffs=((UID, NO_TARIFF), (UID, "99"))),
        id="11-unknown-scheduled-tariff-left-alone",
    ),
    pytest.param(
        billing(tariff_current=(NO_TARIFF, NO_TARIFF)),
        None,
        rules(),
        CustomerChanges(
            creates=(UID,),
            edits=(CustomerEdit(UID, None, {"name": "", "crc_billing": CRC}, {}, False),),
            unknown_tariffs=((UID, NO_TARIFF),),
        ),
        id="11-created-customer-no-tariff-marker-not-sent",
    ),
    pytest.param(
        billing(tariff_current=(NO_TARIFF,)),
        view(),
        rules(tariff_ids=None),
        CustomerChanges(edits=(edit({"add_tariff_id": [NO_TARIFF]}, {"add_tariff_id": []}),)),
        id="11-without-tariff-ids-every-id-taken-as-known",
    ),
    # §9.5 / §11: services one protocol step per instance
    pytest.param(
        billing(services=(("1", (("25", "tv"),) * 3),)),
        view(),
        rules(),
        CustomerChanges(
            edits=(
                edit(
                    {
                        "service": {"31": 1},
                        "service_cost": {"31": "25"},
                        "service_comment": {"31": "tv"},
                    },
                    {"service": [], "service_cost": [], "service_comment": []},
                    again=True,
                ),
            )
        ),
        id="9.5-service-three-instances-one-step-each",
    ),
    pytest.param(
        billing(services=(("1", (("25", ""),)),)),
        view(services=((31, (("25", ""), ("25", ""), ("25", ""))),)),
        rules(),
        CustomerChanges(
            edits=(
                edit(
                    {"service": {"31": -1}},
                    {"service": [(31, (("25", ""), ("25", ""), ("25", "")))]},
                    again=True,
                ),
            )
        ),
        id="9.5-minus-1-one-or-all-then-again",
    ),
    pytest.param(
        billing(services=(("1", (("25", ""), ("30", ""))),)),
        view(services=((31, (("25", ""), ("0", ""))),)),
        rules(),
        CustomerChanges(),
        id="9.5-first-instance-equal-converged-never-resent",
    ),
]


@pytest.mark.parametrize(("customer", "current", "rule_set", "expected"), ROWS)
def test_protocol_rows(
    customer: BillingCustomer,
    current: UsCustomer | None,
    rule_set: CustomerRules,
    expected: CustomerChanges,
) -> None:
    userside = {} if current is None else {UID: current}
    changes = diff_customers({UID: customer}, userside, rule_set)
    assert changes == expected
    restored = codec.decode(codec.encode(changes), CustomerChanges)
    assert codec.encode(restored) == codec.encode(changes)  # what crosses a task boundary
    assert [e.again for e in restored.edits] == [e.again for e in changes.edits]
    assert restored.unknown_tariffs == changes.unknown_tariffs


def test_summary_counts_unknown_tariffs_and_steps() -> None:
    changes = diff_customers(
        {
            UID: billing(tariff_current=(NO_TARIFF,)),
            "8": replace(billing(tariff_current=("17",)), id="8"),
            "9": replace(billing(tariff_current=(NO_TARIFF,), tariff_new=("x", "")), id="9"),
        },
        {"8": UsCustomer("8", 80, is_in_billing=1, tariff_current=("17", "17"))},
        rules(),
    )
    assert changes.unknown_tariffs == ((UID, NO_TARIFF), ("9", NO_TARIFF), ("9", "x"))
    assert changes.summary() == {
        "create": 2,
        "edit": 1,
        "not_in_billing": 0,
        "rejected": 0,
        "unknown_tariff": 3,
        "again": 1,
        "fields": {"crc_billing": 3, "delete_tariff_id": 1, "name": 2},
    }


# --- simulate both readings (§12): re-diff while `again`, every reading converges ------


def _apply_tariffs(links: list[Any], fields: dict[str, Any], reading: tuple[str, str]) -> list:
    """One ``group_edit`` entry on a UserSide holding tariff links under one reading of
    §9.4: a delete element removes one link or every link of its id, applied before or
    after the adds of the same entry."""
    removal, order = reading
    links = list(links)

    def delete() -> None:
        for tariff_id in fields.get("delete_tariff_id", []):
            hits = [i for i, link in enumerate(links) if loose_equal(link, tariff_id)]
            for i in reversed(hits if removal == "all" else hits[:1]):
                links.pop(i)

    def add() -> None:
        links.extend(fields.get("add_tariff_id", []))

    for action in (delete, add) if order == "delete-first" else (add, delete):
        action()
    return links


TARIFF_READINGS = list(itertools.product(("one", "all"), ("delete-first", "add-first")))
TARIFF_CASES = [
    ((), ("17",)),
    (("17",), ()),
    (("17",), ("17", "17", "17")),
    (("17", "17", "17"), ("17",)),
    (("17", "17"), ("17",)),
    (("17", "17", "17"), ("17", "17")),
    (("17", "017", "21"), ("17", "30", "30")),
    (("17", "17", "21", "21"), ("21", "17")),
    ((NO_TARIFF, "17", "17"), (NO_TARIFF, "17")),
]


@pytest.mark.parametrize("reading", TARIFF_READINGS, ids="-".join)
@pytest.mark.parametrize(
    ("start", "wanted"),
    TARIFF_CASES,
    ids=[f"9.4-view{len(v)}-billing{len(b)}-{i}" for i, (v, b) in enumerate(TARIFF_CASES)],
)
def test_tariff_links_converge_under_every_reading(
    start: tuple[str, ...], wanted: tuple[str, ...], reading: tuple[str, str]
) -> None:
    customer = billing(tariff_current=wanted)
    links: list[Any] = list(start)
    steps = 0
    while True:
        changes = diff_customers({UID: customer}, {UID: view(tariff_current=tuple(links))}, rules())
        if not changes.edits:
            break
        (step,) = changes.edits
        links = _apply_tariffs(links, step.fields, reading)
        steps += 1
        assert steps <= 2, f"no convergence: {links}"
        if not step.again:
            final = diff_customers(
                {UID: customer}, {UID: view(tariff_current=tuple(links))}, rules()
            )
            assert final.edits == (), "an edit without `again` must be final"
            break
    assert sorted(str(int(t)) if t.isdigit() else t for t in links) == sorted(wanted)


def _apply_services(
    instances: list[tuple[Any, Any]],
    sid: str,
    fields: dict[str, Any],
    reading: tuple[str, str, str, str, str],
) -> list[tuple[Any, Any]]:
    """One ``group_edit`` entry on one service's instances under one reading of §9.5."""
    removal, target, timing, initial, position = reading
    instances = list(instances)

    def count() -> None:
        value = fields.get("service", {}).get(sid)
        if value == 1:
            new = ("7" if initial == "catalogue" else "0", "")
            instances.insert(0 if position == "front" else len(instances), new)
        elif value == -1 and instances:
            if removal == "all":
                instances.clear()
            else:
                instances.pop(0 if removal == "one-first" else -1)

    def cost() -> None:
        chosen = range(len(instances)) if target == "every" else range(min(1, len(instances)))
        for i in chosen:
            old_cost, old_comment = instances[i]
            instances[i] = (
                fields.get("service_cost", {}).get(sid, old_cost),
                fields.get("service_comment", {}).get(sid, old_comment),
            )

    for action in (cost, count) if timing == "cost-first" else (count, cost):
        action()
    return instances


SERVICE_READINGS = list(
    itertools.product(
        ("one-last", "one-first", "all"),
        ("first", "every"),
        ("cost-first", "count-first"),
        ("zero", "catalogue"),
        ("end", "front"),
    )
)
SERVICE_CASES = [
    (0, 1, ("25", "tv")),
    (0, 3, ("25", "tv")),
    (1, 0, ("25", "")),
    (2, 0, ("25", "")),
    (1, 3, ("25", "")),
    (3, 1, ("25", "tv")),
    (3, 2, ("", "")),
    (2, 2, ("30", "new")),
    (1, 2, ("0", "")),
]


@pytest.mark.parametrize("reading", SERVICE_READINGS, ids="-".join)
@pytest.mark.parametrize(
    ("have", "want", "value"),
    SERVICE_CASES,
    ids=[f"9.5-view{m}-billing{k}-cost{c[0] or 'none'}" for m, k, c in SERVICE_CASES],
)
def test_service_instances_converge_under_every_reading(
    have: int, want: int, value: tuple[str, str], reading: tuple[str, str, str, str, str]
) -> None:
    service_map = {"1": 31}
    target = {"1": (value,) * want} if want else {}
    instances: list[tuple[Any, Any]] = [("19", "old")] * have
    bound = max(have - want, want + 1) + 1
    steps = 0
    while True:
        fields, again = service_step(
            target, {31: tuple(instances)} if instances else {}, service_map
        )
        if not fields:
            break
        instances = _apply_services(instances, "31", fields, reading)
        steps += 1
        assert steps <= bound, f"no convergence after {steps} steps: {instances}"
        if not again:
            final, _ = service_step(
                target, {31: tuple(instances)} if instances else {}, service_map
            )
            assert final == {}, "a step without `again` must be final"
            break
    assert len(instances) == want
    if want:
        first_cost, first_comment = instances[0]
        if value[0]:
            assert loose_equal(first_cost, value[0])
        assert loose_equal(first_comment, value[1])
