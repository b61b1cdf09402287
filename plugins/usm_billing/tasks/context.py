"""What every step of one run shares: the billing's config, the run's params, the hooks."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from usm_billing.config import BillingConfig
from usm_billing.connections import ConnectionSource, airflow_connection
from usm_billing.password_keys import password_box_for
from usm_billing.universal_api.hook import UniversalApiHook
from usm_billing.userside.hook import UserSideHook

if TYPE_CHECKING:
    from usm_billing.passwords import PasswordBox

__all__ = ["RunContext", "RunParams", "local_run_id"]


def local_run_id() -> str:
    """The name of a run outside Airflow (the CLI): ``cli:<host>:<pid>:<random>``, so the
    run lock can tell a dead CLI process of this host from a live one."""
    return f"cli:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class RunParams:
    """The knobs of one run: the DAG's params, the CLI's flags.

    ``message_interval`` (unix ``[start, end)``) imports the billing messages of that
    interval, as a backfill run does; ``None`` imports every message not sent yet.
    ``run_id`` names the run for the run lock: ``dag:<dag_id>:<run_id>`` for every task
    and retry of one DAG run, :func:`local_run_id` for the CLI."""

    dry_run: bool = False
    customer_id: str | None = None
    full_resync: bool = False
    allow_mass_not_in_billing: bool = False
    message_interval: tuple[int, int] | None = None
    run_id: str = field(default_factory=local_run_id)


@dataclass
class RunContext:
    """The config and params of a run, with its hooks made on first use (a task that only
    diffs never builds the UserSide hook). ``run_id`` names the run's folder
    (:func:`usm_billing.tasks.handoff.run_folder`: the audit, the failed steps); empty, a
    run keeps no folder (unit tests)."""

    config: BillingConfig
    params: RunParams = field(default_factory=RunParams)
    run_id: str = ""
    # where the hooks read their connections: Airflow's resolution in a task, the
    # environment first on the command line (:func:`usm_billing.connections.local_connection`)
    connections: ConnectionSource = airflow_connection

    @property
    def label(self) -> str:
        """How errors name the billing: by its connection id, never by URL or key."""
        return f"billing `{self.config.billing_conn_id}`"

    @cached_property
    def billing(self) -> UniversalApiHook:
        """The billing's hook, made on first use: a task builds only the hooks it uses."""
        options = self.config.request_options
        return UniversalApiHook(
            self.config.billing_conn_id,
            dialect=self.config.billing_name,
            connections=self.connections,
            **options,
        )

    @cached_property
    def userside(self) -> UserSideHook:
        """UserSide's hook; made on first use (a task that only diffs never needs it)."""
        return UserSideHook(
            self.config.userside_conn_id,
            connections=self.connections,
            **self.config.request_options,
        )

    @cached_property
    def passwords(self) -> PasswordBox | None:
        """The box sealing passwords between steps, when this config imports them at all
        (:mod:`usm_billing.passwords`)."""
        config = self.config
        if config.import_password_to_us_password or config.save_password_to_comment:
            return password_box_for(config)
        return None
