"""Addresses: the billing's houses matched to UserSide's, by ``compare_house`` (with the
house cache) or by the old per-object calls (universal-api.md §4.3, contract §6)."""

from __future__ import annotations

import hashlib
import logging
from functools import partial
from typing import TYPE_CHECKING

from usm_billing.exceptions import ApiError
from usm_billing.house_cache import HouseCache, drop_vanished
from usm_billing.sync.addresses import AddressRules, diff_addresses
from usm_billing.sync.changes import AddressChanges
from usm_billing.tasks.audit import audit
from usm_billing.tasks.results import AddressResult
from usm_billing.tasks.writes import Writes, chunks
from usm_billing.universal_api.addresses import BillingAddresses
from usm_billing.userside.addresses import UsAddresses
from usm_billing.userside.models import positive_int

if TYPE_CHECKING:
    from usm_billing.config import BillingConfig
    from usm_billing.tasks.context import RunContext
    from usm_billing.tasks.results import StartInfo
    from usm_billing.universal_api.customers import BillingSnapshot
    from usm_billing.userside.customers import UsView

__all__ = ["billing_crc_id", "diff", "load"]

log = logging.getLogger(__name__)


def billing_crc_id(config: BillingConfig) -> str:
    """``compare_house``'s ``billing_crc_id``: md5 of the billing's configuration."""
    blob = config.model_dump_json().encode("utf-8")
    return hashlib.md5(blob, usedforsecurity=False).hexdigest()


def _cache(ctx: RunContext, userside: UsView) -> dict[str, tuple[str, int]]:
    """The house cache of this UserSide, without the houses UserSide no longer has
    (:func:`~usm_billing.house_cache.drop_vanished`: the view's house ids first, the
    house list only when the cache names others)."""
    cache = HouseCache(ctx.config, userside=ctx.userside.identity).load()
    seen = {positive_int(c.house_id) for c in userside.customers.values()}
    return drop_vanished(
        cache,
        {h for h in seen if h is not None},
        lambda: {h.us_id for h in ctx.userside.get_house_list().values()},
    )


def diff(
    ctx: RunContext, start: StartInfo, billing: BillingSnapshot, userside: UsView
) -> AddressChanges:
    """Read the billing's cities, streets and houses (and, old algorithm, UserSide's
    lists; new algorithm, the house cache, checked against ``userside``'s view) and plan
    the address writes. Nothing is read when UserSide's ``is_update_address`` is 0; a
    one-customer run plans that customer's house alone."""
    rules = AddressRules.build(ctx.config, start.settings)
    if not rules.enabled:
        log.info("Addresses: UserSide's is_update_address=0, not imported")
        return AddressChanges()
    api, only = ctx.billing, ctx.params.customer_id
    addresses = BillingAddresses(api.get_city_list(), api.get_street_list(), api.get_house_list())
    used: set[str] = set()
    restrict: set[str] | None = None
    if rules.skip_unused or only is not None:
        used = {c.house_id for c in billing.customers.values() if c.house_id}
        if only is not None:
            customer = billing.customers.get(only)
            restrict = {customer.house_id} if customer is not None and customer.house_id else set()
    cache: dict[str, tuple[str, int]] = {}
    view = None
    if rules.new_algorithm:
        cache = {} if ctx.params.full_resync else _cache(ctx, userside)
    else:
        us = ctx.userside
        view = UsAddresses(us.get_city_list(), us.get_street_list(), us.get_house_list())
    changes = diff_addresses(
        addresses,
        rules,
        used_house_ids=used,
        cache=cache,
        userside=view,
        full_resync=ctx.params.full_resync,
        restrict_to=restrict,
    )
    log.info(
        "Billing: %d cities, %d streets, %d houses; address changes: %s",
        len(addresses.cities),
        len(addresses.streets),
        len(addresses.houses),
        changes.summary(),
    )
    if changes.skipped:
        log.warning("Houses without a usable street, not imported: %s", changes.skipped[:50])
    audit(
        ctx,
        "address",
        [f"add city {name!r}" for name in changes.city_adds]
        + [f"add street {s.name!r} in city {s.city_id or s.city_name}" for s in changes.street_adds]
        + [
            f"add house {h.number!r} {h.block!r} in {h.street_name!r} "
            f"(billing {', '.join(h.billing_house_ids)})"
            for h in changes.house_adds
        ]
        + [f"edit house #{e.us_id}: {e.fields} (was {e.previous})" for e in changes.house_edits],
    )
    return changes


def _compare_houses(
    ctx: RunContext, changes: AddressChanges, writes: Writes, created: dict[str, int]
) -> dict[str, int]:
    """``compare_house`` in batches, then the cache; returns every answer (< 1 = none).
    ``compare_house`` is an idempotent match-or-create (contract §6.1): a batch without an
    answer stays out of the cache and is asked again next run."""
    answers = dict(changes.known)
    crc = billing_crc_id(ctx.config)
    for batch in chunks(changes.compare, ctx.config.compare_house_batch_size):
        data = {c.billing_house_id: c.payload for c in batch}
        reply = writes.attempt(
            f"compare_house of {len(batch)} houses",
            partial(
                ctx.userside.compare_house,
                data,
                is_disable_create=changes.disable_create,
                billing_crc_id=crc,
            ),
        )
        if reply is None:
            continue
        mapping, names = reply
        for item in batch:
            answers[item.billing_house_id] = mapping.get(item.billing_house_id, 0)
        for kind, values in names.items():
            created[kind] = created.get(kind, 0) + (len(values) if isinstance(values, list) else 1)
    cache = {k: (changes.digests[k], v) for k, v in answers.items() if k in changes.digests}
    try:
        store = HouseCache(ctx.config, userside=ctx.userside.identity)
        if changes.partial:  # one customer's run: keep every other house
            cache = {**store.load(), **cache}
        store.save(dict(sorted(cache.items())))
    except Exception as err:  # the map is still right; only the next run re-asks
        writes.fail("house cache", err)
    return answers


def _create_addresses(ctx: RunContext, changes: AddressChanges, writes: Writes) -> dict[str, int]:
    """Old algorithm: city → street → house, then ``edit_house``; returns new mappings."""
    us = ctx.userside
    cities: dict[str, int] = {}
    for name in changes.city_adds:
        city = writes.attempt(f"city {name!r}", partial(us.add_city, name))
        if city is not None:
            cities[name] = city
    streets: dict[tuple[int, str], int] = {}
    for street in changes.street_adds:
        city_id = street.city_id or cities.get(street.city_name)
        if not city_id:
            continue  # its city failed (reported)
        made = writes.attempt(
            f"street {street.name!r}", partial(us.add_street, city_id, street.name)
        )
        if made is not None:
            streets[(city_id, street.name)] = made
    mapping: dict[str, int] = {}
    for house in changes.house_adds:
        city_id = house.city_id or cities.get(house.city_name)
        street_id = house.street_id or streets.get((city_id or 0, house.street_name))
        if not city_id or not street_id:
            continue  # its city or street failed (reported)
        try:
            us_id = us.add_house(
                city_id,
                street_id,
                house.number,
                house.block,
                floor=house.floor,
                entrance=house.entrance,
            )
            if house.postcode:
                us.edit_house(us_id, {"postcode": house.postcode})
        except ApiError as err:
            writes.fail(f"house {', '.join(house.billing_house_ids)}", err)
            continue
        for billing_house_id in house.billing_house_ids:
            mapping[billing_house_id] = us_id
    for edit in changes.house_edits:
        writes.attempt(f"house {edit.billing_id}", partial(us.edit_house, edit.us_id, edit.fields))
    return mapping


def load(ctx: RunContext, changes: AddressChanges) -> AddressResult:
    """Write the address changes; ``house_map`` (billing house id → UserSide house id) is
    what the customer diff needs. A dry run maps only the houses known without a write
    (cache hits, old-algorithm matches)."""
    writes = Writes("addresses", ctx.userside, dry_run=ctx.params.dry_run)
    answers = dict(changes.known)
    created: dict[str, int] = {}
    if changes.mode != "off" and not ctx.params.dry_run:
        if changes.mode == "compare_house":
            if changes.compare:  # the cache is rewritten (and pruned) only then
                answers = _compare_houses(ctx, changes, writes, created)
        else:
            answers.update(_create_addresses(ctx, changes, writes))
    detail: dict[str, object] = {}
    if changes.mode == "compare_house" and changes.compare and not ctx.params.dry_run:
        detail = {"created": created, "unmatched": sum(1 for v in answers.values() if v < 1)}
    return AddressResult(
        load=writes.result(changes.summary(), **detail),
        house_map={k: v for k, v in sorted(answers.items()) if v > 0},
    )
