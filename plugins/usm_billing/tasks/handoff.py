"""How step results cross an Airflow task boundary.

Small results (most change sets, load results) go through XCom as :mod:`usm_billing.codec`
builtins. The two extracts are large (tens of MB at 100,000 customers) and read by several
tasks, and a change set can be too (a first import's is 20 MB): each of those is written
once, as codec JSON, to ``<state_path>/<billing_id>/runs/<run_id>/<step>.json`` and XCom
carries only its path and content hash (:data:`REFERENCE`), so no big value ever becomes a
task argument (which Airflow would walk to mask secrets and store as rendered fields) or
an XCom row; a reader checks the hash, so it never diffs against another run's data. The
last :data:`KEEP_RUNS` run folders are kept for inspection.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any, TypeVar

from usm_billing import codec
from usm_billing.state_store import state_root
from usm_billing.universal_api.customers import BillingSnapshot
from usm_billing.universal_api.payload import gc_paused
from usm_billing.userside.customers import UsView

if TYPE_CHECKING:
    from usm_billing.config import BillingConfig

__all__ = ["INLINE_LIMIT", "KEEP_RUNS", "LARGE", "REFERENCE", "pack", "unpack"]

T = TypeVar("T")
LARGE: tuple[type, ...] = (BillingSnapshot, UsView)  # always by reference
INLINE_LIMIT = 64 * 1024  # bytes of JSON an XCom value may hold; more goes to a file
REFERENCE = "$artifact"  # the key of a reference (no result type has a field named so)
KEEP_RUNS = 5


def _runs(config: BillingConfig) -> Any:
    from airflow.sdk import ObjectStoragePath

    return ObjectStoragePath(f"{state_root(config)}/{config.billing_id}/runs")


def pack(config: BillingConfig, run_id: str, name: str, value: Any) -> Any:
    """The XCom value of a step's result: the value itself when small, else a reference."""
    body = codec.encode(value)
    if not isinstance(value, LARGE) and len(body) <= INLINE_LIMIT:
        return codec.to_builtins(value)
    digest = hashlib.sha256(body).hexdigest()
    runs = _runs(config)
    folder = runs / re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    temporary = folder / f".{name}.json.tmp"
    temporary.write_bytes(body)
    temporary.rename(path)
    _prune(runs, keep=folder)
    return {REFERENCE: str(path), "sha256": digest}


def _prune(runs: Any, *, keep: Any) -> None:
    folders = sorted(
        (p for p in runs.iterdir() if p.is_dir() and p != keep),
        key=lambda p: p.stat().st_mtime,
    )
    for old in folders[: max(0, len(folders) - (KEEP_RUNS - 1))]:
        for child in old.iterdir():
            child.unlink()
        old.rmdir()


def unpack(data: Any, kind: type[T]) -> T:
    """A step's result back from its XCom value (read once: the caller keeps it)."""
    if not (isinstance(data, dict) and REFERENCE in data):
        return codec.from_builtins(data, kind)
    from airflow.sdk import ObjectStoragePath

    body = ObjectStoragePath(data[REFERENCE]).read_bytes()
    if hashlib.sha256(body).hexdigest() != data["sha256"]:
        msg = f"{data[REFERENCE]} changed since its task wrote it (content hash differs)"
        raise ValueError(msg)
    with gc_paused():  # millions of small acyclic objects (usm_billing.universal_api.payload)
        return codec.decode(body, kind)
