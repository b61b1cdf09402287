"""Groups, tags and services: matched by name, created when missing, service costs set
(universal-api.md §3.6-3.7, §3.12; contract §4.2-4.3, §7)."""

from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING, Any

from usm_billing.exceptions import ApiError
from usm_billing.sync.catalogues import (
    diff_catalogue,
    diff_services,
    group_key,
    group_name,
    tag_key,
)
from usm_billing.sync.changes import CatalogueChangeSet
from usm_billing.tasks.audit import audit
from usm_billing.tasks.results import CatalogueResult
from usm_billing.tasks.writes import Writes

if TYPE_CHECKING:
    from collections.abc import Callable

    from usm_billing.tasks.context import RunContext

__all__ = ["diff", "load"]

log = logging.getLogger(__name__)


def _optional(read: Callable[[], Any], what: str, unavailable: list[str]) -> Any:
    """A catalogue the billing may not serve (MikBill has no tags, AXbills' services
    crash): a failed read skips that catalogue for this run, with a warning."""
    try:
        return read()
    except ApiError as err:
        log.warning("%s; %s are not imported in this run", err, what)
        unavailable.append(what)
        return None


def _match(
    ctx: RunContext,
    groups: dict[str, str],
    tags: dict[str, str],
    services: dict[str, list[Any]],
) -> dict[str, Any]:
    """Match each non-empty billing catalogue with UserSide's by name (contract §4.2-4.3:
    UserSide's lists are read only then)."""
    userside = ctx.userside
    plan: dict[str, Any] = {}
    if groups:
        matched = diff_catalogue(
            groups, userside.get_user_group_list(), key=group_key, name=group_name
        )
        plan.update(group_creates=matched.create, group_map=matched.matched)
    if tags:
        matched = diff_catalogue(tags, userside.get_user_tags(), key=tag_key)
        plan.update(tag_creates=matched.create, tag_map=matched.matched)
    if services:
        adds, edits, service_map = diff_services(
            {k: (v[0], v[1]) for k, v in services.items()},
            userside.get_services_list(ctx.config.billing_id),
        )
        plan.update(
            service_adds=adds,
            service_edits=tuple((e.us_id, e.cost) for e in edits),
            service_map=service_map,
        )
    return plan


def diff(ctx: RunContext) -> CatalogueChangeSet:
    """Read the billing's groups (both dialects), tags and services (``standart`` only,
    §4.5 ``$billingName``) and UserSide's catalogues; plan what to create and which
    service costs to edit."""
    billing = ctx.billing
    unavailable: list[str] = []
    groups = _optional(billing.get_user_group_list, "groups", unavailable) or {}
    tags: dict[str, Any] = {}
    services: dict[str, Any] = {}
    if ctx.config.billing_name == "standart":
        tags = _optional(billing.get_user_tags, "tags", unavailable) or {}
        services = _optional(billing.get_services_list, "services", unavailable) or {}
    billing_groups = {k: g.name for k, g in groups.items()}
    billing_tags = {k: t.name for k, t in tags.items()}
    billing_services = {k: [s.name, s.cost] for k, s in services.items()}
    changes = CatalogueChangeSet(
        enabled={
            "groups": bool(billing_groups),
            "tags": bool(billing_tags),
            "services": bool(billing_services),
        },
        billing_groups=billing_groups,
        billing_tags=billing_tags,
        billing_services=billing_services,
        unavailable=tuple(unavailable),
        **_match(ctx, billing_groups, billing_tags, billing_services),
    )
    log.info("Catalogue changes: %s", changes.summary())
    audit(
        ctx,
        "catalogue",
        [f"add group {n!r}" for n in changes.group_creates]
        + [f"add tag {n!r}" for n in changes.tag_creates]
        + [f"add service {n!r}" for n in changes.service_adds]
        + [f"service #{us_id}: cost {cost}" for us_id, cost in changes.service_edits],
    )
    return changes


def load(ctx: RunContext, changes: CatalogueChangeSet) -> CatalogueResult:
    """Create the missing groups, tags and services, re-read what was created, set
    service costs. A dry run maps only what UserSide already has."""
    writes = Writes("catalogues", ctx.userside, dry_run=ctx.params.dry_run)
    maps = {
        "group_map": dict(changes.group_map),
        "tag_map": dict(changes.tag_map),
        "service_map": dict(changes.service_map),
    }
    if not ctx.params.dry_run and not changes.is_empty:
        userside, billing_id = ctx.userside, ctx.config.billing_id
        creates: tuple[tuple[str, tuple[str, ...], Callable[[str], int]], ...] = (
            ("group", changes.group_creates, userside.add_group),
            ("tag", changes.tag_creates, userside.add_tag),
            ("service", changes.service_adds, lambda n: userside.service_add(billing_id, n)),
        )
        for kind, names, create in creates:
            for name in names:
                writes.attempt(f"{kind} {name!r}", partial(create, name))
        edits = changes.service_edits
        if changes.group_creates or changes.tag_creates or changes.service_adds:
            again = _match(
                ctx,
                changes.billing_groups if changes.group_creates else {},
                changes.billing_tags if changes.tag_creates else {},
                changes.billing_services if changes.service_adds else {},
            )
            maps.update({k: v for k, v in again.items() if k.endswith("_map")})
            edits = again.get("service_edits", edits)
        for us_id, cost in edits:
            writes.attempt(f"service #{us_id} cost", partial(userside.service_edit, us_id, cost))
    return CatalogueResult(
        load=writes.result(changes.summary()), enabled=dict(changes.enabled), **maps
    )
