"""The catalogue task of issue 4 with fake hooks that record every call: optional billing
catalogues, create → re-read → cost edit, and a second run that converges (universal-api.md
§3.6-3.7, §3.12, §4.5; contract §1.5, §4.2-4.3, §7)."""

from __future__ import annotations

from typing import Any

from usm_billing.exceptions import FatalApiError, RetriableApiError
from usm_billing.sync.catalogues import service_key
from usm_billing.tasks import catalogues
from usm_billing.universal_api.catalogues import BillingService, NamedItem


class FakeBilling:
    def __init__(self, *, fail: set[str] = frozenset(), **lists: Any) -> None:
        self.lists = lists
        self.fail = fail
        self.asked: list[str] = []

    def _get(self, name: str) -> Any:
        self.asked.append(name)
        if name in self.fail:
            msg = f"billing `b` {name}: HTTP 500"
            raise RetriableApiError(msg)
        return self.lists.get(name, {})

    def get_user_group_list(self):
        return {k: NamedItem(id=k, name=v) for k, v in self._get("groups").items()}

    def get_user_tags(self):
        return {k: NamedItem(id=k, name=v) for k, v in self._get("tags").items()}

    def get_services_list(self):
        return {
            k: BillingService(id=k, name=n, cost=c) for k, (n, c) in self._get("services").items()
        }


class FakeUserSide:
    """UserSide's catalogues in memory, kept as UserSide keeps them: a created service
    costs 0 until ``service edit`` stores the cost it was sent. ``fail`` names calls (or
    ``call:arg``) that raise."""

    def __init__(self, *, fail: set[str] = frozenset()) -> None:
        self.groups: dict[int, str] = {}
        self.tags: dict[int, str] = {}
        self.services: dict[str, tuple[int, Any]] = {}
        self.calls: list[tuple[str, Any]] = []
        self.fail = fail
        self.writes_sent = 0
        self.next_id = 100

    def _write(self, name: str, argument: Any) -> int:
        self.calls.append((name, argument))
        self.writes_sent += 1
        if name in self.fail or f"{name}:{argument}" in self.fail:
            msg = f"UserSide `u` {name}: refused"
            raise FatalApiError(msg)
        self.next_id += 1
        return self.next_id

    def get_user_group_list(self):
        self.calls.append(("read", "groups"))
        return dict(self.groups)

    def get_user_tags(self):
        self.calls.append(("read", "tags"))
        return dict(self.tags)

    def get_services_list(self, billing_id):
        self.calls.append(("read", "services"))
        return dict(self.services)

    def add_group(self, name):
        self.groups[self._write("add_group", name)] = name

    def add_tag(self, name):
        self.tags[self._write("add_tag", name)] = name

    def service_add(self, billing_id, name):
        self.services[service_key(name.replace("&#047;", "/"))] = (
            self._write("service_add", name),
            0,
        )

    def service_edit(self, us_id, cost):
        self._write("service_edit", f"{us_id}={cost}")
        for key, (sid, _) in self.services.items():
            if sid == us_id:
                self.services[key] = (sid, cost)  # stored as sent (as the emulator does)


def test_catalogues_planned_by_name_and_an_unavailable_one_skipped(make_ctx):
    billing = FakeBilling(
        fail={"services"},
        groups={"1": "VIP", "2": "Боржник/суд"},
        tags={"3": "IPTV"},
    )
    userside = FakeUserSide()
    userside.groups = {50: "Боржник&#047;суд"}
    changes = catalogues.diff(make_ctx(userside, billing))
    assert changes.enabled == {"groups": True, "tags": True, "services": False}
    assert changes.unavailable == ("services",)
    assert changes.group_creates == ("VIP",)
    assert changes.group_map == {"2": 50}
    assert changes.tag_creates == ("IPTV",)
    assert ("read", "services") not in userside.calls  # contract §4.3: only when non-empty


def test_carbon5_reads_groups_only(make_ctx):
    billing = FakeBilling(groups={"1": "Home"}, tags={"3": "IPTV"})
    changes = catalogues.diff(make_ctx(FakeUserSide(), billing, billing_name="carbon5"))
    assert billing.asked == ["groups"]
    assert changes.enabled == {"groups": True, "tags": False, "services": False}


def test_empty_billing_catalogue_reads_nothing_from_userside(make_ctx):
    userside = FakeUserSide()
    changes = catalogues.diff(make_ctx(userside, FakeBilling()))
    assert userside.calls == []
    assert changes.enabled == {"groups": False, "tags": False, "services": False}


def test_load_creates_rereads_and_sets_the_new_service_cost(make_ctx):
    billing = FakeBilling(
        groups={"1": "VIP"}, tags={"3": "IPTV"}, services={"9": ("TV/box", "45,00")}
    )
    userside = FakeUserSide()
    ctx = make_ctx(userside, billing)
    changes = catalogues.diff(ctx)
    assert changes.service_adds == ("TV&#047;box",)
    result = catalogues.load(ctx, changes)
    assert result.load.failed == ()
    assert result.group_map == {"1": 101}
    assert result.tag_map == {"3": 102}
    assert result.service_map == {"9": 103}
    assert ("service_edit", "103=45.00") in userside.calls  # the new service gets its cost
    assert result.load.write_requests == 4
    # the next run: the cost the load sent is what UserSide now holds (nothing is set by
    # this test), so the diff plans nothing and the load writes nothing
    assert userside.services == {service_key("TV/box"): (103, "45.00")}
    again = catalogues.diff(ctx)
    assert again.is_empty
    assert (again.service_edits, again.service_map) == ((), {"9": 103})
    result = catalogues.load(ctx, again)
    assert result.load.write_requests == 0
    assert result.service_map == {"9": 103}


def test_failed_create_is_reported_and_left_unmapped(make_ctx):
    billing = FakeBilling(groups={"1": "VIP", "2": "Home"})
    ctx = make_ctx(FakeUserSide(fail={"add_group:VIP"}), billing)
    result = catalogues.load(ctx, catalogues.diff(ctx))
    assert result.group_map == {"2": 101}
    assert [f.record for f in result.load.failed] == ["group 'VIP'"]


def test_dry_run_creates_nothing(make_ctx):
    userside = FakeUserSide()
    ctx = make_ctx(userside, FakeBilling(groups={"1": "VIP"}), dry_run=True)
    result = catalogues.load(ctx, catalogues.diff(ctx))
    assert userside.writes_sent == 0
    assert result.load.counts["group_add"] == 1
    assert result.group_map == {}
