"""Deterministic synthetic billing in uBilling 1.6.4's Universal API shapes.

``generate(customers, seed, day)`` returns the payload (plain Python objects, ready for a
PHP-style ``json_encode``) of every method the emulator serves from generated data. The
shapes and quirks follow the ``shared/peers/ubilling-1.6.4`` captures; the data is our own.

Determinism: day 0 comes from ``random.Random(seed)`` only; day *d* (1, 2, …) is applied on
top of day *d-1* with its own ``random.Random`` seeded from ``(seed, d)``. No clock, no global
RNG, so equal arguments always give equal payloads, and ``day=D`` is day ``D-1`` plus one
day of changes.

Day changes (per day, fractions of the customers present that day; counts are rounded
stochastically, new/vanished at least 1):

* ~10 % balance moves — about 2/3 a fee (the tariff's fee, a prorated fee with float
  noise now and then), 1/3 a payment; state follows (work ↔ nomoney);
* ~1 % tariff change (drops a scheduled one), ~0.1 % newly scheduled changes
  (``tariff.new`` + ``date_finish``), due scheduled changes are applied;
* ~0.5 % IP or MAC change, ~0.5 % move to another house/flat, ~0.3 % mobile phone change;
* ~12 % ``date_activity`` refreshed (traffic counters grow with it), ~0.1 % pause/unpause;
* ~0.5 % new customers (new ids, never reused), ~0.3 % vanish;
* 1–2 new messages, and half of the days an admin reply appended to an old one.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from typing import Any

from emulators.billing._gc import gc_paused

__all__ = [
    "BASE_DATE",
    "GENERATED_METHODS",
    "NO_TARIFF",
    "STATE_LIST",
    "generate",
]

#: System time of day 0; day *d* is this plus *d* days.
BASE_DATE = datetime(2026, 11, 25, 22, 0, 0)

#: uBilling's tariff id for "no tariff" (not in ``get_tariff_list``).
NO_TARIFF = "*_NO_TARIFF_*"

#: Methods ``generate`` produces, in the order uBilling lists them.
GENERATED_METHODS = (
    "get_supported_method_list",
    "get_api_information",
    "get_tariff_list",
    "get_city_list",
    "get_street_list",
    "get_house_list",
    "get_user_additional_data_type_list",
    "get_user_state_list",
    "get_user_group_list",
    "get_system_information",
    "get_user_list",
    "get_user_tags",
    "get_services_list",
    "get_user_messages",
)

_METHOD_COMMENTS = {
    "get_supported_method_list": "Перелік методів, що підтримуються",
    "get_api_information": "Версія API",
    "get_tariff_list": "Тарифи",
    "get_city_list": "Населені пункти",
    "get_street_list": "Вулиці",
    "get_house_list": "Будинки",
    "get_user_additional_data_type_list": "Додаткові поля профілю",
    "get_user_state_list": "Стани абонентів",
    "get_user_group_list": "Групи абонентів",
    "get_system_information": "Системна інформація",
    "get_user_list": "Абоненти",
    "get_user_tags": "Теги абонентів",
    "get_services_list": "Послуги",
    "get_user_messages": "Звернення абонентів",
}

# ---------------------------------------------------------------------------- catalogues

#: ``get_user_state_list`` (uBilling ids: 5 work, 1 nomoney, 2 pause, 3 disable, 4 new).
STATE_LIST: dict[str, dict[str, Any]] = {
    "5": {"id": 5, "name": "Активний", "functional": "work"},
    "1": {"id": 1, "name": "Борг", "functional": "nomoney"},
    "2": {"id": 2, "name": "Призупинений", "functional": "pause"},
    "3": {"id": 3, "name": "Відключений", "functional": "disable"},
    "4": {"id": 4, "name": "Без тарифу", "functional": "new"},
}
_WORK, _NOMONEY, _PAUSE, _DISABLE, _NEW = 5, 1, 2, 3, 4
_STATE_WEIGHTS = ((_WORK, 860), (_NOMONEY, 70), (_PAUSE, 40), (_DISABLE, 25), (_NEW, 5))

# (name, payment, interval, speed up, speed down (None = no speed row), traffic, weight)
_TARIFFS_REQUIRED = (
    ("Дім 100/100", "180", 30, "102400", "102400", -1, 30),
    ("Доба-5", "5", 1, "51200", "51200", -1, 8),
    ("Соціальний", "0", 30, "10240", "20480", -1, 4),
    ("Бізнес 1G", "1200", 30, "1024000", "1024000", "1024", 3),
)
_TARIFFS_OPTIONAL = (
    ("Home-100", "150", 30, "102400", "102400", -1, 30),
    ("Турбо+ 500", "300", 30, "512000", "512000", -1, 12),
    ("Legacy_2015", "99.5", 30, None, None, -1, 8),
    ("Оптика 300", "250", 30, "307200", "307200", -1, 10),
)

_TAGS = {"1": "VIP", "2": "IPTV", "3": "Статичний IP", "4": "Юр. особа", "5": "Боржник/суд"}
_TAG_WEIGHTS = (("2", 45), ("1", 25), ("4", 12), ("3", 10), ("5", 8))
_SERVICES = {
    "1": {"id": 1, "name": "IPTV", "cost": "25.5"},
    "2": {"id": 2, "name": "Статичний IP", "cost": "30"},
}
_TAG_SERVICE = {"2": "1", "3": "2"}
_ADDITIONAL_TYPES = {"1": "Паспорт", "2": "GPON SN", "3": "Акт підписано"}

_CITY_POOL = (
    "Житомир",
    "Бердичів",
    "Звягель",
    "Мар'янівка",
    "Коростень",
    "Малин",
    "Овруч",
    "Радомишль",
)
_STREET_POOL = (
    "Велика Бердичівська",
    "Київська",
    "пр-т Миру",
    "Шевченка",
    "Вінницька",
    "Центральна",
    "Лесі Українки",
    "Пушкінська",
    "Соборна",
    "Набережна",
    "Садова",
    "В'ячеслава Чорновола",
    "Independence",
    "Героїв Майдану",
    "Тиха",
)
_HOUSE_LETTERS = ("А", "Б", "В", "а", "б")

# (surname, latin form for e-mails); the -ський ones get a female form
_SURNAMES = (
    ("Шевченко", "shevchenko"),
    ("Коваленко", "kovalenko"),
    ("Бондаренко", "bondarenko"),
    ("Ткаченко", "tkachenko"),
    ("Кравченко", "kravchenko"),
    ("Олійник", "oliinyk"),
    ("Шевчук", "shevchuk"),
    ("Поліщук", "polishchuk"),
    ("Мельник", "melnyk"),
    ("Бойко", "boiko"),
    ("Ковальчук", "kovalchuk"),
    ("Кравчук", "kravchuk"),
    ("Савчук", "savchuk"),
    ("Лисенко", "lysenko"),
    ("Марченко", "marchenko"),
    ("Руденко", "rudenko"),
    ("Павленко", "pavlenko"),
    ("Петренко", "petrenko"),
    ("Гончаренко", "honcharenko"),
    ("Мороз", "moroz"),
    ("Ткачук", "tkachuk"),
    ("Гнатюк", "hnatiuk"),
    ("Д'яченко", "diachenko"),
    ("Мар'яненко", "marianenko"),
    ("В'юник", "viunyk"),
    ("П'ятничук", "piatnychuk"),
    ("Солов'як", "soloviak"),
)
_SURNAMES_SKYI = (
    ("Ковальськ", "kovalsky"),
    ("Левицьк", "levytsky"),
    ("Савицьк", "savytsky"),
    ("Вишневськ", "vyshnevsky"),
)
_MALE = (
    "Андрій",
    "Богдан",
    "Василь",
    "Дмитро",
    "Іван",
    "Микола",
    "Олег",
    "Олександр",
    "Петро",
    "Роман",
    "Сергій",
    "Тарас",
    "Юрій",
    "Ярослав",
    "Віталій",
    "Максим",
    "Гордій",
    "Опанас",
)
_FEMALE = (
    "Анна",
    "Валентина",
    "Галина",
    "Дар'я",
    "Ірина",
    "Катерина",
    "Людмила",
    "Мар'яна",
    "Наталія",
    "Оксана",
    "Олена",
    "Ольга",
    "Світлана",
    "Тетяна",
    "Юлія",
    "Софія",
)
_PATRONYMICS = (
    ("Андрійович", "Андріївна"),
    ("Васильович", "Василівна"),
    ("Олександрович", "Олександрівна"),
    ("Петрович", "Петрівна"),
    ("Миколайович", "Миколаївна"),
    ("Іванович", "Іванівна"),
    ("Сергійович", "Сергіївна"),
    ("Григорович", "Григорівна"),
    ("Юрійович", "Юріївна"),
    ("Степанович", "Степанівна"),
)
_COMPANIES = (
    'ТОВ "Лан-Телеком"',
    'ТОВ "Агроальянс"',
    'ПП "Світанок/Плюс"',
    "ФОП Кравчук І.В.",
    'ТОВ "Мар\'ян Груп"',
    'ОСББ "Соборна 12"',
)
_COMMENTS = (
    "кабель через сусіда",
    "роутер абонента",
    "VLAN 101",
    "ключ у консьєржа",
    "Пароль Wi-Fi: a/b\\c\nдруга лінія\r\nтретя",
    "дзвонити після 18:00",
    '<i>не</i> дзвонити & "писати" в Viber',
    "ONU на балансі/оренда",
    "обрив 12/03, перевірити конектор",
    "переїзд з кв. 5\nстарий договір закрито",
    "кабінет: O'Brien-роутер",
    "шлях C:\\backup\\cfg",
    "оплата через касу 'Приват'",
)
_MESSAGE_TEXTS = (
    "Не працює інтернет з ранку",
    "Чому відключили? Я ж платила!",
    "Роутер <TP-Link> не бачить 5 ГГц",
    "Потрібен акт звірки за жовтень\nдякуємо",
    "Низька швидкість увечері, 2/10 від тарифу",
    "Прошу змінити тариф з 1-го числа",
    "Переїжджаю, що робити з обладнанням?",
    "Кабель пошкоджено в під'їзді",
)
_REPLIES = (
    "Перевірили, лінію відновлено.",
    "Оплату зараховано, дякуємо.",
    "Майстер буде завтра з 10:00 до 14:00.",
)
_MOBILE_CODES = ("50", "63", "66", "67", "68", "73", "93", "95", "96", "97", "98", "99")
_MAIL_DOMAINS = ("ukr.net", "gmail.com", "i.ua", "meta.ua")

# canonical key order of a uBilling customer record
_CUSTOMER_KEYS = (
    "id",
    "login",
    "full_name",
    "flag_corporate",
    "tariff",
    "agreement",
    "account_number",
    "comment",
    "group",
    "balance",
    "credit",
    "state_id",
    "date_create",
    "date_connect",
    "date_activity",
    "traffic",
    "discount",
    "address",
    "phone",
    "email",
    "ip_mac",
    "tag",
    "service",
    "additional_data",
    "password",
)
_IP_NETS = (
    (10 << 24) | (20 << 16),
    (10 << 24) | (21 << 16),
    (10 << 24) | (22 << 16),
    (10 << 24) | (23 << 16),
)


# ---------------------------------------------------------------------------- helpers


def _money(value: float) -> str:
    """Format a balance as uBilling's DB string: ``"120"``, ``"381.9"``, ``"-75"``."""
    if value == 0:
        return "0"
    if value == int(value):
        return str(int(value))
    return repr(value)


def _net_of(ip: int) -> str:
    return f"{ip >> 24}.{(ip >> 16) & 255}.0.0/16"


def _dt(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _first_of_next_month(today: date) -> str:
    return (
        date(today.year + 1, 1, 1) if today.month == 12 else date(today.year, today.month + 1, 1)
    ).isoformat()


def _sround(value: float, rng: random.Random) -> int:
    """Stochastic rounding: 2.3 → 2 (70 %) or 3 (30 %)."""
    whole = int(value)
    return whole + (1 if rng.random() < value - whole else 0)


def _weighted(rng: random.Random, table: tuple[tuple[Any, int], ...]) -> Any:
    total = sum(w for _, w in table)
    pick = rng.random() * total
    for item, weight in table:
        pick -= weight
        if pick < 0:
            return item
    return table[-1][0]


def _put(customers: dict[str, dict[str, Any]], cid: str, key: str, value: Any) -> None:
    """Set ``key`` on a customer, keeping uBilling's key order when the key is new."""
    rec = customers[cid]
    if key in rec:
        rec[key] = value
        return
    rec[key] = value
    customers[cid] = {k: rec[k] for k in _CUSTOMER_KEYS if k in rec}


class _World:
    """Mutable state of one synthetic billing (day 0 built by ``__init__``, days by ``advance``)."""

    def __init__(self, customers: int, seed: int) -> None:
        if customers < 0:
            msg = f"customers must be >= 0, got {customers}"
            raise ValueError(msg)
        rng = random.Random(seed)
        self.seed = seed
        self.day = 0
        self.today = BASE_DATE
        self._build_catalogues(rng, customers)
        self.customers: dict[str, dict[str, Any]] = {}
        self.scheduled: set[str] = set()
        self.next_index = 1
        self.next_ip = 2
        self.next_apt = 1
        for _ in range(customers):
            self._add_customer(rng, self.today, new=False)
        self.messages: dict[str, dict[str, Any]] = {}
        self.next_msg = 1
        ids = list(self.customers)
        offsets = sorted(
            (rng.randint(60, 30 * 24 * 60) for _ in range(3 + customers // 200)), reverse=True
        )
        for minutes in offsets if ids else ():
            self._add_message(
                rng, rng.choice(ids), (self.today - timedelta(minutes=minutes)).replace(second=0)
            )

    # ------------------------------------------------------------------ catalogues
    def _build_catalogues(self, rng: random.Random, customers: int) -> None:
        extra = list(_TARIFFS_OPTIONAL)
        rng.shuffle(extra)
        chosen = [_TARIFFS_REQUIRED[0], *extra[: rng.randint(1, 4)], *_TARIFFS_REQUIRED[1:]]
        self.tariffs: dict[str, dict[str, Any]] = {}
        for name, payment, interval, up, down, traffic, _w in chosen:
            self.tariffs[name] = {
                "id": name,
                "name": name,
                "payment": payment,
                "payment_interval": interval,
                "speed": {
                    "up": up if up is not None else 0,
                    "down": down if down is not None else 0,
                },
                "traffic": traffic,
                "service_type": 0,
            }
        self.tariff_weights = tuple((t[0], t[6]) for t in chosen)

        city_names = rng.sample(_CITY_POOL, 3)
        self.cities = {
            str(i): {"id": i, "name": n, "type_name": "м."} for i, n in enumerate(city_names, 1)
        }
        street_names = rng.sample(_STREET_POOL, 10)
        self.streets: dict[str, dict[str, Any]] = {}
        for i, name in enumerate(street_names, 1):
            city_id = 1 if i <= 4 else (2 if i <= 7 else 3)
            self.streets[str(i)] = {
                "id": i,
                "city_id": str(city_id),
                "name": name,
                "type_name": "вул.",
                "full_name": f"вул. {name}",
            }
        self.houses: dict[str, dict[str, Any]] = {}
        self.private_houses: set[str] = set()
        next_number = dict.fromkeys(self.streets, 0)
        for hid in range(1, customers // 40 + 6):
            street_id = str((hid - 1) % 10 + 1) if hid <= 10 else str(rng.randint(1, 10))
            next_number[street_id] += rng.randint(1, 4)
            number = str(next_number[street_id])
            street = self.streets[street_id]["name"]
            roll = rng.random()
            if roll < 0.08:
                block = rng.choice(_HOUSE_LETTERS)
                full = f"{street} {number}{block}"
            elif roll < 0.11:
                block = "1"
                full = f"{street} {number}/1"
            elif roll < 0.12:
                block = "2"
                full = f"{street} {number} корп.2"
            else:
                block, full = "", f"{street} {number}"
            roll = rng.random()
            coords: str | None = ""
            if roll < 0.3:
                coords = f"{50.2 + rng.random() * 0.2:.4f},{28.5 + rng.random() * 0.2:.4f}"
            elif roll < 0.32:
                coords = None
            self.houses[str(hid)] = {
                "id": hid,
                "city_district_id": "",
                "street_id": street_id,
                "full_name": full,
                "postcode": "",
                "floor": "",
                "entrance": "",
                "number": number,
                "block": block,
                "coordinates": coords,
            }
            if rng.random() < 0.15:
                self.private_houses.add(str(hid))
        self.house_ids = list(self.houses)

    # ------------------------------------------------------------------ pieces of a customer
    def _new_ip(self) -> tuple[int, str]:
        offset = self.next_ip
        self.next_ip += 1
        net_index, host = divmod(offset, 65534)
        net = _IP_NETS[net_index % len(_IP_NETS)] + (net_index // len(_IP_NETS)) * (4 << 16)
        ip = net + host + 1
        return ip, _net_of(ip)

    @staticmethod
    def _mac(rng: random.Random) -> str:
        return f"{rng.getrandbits(48):012x}"

    @staticmethod
    def _mobile(rng: random.Random) -> str:
        return f"+380{rng.choice(_MOBILE_CODES)}{rng.randrange(10_000_000):07d}"

    def _address(self, rng: random.Random) -> dict[str, Any]:
        if not self.house_ids:
            return {
                "type": "connect",
                "house_id": "0",
                "apartment": {"id": "0", "full_name": "", "number": ""},
            }
        house_id = rng.choice(self.house_ids)
        apt_id = str(self.next_apt)
        self.next_apt += 1
        if house_id in self.private_houses:
            return {
                "type": "connect",
                "house_id": house_id,
                "apartment": {"id": apt_id, "full_name": "0", "number": "0"},
            }
        flat = rng.randint(1, 180)
        full = f"{flat}{rng.choice('АБ')}" if rng.random() < 0.01 else str(flat)
        return {
            "type": "connect",
            "house_id": house_id,
            "apartment": {"id": apt_id, "full_name": full, "number": str(flat)},
            "entrance": str((flat - 1) // 36 + 1),
            "floor": str((flat - 1) % 36 // 4 + 1),
        }

    def _full_name(self, rng: random.Random) -> str | None:
        roll = rng.random()
        if roll < 0.002:
            return None
        if roll < 0.012:
            return rng.choice(_COMPANIES)
        female = rng.random() < 0.5
        if rng.random() < 0.12:
            stem = rng.choice(_SURNAMES_SKYI)[0]
            surname = stem + ("а" if female else "ий")
        else:
            surname = rng.choice(_SURNAMES)[0]
        first = rng.choice(_FEMALE if female else _MALE)
        if "'" in surname + first and rng.random() < 0.15:
            surname, first = surname.replace("'", "\u2019"), first.replace("'", "\u2019")
        if rng.random() < 0.1:
            return f"{surname} {first}"
        patronymic = rng.choice(_PATRONYMICS)[1 if female else 0]
        if rng.random() < 0.003:
            return f"{surname}  {first}  {patronymic} "
        return f"{surname} {first} {patronymic}"

    def _email(self, rng: random.Random, n: int) -> str:
        def one() -> str:
            latin = rng.choice(_SURNAMES)[1]
            return f"{latin}{n % 97}@{rng.choice(_MAIL_DOMAINS)}"

        return f"{one()} {one()}" if rng.random() < 0.05 else one()

    def _add_customer(self, rng: random.Random, when: datetime, *, new: bool) -> str:
        n = self.next_index
        self.next_index += 1
        numeric = rng.random() < 0.05
        ident: str | int = 700_000 + n if numeric else f"u{n:06d}"
        key = str(ident)
        rec: dict[str, Any] = {
            "id": ident,
            "login": ident,
            "full_name": self._full_name(rng),
            "flag_corporate": 0,
        }

        state = _NEW if new and rng.random() < 0.3 else _weighted(rng, _STATE_WEIGHTS)
        tariff = NO_TARIFF if state == _NEW else _weighted(rng, self.tariff_weights)
        rec["tariff"] = {"current": [{"id": tariff}]}
        if state != _NEW and rng.random() < 0.02:
            self._schedule(rng, rec, key)

        roll = rng.random()
        if roll >= 0.005:
            number: str | int = 500_000 + n
            if roll < 0.015:
                number = f"Б-{n}/2025"
            elif roll < 0.025:
                number = f"00{n}"
            elif roll < 0.035:
                number = f"{n}/1"
            agreement: dict[str, Any] = {"number": number}
            if rng.random() < 0.5:
                agreement["date"] = (when - timedelta(days=rng.randint(0, 3000))).date().isoformat()
            rec["agreement"] = [agreement]
        rec["account_number"] = str(1_000_000_000 + n * 7 + 3)
        if rng.random() < 0.1:
            rec["comment"] = rng.choice(_COMMENTS)

        tags: list[str] = []
        if rng.random() < 0.1:
            tags.append(_weighted(rng, _TAG_WEIGHTS))
            if rng.random() < 0.1:
                other = _weighted(rng, _TAG_WEIGHTS)
                if other not in tags:
                    tags.append(other)
            tags.sort(key=int)
            rec["group"] = {t: t for t in tags}

        if state == _NEW:
            balance = 0.0
        elif state == _NOMONEY:
            balance = -round(rng.uniform(1, 300), rng.choice((0, 2)))
        elif rng.random() < 0.05:
            balance = -round(rng.uniform(0, 50), 2)
        else:
            balance = round(rng.uniform(0, 900), rng.choice((0, 1, 2, 2, 2)))
        if rng.random() < 0.01 and tariff != NO_TARIFF:
            balance = (
                float(self.tariffs[tariff]["payment"]) * rng.randint(1, 29) / 30
                + rng.randint(0, 3) * 10
            )
        rec["balance"] = _money(balance)
        rec["credit"] = rng.choice(("50", "100", "200")) if rng.random() < 0.02 else "0"
        rec["state_id"] = state

        if new:
            created = _dt(when.replace(second=0) - timedelta(minutes=rng.randint(0, 600)))
        elif rng.random() < 0.003:
            created = ""
        else:
            created = _dt(when - timedelta(days=rng.randint(2, 5000), minutes=rng.randint(0, 1439)))
        rec["date_create"] = created
        rec["date_connect"] = created
        active = state in (_WORK, _NOMONEY) and rng.random() < 0.4
        rec["date_activity"] = _dt(when - timedelta(minutes=rng.randint(1, 1439))) if active else ""
        if active or rng.random() < 0.5:
            up, down = rng.randrange(10**11), rng.randrange(2 * 10**11)
        else:
            up = down = 0
        rec["traffic"] = {"month": {"up": str(up), "down": str(down)}}
        rec["discount"] = 0
        if rng.random() >= 0.02:
            rec["address"] = [self._address(rng)]

        roll = rng.random()
        if roll < 0.005:
            rec["phone"] = {"1": {"number": self._mobile(rng), "flag_main": 1}}
        elif roll < 0.90:
            landline = f"0412{rng.randrange(1_000_000):06d}" if rng.random() < 0.12 else ""
            mobile = self._mobile(rng)
            extra = rng.random()
            if extra < 0.01 and landline:
                mobile = ""
            elif extra < 0.015:
                mobile = f"{mobile}, {self._mobile(rng)}"
            rec["phone"] = [
                {"number": landline, "flag_main": 0},
                {"number": mobile, "flag_main": 1},
            ]
        if rng.random() < 0.4:
            rec["email"] = [{"address": self._email(rng, n), "flag_main": 1}]

        roll = rng.random()
        if roll < 0.005:
            entry: dict[str, Any] = {"ip": 0}
        else:
            ip, net = self._new_ip()
            entry = {"ip": ip} if roll < 0.055 else {"ip": ip, "mac": self._mac(rng), "ip_net": net}
        rec["ip_mac"] = [entry]

        if tags:
            rec["tag"] = {t: {"id": t, "date_add": ""} for t in tags}
            services = {_TAG_SERVICE[t]: [self._service_row(t)] for t in tags if t in _TAG_SERVICE}
            if services:
                if rng.random() < 0.05:
                    first = next(iter(services))
                    services[first].append(dict(services[first][0]))
                rec["service"] = services
        if rng.random() < 0.3:
            vendor = rng.choice(("HWTC", "ZTEG", "GPON"))
            extra_rows = [{"id": "2", "value": f"{vendor}{rng.getrandbits(32):08X}"}]
            if rng.random() < 0.1:
                letters = rng.choice(("ВМ", "ЖТ", "КА"))
                extra_rows.insert(
                    0, {"id": "1", "value": f"{letters} {rng.randrange(1_000_000):06d}"}
                )
            if rng.random() < 0.05:
                extra_rows.append({"id": "3", "value": "1"})
            rec["additional_data"] = extra_rows
        rec["password"] = f"pw{rng.randrange(1_000_000):06d}"
        self.customers[key] = rec
        return key

    @staticmethod
    def _service_row(tag: str) -> dict[str, str]:
        return {"cost": _SERVICES[_TAG_SERVICE[tag]]["cost"], "date_add": "", "comment": ""}

    def _schedule(self, rng: random.Random, rec: dict[str, Any], key: str) -> None:
        current = rec["tariff"]["current"][0]["id"]
        choices = [t for t in self.tariffs if t != current]
        if not choices:
            return
        switch = _first_of_next_month(self.today.date())
        rec["tariff"] = {
            "current": [{"id": current, "date_finish": switch}],
            "new": [{"id": rng.choice(choices), "date_start": switch}],
        }
        self.scheduled.add(key)

    def _add_message(self, rng: random.Random, user: str, when: datetime) -> None:
        msg_id = str(self.next_msg)
        self.next_msg += 2 if rng.random() < 0.1 else 1
        stamp = _dt(when)
        self.messages[msg_id] = {
            "id": msg_id,
            "user_id": user,
            "msg_date": stamp,
            "subject": f"Тікет {stamp}",
            "text": rng.choice(_MESSAGE_TEXTS),
        }

    # ------------------------------------------------------------------ one day
    def advance(self) -> None:
        """Apply one day of changes (deterministic by ``(seed, day)``)."""
        self.day += 1
        rng = random.Random(f"usm-billing-emulator/{self.seed}/day/{self.day}")
        self.today = BASE_DATE + timedelta(days=self.day)
        today = self.today
        customers = self.customers

        for key in sorted(self.scheduled):
            rec = customers.get(key)
            if rec is None or "new" not in rec["tariff"]:
                self.scheduled.discard(key)
                continue
            new = rec["tariff"]["new"][0]
            if new["date_start"] <= today.date().isoformat():
                rec["tariff"] = {"current": [{"id": new["id"]}]}
                self.scheduled.discard(key)

        ids = list(customers)
        if len(ids) > 2:
            for key in rng.sample(ids, min(len(ids) - 2, max(1, _sround(len(ids) * 0.003, rng)))):
                del customers[key]
                self.scheduled.discard(key)
            ids = list(customers)
        count = len(ids)

        def sample(fraction: float) -> list[str]:
            return rng.sample(ids, min(count, _sround(count * fraction, rng)))

        for key in sample(0.10):
            self._move_balance(rng, key)
        for key in sample(0.01):
            rec = customers[key]
            current = rec["tariff"]["current"][0]["id"]
            choices = [t for t in self.tariffs if t != current]
            rec["tariff"] = {"current": [{"id": rng.choice(choices)}]}
            self.scheduled.discard(key)
            if rec["state_id"] == _NEW:
                rec["state_id"] = _WORK
        for key in sample(0.001):
            if "new" not in customers[key]["tariff"] and customers[key]["state_id"] != _NEW:
                self._schedule(rng, customers[key], key)
        for key in sample(0.005):
            entry = dict(customers[key]["ip_mac"][0])
            if rng.random() < 0.5 or not entry.get("ip"):
                ip, net = self._new_ip()
                entry = {"ip": ip, "mac": entry.get("mac") or self._mac(rng), "ip_net": net}
            else:
                ip = entry["ip"]
                entry = {
                    "ip": ip,
                    "mac": self._mac(rng),
                    "ip_net": entry.get("ip_net") or _net_of(ip),
                }
            customers[key]["ip_mac"] = [entry]
        for key in sample(0.005):
            _put(customers, key, "address", [self._address(rng)])
        for key in sample(0.003):
            phone = customers[key].get("phone")
            landline = ""
            if isinstance(phone, list):
                landline = phone[0]["number"]
            _put(
                customers,
                key,
                "phone",
                [
                    {"number": landline, "flag_main": 0},
                    {"number": self._mobile(rng), "flag_main": 1},
                ],
            )
        for key in sample(0.12):
            rec = customers[key]
            if rec["state_id"] not in (_WORK, _NOMONEY):
                continue
            rec["date_activity"] = _dt(today - timedelta(minutes=rng.randint(1, 1439)))
            month = rec["traffic"]["month"]
            rec["traffic"] = {
                "month": {
                    "up": str(int(month["up"]) + rng.randrange(2 * 10**9)),
                    "down": str(int(month["down"]) + rng.randrange(2 * 10**10)),
                }
            }
        for key in sample(0.001):
            if customers[key]["state_id"] == _WORK:
                customers[key]["state_id"] = _PAUSE
        for (
            key
        ) in ids:  # frozen accounts come back after ~a month, new ones get a tariff within days
            rec = customers[key]
            state = rec["state_id"]
            if state == _PAUSE and rng.random() < 0.03:
                rec["state_id"] = _WORK
            elif state == _NEW and rng.random() < 0.25:
                rec["tariff"] = {"current": [{"id": _weighted(rng, self.tariff_weights)}]}
                rec["state_id"] = _WORK
                fee = float(self.tariffs[rec["tariff"]["current"][0]["id"]]["payment"])
                rec["balance"] = _money(max(fee, 100.0))

        for _ in range(max(1, _sround(count * 0.005, rng))):
            self._add_customer(rng, today, new=True)

        ids = list(customers)
        if ids:
            for _ in range(rng.randint(1, 2)):
                self._add_message(
                    rng,
                    str(customers[rng.choice(ids)]["login"]),
                    (today - timedelta(minutes=rng.randint(5, 1200))).replace(second=0),
                )
            if self.messages and rng.random() < 0.5:
                msg = self.messages[rng.choice(list(self.messages))]
                stamp = _dt((today - timedelta(minutes=rng.randint(1, 60))).replace(second=0))
                reply = rng.choice(_REPLIES)
                msg["text"] = (
                    f"{msg['text']}\n=========\n\nПовідомлення {stamp} (admin): \n{reply}\n"
                )

    def _move_balance(self, rng: random.Random, key: str) -> None:
        rec = self.customers[key]
        tariff = self.tariffs.get(rec["tariff"]["current"][0]["id"])
        balance = float(rec["balance"])
        fee = float(tariff["payment"]) if tariff else 0.0
        if fee > 0 and rng.random() < (0.15 if balance < 0 else 0.7):
            if rng.random() < 0.05:
                balance -= (
                    fee * rng.randint(1, 29) / 30
                )  # prorated: float noise kept, like uBilling
            else:
                balance = round(balance - fee, 2)
        else:
            amount = max(50.0, -(-max(fee, -balance) // 50) * 50) * rng.choice((1, 1, 1, 2, 3))
            balance = round(balance + amount, 2)
        rec["balance"] = _money(balance)
        credit = float(rec["credit"])
        if rec["state_id"] == _WORK and balance < -credit:
            rec["state_id"] = _NOMONEY
        elif rec["state_id"] == _NOMONEY and balance >= 0:
            rec["state_id"] = _WORK

    # ------------------------------------------------------------------ payloads
    def payloads(self) -> dict[str, object]:
        users: dict[str, Any] = {}
        extra_counter = 0
        for key, rec in self.customers.items():
            rows = rec.get("additional_data")
            if rows is not None:
                rec = dict(rec)
                if extra_counter == 0:
                    rec["additional_data"] = [dict(r) for r in rows]  # PHP list: keys 0..n-1
                else:
                    rec["additional_data"] = {
                        str(extra_counter + i): dict(r) for i, r in enumerate(rows)
                    }
                extra_counter += len(rows)
            users[key] = rec
        tags = {k: {"id": int(k), "name": v} for k, v in _TAGS.items()}
        return {
            "get_supported_method_list": {
                m: {"comment": _METHOD_COMMENTS[m]} for m in GENERATED_METHODS
            },
            "get_api_information": {"version": "1.5", "date": "06.10.2017"},
            "get_tariff_list": self.tariffs,
            "get_city_list": self.cities,
            "get_street_list": self.streets,
            "get_house_list": self.houses,
            "get_user_additional_data_type_list": {
                k: {"id": int(k), "name": v} for k, v in _ADDITIONAL_TYPES.items()
            },
            "get_user_state_list": {k: dict(v) for k, v in STATE_LIST.items()},
            "get_user_group_list": tags,
            "get_system_information": {
                "date": _dt(self.today),
                "os": "Linux",
                "billing": {"name": "Ubilling", "version": "1.6.4 rev 9708 (emulated)"},
            },
            "get_user_list": users,
            "get_user_tags": {k: dict(v) for k, v in tags.items()},
            "get_services_list": {k: dict(v) for k, v in _SERVICES.items()},
            "get_user_messages": self.messages,
        }


def generate(customers: int, seed: int, day: int = 0) -> dict[str, object]:
    """Payloads of every generated method for a synthetic uBilling-like billing.

    :param customers: number of customers on day 0.
    :param seed: any int; equal seeds give byte-identical payloads.
    :param day: number of simulated days of change applied on top of day 0.
    :returns: ``{method name: payload}`` for every name in :data:`GENERATED_METHODS`.
    """
    if day < 0:
        msg = f"day must be >= 0, got {day}"
        raise ValueError(msg)
    with gc_paused():
        world = _World(customers, seed)
        for _ in range(day):
            world.advance()
        return world.payloads()
