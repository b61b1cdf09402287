"""Groups, tags and services matched by name (universal-api.md §3.6–3.7, §3.12; contract
§4.2–4.3, §5.5, §7)."""

from __future__ import annotations

import hashlib

import pytest

from usm_billing.sync.catalogues import (
    ServiceEdit,
    diff_catalogue,
    diff_services,
    group_key,
    group_name,
    service_key,
    tag_key,
)


@pytest.mark.parametrize(
    ("billing", "userside", "create", "matched"),
    [
        pytest.param({"1": "VIP"}, {5: "VIP"}, (), {"1": 5}, id="4.3-group-same-name"),
        pytest.param({"1": " VIP "}, {5: "VIP"}, (), {"1": 5}, id="4.3-group-trimmed"),
        pytest.param(
            {"1": "Боржник/суд"}, {5: "Боржник&#047;суд"}, (), {"1": 5}, id="4.3-group-slash-entity"
        ),
        pytest.param({"1": "O'Neil"}, {5: "O&#039;Neil"}, (), {"1": 5}, id="4.3-group-apostrophe"),
        pytest.param({"1": "A+B"}, {5: "A&#43;B"}, (), {"1": 5}, id="5.5-group-plus-entity"),
        pytest.param({"1": "New"}, {5: "VIP"}, ("New",), {}, id="5.5-missing-group-created"),
        pytest.param({"1": "A+B"}, {}, ("A&#43;B",), {}, id="5.5-add-group-sends-plus-entity"),
        pytest.param({"1": "X", "2": "X"}, {}, ("X",), {}, id="5.5-created-once"),
    ],
)
def test_groups(billing, userside, create, matched):
    changes = diff_catalogue(billing, userside, key=group_key, name=group_name)
    assert (changes.create, changes.matched) == (create, matched)


@pytest.mark.parametrize(
    ("billing", "userside", "create", "matched"),
    [
        pytest.param({"2": "IPTV"}, {9: "IPTV"}, (), {"2": 9}, id="4.3-tag-exact-name"),
        pytest.param({"2": "IPTV "}, {9: "IPTV"}, ("IPTV ",), {}, id="4.3-tag-not-trimmed"),
        pytest.param({"2": "iptv"}, {9: "IPTV"}, ("iptv",), {}, id="4.3-tag-case-sensitive"),
    ],
)
def test_tags(billing, userside, create, matched):
    changes = diff_catalogue(billing, userside, key=tag_key)
    assert (changes.create, changes.matched) == (create, matched)


def test_service_key_is_md5_of_stored_name():
    assert service_key("TV/box") == hashlib.md5(b"TV&#047;box").hexdigest()


@pytest.mark.parametrize(
    ("billing", "userside", "add", "edits", "matched"),
    [
        pytest.param(
            {"1": ("IPTV", "19.99")},
            {service_key("IPTV"): (4, "19.99")},
            (),
            (),
            {"1": 4},
            id="7-same-cost",
        ),
        pytest.param(
            {"1": ("IPTV", "19,99")},
            {service_key("IPTV"): (4, 19.99)},
            (),
            (),
            {"1": 4},
            id="3.12-comma-decimal",
        ),
        pytest.param(
            {"1": ("IPTV", "25")},
            {service_key("IPTV"): (4, "19.99")},
            (),
            (ServiceEdit(4, "25"),),
            {"1": 4},
            id="7-cost-edited",
        ),
        pytest.param({"1": ("TV/box", 5)}, {}, ("TV&#047;box",), (), {}, id="7-missing-added"),
    ],
)
def test_services(billing, userside, add, edits, matched):
    assert diff_services(billing, userside) == (add, edits, matched)
