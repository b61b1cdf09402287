"""PHP-shaped JSON for the UserSide emulator.

PHP's ``json_encode`` has no separate "map" and "list" types: an array whose keys are
exactly ``0..n-1`` in order is written as a JSON list, every other array as an object,
and an empty array as ``[]``.  Real UserSide replies therefore carry ``[]`` for empty
maps and lists for maps whose keys happen to be ``0..n-1``; the emulator reproduces that
for every reply through :func:`php_json`.

The ``strict`` profile of the emulator encodes empty maps as ``{}`` instead
(``empty_map="{}"``, state.py "Choices for UNKNOWNs" item 1); lists stay ``[]``.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["php_json", "php_shape"]


def php_shape(value: Any, empty_object: bool = False) -> Any:
    """Return ``value`` with every map converted the way PHP ``json_encode`` would.

    * an empty map becomes ``[]`` (``{}`` with ``empty_object``);
    * a map whose keys are exactly ``"0"``, ``"1"``, ... ``"n-1"`` in that order becomes a
      list of its values;
    * every other map keeps its keys (converted to strings);
    * lists and tuples stay lists; scalars are returned unchanged.

    The input is never modified.
    """
    kind = type(value)
    if kind is dict:
        if not value:
            return {} if empty_object else []
        first = next(iter(value))
        if (first == "0" or first == 0) and _is_sequential(value):
            return [
                php_shape(v, empty_object) if type(v) in _CONTAINERS else v for v in value.values()
            ]
        return {
            (k if type(k) is str else str(k)): (
                php_shape(v, empty_object) if type(v) in _CONTAINERS else v
            )
            for k, v in value.items()
        }
    if kind in _CONTAINERS:
        return [php_shape(v, empty_object) if type(v) in _CONTAINERS else v for v in value]
    if isinstance(value, dict):
        return php_shape(dict(value), empty_object)
    if isinstance(value, (list, tuple)):
        return php_shape(list(value), empty_object)
    return value


_CONTAINERS = (dict, list, tuple)


def _is_sequential(mapping: dict[Any, Any]) -> bool:
    return all(str(k) == str(i) for i, k in enumerate(mapping))


def php_json(value: Any, empty_map: str = "[]") -> str:
    """Encode ``value`` as PHP ``json_encode`` would (non-ASCII escaped as ``\\uXXXX``).

    ``empty_map`` is ``"[]"`` (PHP) or ``"{}"`` (empty maps as JSON objects).
    """
    if empty_map not in ("[]", "{}"):
        msg = f"empty_map must be '[]' or '{{}}', not {empty_map!r}"
        raise ValueError(msg)
    shaped = php_shape(value, empty_object=empty_map == "{}")
    return json.dumps(shaped, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
