"""How step results cross an Airflow task boundary.

Small results (most change sets, load results) go through XCom as :mod:`usm_billing.codec`
builtins. The two extracts are large (tens of MB at 100,000 customers) and read by several
tasks, and a change set can be too (a first import's is 20 MB): each of those is written
once, as codec JSON, to ``<state_path>/<billing_id>/runs/<run_id>/<step>.json`` and XCom
carries only its path and content hash (:data:`REFERENCE`), so no big value ever becomes a
task argument (which Airflow would walk to mask secrets and store as rendered fields) or
an XCom row; a reader checks the hash, so it never diffs against another run's data. The
last :data:`KEEP_RUNS` run folders are kept for inspection.

The run folder also holds what the ``report`` step reads of the other steps: the error of
each step that failed (``failures/<step>.json``, so the report names the first failure, not
the last), and the field-level audit of the run (``audit/<entity>.json``), kept out of
the task logs because its lines carry customer data.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from usm_billing import codec
from usm_billing.state_store import state_root, store_path
from usm_billing.universal_api.customers import BillingSnapshot
from usm_billing.universal_api.payload import gc_paused
from usm_billing.userside.customers import UsView

if TYPE_CHECKING:
    from usm_billing.config import BillingConfig

__all__ = [
    "INLINE_LIMIT",
    "KEEP_RUNS",
    "LARGE",
    "REFERENCE",
    "clear_failure",
    "failures",
    "pack",
    "record_failure",
    "run_folder",
    "unpack",
    "write_audit",
]

T = TypeVar("T")
LARGE: tuple[type, ...] = (BillingSnapshot, UsView)  # always by reference
INLINE_LIMIT = 64 * 1024  # bytes of JSON an XCom value may hold; more goes to a file
REFERENCE = "$artifact"  # the key of a reference (no result type has a field named so)
KEEP_RUNS = 5


def _runs(config: BillingConfig) -> Any:
    return store_path(f"{state_root(config)}/{config.billing_id}/runs")


def run_folder(config: BillingConfig, run_id: str) -> Any:
    """``<state_path>/<billing_id>/runs/<run_id>/`` (a
    :func:`~usm_billing.state_store.store_path`), made on first use; older run folders
    beyond :data:`KEEP_RUNS` are removed then."""
    runs = _runs(config)
    folder = runs / re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id)
    if not folder.exists():
        folder.mkdir(parents=True, exist_ok=True)
        _prune(runs, keep=folder)
    return folder


def _write(folder: Any, name: str, body: bytes) -> Any:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    temporary = folder / f".{name}.tmp"
    temporary.write_bytes(body)
    temporary.rename(path)
    return path


def pack(config: BillingConfig, run_id: str, name: str, value: Any) -> Any:
    """The XCom value of a step's result: the value itself when small, else a reference."""
    body = codec.encode(value)
    if not isinstance(value, LARGE) and len(body) <= INLINE_LIMIT:
        return codec.to_builtins(value)
    path = _write(run_folder(config, run_id), f"{name}.json", body)
    return {REFERENCE: str(path), "sha256": hashlib.sha256(body).hexdigest()}


@dataclass(frozen=True)
class _StepFailure:
    step: str
    error: str
    at: float  # unix time of the failure: the report orders by it


@dataclass(frozen=True)
class _Audit:
    entity: str
    lines: tuple[str, ...]


def record_failure(config: BillingConfig, run_id: str, step: str, error: str) -> None:
    """Keep the error of a failed step for the report (the latest try's)."""
    body = codec.encode(_StepFailure(step, error, time.time()))
    _write(run_folder(config, run_id) / "failures", f"{step}.json", body)


def clear_failure(config: BillingConfig, run_id: str, step: str) -> None:
    """Forget an earlier try's error of a step that has now succeeded."""
    path = run_folder(config, run_id) / "failures" / f"{step}.json"
    if path.exists():
        path.unlink()


def failures(config: BillingConfig, run_id: str) -> list[tuple[str, str]]:
    """``(step, error)`` of every step of the run that failed, the first failure first."""
    folder = run_folder(config, run_id) / "failures"
    if not folder.exists():
        return []
    found = [
        codec.decode(path.read_bytes(), _StepFailure)
        for path in folder.iterdir()
        if path.name.endswith(".json") and not path.name.startswith(".")
    ]
    return [(f.step, f.error) for f in sorted(found, key=lambda f: f.at)]


def write_audit(config: BillingConfig, run_id: str, entity: str, lines: list[str]) -> str:
    """The field-level audit lines of one entity as a JSON artifact; returns its path."""
    body = codec.encode(_Audit(entity, tuple(lines)))
    return str(_write(run_folder(config, run_id) / "audit", f"{entity}.json", body))


def _prune(runs: Any, *, keep: Any) -> None:
    folders = sorted(
        (p for p in runs.iterdir() if p.is_dir() and p != keep),
        key=lambda p: p.stat().st_mtime,
    )
    for old in folders[: max(0, len(folders) - (KEEP_RUNS - 1))]:
        _remove(old)


def _remove(folder: Any) -> None:
    for child in folder.iterdir():
        if child.is_dir():
            _remove(child)
        else:
            child.unlink()
    folder.rmdir()


def unpack(data: Any, kind: type[T]) -> T:
    """A step's result back from its XCom value (read once: the caller keeps it)."""
    if not (isinstance(data, dict) and REFERENCE in data):
        return codec.from_builtins(data, kind)
    body = store_path(data[REFERENCE]).read_bytes()
    if hashlib.sha256(body).hexdigest() != data["sha256"]:
        msg = f"{data[REFERENCE]} changed since its task wrote it (content hash differs)"
        raise ValueError(msg)
    with gc_paused():  # millions of small acyclic objects (usm_billing.universal_api.payload)
        return codec.decode(body, kind)
