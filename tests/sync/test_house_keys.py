"""House keys and names: composed house numbers, names as each algorithm spells them,
Latin folding, and the md5 keys of every reading of the inferred recipe, one table row per
rule.

Sections: universal-api.md §3.10–3.11 (street names, house number composition);
userside-api.md §2.2 (old-path keys), §2.3 (name escaping); contract §4.6 (house key
recipe), §9.10 (its readings).
"""

from __future__ import annotations

import hashlib

import pytest

from usm_billing.sync.house_keys import (
    compose_house_number,
    escape_address_name,
    fold_latin,
    house_key_variants,
    street_name,
    strip_compare_name,
)
from usm_billing.universal_api.addresses import BillingStreet


def md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


@pytest.mark.parametrize(
    ("number", "block", "expected"),
    [
        pytest.param("15", "", "15", id="3.11-number-without-block"),
        pytest.param("77", "1", "77-1", id="3.11-numeric-block-joined-with-dash"),
        pytest.param("15", "А", "15 А", id="3.11-letter-block-joined-with-space"),
        pytest.param("42", "корп", "42 корп", id="3.11-word-block-joined-with-space"),
        pytest.param("0", "5", "5", id="3.11-leading-0-dash-dropped"),
        pytest.param("0", "А", "А", id="3.11-leading-0-space-dropped"),
        pytest.param("08", "", "08", id="3.11-leading-zero-digit-kept"),
        pytest.param("", "н", "н", id="3.11-empty-number-block-only"),
        pytest.param(" 15 ", " А ", "15 А", id="3.11-number-and-block-trimmed"),
    ],
)
def test_compose_house_number(number: str, block: str, expected: str) -> None:
    assert compose_house_number(number, block) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("Tom & Jerry", "Tom  Jerry", id="6.1-ampersand-stripped"),
        pytest.param("#5", "5", id="6.1-hash-stripped"),
        pytest.param("Мар'янівка", "Мар'янівка", id="6.1-apostrophe-kept-verbatim"),
        pytest.param("пр-т Миру / 2", "пр-т Миру / 2", id="6.1-slash-kept"),
    ],
)
def test_strip_compare_name(text: str, expected: str) -> None:
    assert strip_compare_name(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("Мар'янівка", "Мар&#039;янівка", id="6.2-apostrophe-escaped"),
        pytest.param("Житомир", "Житомир", id="6.2-plain-unchanged"),
    ],
)
def test_escape_address_name(text: str, expected: str) -> None:
    assert escape_address_name(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("Kraków", "Krakow", id="4.6-acute-folded"),
        pytest.param("Straße", "Strasse", id="4.6-sharp-s-ss"),
        pytest.param("Łódź", "Lodz", id="4.6-stroke-l-folded"),
        pytest.param("Øster Åby", "Oster Aby", id="4.6-nordic-folded"),
        pytest.param("Київ", "Київ", id="4.6-cyrillic-untouched"),
        pytest.param("Бердичів й ї", "Бердичів й ї", id="4.6-cyrillic-diacritics-untouched"),
    ],
)
def test_fold_latin(text: str, expected: str) -> None:
    assert fold_latin(text) == expected


@pytest.mark.parametrize(
    ("parts", "text"),
    [
        pytest.param(("Житомир", "Київська", "15"), "ЖИТОМИР, КИЇВСЬКА, 15", id="4.6-key-upper"),
        pytest.param(("Житомир", "Київська", ""), "ЖИТОМИР, КИЇВСЬКА", id="4.6-key-no-number"),
        pytest.param(("Житомир", "Київська", "0"), "ЖИТОМИР, КИЇВСЬКА", id="4.6-key-number-0"),
        pytest.param(("Житомир", "Київська", "77/1"), "ЖИТОМИР, КИЇВСЬКА, 77-1", id="4.6-slash"),
        pytest.param(
            ("Мар'янівка", "Центральна", "н"),
            "МАР&#039;ЯНІВКА, ЦЕНТРАЛЬНА, Н",
            id="4.6-key-apostrophe-entity",
        ),
        pytest.param(
            ("Мар&#039;янівка", "Центральна", "н"),
            "МАР&#039;ЯНІВКА, ЦЕНТРАЛЬНА, Н",
            id="4.6-key-escaped-name-same",
        ),
        pytest.param(("Kraków", "Długa", "1"), "KRAKOW, DLUGA, 1", id="4.6-key-latin-folded"),
    ],
)
def test_house_key_first_variant(parts: tuple[str, str, str], text: str) -> None:
    assert house_key_variants(*parts, "")[0] == md5(text)


def test_house_key_variants_ascii_upper_and_trailing_comma() -> None:
    """§4.6: four lookups: Unicode/ASCII upper-casing, each with and without ", "."""
    keys = house_key_variants("Житомир", "Kyivska", "15", "")
    assert keys == (
        md5("ЖИТОМИР, KYIVSKA, 15"),
        md5("ЖИТОМИР, KYIVSKA, 15, "),
        md5("Житомир, KYIVSKA, 15"),
        md5("Житомир, KYIVSKA, 15, "),
    )
    assert len(house_key_variants("Kyiv", "Main", "1", "")) == 2  # ASCII only: no duplicates


@pytest.mark.parametrize(
    ("name", "full_name", "use_full", "expected"),
    [
        pytest.param("Миру", "вул. Миру", False, "Миру", id="3.10-name-used"),
        pytest.param("", "вул. Миру", False, "вул. Миру", id="3.10-empty-name-full-name"),
        pytest.param("Миру", "вул. Миру", True, "вул. Миру", id="4.5-use_street_full_name"),
        pytest.param("Миру", "", True, "Миру", id="4.5-use_street_full_name-empty-full"),
    ],
)
def test_street_name(name: str, full_name: str, use_full: bool, expected: str) -> None:
    street = BillingStreet(id="1", city_id="1", name=name, full_name=full_name)
    assert street_name(street, full_name=use_full) == expected


@pytest.mark.parametrize(
    ("number", "block", "wanted"),
    [
        pytest.param("12", "1.5", "KYIV, MAIN, 12-1.5", id="9.10-block-numeric-as-php-is-numeric"),
        pytest.param("12", "1.5", "KYIV, MAIN, 12 1.5", id="9.10-block-numeric-as-digits"),
        pytest.param("", "н", "KYIV, MAIN,  Н", id="9.10-empty-number-untrimmed"),
        pytest.param("", "н", "KYIV, MAIN, Н", id="9.10-empty-number-trimmed"),
    ],
)
def test_house_key_variants_cover_every_reading_of_the_recipe(number, block, wanted) -> None:
    """§9.10: the key recipe is inferred; a house is found under every reading of it."""
    assert md5(wanted) in house_key_variants("Kyiv", "Main", number, block)


@pytest.mark.parametrize(
    ("city", "wanted"),
    [
        pytest.param("Ærøskøbing", "AEROSKOBING, MAIN, 1", id="9.10-ae-folded"),
        pytest.param("Ærøskøbing", "ÆROSKOBING, MAIN, 1", id="9.10-ae-kept"),
        pytest.param("Ħamrun", "HAMRUN, MAIN, 1", id="9.10-fused-stroke-folded"),
        pytest.param("Ħamrun", "ĦAMRUN, MAIN, 1", id="9.10-fused-stroke-kept"),
    ],
)
def test_house_key_variants_cover_both_transliterations(city, wanted) -> None:
    assert md5(wanted) in house_key_variants(city, "Main", "1", "")
