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

import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from usm_billing.config import BillingConfig

__all__ = ["STATE_DIR", "HouseCache", "state_root"]

log = logging.getLogger(__name__)

STATE_DIR = "usm_billing_state"
FORMAT = 1


def state_root(config: BillingConfig) -> str:
    """``state_path`` of the config, else ``file://$AIRFLOW_HOME/usm_billing_state``."""
    if config.state_path:
        return config.state_path.rstrip("/")
    home = os.environ.get("AIRFLOW_HOME") or str(Path("~/airflow").expanduser())
    return (Path(home).resolve() / STATE_DIR).as_uri()


class HouseCache:
    """``houses.json`` of one billing: ``{billing house id: [payload hash, US house id]}``."""

    def __init__(self, config: BillingConfig) -> None:
        from airflow.sdk import ObjectStoragePath

        self.billing_id = config.billing_id
        self.path = ObjectStoragePath(f"{state_root(config)}/{config.billing_id}/houses.json")

    def __repr__(self) -> str:
        return f"HouseCache({self.path})"

    def load(self) -> dict[str, list[Any]]:
        """The cached houses; ``{}`` when there is no usable file (logged)."""
        try:
            if not self.path.exists():
                return {}
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            log.warning("House cache %s unreadable (%s); asking UserSide again", self.path, err)
            return {}
        houses = data.get("houses") if isinstance(data, dict) else None
        if data.get("format") != FORMAT or not isinstance(houses, dict):
            log.warning("House cache %s has an unknown format; asking UserSide again", self.path)
            return {}
        return {
            str(k): [str(v[0]), int(v[1])]
            for k, v in houses.items()
            if isinstance(v, list) and len(v) == 2
        }

    def save(self, houses: dict[str, list[Any]]) -> None:
        """Write the whole cache (a temporary file renamed over the old one)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = json.dumps(
            {"format": FORMAT, "billing_id": self.billing_id, "houses": houses},
            ensure_ascii=False,
            separators=(",", ":"),
            sort_keys=True,
        )
        temporary = self.path.parent / f".{self.path.name}.tmp"
        temporary.write_text(body, encoding="utf-8")
        temporary.rename(self.path)
