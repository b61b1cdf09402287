"""The one serialisation of typed state: change sets, snapshots, results, the state files.

Every value that crosses a task boundary or is kept between runs is a frozen dataclass
(or a pydantic model at the wire edge) and goes through these four functions, so no type
writes its own positional ``to_json``/``from_json``. msgspec was chosen over pydantic's
``TypeAdapter`` by measurement (``benchmarks/codec.py``, results in
``benchmarks/results/codec.json``): on 100,000 generated customers it encodes and decodes
the typed records about twice as fast for the same bytes. Pydantic models met inside a
value (the billing's system information, tariffs, states; UserSide's settings) are dumped
and validated by their own pydantic code through the two hooks.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from pydantic import BaseModel

__all__ = ["decode", "encode", "from_builtins", "to_builtins"]

T = TypeVar("T")


def _enc_hook(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    msg = f"cannot serialise a {type(value).__name__}"
    raise NotImplementedError(msg)


def _dec_hook(kind: type, value: Any) -> Any:
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return kind.model_validate(value)
    msg = f"cannot deserialise a {kind!r}"
    raise NotImplementedError(msg)


_ENCODER = msgspec.json.Encoder(enc_hook=_enc_hook)
# state files: sets and dict keys sorted, so an unchanged state writes the same bytes
_STABLE = msgspec.json.Encoder(enc_hook=_enc_hook, order="deterministic")


def encode(value: Any, *, stable: bool = False) -> bytes:
    """JSON bytes of a typed value; ``stable``: sets and dict keys in sorted order."""
    return (_STABLE if stable else _ENCODER).encode(value)


def decode(data: bytes | str, kind: type[T]) -> T:
    """The typed value back from :func:`encode`'s bytes; :class:`ValueError` naming the
    type and the path of the first bad field when the data does not fit."""
    try:
        return msgspec.json.decode(data, type=kind, dec_hook=_dec_hook)
    except msgspec.ValidationError as err:
        msg = f"not a valid {getattr(kind, '__name__', kind)}: {err}"
        raise ValueError(msg) from None


def to_builtins(value: Any) -> Any:
    """JSON-ready builtins (dicts, lists, str, int, …) of a typed value, for XCom. Through
    JSON, so tuples become lists (Airflow's own serde would wrap them in type records)."""
    return msgspec.json.decode(_ENCODER.encode(value))


def from_builtins(data: Any, kind: type[T]) -> T:
    """The typed value back from :func:`to_builtins`'s output."""
    try:
        return msgspec.convert(data, kind, dec_hook=_dec_hook)
    except msgspec.ValidationError as err:
        msg = f"not a valid {getattr(kind, '__name__', kind)}: {err}"
        raise ValueError(msg) from None
