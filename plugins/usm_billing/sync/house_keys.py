"""The house-key recipe and the name matching of the old address algorithm
(universal-api.md §3.10–3.11, §4.6; userside-api.md §2.2–2.3; contract §4.6, §9.10).

UserSide keys its houses by md5 of the upper-cased ``"City, Street, Number"``, a recipe
that is inferred, not documented: :func:`house_key_variants` gives the key under every
reading of it, so a house UserSide has is found whichever reading it takes. The names
going into ``compare_house`` or the per-object calls are spelled here too, and
:class:`UsIndex` finds UserSide's cities and streets exactly or tolerantly. What is then
sent is planned by :mod:`usm_billing.sync.addresses`.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import TYPE_CHECKING, Any

from usm_billing.sync.normalize import escape_apostrophe

if TYPE_CHECKING:
    from usm_billing.universal_api.addresses import BillingStreet
    from usm_billing.userside.addresses import UsAddresses, UsCity, UsStreet

__all__ = [
    "UsIndex",
    "compose_house_number",
    "escape_address_name",
    "fold_latin",
    "house_key_variants",
    "match_name",
    "street_name",
    "strip_compare_name",
]


_SPACES = re.compile(r"\s+")
_LATIN_EXTRA = {
    "ß": "ss",
    "æ": "ae",
    "Æ": "AE",
    "ø": "o",
    "Ø": "O",
    "œ": "oe",
    "Œ": "OE",
    "đ": "d",
    "Đ": "D",
    "ł": "l",
    "Ł": "L",
    "þ": "th",
    "Þ": "TH",
    "ð": "d",
    "Ð": "D",
}


def strip_compare_name(text: str) -> str:
    """A name or block as ``compare_house`` receives it: ``&`` and ``#`` removed (§6.1)."""
    return text.replace("&", "").replace("#", "")


def escape_address_name(text: str) -> str:
    """A name or block as the old algorithm stores it: ``'`` → ``&#039;`` (§6.2)."""
    return escape_apostrophe(text)


def compose_house_number(number: str, block: str) -> str:
    """UserSide's house number (§3.11): ``number-block`` when the block is numeric,
    ``number block`` otherwise, ``number`` alone without a block; a leading ``0-`` or ``0 ``
    is dropped."""
    number, block = number.strip(), block.strip()
    composed = number
    if block:
        composed = f"{number}{'-' if block.isdigit() else ' '}{block}"
    if composed.startswith(("0-", "0 ")):
        composed = composed[2:]
    return composed.strip()


def fold_latin(text: str) -> str:
    """Accented Latin letters → ASCII (``é`` → ``e``, ``ß`` → ``ss``); other scripts kept."""
    out = []
    for char in text:
        if char.isascii():
            out.append(char)
        elif char in _LATIN_EXTRA:
            out.append(_LATIN_EXTRA[char])
        else:
            decomposed = unicodedata.normalize("NFKD", char)
            base = decomposed[0]
            if base.isascii() and base.isalpha():
                out.append("".join(c for c in decomposed if c.isascii()))
            else:
                out.append(char)
    return "".join(out)


def _ascii_upper(text: str) -> str:
    """PHP ``strtoupper``: only a–z."""
    return "".join(chr(ord(c) - 32) if "a" <= c <= "z" else c for c in text)


_PHP_NUMERIC = re.compile(r"\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*")
_FUSED_LETTER = re.compile(r"^LATIN (SMALL|CAPITAL) LETTER ([A-Z]) WITH ")


def _number_readings(number: str, block: str) -> list[str]:
    """The composed house number under every reading of §4.6 (its recipe is UNKNOWN,
    §9.10): a "numeric" block as digits only or as PHP ``is_numeric``; number and block
    trimmed or as stored; the result trimmed or not."""
    readings: list[str] = []
    for num, blk in ((number.strip(), block.strip()), (number, block)):
        for numeric in (str.isdigit, _PHP_NUMERIC.fullmatch):
            composed = f"{num}{'-' if numeric(blk) else ' '}{blk}" if blk else num
            if composed.startswith(("0-", "0 ")):
                composed = composed[2:]
            for candidate in (composed.strip(), composed):
                if candidate not in readings:
                    readings.append(candidate)
    return readings


def _fold_accents_only(text: str) -> str:
    """The other reading of "accented Latin letters are transliterated": only letters
    that carry a diacritic (decomposed, or a fused stroke such as ``ħ``) lose it; Latin
    letters of their own (``æ``, ``þ``, ``ß``) are kept."""
    out = []
    for char in text:
        name = unicodedata.name(char, "")
        if char.isascii() or not name.startswith("LATIN "):
            out.append(char)
            continue
        kept = [c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)]
        fused = _FUSED_LETTER.match(name)
        if kept and kept[0].isascii() and kept[0].isalpha():
            out.append("".join(c for c in kept if c.isascii() and c.isalpha()))
        elif kept and kept != [char]:
            out.append("".join(kept))
        elif fused is not None:
            out.append(fused.group(2).lower() if fused.group(1) == "SMALL" else fused.group(2))
        else:
            out.append(char)
    return "".join(out)


def house_key_variants(city: str, street: str, number: str, block: str) -> tuple[str, ...]:
    """md5 keys of ``get_house_list&is_id_address=3`` that may hold this house (§4.6):
    ``'`` → ``&#039;``, ``/`` → ``-``, accented Latin folded, upper-cased Unicode- or
    ASCII-wise, each with and without a trailing ``", "``; the number is left out when
    empty or ``0``. The recipe is inferred (§9.10), so every reading of its loose words
    (how the number is composed, which letters are "accented") gives keys too: a house
    UserSide has is found whichever reading it takes, and never created twice."""
    keys: list[str] = []
    for composed in _number_readings(number, block):
        parts = [city, street]
        if composed and composed != "0":
            parts.append(composed)
        text = ", ".join(parts).replace("'", "&#039;").replace("/", "-")
        for folded in dict.fromkeys((fold_latin(text), _fold_accents_only(text))):
            for upper in (folded.upper(), _ascii_upper(folded)):
                for variant in (upper, f"{upper}, "):
                    key = hashlib.md5(variant.encode("utf-8"), usedforsecurity=False).hexdigest()
                    if key not in keys:
                        keys.append(key)
    return tuple(keys)


def street_name(street: BillingStreet, *, full_name: bool) -> str:
    """The street's ``name``; its ``full_name`` when the name is empty or, in the old
    algorithm, with ``use_street_full_name`` (§3.10)."""
    if full_name and street.full_name.strip():
        return street.full_name
    return street.name if street.name.strip() else street.full_name


def match_name(text: Any) -> str:
    """Name form for tolerant matching: entities decoded, folded, case-folded, spaces
    collapsed."""
    value = "" if text is None else str(text)
    value = value.replace("&#039;", "'").replace("&#047;", "/")
    return _SPACES.sub(" ", fold_latin(value)).strip().casefold()


class UsIndex:
    """UserSide's lists with the lookups of §4.6: exact keys first, then tolerant names."""

    def __init__(self, userside: UsAddresses) -> None:
        self.userside = userside
        self.cities: dict[str, UsCity] = {}
        self.city_names: dict[int, str] = {}
        for key, city in sorted(userside.cities.items(), key=lambda kv: kv[1].us_id):
            self.cities.setdefault(match_name(key), city)
            self.cities.setdefault(match_name(city.name), city)
            self.city_names.setdefault(city.us_id, str(city.name if city.name is not None else key))
        self.streets: dict[tuple[int, str], UsStreet] = {}
        self.streets_anywhere: dict[str, int] = {}
        for key, street in sorted(userside.streets.items(), key=lambda kv: kv[1].us_id):
            name = street.name if street.name is not None else key.partition("_")[2]
            self.streets.setdefault((street.city_id, match_name(name)), street)
            self.streets_anywhere.setdefault(match_name(name), street.city_id)

    def city(self, name: str) -> UsCity | None:
        """UserSide's city of this name: the stored key, its Latin-folded form, or a
        tolerant match."""
        exact = self.userside.cities.get(name) or self.userside.cities.get(fold_latin(name))
        return exact or self.cities.get(match_name(name))

    def street(self, city_id: int, name: str) -> UsStreet | None:
        """UserSide's street of this name in that city, matched as :meth:`city` does."""
        for key in (f"{city_id}_{name}", f"{city_id}_{fold_latin(name)}"):
            row = self.userside.streets.get(key) or self.userside.streets.get(key.upper())
            if row is not None:
                return row
        return self.streets.get((city_id, match_name(name)))
