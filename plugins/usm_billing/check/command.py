"""The I/O of the compatibility check and its CLI: one request per probe and needed method
through the hooks, then UserSide's clock; ``python -m usm_billing check`` prints the
report or one line on stderr.

Nothing is written anywhere. Keys never appear: error texts are redacted where they are
built (also when a billing echoes the key), the report text once more as a whole, and the
base URL is printed without credentials or ``key=``.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, TextIO
from urllib.parse import urlsplit, urlunsplit

from usm_billing.check.judge import build_report
from usm_billing.check.render import render
from usm_billing.check.report import Probe, needed_methods
from usm_billing.config import load_config
from usm_billing.connections import ConnectionSource, airflow_connection, local_connection
from usm_billing.exceptions import ApiError, ConfigError, FatalApiError, UsmBillingError, redact
from usm_billing.universal_api.hook import UniversalApiHook
from usm_billing.userside.hook import UserSideHook

if TYPE_CHECKING:
    from pathlib import Path

    from usm_billing.check.report import CheckReport
    from usm_billing.config import BillingConfig

__all__ = ["base_url", "check_command", "collect", "run_check"]

PROBES = ("get_system_information", "get_api_information", "get_supported_method_list")


def _probe(billing: UniversalApiHook, method: str) -> Probe:
    try:
        return Probe(method, value=billing.fetch(method))
    except ApiError as err:
        return Probe(method, error=str(err))


def collect(
    config: BillingConfig, billing: UniversalApiHook, userside: UserSideHook
) -> tuple[dict[str, Probe], Probe]:
    """One request per probe and needed method, then UserSide's clock.

    ``get_system_information`` goes first and is not caught: if the billing cannot be
    reached, refuses the key or does not speak the dialect, nothing else is worth asking.
    """
    first = "get_system_information"
    try:
        probes = {first: Probe(first, value=billing.fetch(first))}
    except FatalApiError as err:
        if "unknown request" not in str(err):
            raise
        msg = (
            f"{err}: this billing does not answer `{first}` in the `{config.billing_name}` "
            "dialect at this URL; check `billing_name` and the connection's base URL"
        )
        raise FatalApiError(msg) from None
    for method in (*PROBES[1:], *(n.method for n in needed_methods(config))):
        if method not in probes:
            probes[method] = _probe(billing, method)
    try:
        erp = Probe("get_system_information", value=userside.get_system_information())
    except (ApiError, ConfigError) as err:
        erp = Probe("get_system_information", error=str(err))
    return probes, erp


def base_url(billing: UniversalApiHook) -> str:
    """The billing's base URL without credentials and with any ``key=`` value masked."""
    parts = urlsplit(billing.base_url_of_connection())
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return redact(urlunsplit((parts.scheme, netloc, parts.path, parts.query, "")))


def run_check(
    config: BillingConfig, *, connections: ConnectionSource = airflow_connection
) -> CheckReport:
    """Probe, validate and judge one billing (raises when the billing cannot be asked)."""
    options = {**config.request_options, "attempts": 1, "connections": connections}
    billing = UniversalApiHook(config.billing_conn_id, dialect=config.billing_name, **options)
    userside = UserSideHook(config.userside_conn_id, **options)
    probes, erp = collect(config, billing, userside)
    return build_report(config, probes, erp, url=base_url(billing))


def check_command(
    config_path: Path, *, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """The CLI: print the report (exit 0 or 1), or one line on stderr (exit 2)."""
    out, err = out or sys.stdout, err or sys.stderr
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.WARNING)  # the report is the output, not the hooks' log lines
    try:
        report = run_check(load_config(config_path), connections=local_connection)
    except UsmBillingError as problem:
        print(f"check: {_one_line(problem)}", file=err, flush=True)
        return 2
    finally:
        root.setLevel(level)
    print(render(report), file=out, flush=True)
    return report.exit_code


def _one_line(problem: Exception) -> str:
    return redact(" ".join(str(problem).split()))
