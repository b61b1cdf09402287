"""From the PHP module's config file to a billing YAML and two Airflow connections.

Each YAML key names its PHP variable in its field description
(:class:`usm_billing.config.BillingConfig`), so that description is the one mapping:
:data:`PHP_FIELDS` is read from it. The PHP settings without a YAML key are in
:data:`PHP_ONLY`. API keys (``key=`` of ``$billingUrl``, ``$usersideApiKey``) go into
connection passwords, which this module never returns: the commands it prints for the
two connections say where the key is in the PHP file instead.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, get_origin
from urllib.parse import urlsplit, urlunsplit

import yaml
from pydantic import ValidationError

from usm_billing.config import BillingConfig
from usm_billing.exceptions import ConfigError

if TYPE_CHECKING:
    from usm_billing.php_config import PhpAssignments, PhpValue

__all__ = ["PHP_FIELDS", "PHP_ONLY", "Migration", "PhpConnection", "migrate"]

PHP_FIELDS: dict[str, str] = {
    php: name
    for name, info in BillingConfig.model_fields.items()
    for php in re.findall(r"\$([a-z][A-Za-z0-9]*)", info.description or "")
}
"""PHP variable (without ``$``) → YAML key, from the field descriptions."""

PHP_ONLY: dict[str, str] = {
    "billingUrl": "billing connection: `host` = the URL without its `key` parameter, "
    "`password` = the value of `key`",
    "usersideUrl": "UserSide connection: `host` = the URL without `api.php` and query",
    "usersideApiKey": "UserSide connection: `password`",
    "logPath": "not needed: Airflow keeps each task's log",
    "isSilence": "not needed: the task log is the output",
    "isDebugMode": "not needed: raise the Airflow log level instead",
    "billingCrcId": "not configured: computed from the billing's settings, as in PHP",
}
"""PHP settings that are no YAML key, and what becomes of them."""


@dataclass(frozen=True)
class PhpConnection:
    """One Airflow connection to create. ``key_from`` says where its key is in the PHP
    file (the key itself is never kept); empty when the file has none."""

    conn_id: str
    host: str
    key_from: str

    def command(self, variable: str) -> str:
        """``airflow connections add`` with the key read from ``$variable``."""
        return (
            f"airflow connections add {self.conn_id} --conn-type http "
            f'--conn-host {shlex.quote(self.host)} --conn-password "${variable}"'
        )


@dataclass(frozen=True)
class Migration:
    """The YAML settings (validated by :class:`BillingConfig`), the two connections and
    notes on what was not imported (variable names only, never values)."""

    settings: dict[str, Any]
    billing: PhpConnection
    userside: PhpConnection
    notes: list[str] = field(default_factory=list)

    def yaml(self, source: str) -> str:
        """The billing YAML, headed by where it came from."""
        body = yaml.safe_dump(self.settings, sort_keys=False, allow_unicode=True)
        return f"# converted from {source} by `usm-billing import-php-config`\n{body}"


def _flag(value: PhpValue) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in {"", "0", "1", "true", "false"}:
        return value.strip().lower() in {"1", "true"}
    msg = "is not 0, 1, true or false"
    raise ValueError(msg)


def _integer(value: PhpValue) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    msg = "is not an integer"
    raise ValueError(msg)


def _text(value: PhpValue) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    msg = "is not a string"
    raise ValueError(msg)


def _array(value: PhpValue) -> dict[str | int, PhpValue]:
    if isinstance(value, dict):
        return value
    msg = "is not an array"
    raise ValueError(msg)


def _id_map(value: PhpValue) -> dict[str, int]:
    return {str(k): _integer(v) for k, v in _array(value).items()}


def _mark_map(value: PhpValue) -> dict[str, list[int]]:
    return {
        str(k): [_integer(i) for i in v.values()] if isinstance(v, dict) else [_integer(v)]
        for k, v in _array(value).items()
    }


def _ranges(value: PhpValue) -> list[str]:
    """A comma-separated string, or an array of ranges: strings (CIDR, `a-b`) or
    `[min, max]` pairs (inet_aton numbers or dotted addresses)."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    ranges = []
    for item in _array(value).values():
        if isinstance(item, dict):
            bounds = [_text(b) for b in item.values()]
            if len(bounds) != 2:
                msg = "has a range that is not a [min, max] pair"
                raise ValueError(msg)
            ranges.append(f"{bounds[0]}-{bounds[1]}")
        else:
            ranges.append(_text(item).strip())
    return ranges


def _converter(name: str) -> Any:
    """How a PHP value becomes the YAML value of ``name``, by the field's type."""
    if name == "skip_delete_ip":
        return _ranges
    if name == "mark_merge":
        return _mark_map
    annotation = BillingConfig.model_fields[name].annotation
    if get_origin(annotation) is dict:
        return _id_map
    if annotation is bool:
        return _flag
    if annotation is int:
        return _integer
    return _text


def _without_key(url: str) -> tuple[str, bool]:
    """``url`` without its ``key`` query parameter, and whether it had one."""
    parts = urlsplit(url.strip())
    kept = [p for p in parts.query.split("&") if p and p.split("=", 1)[0] != "key"]
    had_key = len(kept) != len([p for p in parts.query.split("&") if p])
    netloc = parts.netloc.rsplit("@", 1)[-1]  # a user:password@ is not copied either
    return urlunsplit(parts._replace(netloc=netloc, query="&".join(kept))), had_key


def _connections(
    values: dict[str, PhpValue], billing_conn_id: str, userside_conn_id: str, notes: list[str]
) -> tuple[PhpConnection, PhpConnection]:
    billing_url, billing_key = _without_key(_text(values.get("billingUrl") or ""))
    if not billing_url:
        notes.append("$billingUrl is missing: set the billing connection's host yourself")
    billing = PhpConnection(
        billing_conn_id, billing_url, "the `key` parameter of $billingUrl" if billing_key else ""
    )
    us_url, us_key_in_url = _without_key(_text(values.get("usersideUrl") or ""))
    us_parts = urlsplit(us_url)
    us_path = re.sub(r"/?api\.php$", "", us_parts.path).rstrip("/")
    us_host = urlunsplit(us_parts._replace(path=us_path, query=""))
    if not us_host:
        notes.append("$usersideUrl is missing: set the UserSide connection's host yourself")
    if values.get("usersideApiKey"):
        us_key = "$usersideApiKey"
    else:
        us_key = "the `key` parameter of $usersideUrl" if us_key_in_url else ""
    return billing, PhpConnection(userside_conn_id, us_host, us_key)


def _refused(err: ValidationError) -> str:
    by_field = {name: php for php, name in PHP_FIELDS.items()}
    parts = []
    for item in err.errors():
        name = str(item["loc"][0]) if item["loc"] else "(file)"
        php = f" (${by_field[name]})" if name in by_field else ""
        parts.append(f"field `{name}`{php}: {item['msg']}")
    return "; ".join(parts)


def migrate(
    assignments: PhpAssignments, *, source: str, billing_conn_id: str, userside_conn_id: str
) -> Migration:
    """The YAML settings and connections for one PHP config file; :class:`ConfigError`
    (naming ``source`` and the PHP variable, never a value) when a setting cannot be
    converted or the result does not validate."""
    notes: list[str] = []
    settings: dict[str, Any] = {}
    errors = []
    for php, why in assignments.skipped.items():
        if php in PHP_FIELDS or php in PHP_ONLY:  # a setting silently left out is a bug
            errors.append(f"${php} cannot be read ({why})")
        else:
            notes.append(f"not imported: ${php} could not be read ({why})")
    for php, value in assignments.values.items():
        name = PHP_FIELDS.get(php)
        if name is None:
            if php not in PHP_ONLY:
                notes.append(f"not imported: ${php} has no counterpart")
            continue
        if value is None:
            notes.append(f"${php} is null: `{name}` keeps its default")
            continue
        try:
            settings[name] = _converter(name)(value)
        except ValueError as err:
            errors.append(f"${php} {err}")
    if errors:
        msg = f"{source}: {'; '.join(errors)}"
        raise ConfigError(msg)
    ordered = {"billing_conn_id": billing_conn_id, "userside_conn_id": userside_conn_id}
    ordered.update(settings)
    settings = {name: ordered[name] for name in BillingConfig.model_fields if name in ordered}
    try:
        BillingConfig.model_validate(settings)
    except ValidationError as err:
        msg = f"{source}: {_refused(err)}"
        raise ConfigError(msg) from None
    try:
        billing, userside = _connections(
            assignments.values, billing_conn_id, userside_conn_id, notes
        )
    except ValueError as err:
        msg = f"{source}: $billingUrl or $usersideUrl {err}"
        raise ConfigError(msg) from None
    return Migration(settings=settings, billing=billing, userside=userside, notes=notes)
