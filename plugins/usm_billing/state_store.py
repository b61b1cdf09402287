"""State kept between runs: one JSON document per billing and purpose, in object storage.

``<state_path>/<billing_id>/<name>.json`` (``state_path`` is an object-storage URL or a
folder; default ``$AIRFLOW_HOME/usm_billing_state``), read and written through Airflow's
``ObjectStoragePath`` (``file://`` locally, ``s3://``/``gs://`` in production), by the
tasks that need it, never at DAG parse time. ``max_active_runs=1`` means one writer per
billing. Every document is ``{"format": 1, "billing_id": N, "<section>": …}`` and is
replaced as a whole (written to a temporary file, then renamed).

Two documents use it: the house cache (``houses.json``, :mod:`usm_billing.house_cache`)
and the billing messages already sent (``messages.json``, :class:`MessageStore`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from usm_billing import codec
from usm_billing.exceptions import StateError
from usm_billing.state import MessageState

if TYPE_CHECKING:
    from usm_billing.config import BillingConfig

__all__ = ["FORMAT", "STATE_DIR", "MessageStore", "StateFile", "state_root"]

T = TypeVar("T")
STATE_DIR = "usm_billing_state"
FORMAT = 1


def state_root(config: BillingConfig) -> str:
    """``state_path`` of the config, else ``file://$AIRFLOW_HOME/usm_billing_state``."""
    if config.state_path:
        return config.state_path.rstrip("/")
    home = os.environ.get("AIRFLOW_HOME") or str(Path("~/airflow").expanduser())
    return (Path(home).resolve() / STATE_DIR).as_uri()


class StateFile:
    """``<state_path>/<billing_id>/<name>``: one ``section`` of a versioned JSON document."""

    def __init__(self, config: BillingConfig, name: str, section: str) -> None:
        from airflow.sdk import ObjectStoragePath

        self.billing_id = config.billing_id
        self.section = section
        self.path = ObjectStoragePath(f"{state_root(config)}/{config.billing_id}/{name}")

    def __repr__(self) -> str:
        return f"StateFile({self.path})"

    def read(self, kind: type[T]) -> T | None:
        """The section's value as ``kind`` (:mod:`usm_billing.codec`); ``None`` when there
        is no file. :class:`ValueError` (naming the file and the reason) when the file
        cannot be read, has an unknown format or its section is not a ``kind``."""
        try:
            if not self.path.exists():
                return None
            data = codec.decode(self.path.read_bytes(), dict[str, Any])
        except (OSError, ValueError) as err:
            msg = f"{self.path} is unreadable ({type(err).__name__}: {str(err)[:120]})"
            raise ValueError(msg) from None
        if data.get("format") != FORMAT or self.section not in data:
            msg = f"{self.path} has an unknown format"
            raise ValueError(msg)
        try:
            return codec.from_builtins(data[self.section], kind)
        except ValueError as err:
            msg = f"{self.path}: `{self.section}` {err}"
            raise ValueError(msg) from None

    def write(self, value: Any) -> None:
        """Replace the document (a temporary file renamed over the old one)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = codec.encode(
            {"format": FORMAT, "billing_id": self.billing_id, self.section: value}, stable=True
        )
        temporary = self.path.parent / f".{self.path.name}.tmp"
        temporary.write_bytes(body)
        temporary.rename(self.path)


class MessageStore:
    """``messages.json``: the billing message ids already sent with ``msg_add``.

    Unlike the house cache this is a record, not a cache: a missing file means "nothing
    sent yet" (the first run), but an unreadable one stops the message import with a
    :class:`StateError` instead of re-sending every message.
    """

    def __init__(self, config: BillingConfig) -> None:
        self.file = StateFile(config, "messages.json", "sent")

    @property
    def path(self) -> Any:
        """The state file, named in errors."""
        return self.file.path

    def load(self) -> MessageState:
        """The ids already sent; an unreadable file stops the task with
        :class:`StateError` rather than sending every message again."""
        try:
            sent = self.file.read(set[str])
        except ValueError as err:
            msg = (
                f"message state {err}; fix or delete it (without it every billing message "
                "is sent again, which UserSide de-duplicates by billing_msg_id)"
            )
            raise StateError(msg) from None
        return MessageState(sent or set())

    def save(self, state: MessageState) -> None:
        """Write the ids sent so far (sorted), replacing the file in one step."""
        self.file.write(state.sent)
