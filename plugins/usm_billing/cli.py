"""Command line: ``usm-billing sync --config FILE [--dry-run] [--summary-json FILE]``,
``usm-billing check --config FILE`` (:mod:`usm_billing.check`) and ``usm-billing
import-php-config usm_billing.conf.php`` (:mod:`usm_billing.php_migration`); ``python -m
usm_billing`` is the same.

Runs the same steps as the DAG (:mod:`usm_billing.tasks.pipeline`), in one process: for
migrating from cron and for debugging. It prints the run report as a table; when the run
stopped, the first failure (the cause) is named, not only the last. Connections come from
``AIRFLOW_CONN_<ID>`` environment variables, read without starting Airflow when they hold
JSON (:func:`usm_billing.connections.local_connection`); any other connection is asked of
Airflow (a URI value, a secrets backend, the metadata database). The banner matches the
PHP module's log.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pendulum

from usm_billing.exceptions import ConfigError, UsmBillingError

if TYPE_CHECKING:
    from usm_billing.tasks.context import RunParams
    from usm_billing.tasks.results import RunReport

# The steps and the check are imported by the command that runs them, so `--help` and
# a bad command line answer at once; none of them imports Airflow unless a connection
# must be asked of it.

__all__ = ["import_php_config", "main", "run_report", "run_sync"]


def run_report(
    config_path: Path, params: RunParams | None = None
) -> tuple[RunReport, Exception | None]:
    """The whole run, in-process: the steps of
    :data:`usm_billing.tasks.pipeline.PIPELINE`, the DAG's order and trigger rules
    (``finish`` is sent even when a step fails). Returns the report and the first failure
    (the cause). The run's folder (audit, failed steps) is ``cli__<UTC time>``. The run
    lock (:func:`usm_billing.tasks.run.start`) is released however the run ends."""
    from usm_billing.config import load_config
    from usm_billing.connections import local_connection
    from usm_billing.tasks.context import RunContext, RunParams
    from usm_billing.tasks.pipeline import run_in_process
    from usm_billing.tasks.run import release_lock

    run_id = f"cli__{pendulum.now('UTC').format('YYYYMMDDTHHmmss.SSSSSS')}"
    ctx = RunContext(
        load_config(config_path),
        params or RunParams(),
        run_id=run_id,
        connections=local_connection,
    )
    try:
        return run_in_process(ctx)
    except BaseException:  # Ctrl-C, SystemExit: `finish` did not run to release the lock
        release_lock(ctx)  # (a SIGKILL leaves it to the lock's stale rules)
        raise


def run_sync(
    config_path: Path,
    *,
    dry_run: bool = False,
    customer_id: str | None = None,
    full_resync: bool = False,
    allow_mass_not_in_billing: bool = False,
    message_interval: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """:func:`run_report` as JSON; the first failure is raised after the run, as the cause.

    ``message_interval`` (unix ``[start, end)``) imports the billing messages of that
    interval, as a backfill run does; without it, every message not sent yet."""
    from usm_billing.tasks.context import RunParams

    params = RunParams(
        dry_run=dry_run,
        customer_id=customer_id,
        full_resync=full_resync,
        allow_mass_not_in_billing=allow_mass_not_in_billing,
        message_interval=message_interval,
    )
    report, error = run_report(config_path, params)
    if error is not None:
        raise error
    return report.as_dict()


def import_php_config(
    php_file: Path,
    *,
    name: str,
    output: Path | None = None,
    force: bool = False,
    billing_conn_id: str | None = None,
    userside_conn_id: str = "usm_userside",
) -> int:
    """Write the billing YAML for the PHP module's config file and print the two
    connections to create (their keys never printed); exit 0 done, 2 nothing written."""
    from usm_billing.config import default_config_dir
    from usm_billing.php_config import parse_php_config
    from usm_billing.php_migration import migrate

    target = output or default_config_dir() / f"{name}.yaml"
    try:
        raw = php_file.read_bytes()
    except OSError as err:
        print(f"import-php-config: {php_file}: cannot be read ({err.strerror})", file=sys.stderr)
        return 2
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("cp1251")  # the PHP module's files are often saved in cp1251
    try:
        migration = migrate(
            parse_php_config(text),
            source=str(php_file),
            billing_conn_id=billing_conn_id or f"usm_billing_{name}",
            userside_conn_id=userside_conn_id,
        )
    except ConfigError as err:
        print(f"import-php-config: {err}; nothing written", file=sys.stderr)
        return 2
    if target.exists() and not force:
        print(f"import-php-config: {target} exists (--force replaces it)", file=sys.stderr)
        return 2
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(migration.yaml(php_file.name), encoding="utf-8")
    print(f"wrote {target} (DAG usm_billing_{target.stem})")
    print("create these two Airflow connections (type http); the keys are not shown:")
    for connection, variable in (
        (migration.billing, "BILLING_API_KEY"),
        (migration.userside, "USERSIDE_API_KEY"),
    ):
        where = connection.key_from or "no key in the PHP file: ask its owner"
        print(f"  {connection.command(variable)}")
        print(f"      ${variable}: {where}")
    for note in migration.notes:
        print(f"note: {note}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="usm-billing", description=__doc__.splitlines()[0])
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
    php = commands.add_parser(
        "import-php-config",
        help="write a billing YAML from the PHP module's usm_billing.conf.php",
    )
    php.add_argument("php_file", type=Path, help="the PHP module's config file (never run)")
    php.add_argument("--name", default="main", help="billing name: file stem and DAG id")
    php.add_argument("--output", type=Path, help="YAML to write (default: the config folder)")
    php.add_argument("--force", action="store_true", help="replace an existing YAML")
    php.add_argument("--billing-conn-id", help="default: usm_billing_<name>")
    php.add_argument("--userside-conn-id", default="usm_userside")
    return parser


def main(argv: list[str] | None = None) -> int:
    """``python -m usm_billing``: exit 0 done, 2 with failed records, 1 when the run stopped
    (``check``: its own exit code)."""
    args = _parser().parse_args(argv)
    if args.command == "check":
        from usm_billing.check.command import check_command

        return check_command(args.config)
    if args.command == "import-php-config":
        return import_php_config(
            args.php_file,
            name=args.name,
            output=args.output,
            force=args.force,
            billing_conn_id=args.billing_conn_id,
            userside_conn_id=args.userside_conn_id,
        )
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stdout
    )
    print("usm_billing", flush=True)
    print(f"Start module at {pendulum.now().format('YYYY-MM-DD HH:mm:ss')}", flush=True)
    from usm_billing.tasks.context import RunParams

    params = RunParams(
        dry_run=args.dry_run,
        customer_id=args.customer_id,
        full_resync=args.full_resync,
        allow_mass_not_in_billing=args.allow_mass_not_in_billing,
    )
    try:
        report, error = run_report(args.config, params)
    except UsmBillingError as err:  # the config, before any step
        print(f"ERROR: {err}", file=sys.stderr, flush=True)
        print(f"Finish module at {pendulum.now().format('YYYY-MM-DD HH:mm:ss')}", flush=True)
        return 1
    print(report.table(), flush=True)
    if args.summary_json:
        text = json.dumps(report.as_dict(), ensure_ascii=False, indent=2)
        args.summary_json.write_text(text + "\n", encoding="utf-8")
    if error is not None:
        first = report.first_error
        cause = f"{first.record} failed first: {first.error}" if first else str(error)
        print(f"ERROR: {cause}", file=sys.stderr, flush=True)
    print(f"Finish module at {pendulum.now().format('YYYY-MM-DD HH:mm:ss')}", flush=True)
    if error is not None:
        return 1
    return 2 if report.failed else 0
