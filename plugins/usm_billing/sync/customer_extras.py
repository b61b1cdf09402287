"""Per-customer fields that go through a catalogue or a merge map: groups, tags, services,
additional data and marks (universal-api.md §4.4–4.5, contract §5.2); the password's
stored form is :func:`usm_billing.passwords.password_value`.

Each function returns the ``group_edit`` fields for one customer; an empty dict means
"nothing to write". Ids are already mapped: UserSide ids on the view side, billing ids
translated through the ``*_map`` arguments built by :mod:`usm_billing.sync.catalogues`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from usm_billing.sync.normalize import loose_equal

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "additional_fields",
    "group_fields",
    "mark_fields",
    "service_fields",
    "tag_fields",
]


def group_fields(
    billing_groups: tuple[str, ...],
    view_groups: tuple[int, ...],
    group_map: Mapping[str, int],
    *,
    always: str = "",
) -> dict[str, Any]:
    """Groups (§4.4): the billing's groups (and ``always_set_customer_group_id``) are added,
    every other UserSide group of the customer is removed, in both the multi-group fields
    (``add_group_id``/``delete_group_id``) and the old single-group ``group`` map, which
    holds the last added id plus every removal (contract §10)."""
    wanted_ids = [*billing_groups, *([always] if always else [])]
    wanted = {group_map[g] for g in wanted_ids if g in group_map}
    current = set(view_groups)
    add = sorted(wanted - current)
    delete = sorted(current - wanted)
    if not add and not delete:
        return {}
    fields: dict[str, Any] = {}
    old_group: dict[str, int] = {str(gid): -1 for gid in delete}
    if add:
        fields["add_group_id"] = {str(gid): gid for gid in add}
        old_group[str(add[-1])] = 1
    if delete:
        fields["delete_group_id"] = {str(gid): gid for gid in delete}
    fields["group"] = old_group
    return fields


def tag_fields(
    billing_tags: Mapping[str, str],
    view_tags: tuple[int, ...],
    tag_map: Mapping[str, int],
) -> dict[str, Any]:
    """Tags (§4.4): billing tags are added with their ``date_add`` (or 1); a UserSide tag is
    removed only if it is one of the tags matched to the billing's catalogue (manual
    UserSide tags stay)."""
    wanted = {tag_map[t]: (date or 1) for t, date in billing_tags.items() if t in tag_map}
    managed = set(tag_map.values())
    current = set(view_tags)
    changes: dict[str, Any] = {
        str(tid): date for tid, date in sorted(wanted.items()) if tid not in current
    }
    changes.update(
        {str(tid): -1 for tid in sorted(current) if tid in managed and tid not in wanted}
    )
    return {"tag": changes} if changes else {}


def service_fields(
    billing_services: Mapping[str, tuple[tuple[str, str], ...]],
    view_services: Mapping[int, tuple[tuple[Any, Any], ...]],
    service_map: Mapping[str, int],
) -> dict[str, Any]:
    """Service instances (§4.4): ``service {sid: n}`` adds n instances (negative removes),
    ``service_cost``/``service_comment`` set the instances' cost and comment. Unlike the
    PHP module, several instances converge in one run (contract §8 N10)."""
    wanted: dict[int, tuple[tuple[str, str], ...]] = {}
    for billing_sid, instances in billing_services.items():
        if billing_sid in service_map and instances:
            wanted[service_map[billing_sid]] = instances
    count: dict[str, int] = {}
    cost: dict[str, str] = {}
    comment: dict[str, str] = {}
    for sid in sorted(set(wanted) | set(view_services)):
        target = wanted.get(sid, ())
        current = view_services.get(sid, ())
        if len(target) != len(current):
            count[str(sid)] = len(target) - len(current)
        if not target:
            continue
        want_cost, want_comment = target[0]
        adding = len(current) < len(target)
        if want_cost != "" and (adding or any(not loose_equal(c, want_cost) for c, _ in current)):
            cost[str(sid)] = want_cost
        if (adding and want_comment) or any(
            not loose_equal("" if m is None else m, want_comment) for _, m in current
        ):
            comment[str(sid)] = want_comment
    fields: dict[str, Any] = {}
    if count:
        fields["service"] = count
    if cost:
        fields["service_cost"] = cost
    if comment:
        fields["service_comment"] = comment
    return fields


def additional_fields(
    key: str,
    billing_values: Mapping[str, str],
    view_values: Mapping[str, Any],
    merge: Mapping[str, int],
) -> dict[str, Any]:
    """Additional data (§4.5 merge maps): only the mapped billing fields, raw values,
    compared as strings; ``key`` is ``additional_data`` or ``additional_customer_data``."""
    changes: dict[str, Any] = {}
    for billing_fid, us_fid in sorted(merge.items()):
        if not us_fid:
            continue
        value = billing_values.get(billing_fid, "")
        current = view_values.get(str(us_fid))
        if not loose_equal(value, "" if current is None else current):
            changes[str(us_fid)] = value
    return {key: changes} if changes else {}


def mark_fields(
    billing_marks: tuple[str, ...], view_marks: tuple[int, ...], mark_merge: Mapping[str, list[int]]
) -> dict[str, Any]:
    """Marks (``$markMerge``): UserSide marks mapped from billing marks are added, never removed."""
    current = set(view_marks)
    add = sorted({m for b in billing_marks for m in mark_merge.get(b, ()) if m not in current})
    return {"mark": {str(m): 1 for m in add}} if add else {}
