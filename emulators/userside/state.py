"""Data model of the UserSide emulator: what UserSide stores, and its JSON persistence.

The state is one JSON document (``UserSideState.data``) with these sections:

``counters``  next-id counters (``customer``, ``tariff``, ``service``, ``group``, ``tag``,
              ``city``, ``street``, ``house``, ``message``); every US id is allocated
              from them, so ids survive a save/load and are never reused.
``stats``     ``mutations``, ``requests``, ``writes``, ``posts`` and ``refusals`` (by
              reason); what each counts: docstring of ``emulators/userside/handler.py``.
``settings``  per billing id, the stored overrides of ``usm_billing get_settings``.
``tariffs``   US tariff id -> tariff (bound to ``billing_id`` + ``billing_tariff_id``).
``customers`` US customer id -> customer (bound to ``billing_id`` + ``billing_uid``).
``services``  US service id -> ``{billing_id, name, cost}``.
``groups``, ``tags``  US id -> ``{id, name}``.
``cities``, ``streets``, ``houses``  the address hierarchy.
``switches``  US switch id -> ``{id, ip, ...}`` (only seeded through a state file or
              ``POST /_emulator/state``; no UserSide call creates switches).
``messages``  US message id -> customer message (``msg_add``).
``runs``      the lifecycle log (``set_start_info`` ... ``set_stop_info``), last 1000 calls.

Every value arrives as it was decoded from the request (form decoding, then JSON decoding
of ``data``) and is stored and returned verbatim (contract §1.1).  JSON object keys are
always strings, so every id used as a key is its decimal string.

Choices for UNKNOWNs
--------------------
Numbers refer to ``userside-emulator-contract.md`` §9 where the contract lists the UNKNOWN.
The emulator has two profiles (``UserSideEmulator(profile=...)``, ``--profile``,
``POST /_emulator/profile``): ``lenient`` (default; the detailed items 1-24 below) and
``strict``, the harsh reading of every UNKNOWN on which convergence can depend (contract
§12).  Side by side ("=" = same as lenient; "refused" = HTTP 400 naming the customer, key
and reason, no ``Count``; in strict the other customers of the request ARE applied, in
lenient nothing of the request is):

======  ==========================  ===============================  =============================
§9      UNKNOWN                     lenient                          strict
======  ==========================  ===============================  =============================
9.1     empty view / empty map      ``[]`` (PHP empty array)         ``{}`` (lists stay ``[]``)
9.2     normalisation               none, verbatim                   = (a normalising UserSide
                                                                     would defeat the PHP core too)
9.3     group_add of an existing    no-op, counted in ``Count``      refused for that customer
        (billing, uid); defaults                                     (``already_exists``); new
                                                                     ones created; defaults =
9.4     add_tariff_id/tariff_new_id accepted, listed back            refused (``unknown_tariff``)
        with no tariff of the
        customer's billing
9.4     delete_tariff_id            removes ONE link per element;    removes EVERY link of the id;
                                    unknown id ignored               id not linked: refused
                                                                     (``not_present``); repeated
                                                                     ids accepted
9.4     multiset of links           yes                              = (yes)
9.5     service value               any integer n: adds n / removes  only 1 or -1, else refused
                                    |n| instances                    (``service_value``)
9.5     service -1                  removes ONE instance (last);     removes EVERY instance;
                                    none held: ignored               none held: refused
9.5     service_cost/_comment       every instance; none: ignored    FIRST instance only; none
                                                                     held: refused
9.5     initial cost of an instance catalogue cost                   0
9.6     group precedence / single   removals first, multi-group;     multi-group; a removal of a
        vs multi-group              unknown ids accepted             group not held, a gid added
                                                                     and removed in one entry,
                                                                     an unknown group id: refused
9.7     src=billing; traffic moves  ignored; not moved               = (not moving is the harsh
        date_traffic_update                                          one: the importer must find
                                                                     traffic equal)
9.8     system_operation, times,    logged/ignored; compare_house    =
        billing_crc_id, updates     never updates a house
9.9     MAC-only key; re-binding    ``-1``; add_ip of a bound ip     ``-1``; add_ip of an ip bound
                                    replaces its MAC; change/delete  to this or another customer
                                    of an unbound ip ignored         (``-1``: this one only), and
                                                                     change/delete of an unbound
                                                                     ip: refused
9.10    house-list key recipe       item 10 (contract §4.6)          =
9.11    phone interior slots        kept (empty slots listed)        compacted: only non-empty
                                                                     slots, in slot order
9.11    multi-address email         ONE entry                        one entry per address (split
                                                                     at ``,``)
9.11    date formats                verbatim                         =
9.12    activity moving backwards   overwritten                      an older value is ignored
9.13    version, error bodies       any version; bodies item 13      =
9.14    PHP version                 n/a (never ``""`` for numbers)   =
§11     add_ip0/ip_change_mac0/     accepted                         refused (``ip_numbering``),
        delete_ip0; gaps in 1..n                                     also a gap or leading zero
--      unknown key, malformed      whole request refused            refused for that customer
        value                                                        only
--      module never sends it       accepted                         refused: ``tariff_new_id``
                                                                     without ``|``,
                                                                     ``ip_change_mac`` without a
                                                                     MAC, ``mark`` other than
                                                                     1/-1, tag/service/switch id
                                                                     unknown, tag/mark removal
                                                                     not held
======  ==========================  ===============================  =============================

Strict checks judge each customer entry against the state before that entry (including the
entries of the same request applied before it), seen through the entry's own earlier
operations (``emulators/userside/entries.py``).  Refusal reasons are listed in
``emulators/userside/common.py`` (``REASONS``) and counted in ``GET /_emulator/stats``.

Lenient, in detail:

1. (§9.1) Empty views: ``get_tariff_list``/``get_user_list`` (and every other map reply)
   with no rows answer HTTP 200 with ``[]`` -- the PHP ``json_encode`` of an empty array,
   emitted by the single ``php_json`` helper used for all replies.
2. (§9.2) Nothing is normalised: text, dates, phones, MACs and decimals are returned
   exactly as they arrived.  JSON numbers keep their JSON type (a JSON float ``125.50``
   is a Python float and comes back as ``125.5``; a string ``"125.50"`` comes back as
   ``"125.50"``).  Two deliberate exceptions: (a) the numeric customer fields
   ``flag_corporate``, ``is_disable``, ``parent_id``, ``disconnect_state``, ``house_id``,
   ``entrance``, ``state_id``, ``traffic_up``, ``traffic_down``,
   ``date_activity_inet_unix``, ``is_in_billing`` (and numeric tariff fields) store ``""``
   or ``null`` as ``0`` so a numeric field never reads back as ``""`` (contract §1.2);
   (b) ``ip_mac`` keys are the decimal integer of the written ip (``"007"`` -> ``"7"``).
3. (§9.3) ``group_add`` for an existing (billing_id, billing_customer_id) is a no-op (the
   name is not overwritten, ``is_in_billing`` is not touched) but still counts in
   ``Count``.  Defaults of a new customer: ``full_name`` = the sent name,
   ``is_in_billing`` = 1, ``tariff.current`` = ``[]``, ``tariff.new`` = ``[]``; numeric
   fields (``balance``, ``credit``, ``discount``, ``flag_corporate``, ``is_disable``,
   ``parent_id``, ``disconnect_state``, ``state_id``, ``house_id``, ``entrance``,
   ``traffic`` up/down, ``date_activity_inet_unix``) = 0; text fields (``login``,
   ``account_number``, ``comment``, ``password``, ``date_connect``, ``disconnect_date``,
   ``agreement`` number/date, ``email``, ``apartment_number``, ``floor``,
   ``date_activity_inet``, ``crc_billing``) = ``""``; empty ``phone``, ``email``,
   ``agreement`` lists; empty ``ip_mac``/``tag``/``group``/``mark``/``service``/
   additional-data maps; ``date_create`` = UTC time of creation.
4. (§9.4) Tariff links are a multiset of billing tariff ids kept verbatim (JSON type
   kept), in insertion order.  ``add_tariff_id`` accepts any id, also one that has no
   tariff in the billing (the link is listed back as sent, so it converges).  Each
   ``delete_tariff_id`` element removes ONE link whose id has the same string form
   (the first such link); an id with no link is ignored.  Deletions are applied before
   additions.  Both keys accept a JSON list or a JSON object (its values are used).
5. (§9.5) Services: the catalogue is per billing, idempotent on (billing_id, exact
   name); ``service {sid: n}`` adds ``n`` instances for ``n > 0`` (normally 1) and
   removes ``|n|`` instances, last first, for ``n < 0`` (normally -1, one instance);
   ``service_cost``/``service_comment`` set the cost/comment of EVERY instance of that
   service on the customer (none present: ignored); a new instance gets the catalogue
   cost (``service edit``; 0 before any edit), comment ``""`` and ``date_add`` = UTC
   date.  Adds/removals are applied before cost/comment.  Service ids are not checked
   against the catalogue.
6. (§9.6) Groups are a set per customer (multi-group UserSide).  Removals =
   ``delete_group_id`` values + ``group`` keys whose value is -1; additions =
   ``add_group_id`` values + ``group`` keys whose value is 1; removals are applied first,
   so a gid in both is added.  ``add_group_id``/``delete_group_id`` accept a map
   ``{gid: gid}`` or a list (values are used).  Group ids are not checked against the
   catalogue.  View: ``group = {gid: {"id": gid}}``.
7. (§9.7) ``src=billing`` is accepted and ignored.  Traffic writes do NOT move the
   billing's ``date_traffic_update`` setting (deterministic; set it with
   ``POST /_emulator/settings`` or ``--settings``).
8. (§9.8) ``system_operation`` only appends to the ``runs`` log; ``billing_time`` and
   ``erp_time`` are logged, not used; ``billing_crc_id`` is ignored.  ``compare_house``
   never updates an existing house (postcode/area are stored only when it creates the
   house).  Matching in ``compare_house`` is by names compared after trimming,
   collapsing runs of spaces and case-folding: city by name (an empty city name means
   the city ``-``), street by (city, name), house by (street, composed number) where
   composed number = ``number`` + (``-`` if ``block`` is numeric, PHP ``is_numeric``,
   else a space) + ``block`` (block empty: ``number`` alone; values as stored, not
   trimmed) with a leading ``0-``/``0 `` dropped (contract §4.6, ``address_keys.py``).
   Province/district are stored on a city and area on a house only at creation and are
   not part of the match.  The ``"-1"`` entry of the reply holds lists of the names
   created in that request (``city``, ``street``, ``house`` = composed number); it is
   omitted when nothing was created.  ``is_disable_create`` is true when it is a number
   other than 0 (``""`` = false).
9. (§9.9) A MAC-only binding (``add_ip`` ip ``-1``) is keyed ``-1`` in ``ip_mac``.
   ``add_ip`` for an ip already bound replaces its MAC; ``ip_change_mac`` for an ip
   not bound is ignored; ``delete_ip`` of an unbound ip is ignored.  Order inside one
   customer entry: ``delete_ip*``, then ``add_ip*``, then ``ip_change_mac*`` (each in
   numeric order of the suffix ``N``).  Entry shape ``{"ip": <int>, "mac": <as sent>}``.
10. (§9.10) ``get_house_list&is_id_address=3`` key = md5 of the Unicode-upper-cased
   ``"City, Street, Number"`` after ``'`` -> ``&#039;``, ``/`` -> ``-`` and
   transliteration of accented Latin letters (a letter with a diacritic, decomposable by
   NFKD or fused like a stroke, becomes its base letter; ``ß``/``æ``/``œ``/``þ``/``ð``
   and every other script are kept; details in ``address_keys.py``); City is ``-`` when
   empty; Number is the composed number of item 8, left out (with its ``", "``) when
   empty or ``0``.
   ``get_city_list&is_id_address=1`` is keyed by the stored city name,
   ``get_street_list&is_id_address=2`` by ``"{city_id}_{street name}"``.  Without
   ``is_id_address`` these lists are keyed by US id.  ``add_city`` is idempotent on the
   name, ``add_street`` on (city_id, name), ``add_house`` on (street, composed number),
   all matched as in item 8 (the old path and ``compare_house`` share one hierarchy);
   repeats return the existing id and are not mutations.  ``add_house`` stores ``floor``
   and ``entrance`` as sent; ``edit_house`` accepts ``postcode``, ``entrance``, ``floor``
   only (another key is a 400).
11. (§9.11) ``phone`` keeps interior empty slots: the view lists slots 0..k (k = highest
   non-empty slot), an empty slot as ``{"number": "", "flag_main": 0}``; slot 0 carries
   ``flag_main`` 1.  ``email`` is kept as ONE entry ``{"address": <as sent>,
   "flag_main": 1}`` (``[]`` when empty).  All dates are kept verbatim.
12. (§9.12) ``date_activity_inet``/``date_activity_inet_unix`` are overwritten by every
   write, also with an older value.
13. (§9.13) ``set_start_info`` accepts any ``version`` and never sends
   ``module_min_allow_version``.  Errors: 400 (validation / unknown call / missing
   parameter), 403 (wrong key; body exactly ``{"Result":"ERROR","ErrorText":"wrong API
   key"}``), 404 (unknown path), 405 (write by GET; body exactly
   ``{"Result":"ERROR","ErrorText":"writes require POST"}``), 500 (emulator bug).  Error
   bodies of 400/404/500: old casing ``{"Result":"ERROR","ErrorText":...}``, new casing
   ``{"result":"ERROR","ErrorText":...,"error":...}``, plus ``refused`` (a list of
   ``{reason, customer_id?, billing_uid?, key?, text}``) on a refused write.  Nothing is
   applied on any error (strict: see the table, per-customer refusal).
14. (§9.14) Not applicable: numeric fields never read back as ``""`` (item 2).

Further choices (not numbered in the contract):

15. ``get_user_list``: rows are keyed by billing uid only with ``is_id_billing_user_id=1``
   (else by US customer id); ``billing_id=N`` scopes the rows to billing N (all billings
   when absent).  Row ``id`` = billing uid (as in the Universal API shape);
   ``userside_id``/``erp_id`` = US id.  ``parent_id`` is included only with
   ``is_parent_id=1``, ``date_activity_inet_unix`` only with ``timestamp_ready=1``,
   ``password`` only with ``is_load_password=1``, ``commutation`` only with
   ``is_load_commutation=1``.  ``customer_id`` (comma-separated) keeps only the rows
   whose key (billing uid or US id, per ``is_id_billing_user_id``) is listed.
   ``date_activity`` mirrors ``date_activity_inet``; ``is_potential`` is 0.
16. ``get_tariff_list``: keyed by billing tariff id when ``billing_id`` is given (all
   tariffs of that billing, any ``is_in_billing``), by US tariff id otherwise.  Row ``id``
   = billing tariff id.  New tariff defaults: ``payment`` 0, ``payment_interval`` 30,
   ``speed`` up/down 0, ``traffic`` 0, ``service_type`` 0, ``additional_comment`` ``""``,
   ``is_in_billing`` 1.  ``tariff add`` for an existing pair returns the existing id and
   changes nothing (the name is not updated).
17. ``get_services_list``: keyed by md5 of the stored name with ``is_id_name=1``, by US
   id otherwise; scoped by ``billing_id`` when given.  ``get_user_tags`` and
   ``get_user_group_list`` are keyed by US id, rows ``{id, name}``.
18. ``get_user_crc_billing_list`` rows: ``[crc_billing, date_activity_inet, balance,
   traffic_down (in), traffic_up (out)]``.
19. ``tag {tid: v}``: ``v == -1`` removes; any other value adds the tag when it is absent
   (``date_add`` = ``v`` when ``v`` is a non-numeric string, else the UTC time) and
   leaves a present tag unchanged.  ``mark {mid: v}`` (v a number): ``v == -1`` removes, any
   other value adds ``{"id": mid}``.  ``commutation_switch {sid: port}``: the last pair wins,
   view ``commutation = {device_id, device_ip (from switches, else ""), port}``; an empty
   map changes nothing.  ``additional_data``/``additional_customer_data``
   ``{fid: value}`` set ``{"id": fid, "value": value}``.
20. ``tariff_new_id`` is split at its LAST ``|``: ``"id|date"`` -> ``tariff.new =
   [{"id": id, "date_start": date}]``; no ``|`` -> the whole value is the id and
   ``date_start`` is ``""``; an empty id clears (``tariff.new = []``).
21. ``msg_add`` de-duplicates on (the customer's billing, ``billing_msg_id``); a repeat
   returns the existing id, changes nothing (the text is not updated) and is not a
   mutation.  Without ``billing_msg_id`` every call creates a message.  An unknown
   ``customer_id`` is a 400.
22. ``add_group``/``add_tag`` are global catalogues, idempotent on the exact name.
23. Billing ids are compared as integers when they are integer strings (``"01"`` ==
   ``"1"``), otherwise as exact strings; billing customer ids and billing tariff ids are
   exact strings (a JSON number is converted with ``str``: ``17`` -> ``"17"``).
24. Lifecycle calls (``cat=usm_billing``) are POST-only like every other write; they are
   logged in ``runs`` but are neither writes nor mutations in ``stats``.
"""

from __future__ import annotations

import copy
import json
import os
import re
from datetime import UTC, datetime
from typing import Any

import msgspec

from .address_keys import compose_house_number
from .persist import write_atomically

__all__ = [
    "DEFAULT_SETTINGS",
    "UserSideState",
    "norm_billing_id",
    "norm_text_id",
    "utc_now",
]

STATE_FORMAT = 1

DEFAULT_SETTINGS: dict[str, Any] = {
    "is_update_address": 0,
    "is_new_house_billing_compare": 1,
    "address_compare_format": 0,
    "is_update_traffic": 1,
    "date_traffic_update": 0,
    "date_traffic_update_interval": 1,
    "is_update_mac": 1,
    "is_customer_activity_timestamp": 0,
    "is_encode_customer_password": 0,
    "row_limit": 0,
    "last_paid_id": 0,
    "last_msg_id": 0,
}

_COUNTER_KINDS = (
    "customer",
    "tariff",
    "service",
    "group",
    "tag",
    "city",
    "street",
    "house",
    "message",
)
_SECTIONS = (
    "settings",
    "tariffs",
    "customers",
    "services",
    "groups",
    "tags",
    "cities",
    "streets",
    "houses",
    "switches",
    "messages",
)
_RUNS_KEPT = 1000
_INT_RE = re.compile(r"^-?\d+$")
_SPACES_RE = re.compile(r"\s+")


def utc_now() -> str:
    """Current UTC time as ``YYYY-MM-DD HH:MM:SS``."""
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


def norm_billing_id(value: Any) -> str:
    """Billing id as a key: integer strings lose leading zeros, anything else is kept."""
    text = norm_text_id(value).strip()
    if _INT_RE.match(text):
        return str(int(text))
    return text


def norm_text_id(value: Any) -> str:
    """A billing-side id (customer uid, tariff id) as an exact string."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _sort_key(key: str) -> tuple[int, str]:
    return (int(key), "") if _INT_RE.match(str(key)) else (1 << 62, str(key))


def match_name(value: Any) -> str:
    """Name form used for address matching: trimmed, spaces collapsed, case-folded."""
    return _SPACES_RE.sub(" ", norm_text_id(value)).strip().casefold()


def new_customer_record(us_id: int, billing_id: str, billing_uid: str, name: Any) -> dict[str, Any]:
    """A freshly created customer (defaults: see "Choices for UNKNOWNs", item 3)."""
    return {
        "id": us_id,
        "billing_id": billing_id,
        "billing_uid": billing_uid,
        "full_name": name,
        "login": "",
        "account_number": "",
        "comment": "",
        "password": "",
        "balance": 0,
        "credit": 0,
        "discount": 0,
        "flag_corporate": 0,
        "is_disable": 0,
        "date_connect": "",
        "parent_id": 0,
        "disconnect_state": 0,
        "disconnect_date": "",
        "tariff_current": [],
        "tariff_new": None,
        "agreement_number": "",
        "agreement_date": "",
        "traffic_up": 0,
        "traffic_down": 0,
        "phones": ["", "", "", "", ""],
        "email": "",
        "house_id": 0,
        "apartment_number": "",
        "floor": "",
        "entrance": 0,
        "ip_mac": {},
        "state_id": 0,
        "date_activity_inet": "",
        "date_activity_inet_unix": 0,
        "additional_data": {},
        "additional_customer_data": {},
        "mark": {},
        "tag": {},
        "group": {},
        "service": {},
        "commutation": None,
        "is_in_billing": 1,
        "crc_billing": "",
        "date_create": utc_now(),
    }


def new_tariff_record(
    us_id: int, billing_id: str, billing_tariff_id: str, name: Any
) -> dict[str, Any]:
    """A freshly added tariff (defaults: see "Choices for UNKNOWNs", item 16)."""
    return {
        "id": us_id,
        "billing_id": billing_id,
        "billing_tariff_id": billing_tariff_id,
        "name": name,
        "payment": 0,
        "payment_interval": 30,
        "speed_tx": 0,
        "speed_rx": 0,
        "traffic": 0,
        "service_type": 0,
        "additional_comment": "",
        "is_in_billing": 1,
    }


def _empty_data() -> dict[str, Any]:
    data: dict[str, Any] = {
        "format": STATE_FORMAT,
        "counters": dict.fromkeys(_COUNTER_KINDS, 0),
        "stats": {"mutations": 0, "requests": 0, "writes": 0, "posts": 0, "refusals": {}},
    }
    for section in _SECTIONS:
        data[section] = {}
    data["runs"] = []
    return data


class UserSideState:
    """Everything the emulated UserSide stores, plus lookup indexes rebuilt on load.

    ``data`` is the JSON-serialisable document (see the module docstring).  Lookups by
    billing-side keys go through in-memory indexes so that 100,000 customers stay cheap.
    """

    def __init__(self, data: dict[str, Any] | None = None) -> None:
        self.data: dict[str, Any] = _empty_data()
        if data:
            self._merge_loaded(data)
        self._rebuild_indexes()

    # ----------------------------------------------------------------- persistence
    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> UserSideState:
        """Read a state file written by :meth:`save` (missing sections get defaults)."""
        with open(path, encoding="utf-8") as fh:
            raw = json.load(fh)
        if not isinstance(raw, dict):
            msg = f"UserSide emulator state file {os.fspath(path)!r} does not hold a JSON object"
            raise ValueError(msg)
        return cls(raw)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the state as JSON atomically (temporary file in the same folder + rename)."""
        write_atomically(path, self.encode())

    def encode(self) -> bytes:
        """The state document as JSON bytes (msgspec: 100 MB at 100,000 customers in a
        fraction of the time ``json.dump`` takes, which matters under the emulator's lock)."""
        return msgspec.json.encode(self.data)

    def to_dict(self) -> dict[str, Any]:
        """A deep copy of the whole state document."""
        return copy.deepcopy(self.data)

    def reset(self) -> None:
        """Forget everything: empty catalogues, counters and stats back to 0."""
        self.data = _empty_data()
        self._rebuild_indexes()

    def replace(self, data: dict[str, Any]) -> None:
        """Replace the whole state by ``data`` (missing sections get defaults)."""
        self.data = _empty_data()
        self._merge_loaded(data)
        self._rebuild_indexes()

    def _merge_loaded(self, raw: dict[str, Any]) -> None:
        for key, value in raw.items():
            if key in ("counters", "stats") and isinstance(value, dict):
                self.data[key].update(copy.deepcopy(value))
            else:
                self.data[key] = copy.deepcopy(value)
        # Counters never fall behind the ids already present (hand-written seed files).
        for kind, section in (
            ("customer", "customers"),
            ("tariff", "tariffs"),
            ("service", "services"),
            ("group", "groups"),
            ("tag", "tags"),
            ("city", "cities"),
            ("street", "streets"),
            ("house", "houses"),
            ("message", "messages"),
        ):
            ids = [int(k) for k in self.data[section] if _INT_RE.match(str(k))]
            if ids:
                self.data["counters"][kind] = max(int(self.data["counters"].get(kind, 0)), max(ids))

    def _rebuild_indexes(self) -> None:
        self._customer_idx: dict[tuple[str, str], str] = {}
        for cid, cust in self.data["customers"].items():
            self._customer_idx[
                (norm_billing_id(cust.get("billing_id")), norm_text_id(cust.get("billing_uid")))
            ] = cid
        self._tariff_idx: dict[tuple[str, str], str] = {}
        for tid, tariff in self.data["tariffs"].items():
            key = (
                norm_billing_id(tariff.get("billing_id")),
                norm_text_id(tariff.get("billing_tariff_id")),
            )
            self._tariff_idx[key] = tid
        self._message_idx: dict[tuple[str, str], str] = {}
        for mid, message in self.data["messages"].items():
            bmid = norm_text_id(message.get("billing_msg_id"))
            if bmid:
                self._message_idx[(norm_billing_id(message.get("billing_id")), bmid)] = mid
        self._city_idx: dict[str, str] = {}
        for cid, city in sorted(self.data["cities"].items(), key=lambda kv: _sort_key(kv[0])):
            self._city_idx.setdefault(match_name(city.get("name")), cid)
        self._street_idx: dict[tuple[int, str], str] = {}
        for sid, street in sorted(self.data["streets"].items(), key=lambda kv: _sort_key(kv[0])):
            self._street_idx.setdefault(
                (int(street.get("city_id", 0)), match_name(street.get("name"))), sid
            )
        self._house_idx: dict[tuple[int, str], str] = {}
        for hid, house in sorted(self.data["houses"].items(), key=lambda kv: _sort_key(kv[0])):
            number = compose_house_number(house.get("number"), house.get("block"))
            self._house_idx.setdefault((int(house.get("street_id", 0)), match_name(number)), hid)

    # ----------------------------------------------------------------- counters
    def new_id(self, kind: str) -> int:
        """Allocate the next US id of ``kind`` from the stored counter."""
        counters = self.data["counters"]
        counters[kind] = int(counters.get(kind, 0)) + 1
        return counters[kind]

    @property
    def stats(self) -> dict[str, Any]:
        """The live counters (``mutations``, ``requests``, ``writes``, ``posts``, ``refusals``)."""
        return self.data["stats"]

    def count(self, name: str, n: int = 1) -> None:
        """Increase one of the ``stats`` counters."""
        self.data["stats"][name] = int(self.data["stats"].get(name, 0)) + n

    # ----------------------------------------------------------------- settings / runs
    def settings_for(self, billing_id: Any) -> dict[str, Any]:
        """``get_settings`` data of a billing: defaults overridden by stored settings."""
        merged = dict(DEFAULT_SETTINGS)
        merged.update(self.data["settings"].get(norm_billing_id(billing_id), {}))
        return merged

    def merge_settings(self, billing_id: Any, values: dict[str, Any]) -> dict[str, Any]:
        """Merge ``values`` into the stored settings of a billing; return the effective settings."""
        stored = self.data["settings"].setdefault(norm_billing_id(billing_id), {})
        stored.update(copy.deepcopy(values))
        return self.settings_for(billing_id)

    def log_run(self, action: str, params: dict[str, str]) -> None:
        """Append a lifecycle call to the ``runs`` log (the API key is never stored)."""
        entry = {
            "time": utc_now(),
            "action": action,
            "params": {k: v for k, v in params.items() if k != "key"},
        }
        runs = self.data["runs"]
        runs.append(entry)
        if len(runs) > _RUNS_KEPT:
            del runs[: len(runs) - _RUNS_KEPT]

    # ----------------------------------------------------------------- customers
    def customer(self, us_id: Any) -> dict[str, Any] | None:
        """Customer by US id (int or decimal string), or None."""
        key = norm_text_id(us_id).strip()
        if not _INT_RE.match(key):
            return None
        return self.data["customers"].get(str(int(key)))

    def find_customer(self, billing_id: Any, billing_uid: Any) -> dict[str, Any] | None:
        """Customer bound to (billing id, billing customer id), or None."""
        cid = self._customer_idx.get((norm_billing_id(billing_id), norm_text_id(billing_uid)))
        return self.data["customers"].get(cid) if cid is not None else None

    def add_customer(self, billing_id: Any, billing_uid: Any, name: Any) -> dict[str, Any]:
        """Create a customer bound to (billing id, billing customer id)."""
        us_id = self.new_id("customer")
        bid, uid = norm_billing_id(billing_id), norm_text_id(billing_uid)
        record = new_customer_record(us_id, bid, uid, name)
        self.data["customers"][str(us_id)] = record
        self._customer_idx[(bid, uid)] = str(us_id)
        return record

    def customers_of(self, billing_id: Any | None) -> list[dict[str, Any]]:
        """Customers of one billing (all customers for None), ordered by US id."""
        rows = self.data["customers"].values()
        if billing_id is not None:
            bid = norm_billing_id(billing_id)
            rows = [c for c in rows if norm_billing_id(c.get("billing_id")) == bid]
        return sorted(rows, key=lambda c: int(c["id"]))

    # ----------------------------------------------------------------- tariffs
    def tariff(self, us_id: Any) -> dict[str, Any] | None:
        """Tariff by US id, or None."""
        key = norm_text_id(us_id).strip()
        if not _INT_RE.match(key):
            return None
        return self.data["tariffs"].get(str(int(key)))

    def find_tariff(self, billing_id: Any, billing_tariff_id: Any) -> dict[str, Any] | None:
        """Tariff bound to (billing id, billing tariff id), or None."""
        tid = self._tariff_idx.get((norm_billing_id(billing_id), norm_text_id(billing_tariff_id)))
        return self.data["tariffs"].get(tid) if tid is not None else None

    def add_tariff(self, billing_id: Any, billing_tariff_id: Any, name: Any) -> dict[str, Any]:
        """Create a tariff bound to (billing id, billing tariff id)."""
        us_id = self.new_id("tariff")
        bid, btid = norm_billing_id(billing_id), norm_text_id(billing_tariff_id)
        record = new_tariff_record(us_id, bid, btid, name)
        self.data["tariffs"][str(us_id)] = record
        self._tariff_idx[(bid, btid)] = str(us_id)
        return record

    def tariffs_of(self, billing_id: Any | None) -> list[dict[str, Any]]:
        """Tariffs of one billing (all for None), ordered by US id."""
        rows = self.data["tariffs"].values()
        if billing_id is not None:
            bid = norm_billing_id(billing_id)
            rows = [t for t in rows if norm_billing_id(t.get("billing_id")) == bid]
        return sorted(rows, key=lambda t: int(t["id"]))

    # ----------------------------------------------------------------- services
    def find_service(self, billing_id: Any, name: Any) -> dict[str, Any] | None:
        """Service of a billing with exactly this name, or None."""
        bid, text = norm_billing_id(billing_id), norm_text_id(name)
        for service in self.data["services"].values():
            if (
                norm_billing_id(service.get("billing_id")) == bid
                and norm_text_id(service.get("name")) == text
            ):
                return service
        return None

    def add_service(self, billing_id: Any, name: Any) -> dict[str, Any]:
        """Create a catalogue service of a billing (cost 0)."""
        us_id = self.new_id("service")
        record = {"id": us_id, "billing_id": norm_billing_id(billing_id), "name": name, "cost": 0}
        self.data["services"][str(us_id)] = record
        return record

    # ----------------------------------------------------------------- groups / tags
    def find_named(self, section: str, name: Any) -> dict[str, Any] | None:
        """Group or tag (``section`` = ``groups``/``tags``) with exactly this name, or None."""
        text = norm_text_id(name)
        for row in self.data[section].values():
            if norm_text_id(row.get("name")) == text:
                return row
        return None

    def add_named(self, section: str, kind: str, name: Any) -> dict[str, Any]:
        """Create a group or tag."""
        us_id = self.new_id(kind)
        record = {"id": us_id, "name": name}
        self.data[section][str(us_id)] = record
        return record

    # ----------------------------------------------------------------- addresses
    def find_city(self, name: Any) -> dict[str, Any] | None:
        """City by name (compared with :func:`match_name`), or None."""
        cid = self._city_idx.get(match_name(name))
        return self.data["cities"].get(cid) if cid is not None else None

    def add_city(self, name: Any, **extra: Any) -> dict[str, Any]:
        """Create a city."""
        us_id = self.new_id("city")
        record = {"id": us_id, "name": name, **extra}
        self.data["cities"][str(us_id)] = record
        self._city_idx.setdefault(match_name(name), str(us_id))
        return record

    def find_street(self, city_id: int, name: Any) -> dict[str, Any] | None:
        """Street of a city by name (compared with :func:`match_name`), or None."""
        sid = self._street_idx.get((int(city_id), match_name(name)))
        return self.data["streets"].get(sid) if sid is not None else None

    def add_street(self, city_id: int, name: Any) -> dict[str, Any]:
        """Create a street of a city."""
        us_id = self.new_id("street")
        record = {"id": us_id, "city_id": int(city_id), "name": name}
        self.data["streets"][str(us_id)] = record
        self._street_idx.setdefault((int(city_id), match_name(name)), str(us_id))
        return record

    def find_house(self, street_id: int, composed_number: str) -> dict[str, Any] | None:
        """House of a street by composed number (compared with :func:`match_name`), or None."""
        hid = self._house_idx.get((int(street_id), match_name(composed_number)))
        return self.data["houses"].get(hid) if hid is not None else None

    def add_house(
        self, city_id: int, street_id: int, number: Any, block: Any, **extra: Any
    ) -> dict[str, Any]:
        """Create a house."""
        us_id = self.new_id("house")
        record = {
            "id": us_id,
            "city_id": int(city_id),
            "street_id": int(street_id),
            "number": number,
            "block": block,
            "full_number": compose_house_number(number, block),
            "postcode": "",
            "floor": 0,
            "entrance": 0,
        }
        record.update(extra)
        self.data["houses"][str(us_id)] = record
        self._house_idx.setdefault((int(street_id), match_name(record["full_number"])), str(us_id))
        return record

    # ----------------------------------------------------------------- messages
    def find_message(self, billing_id: Any, billing_msg_id: Any) -> dict[str, Any] | None:
        """Message of a billing by billing message id, or None."""
        mid = self._message_idx.get((norm_billing_id(billing_id), norm_text_id(billing_msg_id)))
        return self.data["messages"].get(mid) if mid is not None else None

    def add_message(self, customer: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
        """Store a customer message sent by ``msg_add``."""
        us_id = self.new_id("message")
        record = {
            "id": us_id,
            "customer_id": int(customer["id"]),
            "billing_id": customer.get("billing_id"),
            "billing_msg_id": params.get("billing_msg_id", ""),
            "billing_msg_date": params.get("billing_msg_date", ""),
            "text": params.get("text", ""),
            "date_add": utc_now(),
        }
        self.data["messages"][str(us_id)] = record
        bmid = norm_text_id(record["billing_msg_id"])
        if bmid:
            self._message_idx[(norm_billing_id(record["billing_id"]), bmid)] = str(us_id)
        return record
