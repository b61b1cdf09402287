"""The house key of ``get_house_list&is_id_address=3`` and the composed house number.

Written from ``userside-emulator-contract.md`` §4.6 (the recipe there is INFERRED from the
four lookups the core makes; the real one is UNKNOWN, §9.10):

* the text is ``"City, Street, Number"``; the city is ``-`` when unknown (empty); the
  number part (with its ``", "``) is left out when the composed number is empty or ``0``;
* before upper-casing: ``'`` becomes ``&#039;``, ``/`` becomes ``-`` and accented Latin
  letters are transliterated;
* the text is upper-cased with Unicode rules and the key is the md5 hex digest of its
  UTF-8 bytes.

"Accented Latin letter" is read literally: a letter of the Latin script that carries a
diacritic.  Either the diacritic decomposes (Unicode NFKD: ``é`` -> ``e`` + U+0301), and the
letter becomes its ASCII base; or it is fused into the letter (a stroke or bar, which NFKD
keeps: ``ø``, ``đ``, ``ł``, ``ħ``, ``ŧ``, ...), and the base letter is the one the
character's Unicode name gives ("LATIN SMALL LETTER L WITH STROKE" -> ``l``).  Latin
letters without a diacritic that are not ASCII (``ß``, ``æ``, ``œ``, ``þ``, ``ð``, ``ı``,
``ŋ``) are separate letters, not accented ones, and are kept; every other script
(Cyrillic, ...) is kept as well.

Composed number (§4.6, also used for matching houses): ``number`` + (``-`` when ``block``
is numeric in the PHP ``is_numeric`` sense, else a space) + ``block``; ``number`` alone
when ``block`` is empty; a leading ``0-`` or ``0 `` is dropped.  Values are used as
stored, without trimming.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import lru_cache
from typing import Any

from .common import is_numeric

__all__ = ["compose_house_number", "house_list_key", "transliterate"]

_FUSED_NAME_RE = re.compile(r"^LATIN (SMALL|CAPITAL) LETTER ([A-Z]) WITH ")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@lru_cache(maxsize=4096)
def _latin_base(ch: str) -> str:
    """ASCII form of one accented Latin letter; any other character unchanged."""
    name = unicodedata.name(ch, "")
    if not name.startswith("LATIN "):
        return ch
    kept = [c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c)]
    if kept and kept[0].isascii() and kept[0].isalpha():
        # decomposable diacritic (é, ñ, ő, ...) or a compatibility form (ĳ, ŀ, ﬁ)
        return "".join(c for c in kept if c.isascii() and c.isalpha())
    if kept and kept != [ch]:
        # an accent on a non-ASCII Latin letter (ǽ -> æ): only the accent goes
        return "".join(kept)
    fused = _FUSED_NAME_RE.match(name)
    if fused is not None:
        letter = fused.group(2)
        return letter.lower() if fused.group(1) == "SMALL" else letter
    return ch


def transliterate(text: str) -> str:
    """Accented Latin letters to their ASCII base letter; everything else kept."""
    if text.isascii():
        return text
    return "".join(ch if ch.isascii() else _latin_base(ch) for ch in text)


def compose_house_number(number: Any, block: Any) -> str:
    """``number`` + (``-`` if ``block`` is numeric else space) + ``block``.

    ``number`` alone when ``block`` is empty; a leading ``0-``/``0 `` is dropped.
    """
    num, blk = _text(number), _text(block)
    composed = num if blk == "" else num + ("-" if is_numeric(blk) else " ") + blk
    if composed[:2] in ("0-", "0 "):
        composed = composed[2:]
    return composed


def house_list_key(city: Any, street: Any, full_number: Any) -> str:
    """Key of ``get_house_list&is_id_address=3`` for a house (contract §4.6)."""
    city_text = _text(city) or "-"
    parts = [city_text, _text(street)]
    number = _text(full_number)
    if number not in ("", "0"):
        parts.append(number)
    text = ", ".join(parts).replace("'", "&#039;").replace("/", "-")
    return hashlib.md5(transliterate(text).upper().encode("utf-8")).hexdigest()
