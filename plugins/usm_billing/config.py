"""One billing's configuration: a YAML file per billing, validated by :class:`BillingConfig`.

Every flag of the PHP module (``usm_billing.php`` variables ``$confIs…``) has a snake_case
field here; the field description names its PHP variable so an engineer migrating a
PHP config can map it line by line. Unknown keys are errors: a typo must not silently
turn a flag off.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from croniter import croniter  # type: ignore[import-untyped]
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from usm_billing.exceptions import ConfigError
from usm_billing.iprange import parse_net, split_ranges

__all__ = [
    "CONFIG_DIR_ENV",
    "AlertsConfig",
    "BillingConfig",
    "default_config_dir",
    "load_config",
    "load_configs",
]

CONFIG_DIR_ENV = "USM_BILLING_CONFIG_DIR"

# strict: YAML's `true` or `"3"` is no number (pydantic would take them as 1 and 3)
PositiveInt = Annotated[int, Field(gt=0, strict=True)]

# Airflow's cron presets (``airflow.utils.dates.cron_presets``): the only `@` forms a
# cron timetable takes
CRON_PRESETS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@quarterly": "0 0 1 */3 *",
    "@yearly": "0 0 1 1 *",
}

# what a config file's stem may be: it becomes part of a DAG id (Airflow's rule, ASCII)
DAG_NAME = re.compile(r"[A-Za-z0-9_.-]+")

# Object-storage schemes ``state_path`` may name (the fsspec protocols of Airflow's
# ObjectStoragePath with a provider); a local folder is also accepted.
STATE_SCHEMES = frozenset({"file", "s3", "gs", "gcs", "az", "abfs", "abfss", "adl", "wasb", "hdfs"})


def php_flag(description: str, php_variable: str) -> Any:
    """A switch of the PHP module, off by default; its description names the PHP variable
    (``$confIs…``) it stands for."""
    return Field(default=False, description=f"{description} (${php_variable}).")


class AlertsConfig(BaseModel):
    """Who hears of a failed run (the DAG's ``on_failure_callback``) and of a billing whose
    last successful run is older than ``stale_after_minutes``. Empty: no alert."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    email: list[str] = Field(default_factory=list, description="SMTP recipients.")
    smtp_conn_id: str = Field(default="smtp_default", description="Airflow SMTP connection.")
    webhook_conn_id: str = Field(
        default="", description="Airflow `http` connection of a webhook: host = its URL."
    )
    webhook_endpoint: str = Field(default="", description="Path appended to the webhook host.")
    stale_after_minutes: PositiveInt | None = Field(
        default=None,
        description="Alert when a run fails and no run of this billing succeeded for this long.",
    )


class BillingConfig(BaseModel):
    """Settings of one billing → UserSide import (one DAG)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # --- identity and connections ------------------------------------------------------
    billing_id: PositiveInt = Field(description="UserSide billing number ($billingId).")
    billing_name: Literal["standart", "carbon5"] = Field(
        default="standart",
        description="Universal API dialect ($billingName): `standart` or `carbon5`.",
    )
    billing_conn_id: str = Field(
        min_length=1,
        description="Airflow connection of the billing: host = full API base URL, password = key.",
    )
    userside_conn_id: str = Field(
        min_length=1,
        description="Airflow connection of UserSide: host = UserSide base URL, password = key.",
    )
    schedule: str = Field(default="*/10 * * * *", description="Cron schedule of the DAG.")
    billing_timezone: str = Field(
        default="UTC",
        description="Time zone of the billing's local date strings (unix activity dates).",
    )

    # --- batch sizes ($apiGroup… variables) ----------------------------------------------
    group_add_batch_size: PositiveInt = Field(
        default=100, description="Customers per `group_add` request (fixed 100 in PHP)."
    )
    group_edit_batch_size: PositiveInt = Field(
        default=200, description="Customers per `group_edit` request ($apiGroupCounter2)."
    )
    group_edit_typical_batch_size: PositiveInt = Field(
        default=4000,
        description="Customers per single-field `group_edit` (balance, traffic, activity; "
        "$apiGroupCounter).",
    )
    compare_house_batch_size: PositiveInt = Field(
        default=10000, description="Houses per `compare_house` request ($apiGroupHouseCounter)."
    )

    # --- merge maps ---------------------------------------------------------------------
    additional_customer_data_merge: dict[str, int] = Field(
        default_factory=dict,
        description="Billing field id → UserSide customer additional field id, UserSide 3.14+ "
        "($additionalCustomerDataMerge).",
    )
    additional_data_merge: dict[str, int] = Field(
        default_factory=dict,
        description="Billing field id → UserSide additional data id, UserSide 3.13 and older "
        "($additionalDataMerge).",
    )
    mark_merge: dict[str, list[int]] = Field(
        default_factory=dict,
        description="Billing mark id → UserSide mark ids ($markMerge).",
    )

    # --- flags (universal-api.md §4.5) ----------------------------------------------------
    skip_update_agreement_date: bool = php_flag(
        "Write the agreement date only when UserSide has none", "confIsSkipUpdateAgreementDate"
    )
    disable_create_address: bool = php_flag(
        "Never create cities, streets or houses", "confIsDisableCreateAddress"
    )
    skip_delete_empty_ip: bool = php_flag(
        "Keep MAC-only bindings and the IPs of customers without `ip_mac`",
        "confIsSkipDeleteEmptyIp",
    )
    skip_delete_ip: list[str] = Field(
        default_factory=list,
        description="IP ranges never deleted in UserSide, as CIDR or `a.b.c.d-e.f.g.h` "
        "($confSkipDeleteIp).",
    )
    force_delete_empty_ip: bool = php_flag(
        "Delete MAC-only bindings even with skip_delete_empty_ip", "confIsForceDeleteEmptyIp"
    )
    import_less_phone: bool = php_flag(
        "Clear UserSide phone slots the billing does not fill", "confIsImportLessPhone"
    )
    do_not_update_add_phone: bool = php_flag("Freeze phone slots 2–4", "confIsDoNotUpdateAddPhone")
    import_less_address: bool = php_flag(
        "A customer without a billing house loses its UserSide house and flat",
        "confIsImportLessAddress",
    )
    update_empty_level: bool = php_flag(
        "An empty billing floor clears the UserSide floor", "confIsUpdateEmptyLevel"
    )
    update_empty_entrance: bool = php_flag(
        "Write the billing entrance even when 0", "confIsUpdateEmptyEntrance"
    )
    skip_unused_address: bool = php_flag(
        "Import only addresses that some customer uses", "confIsSkipUnusedAddress"
    )
    use_street_full_name: bool = php_flag(
        "Use the street `full_name` in the old address algorithm", "confIsUseStreetFullName"
    )
    import_password_to_us_password: bool = php_flag(
        "Import `password` into the UserSide customer password", "confIsImportPasswordToUsPassword"
    )
    save_password_to_comment: bool = php_flag(
        "Append the password to the comment", "confIsSavePasswordToComment"
    )
    skip_update_date_activity: bool = php_flag(
        "Never write the activity date", "confIsSkipUpdateDateActivity"
    )
    dont_update_date_connect: bool = php_flag(
        "Write the connection date only when UserSide has none", "confIsDontUpdateDateConnect"
    )
    skip_sync_customer_is_corporate: bool = php_flag(
        "Never write `flag_corporate`", "confIsSkipSyncCustomerIsCorporate"
    )
    skip_parent_link: bool = php_flag(
        "Do not link child accounts to their parent", "confIsSkipParentLink"
    )
    dont_change_child_id: bool = php_flag(
        "Keep the raw child account id instead of `<parent>_<child>`", "isDontChangeChildId"
    )
    import_switch_commutation: bool = php_flag(
        "Import the customer's switch port", "confIsImportSwitchCommutation"
    )
    import_message: bool = php_flag(
        "Import billing messages into UserSide, each once; a backfill run imports those of "
        "its data interval",
        "confIsImportMessage",
    )
    always_set_customer_group_id: str = Field(
        default="",
        description="Billing group id added to every customer ($confAlwaysSetCustomerGroupId).",
    )
    ip_gray_net: str = Field(
        default="", description="Private network mirrored to ip_white_net ($confIpGrayNet)."
    )
    ip_white_net: str = Field(
        default="", description="Public network the gray IPs are mirrored to ($confIpWhiteNet)."
    )
    state_path: str = Field(
        default="",
        description="Where the importer keeps state between runs: an object-storage URL "
        "(`s3://bucket/prefix`, `file:///path`) or a local folder: the house cache of the "
        "address import (`<state_path>/<billing_id>/houses.json`), the billing messages "
        "already sent (`messages.json`) and the run lock (`run-<digest>.lock`). Empty: "
        "`$AIRFLOW_HOME/usm_billing_state` (no PHP counterpart).",
    )
    without_log: bool = Field(
        default=False,
        description="No field-level audit in the task log ($isWithoutLog; the lock file it also "
        "disabled is replaced by max_active_runs=1).",
    )

    # --- reliability (no PHP counterpart) --------------------------------------------------
    request_timeout_seconds: float = Field(
        default=1200.0,
        gt=0,
        strict=True,
        description="Total time of one request, connect to last body byte, after which it "
        "counts as timed out (the PHP module's curl waits 1200 s in total).",
    )
    max_reply_mib: PositiveInt = Field(
        default=1024,  # the hooks' own default (transport.DEFAULT_MAX_BODY_BYTES)
        description="Largest reply body accepted from the billing or UserSide, in MiB, "
        "counted after decompression; a larger reply fails the request (a 100,000-customer "
        "billing list is ~91 MB, UserSide's view ~121 MB).",
    )
    request_attempts: int = Field(
        default=3,
        strict=True,
        ge=1,
        le=10,
        description="Tries per request on connect errors, timeouts, HTTP 5xx and 429, with "
        "exponential backoff; the task's own retries come on top.",
    )
    max_not_in_billing_share: float = Field(
        default=0.05,
        strict=True,
        ge=0,
        le=1,
        description="Refuse a run that would flag more than this share of the billing's live "
        "UserSide customers `is_in_billing=0` (1 disables the guard).",
    )
    max_not_in_billing_floor: int = Field(
        default=10,
        strict=True,
        ge=0,
        description="A run may always flag this many customers, whatever the share.",
    )
    max_rejected_share: float = Field(
        default=0.05,
        strict=True,
        ge=0,
        le=1,
        description="Refuse a run, before any write, in which more than this share of the "
        "billing's customer records are malformed (1 disables the guard); fewer are "
        "skipped, reported, and fail the run after the others were written.",
    )
    run_lock_timeout_seconds: float = Field(
        default=10800.0,
        gt=0,
        strict=True,
        description="A run lock of this billing and UserSide older than this is stale and "
        "taken over (the lock keeps two runs, e.g. the CLI beside the DAG, from interleaving); "
        "longer than the longest run (the DAG's timeout is 2 h).",
    )

    @property
    def request_options(self) -> dict[str, float | int]:
        """What both hooks take from the config: one request's deadline, its tries and its
        largest body."""
        return {
            "timeout": self.request_timeout_seconds,
            "attempts": self.request_attempts,
            "max_body_bytes": self.max_reply_mib << 20,
        }

    # --- operations (no PHP counterpart) ----------------------------------------------------
    alerts: AlertsConfig = Field(
        default_factory=AlertsConfig, description="Failure and staleness alerts."
    )
    userside_pool: str = Field(
        default="userside",
        min_length=1,
        description="Airflow pool of every task talking to UserSide, shared by the billings "
        "of one UserSide (`make up` and the compose init create `userside`).",
    )
    max_active_tasks: PositiveInt = Field(
        default=4, description="Tasks of one run at a time (the DAG's max_active_tasks)."
    )
    approval_timeout_minutes: PositiveInt = Field(
        default=60,
        description="How long a run tripping the not-in-billing guard waits for an operator's "
        "approval before it is rejected.",
    )

    @field_validator("schedule")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        """The DAG's CronDataIntervalTimetable takes 5 fields or one of Airflow's presets;
        anything else would fail the whole generator file at parse time."""
        expression = CRON_PRESETS.get(value.strip(), value)
        if len(expression.split()) == 5 and croniter.is_valid(expression):
            return value.strip()
        presets = ", ".join(CRON_PRESETS)
        msg = f"`{value}` is not a valid 5-field cron expression or one of {presets}"
        raise ValueError(msg)

    @field_validator("state_path")
    @classmethod
    def _state_path_usable(cls, value: str) -> str:
        if value.strip():
            _check_state_path(value.strip())
        return value.strip()

    @field_validator("billing_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        import pendulum

        try:
            pendulum.timezone(value)
        except Exception as err:
            msg = f"unknown time zone `{value}`"
            raise ValueError(msg) from err
        return value

    @field_validator("skip_delete_ip")
    @classmethod
    def _ip_ranges(cls, value: list[str]) -> list[str]:
        split_ranges(value)  # raises ValueError naming the bad range
        return value

    @field_validator("ip_gray_net", "ip_white_net")
    @classmethod
    def _ip_net(cls, value: str) -> str:
        if value.strip():
            parse_net(value)
        return value.strip()

    @model_validator(mode="after")
    def _gray_and_white_together(self) -> BillingConfig:
        if bool(self.ip_gray_net) != bool(self.ip_white_net):
            msg = "ip_gray_net and ip_white_net must be set together (gray→white IP mirror)"
            raise ValueError(msg)
        return self


def _check_state_path(value: str) -> None:
    """Refuse a ``state_path`` that a task could never use: an unknown scheme, a URL
    without a bucket, a relative folder (each worker has its own working directory), or a
    local folder that is not writable (checked on the nearest existing parent, since the
    first run creates it). Object storage is only checked by form: its credentials are
    connections, not read while the DAG file is parsed."""
    parts = urlsplit(value)
    if parts.scheme and len(parts.scheme) > 1:  # `C:` of a Windows path is no scheme
        if parts.scheme not in STATE_SCHEMES:
            schemes = ", ".join(sorted(STATE_SCHEMES))
            msg = f"`{value}`: unknown scheme `{parts.scheme}://` (use one of {schemes})"
            raise ValueError(msg)
        if parts.scheme != "file":
            if not parts.netloc:
                msg = f"`{value}`: no bucket or container after `{parts.scheme}://`"
                raise ValueError(msg)
            return
        local = Path(parts.path)
    else:
        local = Path(value).expanduser()
    if not local.is_absolute():
        msg = f"`{value}` is a relative path; give an absolute folder or an object-storage URL"
        raise ValueError(msg)
    existing = next(p for p in (local, *local.parents) if p.exists())
    if not existing.is_dir():
        msg = f"`{value}` cannot be a folder: `{existing}` is a file"
        raise ValueError(msg)
    if not os.access(existing, os.W_OK | os.X_OK):
        msg = f"`{value}` is not writable (`{existing}` does not allow this user to write)"
        raise ValueError(msg)


def default_config_dir() -> Path:
    """``$USM_BILLING_CONFIG_DIR``, else ``include/config/billings`` of this repository."""
    override = os.environ.get(CONFIG_DIR_ENV)
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "include" / "config" / "billings"


def _describe(err: ValidationError) -> str:
    parts = []
    for item in err.errors():
        field = ".".join(str(p) for p in item["loc"]) or "(file)"
        parts.append(f"field `{field}`: {item['msg']}")
    return "; ".join(parts)


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key given twice is an error: plain YAML keeps
    the last one, so a second `skip_delete_ip:` further down would silently win."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if key in seen:
                msg = f"field `{key}` is given twice (lines {seen[key]} and {line})"
                raise yaml.constructor.ConstructorError(None, None, msg, key_node.start_mark)
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def load_config(path: Path) -> BillingConfig:
    """Read and validate one YAML file; :class:`ConfigError` names the file and the field."""
    try:
        raw = yaml.load(path.read_bytes().decode("utf-8"), Loader=_UniqueKeyLoader)
    except OSError as err:
        msg = f"{path}: cannot be read ({err.strerror})"
        raise ConfigError(msg) from None
    except UnicodeDecodeError as err:
        bad = err.object[err.start : err.start + 1]
        msg = f"{path}: is not UTF-8 text (byte {err.start} is {bad!r}); save it as UTF-8"
        raise ConfigError(msg) from None
    except yaml.YAMLError as err:
        msg = f"{path}: is not valid YAML ({err})"
        raise ConfigError(msg) from None
    if not isinstance(raw, dict):
        msg = f"{path}: must be a YAML mapping of settings, got {type(raw).__name__}"
        raise ConfigError(msg)
    try:
        return BillingConfig.model_validate(raw)
    except ValidationError as err:
        msg = f"{path}: {_describe(err)}"
        raise ConfigError(msg) from None


def load_configs(directory: Path) -> tuple[dict[str, BillingConfig], dict[Path, ConfigError]]:
    """Every ``*.yaml`` of ``directory`` by file stem, plus the files that failed.

    One broken file never hides the others; ``billing_id`` must be unique across files.
    """
    configs: dict[str, BillingConfig] = {}
    errors: dict[Path, ConfigError] = {}
    seen_ids: dict[int, Path] = {}
    for path in sorted(directory.glob("*.yaml")):
        if not DAG_NAME.fullmatch(path.stem):
            msg = (
                f"{path}: the file name names the DAG (usm_billing_<name>), so it may hold "
                "only letters, digits, `_`, `.` and `-`"
            )
            errors[path] = ConfigError(msg)
            continue
        try:
            config = load_config(path)
        except ConfigError as err:
            errors[path] = err
            continue
        if config.billing_id in seen_ids:
            msg = (
                f"{path}: field `billing_id`: {config.billing_id} is already used by "
                f"{seen_ids[config.billing_id].name}; each billing needs its own UserSide number"
            )
            errors[path] = ConfigError(msg)
            continue
        seen_ids[config.billing_id] = path
        configs[path.stem] = config
    return configs, errors
