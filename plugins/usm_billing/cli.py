"""Command line: ``python -m usm_billing sync --config FILE [--dry-run] [--summary-json FILE]``
and ``python -m usm_billing check --config FILE`` (:mod:`usm_billing.check`).

Runs the same steps as the DAG (:mod:`usm_billing.tasks.pipeline`), in one process: for
migrating from cron and for debugging. Connections come from ``AIRFLOW_CONN_<ID>``
environment variables (or any secrets backend Airflow is configured with). The banner
matches the PHP module's log.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from usm_billing.exceptions import UsmBillingError

__all__ = ["main", "run_sync"]

# The steps, the hooks and the check import Airflow (its connections and secrets
# backends, 1-2 s): they are imported by the command that runs them, so `--help` and a
# bad command line answer at once.


def run_sync(
    config_path: Path,
    *,
    dry_run: bool = False,
    customer_id: str | None = None,
    full_resync: bool = False,
    allow_mass_not_in_billing: bool = False,
    message_interval: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """The whole run, in-process: the steps of
    :data:`usm_billing.tasks.pipeline.PIPELINE`, the DAG's order and trigger rules
    (``finish`` is sent even when a step fails). The first failure is raised after the
    report, as the cause.

    ``message_interval`` (unix ``[start, end)``) imports the billing messages of that
    interval, as a backfill run does; without it, every message not sent yet."""
    from usm_billing.config import load_config
    from usm_billing.tasks.context import RunContext, RunParams
    from usm_billing.tasks.pipeline import run_in_process

    ctx = RunContext(
        load_config(config_path),
        RunParams(
            dry_run=dry_run,
            customer_id=customer_id,
            full_resync=full_resync,
            allow_mass_not_in_billing=allow_mass_not_in_billing,
            message_interval=message_interval,
        ),
    )
    report, error = run_in_process(ctx)
    if error is not None:
        raise error
    return report.as_dict()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m usm_billing", description=__doc__.splitlines()[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    sync = commands.add_parser("sync", help="import one billing into UserSide")
    sync.add_argument("--config", type=Path, required=True, help="billing YAML file")
    sync.add_argument(
        "--dry-run", action="store_true", help="compute and show changes, write nothing"
    )
    sync.add_argument("--customer-id", help="only this billing customer id")
    sync.add_argument(
        "--full-resync", action="store_true", help="ignore the house cache: ask UserSide again"
    )
    sync.add_argument(
        "--allow-mass-not-in-billing",
        action="store_true",
        help="lift the not-in-billing guard for this run",
    )
    sync.add_argument("--summary-json", type=Path, help="write the run summary as JSON here")
    check = commands.add_parser(
        "check", help="probe the billing, validate its lists, print a compatibility report"
    )
    check.add_argument("--config", type=Path, required=True, help="billing YAML file")
    return parser


def main(argv: list[str] | None = None) -> int:
    """``python -m usm_billing``: exit 0 done, 2 with failed records, 1 when the run stopped
    (``check``: its own exit code)."""
    args = _parser().parse_args(argv)
    if args.command == "check":
        from usm_billing.check.command import check_command

        return check_command(args.config)
    import pendulum

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stdout
    )
    print("usm_billing", flush=True)
    print(f"Start module at {pendulum.now().format('YYYY-MM-DD HH:mm:ss')}", flush=True)
    try:
        summary = run_sync(
            args.config,
            dry_run=args.dry_run,
            customer_id=args.customer_id,
            full_resync=args.full_resync,
            allow_mass_not_in_billing=args.allow_mass_not_in_billing,
        )
    except UsmBillingError as err:
        print(f"ERROR: {err}", file=sys.stderr, flush=True)
        print(f"Finish module at {pendulum.now().format('YYYY-MM-DD HH:mm:ss')}", flush=True)
        return 1
    text = json.dumps(summary, ensure_ascii=False, indent=2)
    print(text)
    if args.summary_json:
        args.summary_json.write_text(text + "\n", encoding="utf-8")
    print(f"Finish module at {pendulum.now().format('YYYY-MM-DD HH:mm:ss')}", flush=True)
    return 2 if summary["failed"] else 0
