"""The house cache: billing house id → (payload hash, UserSide house id), kept between runs.

UserSide keeps no billing house ids (userside-api.md §4): the PHP module asks
``compare_house`` for every house every run (contract §8 N2), which is never a zero-write
run. The address load writes what UserSide answered to ``<state_path>/<billing_id>/
houses.json``; the next diff sends only houses whose payload hash is new or changed.

It is a cache, never a source of truth: a missing or unreadable file means "ask UserSide
again" (``compare_house`` is idempotent), and the ``full_resync`` param ignores it. The
file lives in object storage through Airflow's ``ObjectStoragePath`` (``file://`` locally,
``s3://``/``gs://`` in production), read and written by the address tasks only, never at
DAG parse time. ``max_active_runs=1`` means one writer per billing.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from usm_billing import codec
from usm_billing.state_store import STATE_DIR, StateFile, state_root

if TYPE_CHECKING:
    from usm_billing.config import BillingConfig

__all__ = ["STATE_DIR", "HouseCache", "state_root"]

log = logging.getLogger(__name__)


class HouseCache:
    """``houses.json`` of one billing: ``{billing house id: (payload hash, US house id)}``
    (a :class:`~usm_billing.state_store.StateFile`)."""

    def __init__(self, config: BillingConfig) -> None:
        self.file = StateFile(config, "houses.json", "houses")
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
