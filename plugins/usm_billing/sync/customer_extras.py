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
    "service_step",
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
    """The ``service``/``service_cost``/``service_comment`` fields of one step
    (:func:`service_step` without its ``again`` flag)."""
    return service_step(billing_services, view_services, service_map)[0]


def service_step(
    billing_services: Mapping[str, tuple[tuple[str, str], ...]],
    view_services: Mapping[int, tuple[tuple[Any, Any], ...]],
    service_map: Mapping[str, int],
) -> tuple[dict[str, Any], bool]:
    """Service instances (§4.4, contract §5.2 ``service`` row, §9.5, §11): the fields of
    one step and whether the change needs another step after a re-read (``again``).

    Only the protocol values are sent (§11): ``service {sid: 1}`` adds one instance,
    ``service {sid: -1}`` removes. With ``m`` instances of ``sid`` in the view and ``k``
    in the billing, one step sends ``1`` when ``k > m`` and ``-1`` when ``k < m``; several
    instances take one step each.

    ``again`` covers every reading of §9.5 — ``-1`` removes one instance *or* all of
    them; the initial cost/comment of an added instance is unknown; ``service_cost`` and
    ``service_comment`` of the same entry may apply before or after the add:

    * ``k > m`` (an add): always ``again`` — the new instance's cost/comment, and where it
      lands in the list, are known only after a re-read;
    * ``k < m`` (a ``-1``): ``again`` unless ``k == 0 and m == 1`` (the one instance goes
      under both readings). Otherwise "one" leaves ``m - 1`` and "all" leaves 0 (and
      ``k > 0`` instances to add again): the re-read tells which;
    * ``k == m``: never ``again`` (a cost/comment write is final under both readings).

    ``service_cost``/``service_comment`` may set the first instance only (strict reading)
    or every instance (lenient). What converges under both is the **first** instance, so
    only the view's first instance is compared with the billing's first instance (cost
    ``""`` = the billing does not manage the cost). A converged customer is never re-sent;
    further billing instances with another cost than the first do not converge under the
    strict reading and are not compared (contract §8 N10). Cost/comment are sent with an
    add (compared with the view's first instance, or, with no instance yet, whenever the
    billing has a value) and deferred past a ``-1`` step (which always has ``again`` when
    instances remain wanted). Steps per service: at most ``max(m - k, k + 1) + 1`` writes.
    """
    wanted: dict[int, tuple[tuple[str, str], ...]] = {}
    for billing_sid, instances in billing_services.items():
        if billing_sid in service_map and instances:
            wanted[service_map[billing_sid]] = instances
    count: dict[str, int] = {}
    cost: dict[str, str] = {}
    comment: dict[str, str] = {}
    again = False
    for sid in sorted(set(wanted) | set(view_services)):
        target = wanted.get(sid, ())
        current = view_services.get(sid, ())
        if len(target) > len(current):
            count[str(sid)] = 1
            again = True
        elif len(target) < len(current):
            count[str(sid)] = -1
            again = again or bool(target) or len(current) > 1
            continue
        if not target:
            continue
        want_cost, want_comment = target[0]
        if current:
            have_cost, have_comment = current[0]
            new_cost = want_cost != "" and not loose_equal(have_cost, want_cost)
            new_comment = not loose_equal(
                "" if have_comment is None else have_comment, want_comment
            )
        else:
            new_cost, new_comment = want_cost != "", want_comment != ""
        if new_cost:
            cost[str(sid)] = want_cost
        if new_comment:
            comment[str(sid)] = want_comment
    fields: dict[str, Any] = {}
    if count:
        fields["service"] = count
    if cost:
        fields["service_cost"] = cost
    if comment:
        fields["service_comment"] = comment
    return fields, again


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
