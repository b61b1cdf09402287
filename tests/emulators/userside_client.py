"""In-process client of the UserSide emulator for the per-module tests, and a seeded world.

``seeded(profile)`` = billing 1 with tariffs ``17`` and ``21`` (billing 2: tariff ``99``),
customers ``10452`` (US id 1) and ``10453`` (US id 2), tag 1 ``VIP``, group 1 ``G1``,
group 2 ``G2``, service 1 ``IPTV`` of billing 1 with catalogue cost ``"5.5"``.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from emulators.userside import UserSideEmulator, UserSideState

KEY = "test-key-123"
FORM = "application/x-www-form-urlencoded"


class Client:
    def __init__(self, emulator: UserSideEmulator) -> None:
        self.em = emulator

    def raw(
        self, method: str, path: str = "/api.php", query: dict[str, str] | None = None, body=b""
    ) -> tuple[int, bytes]:
        status, _headers, payload = self.em.handle(method, path, query or {}, body, FORM)
        return status, payload

    def get(self, **params: Any) -> tuple[int, Any]:
        params.setdefault("key", KEY)
        status, payload = self.raw("GET", query={k: str(v) for k, v in params.items()})
        return status, json.loads(payload)

    def post(self, **params: Any) -> tuple[int, Any]:
        params.setdefault("key", KEY)
        body = urlencode(
            {k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in params.items()}
        )
        status, payload = self.raw("POST", body=body.encode())
        return status, json.loads(payload)

    def edit(self, data: dict[str, Any]) -> tuple[int, Any]:
        return self.post(cat="customer", action="group_edit", data=data)

    def view(self, billing_id: int = 1) -> Any:
        status, rows = self.get(
            cat="module", request="get_user_list", billing_id=billing_id, is_id_billing_user_id=1
        )
        assert status == 200
        return rows

    def stats(self) -> dict[str, Any]:
        status, payload = self.raw("GET", "/_emulator/stats")
        assert status == 200
        return json.loads(payload)


def seeded(profile: str = "lenient", casing: str = "new") -> Client:
    c = Client(UserSideEmulator(UserSideState(), casing=casing, key=KEY, profile=profile))
    for billing_id, tid in ((1, "17"), (1, "21"), (2, "99")):
        assert (
            c.post(cat="tariff", action="add", billing_id=billing_id, billing_tariff_id=tid)[0]
            == 200
        )
    people = [
        {"billing_customer_id": 10452, "name": "a"},
        {"billing_customer_id": 10453, "name": "b"},
    ]
    assert c.post(cat="customer", action="group_add", billing_id=1, data=people)[0] == 200
    assert c.post(cat="customer", action="add_tag", name="VIP")[1]["id"] == 1
    assert c.post(cat="customer", action="add_group", name="G1")[1]["id"] == 1
    assert c.post(cat="customer", action="add_group", name="G2")[1]["id"] == 2
    assert c.post(cat="service", action="add", billing_id=1, name="IPTV")[1]["id"] == 1
    assert c.post(cat="service", action="edit", id=1, cost="5.5")[0] == 200
    return c
