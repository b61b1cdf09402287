"""The house cache: billing house id → (payload hash, UserSide house id), kept between runs.

UserSide keeps no billing house ids (userside-api.md §4): the PHP module asks
``compare_house`` for every house every run (contract §8 N2), which is never a zero-write
run. The address load writes what UserSide answered to ``<state_path>/<billing_id>/
houses.json``; the next diff sends only houses whose payload hash is new or changed.

It is a cache, never a source of truth: a missing or unreadable file, or one written for
another UserSide (``userside`` in the document), means "ask UserSide again"
(``compare_house`` is idempotent), and the ``full_resync`` param ignores it. Each run
checks it against UserSide's own answers (:func:`drop_vanished`): a cached house id that
no customer of the view points at is looked up in UserSide's house list, and one UserSide
no longer has (restored from a backup, reinstalled with the state kept, houses merged by
an admin) is dropped, so its billing houses are asked again in the same run. The file
lives in the state store (:func:`usm_billing.state_store.store_path`: local files, or
``s3://``/``gs://`` through Airflow's ``ObjectStoragePath``), read and written by the
address tasks only, never at DAG parse time; the run lock
(:class:`~usm_billing.state_store.RunLock`) means one writer per billing and UserSide.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from usm_billing import codec
from usm_billing.state_store import STATE_DIR, StateFile, state_root

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from usm_billing.config import BillingConfig

__all__ = ["STATE_DIR", "HouseCache", "drop_vanished", "state_root"]

log = logging.getLogger(__name__)


class HouseCache:
    """``houses.json`` of one billing: ``{billing house id: (payload hash, US house id)}``
    (a :class:`~usm_billing.state_store.StateFile`)."""

    def __init__(self, config: BillingConfig, *, userside: str | None = None) -> None:
        self.file = StateFile(config, "houses.json", "houses", userside=userside)
        self.billing_id = config.billing_id
        self.path = self.file.path

    def __repr__(self) -> str:
        return f"HouseCache({self.path})"

    def load(self) -> dict[str, tuple[str, int]]:
        """The cached houses; ``{}`` when there is no usable file (logged)."""
        try:
            houses = self.file.read(dict[str, Any])
        except ValueError as err:
            log.warning("House cache: %s; asking UserSide again", err)
            return {}
        cache: dict[str, tuple[str, int]] = {}
        for key, entry in (houses or {}).items():
            try:  # a malformed entry is only a house asked again
                cache[key] = codec.from_builtins(entry, tuple[str, int])
            except ValueError:
                continue
        return cache

    def save(self, houses: dict[str, tuple[str, int]]) -> None:
        """Write the whole cache (a temporary file renamed over the old one)."""
        self.file.write(houses)


def drop_vanished(
    cache: dict[str, tuple[str, int]],
    seen: Iterable[int],
    house_ids: Callable[[], Iterable[int]],
) -> dict[str, tuple[str, int]]:
    """``cache`` without the entries whose UserSide house UserSide no longer has.

    ``seen`` are the house ids the customer view points at (they exist, at no cost);
    ``house_ids`` reads every UserSide house id and is called only when the cache names
    ids beyond ``seen``. Entries without a house (< 1: UserSide could not match) name
    nothing to check and stay."""
    cached = {us_id for _digest, us_id in cache.values() if us_id > 0}
    unseen = cached - set(seen)
    if not unseen:
        return cache
    gone = unseen - set(house_ids())
    if not gone:
        return cache
    kept = {k: v for k, v in cache.items() if v[1] not in gone}
    log.warning(
        "House cache: UserSide has no house %s any more (restored, reinstalled or merged "
        "houses?); %d billing house(s) asked again",
        ", ".join(f"#{h}" for h in sorted(gone)[:20]),
        len(cache) - len(kept),
    )
    return kept
