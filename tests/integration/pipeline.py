"""The whole pipeline in one process, in the DAG's order, with the address and IP steps.

``cli.run_sync`` runs the same steps; this copy lets the address/IP tests run through the
same ``usm_billing.steps`` functions as the DAG (``tests/integration/test_dag_run.py``
covers the DAG itself) until ``run_sync`` calls ``diff_address_step``/``load_addresses``
and ``diff_ip_step``/``load_ips`` too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from usm_billing import steps
from usm_billing.config import load_config

if TYPE_CHECKING:
    from pathlib import Path


def run_pipeline(
    config_path: Path,
    *,
    dry_run: bool = False,
    customer_id: str | None = None,
    full_resync: bool = False,
) -> dict[str, Any]:
    config = load_config(config_path)
    billing, userside = steps.billing_hook(config), steps.userside_hook(config)
    summaries: list[dict[str, Any]] = []
    try:
        start_info = steps.start(config, userside, billing)
        billing_data = steps.extract_billing(config, billing)
        userside_data = steps.extract_userside(config, userside)
        tariff_changes = steps.diff_tariff_step(config, billing_data, userside_data)
        summaries.append(steps.load_tariffs(config, userside, tariff_changes, dry_run=dry_run))
        address_changes = steps.diff_address_step(
            config,
            start_info,
            billing_data,
            billing,
            userside,
            full_resync=full_resync,
            only=customer_id,
        )
        addresses = steps.load_addresses(config, userside, address_changes, dry_run=dry_run)
        summaries.append(addresses)
        customer_changes = steps.diff_customer_step(
            config, start_info, billing_data, userside_data, only=customer_id, addresses=addresses
        )
        summaries.append(steps.load_customers(config, userside, customer_changes, dry_run=dry_run))
        ip_changes = steps.diff_ip_step(
            config, start_info, billing_data, userside_data, only=customer_id
        )
        summaries.append(steps.load_ips(config, userside, ip_changes, dry_run=dry_run))
    finally:
        steps.finish(config, userside)
    summary = steps.report(summaries)
    summary["dry_run"] = dry_run
    return summary
