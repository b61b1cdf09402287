"""The house-list key and the composed house number of the UserSide emulator
(``address_keys.py``), written from contract §4.6; and a cross-check against the
importer's own lookup keys, where the two readings of §4.6 are compared."""

from __future__ import annotations

import hashlib

import pytest

from emulators.userside.address_keys import compose_house_number, house_list_key, transliterate
from tests.emulators.userside_client import KEY, Client


def md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("Kyiv", "Kyiv", id="4.6-ascii-kept"),
        pytest.param("Łódź", "Lodz", id="4.6-stroke-and-acute"),
        pytest.param("Ĳssel ŀa", "IJssel la", id="4.6-compatibility-forms"),
        pytest.param("Ħamrun Ŧ", "Hamrun T", id="4.6-fused-diacritic-by-name"),
        pytest.param("Ærø", "Æro", id="4.6-ae-is-a-letter-not-an-accent"),
        pytest.param("Þórshöfn", "Þorshofn", id="4.6-thorn-kept"),
        pytest.param("ǽ", "æ", id="4.6-accent-on-non-ascii-letter"),
        pytest.param("Київ, Хрещатик", "Київ, Хрещатик", id="4.6-cyrillic-kept"),
    ],
)
def test_transliteration(text: str, expected: str) -> None:
    assert transliterate(text) == expected


@pytest.mark.parametrize(
    ("number", "block", "expected"),
    [
        pytest.param("12", "2", "12-2", id="4.6-numeric-block-dash"),
        pytest.param("12", "a", "12 a", id="4.6-text-block-space"),
        pytest.param("12", "1.5", "12-1.5", id="4.6-block-numeric-php-sense"),
        pytest.param("12", "", "12", id="4.6-no-block"),
        pytest.param("0", "5", "5", id="4.6-leading-0-dash-dropped"),
        pytest.param("0", "b", "b", id="4.6-leading-0-space-dropped"),
        pytest.param(12, None, "12", id="4.6-json-number"),
        pytest.param("", "н", " н", id="4.6-empty-number-keeps-separator"),
    ],
)
def test_composed_number(number: object, block: object, expected: str) -> None:
    assert compose_house_number(number, block) == expected


@pytest.mark.parametrize(
    ("city", "street", "number", "text"),
    [
        pytest.param("Kyiv", "Main st", "5 a", "KYIV, MAIN ST, 5 A", id="4.6-plain"),
        pytest.param("L'viv", "a/b", "1", "L&#039;VIV, A-B, 1", id="4.6-apostrophe-slash"),
        pytest.param("Łódź", "Piotrkowska", "3", "LODZ, PIOTRKOWSKA, 3", id="4.6-translit"),
        pytest.param("Straße", "x", "1", "STRASSE, X, 1", id="4.6-sharp-s-unicode-upper"),
        pytest.param("Київ", "Хрещатик", "12", "КИЇВ, ХРЕЩАТИК, 12", id="4.6-unicode-upper"),
        pytest.param("Kyiv", "Main", "0", "KYIV, MAIN", id="4.6-number-0-left-out"),
        pytest.param("Kyiv", "Main", "", "KYIV, MAIN", id="4.6-number-empty-left-out"),
        pytest.param("", "Main", "1", "-, MAIN, 1", id="4.6-unknown-city-dash"),
    ],
)
def test_house_list_key(city: str, street: str, number: str, text: str) -> None:
    assert house_list_key(city, street, number) == md5(text)


def test_old_path_key_read_back() -> None:
    from emulators.userside import UserSideEmulator, UserSideState

    c = Client(UserSideEmulator(UserSideState(), key=KEY))
    city = c.post(cat="address", action="add_city", name="Łódź")[1]["id"]
    street = c.post(cat="address", action="add_street", city_id=city, name="Piotrkowska")[1]["id"]
    c.post(cat="address", action="add_house", city_id=city, street_id=street, number="0", block="7")
    houses = c.get(cat="module", request="get_house_list", is_id_address=3)[1]
    assert list(houses) == [md5("LODZ, PIOTRKOWSKA, 7")]


# ----------------------------------------------------------- cross-check with the importer
# Rows "either-reading": the contract's words admit two readings (which letters are
# "accented"; "numeric" as digits or PHP is_numeric; trimmed or not). The emulator takes
# one; the importer looks a house up under both (house_key_variants), so it finds it.
CROSS = [
    pytest.param("Kyiv", "Main st", "5", "a", id="4.6-agree-ascii"),
    pytest.param("Київ", "Хрещатик", "12", "2", id="4.6-agree-cyrillic"),
    pytest.param("Łódź", "Piotrkowska", "3", "", id="4.6-agree-accents"),
    pytest.param("Straße", "Hauptstraße", "1", "", id="4.6-agree-sharp-s"),
    pytest.param("Kyiv", "Main", "0", "5", id="4.6-agree-leading-zero"),
    pytest.param("Kyiv", "Main", "0", "", id="4.6-agree-number-0"),
    pytest.param(
        "Ærøskøbing", "Vestergade", "4", "", id="4.6-either-reading-ae",
    ),
    pytest.param(
        "Þórshöfn", "Aðalgata", "4", "", id="4.6-either-reading-thorn-eth",
    ),
    pytest.param(
        "Ħamrun", "Triq il-Kbira", "4", "", id="4.6-either-reading-h-stroke",
    ),
    pytest.param(
        "Kyiv", "Main", "12", "1.5", id="4.6-either-reading-decimal-block",
    ),
    pytest.param(
        "Kyiv", "Main", "", "н", id="4.6-either-reading-empty-number-with-block",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("city", "street", "number", "block"), CROSS)
def test_importer_finds_the_emulator_key(city: str, street: str, number: str, block: str) -> None:
    """The key the emulator lists for a house created by ``add_house`` is one of the keys
    the importer looks up for the same billing house (``house_key_variants``)."""
    addresses = pytest.importorskip("usm_billing.sync.addresses")
    emulator_key = house_list_key(city, street, compose_house_number(number, block))
    assert emulator_key in addresses.house_key_variants(city, street, number, block)
