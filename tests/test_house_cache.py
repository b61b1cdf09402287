"""The house cache between runs (README "Addresses and IP/MAC", docs/architecture.md):
where it lives, and that a missing or broken file only means "ask UserSide again"."""

from __future__ import annotations

import json

import pytest

from usm_billing.config import BillingConfig
from usm_billing.house_cache import HouseCache, drop_vanished, state_root


def config(**settings) -> BillingConfig:
    return BillingConfig(billing_id=4, billing_conn_id="b", userside_conn_id="u", **settings)


def test_default_is_under_airflow_home(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    assert state_root(config()) == (tmp_path / "usm_billing_state").as_uri()
    assert str(HouseCache(config()).path).endswith("usm_billing_state/4/houses.json")


@pytest.mark.parametrize(
    "make_path",
    [
        pytest.param(lambda tmp: tmp.as_uri(), id="file-url"),
        pytest.param(lambda tmp: str(tmp), id="local-folder"),
        pytest.param(lambda tmp: tmp.as_uri() + "/", id="trailing-slash"),
    ],
)
def test_round_trip(tmp_path, make_path) -> None:
    cache = HouseCache(config(state_path=make_path(tmp_path)))
    assert cache.load() == {}
    cache.save({"812": ("abc", 5), "900": ("def", 0)})
    assert cache.load() == {"812": ("abc", 5), "900": ("def", 0)}
    cache.save({"812": ("abc", 6)})
    assert cache.load() == {"812": ("abc", 6)}
    stored = json.loads((tmp_path / "4" / "houses.json").read_text(encoding="utf-8"))
    assert stored == {"format": 1, "billing_id": 4, "houses": {"812": ["abc", 6]}}
    assert [p.name for p in (tmp_path / "4").iterdir()] == ["houses.json"]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("not json", id="not-json"),
        pytest.param('{"format": 99, "houses": {}}', id="unknown-format"),
        pytest.param('{"format": 1, "houses": []}', id="houses-not-a-map"),
    ],
)
def test_unusable_file_is_an_empty_cache(tmp_path, body) -> None:
    (tmp_path / "4").mkdir()
    (tmp_path / "4" / "houses.json").write_text(body, encoding="utf-8")
    assert HouseCache(config(state_path=str(tmp_path))).load() == {}


def test_malformed_entries_are_dropped(tmp_path) -> None:
    (tmp_path / "4").mkdir()
    (tmp_path / "4" / "houses.json").write_text(
        json.dumps({"format": 1, "houses": {"1": ["a", 5], "2": "x", "3": ["b"]}}),
        encoding="utf-8",
    )
    assert HouseCache(config(state_path=str(tmp_path))).load() == {"1": ("a", 5)}


def test_vanished_houses_are_dropped_and_the_list_read_only_when_needed() -> None:
    """Issue 11 item 2: the view's house ids cost nothing; the house list is read only
    for cached ids no customer points at; entries without a house (0) stay."""
    cache = {"1": ("a", 5), "2": ("b", 6), "3": ("c", 7), "4": ("d", 0)}
    reads: list[str] = []

    def house_list() -> set[int]:
        reads.append("get_house_list")
        return {5, 6}

    assert drop_vanished(cache, {5, 6, 7}, house_list) == cache
    assert reads == []
    assert drop_vanished(cache, {5}, house_list) == {"1": ("a", 5), "2": ("b", 6), "4": ("d", 0)}
    assert reads == ["get_house_list"]


def test_cache_of_another_userside_is_asked_again(tmp_path) -> None:
    settings = config(state_path=str(tmp_path))
    HouseCache(settings, userside="http://old.example/api.php").save({"1": ("a", 5)})
    assert HouseCache(settings, userside="http://old.example/api.php").load() == {"1": ("a", 5)}
    assert HouseCache(settings, userside="http://new.example/api.php").load() == {}
