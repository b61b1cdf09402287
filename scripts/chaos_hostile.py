"""``make chaos``, hostile-billing phase: a billing that attacks the importer.

A UserSide emulator is seeded by a clean import of a generated billing and its customers
and tariffs are snapshotted (``scripts/chaos.py``'s ``comparable``). Then, one attack at a
time, the importer runs against a billing that serves the attack on ``get_user_list``: a
hostile transport (trickled body, endless body, a huge ``Content-Length``, a gzip bomb, a
redirect), an error body echoing the API key, or hostile records (absurd numbers, deep
nesting, duplicate keys, wrong shapes, ...). The billing's valid data never changes, so
after every attack UserSide must still equal the snapshot; a last clean run must write
nothing. An attack *held* when the run ended as expected (refused before any write, failed
with the expected error class, or completed with exactly the attacked customers refused),
within the time and memory bounds, with no key in anything the run printed, logged, raised
or reported, and no customer or tariff lost or changed.

``python scripts/chaos_hostile.py [--customers N]`` prints a table (one row per attack),
writes ``.chaos/hostile.json`` and exits 1 when an attack did not hold;
``docs/reliability.md`` ("Hostile billing") records the figures of a real run.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import resource
import sys
import tempfile
import time
import traceback
import tracemalloc
import zlib
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "plugins")]

from emulators.billing.generator import generate  # noqa: E402
from emulators.billing.handler import BillingEmulator, php_json_encode  # noqa: E402
from emulators.billing.server import _RequestHandler  # noqa: E402
from emulators.billing.server import start_server as start_billing  # noqa: E402
from scripts.chaos import BILLING_KEY, USERSIDE_KEY, _stack, comparable, same  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Iterator

    from emulators.billing.server import BillingHTTPServer
    from emulators.userside.handler import UserSideEmulator

#: the importer's limits in this phase: small, so that every attack ends quickly
DEADLINE_S = 0.5  # request_timeout_seconds of scripts/chaos.py's configuration
CAP_MIB = 1
#: what an attack may cost at most (far above the limits above: a hung or exhausted
#: importer would exceed them by orders of magnitude)
MAX_SECONDS = 30.0
MAX_TRACED_MIB = 16.0  # a quarter of the gzip bomb inflated
TRICKLE_PAUSE_S = 0.05
BOMB_MIB = 64  # what the gzip bomb inflates to (about 64 KB on the wire)
KEYS = (BILLING_KEY, USERSIDE_KEY)
DEEP = "[" * 20_000 + "]" * 20_000  # 20 times what `json` can read


# --- transport attacks: served on ``get_user_list`` by the hostile handler -------------


class _HostileHandler(_RequestHandler):
    """The billing emulator's handler, except that ``get_user_list`` is answered by the
    server's ``attack`` (when set): the other methods stay valid, so the run gets as far
    as the customer extract before it meets the attack."""

    def do_GET(self) -> None:
        attack = getattr(self.server, "attack", None)
        query = dict(parse_qsl(urlsplit(self.path).query))
        if attack is None or query.get("request") != "get_user_list":
            super().do_GET()
            return
        try:
            attack(self, query)
        except OSError:  # the importer cut the connection: what its limits are for
            self.close_connection = True

    do_POST = do_GET

    def reply(self, status: int, body: bytes, *headers: tuple[str, str]) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if not any(name == "Content-Length" for name, _ in headers):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


Attack = Callable[[_HostileHandler, dict[str, str]], None]


def _trickle(handler: _HostileHandler, _query: dict[str, str]) -> None:
    handler.send_response(200)
    handler.send_header("Content-Length", "100000")
    handler.end_headers()
    for _ in range(100_000):
        handler.wfile.write(b" ")
        handler.wfile.flush()
        time.sleep(TRICKLE_PAUSE_S)


def _endless(handler: _HostileHandler, _query: dict[str, str]) -> None:
    handler.send_response(200)
    handler.send_header("Connection", "close")
    handler.end_headers()
    chunk = b'{"1":' + b"[0," * (1 << 15)
    while True:
        handler.wfile.write(chunk)


def _huge_length(handler: _HostileHandler, _query: dict[str, str]) -> None:
    handler.reply(200, b"{}", ("Content-Length", str(10 << 30)))


def _gzip_bomb(handler: _HostileHandler, _query: dict[str, str]) -> None:
    handler.reply(200, _bomb(), ("Content-Encoding", "gzip"))


def _redirect(handler: _HostileHandler, _query: dict[str, str]) -> None:
    """A redirect to the same URL: followed, it would serve the attack again for ever."""
    handler.reply(302, b"", ("Location", handler.path))


def _echo(status: int, template: str) -> Attack:
    """An error body that quotes the request (query and key) into ``template``'s ``{}``."""

    def attack(handler: _HostileHandler, query: dict[str, str]) -> None:
        echoed = f"{urlsplit(handler.path).query} (key {query.get('key', '')})"
        body = template.replace("{}", echoed.replace("/", "\\/").replace('"', '\\"'))
        handler.reply(status, body.encode(), ("Content-Type", "text/html"))

    return attack


_BOMB: list[bytes] = []


def _bomb() -> bytes:
    if not _BOMB:
        packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: the gzip container
        zeros = bytes(1 << 20)
        _BOMB.append(b"".join(packer.compress(zeros) for _ in range(BOMB_MIB)) + packer.flush())
    return _BOMB[0]


# --- record attacks: a ``get_user_list`` body with some customers made hostile ---------

Row = dict[str, Any]


def _records(rows: dict[str, Row], makes: dict[str, Callable[[Row], Row]]) -> bytes:
    """The customer list with each customer of ``makes`` made hostile by its function; a
    string value ``"@RAW:<json>@"`` is spliced in as raw JSON (what no encoder writes)."""
    text = php_json_encode(
        {uid: makes[uid](row) if uid in makes else row for uid, row in rows.items()}
    ).decode()
    while '"@RAW:' in text:
        start = text.index('"@RAW:')
        end = text.index('@"', start)
        text = text[:start] + text[start + 6 : end] + text[end + 2 :]
    return text.encode()


def _raw(json_text: str) -> str:
    return f"@RAW:{json_text}@"


def _duplicated(rows: dict[str, Row], uids: list[str]) -> bytes:
    """Each of ``uids`` sent twice: the same JSON key, the second time with another login."""
    text = php_json_encode(rows).decode()
    extra = "".join(f',"{uid}":{json.dumps({**rows[uid], "login": "other"})}' for uid in uids)
    return (text[:-1] + extra + "}").encode()


RECORD_ATTACKS: dict[str, Callable[[Row], Row]] = {
    "absurd exponent": lambda row: {**row, "balance": "1e999999999"},
    "5,000-digit integer": lambda row: {**row, "credit": _raw("9" * 5000)},
    "deep nesting": lambda row: {**row, "comment": _raw(DEEP)},
    "all-null record": lambda row: dict.fromkeys(row),
    "tariff of the wrong shape": lambda row: {**row, "tariff": "17"},
    "ip_mac of the wrong shape": lambda row: {**row, "ip_mac": "10.0.0.1"},
    "date out of range": lambda row: {**row, "date_connect": "99999-01-01"},
    "oversized text": lambda row: {**row, "comment": "x" * 20_000},
    "name blanked by a shape error": lambda row: {**row, "full_name": {"first": "", "last": ""}},
}


# --- the phase ------------------------------------------------------------------------


@dataclass
class Case:
    """One attack: what the billing serves and how the run must end."""

    name: str
    #: ``failed`` (the run raises ``error``), ``refused`` (ImplausibleExtractError before
    #: any write) or ``completed`` (the run ends with exactly ``refused_uids`` refused)
    expect: str
    attack: Attack | None = None
    users: bytes | None = None
    error: tuple[str, ...] = ()
    refused_uids: tuple[str, ...] = ()


@dataclass
class AttackResult:
    attack: str
    expected: str
    outcome: str
    seconds: float
    traced_peak_mib: float
    rss_peak_mib: float
    keys_leaked: int
    data_lost: int
    writes: int
    held: bool
    problems: list[str] = field(default_factory=list)


def cases(rows: dict[str, Row], share: float) -> list[Case]:
    """Every attack against the billing whose customers are ``rows``."""
    uids = sorted(rows)
    under = max(1, int(len(uids) * share))  # at most the share: refused one by one
    over = int(len(uids) * share) + 1 + len(uids) // 20  # over the share: run refused
    echo_errors = ("FatalApiError",)
    result = [
        Case("trickled body", "failed", _trickle, error=("RetriableApiError",)),
        Case("endless body", "failed", _endless, error=("FatalApiError",)),
        Case("Content-Length 10 GiB", "failed", _huge_length, error=("FatalApiError",)),
        Case(f"gzip bomb ({BOMB_MIB} MiB)", "failed", _gzip_bomb, error=("FatalApiError",)),
        Case("redirect", "failed", _redirect, error=("FatalApiError",)),
        Case("echo: ERROR: text", "failed", _echo(200, "ERROR: bad request {}"), error=echo_errors),
        Case("echo: JSON error", "failed", _echo(200, '{"error": "bad {}"}'), error=echo_errors),
        Case(
            "echo: broken JSON",
            "failed",
            _echo(200, '{  { "ERROR" : "{}" } }'),
            error=echo_errors,
        ),
        Case(
            "echo: HTTP 500", "failed", _echo(500, "Fatal error: {}"), error=("RetriableApiError",)
        ),
    ]
    for index, (name, make) in enumerate(RECORD_ATTACKS.items()):
        uid = uids[index]
        users = _records(rows, {uid: make})
        result.append(Case(name, "completed", users=users, refused_uids=(uid,)))
    users = _duplicated(rows, [uids[0]])
    result.append(Case("duplicate customer key", "completed", users=users, refused_uids=(uids[0],)))
    makes = list(RECORD_ATTACKS.values())
    mixed = {uid: makes[i % len(makes)] for i, uid in enumerate(uids[:under])}
    result.append(
        Case(
            f"{under} malformed of {len(uids)} (under the share)",
            "completed",
            users=_records(rows, mixed),
            refused_uids=tuple(mixed),
        )
    )
    wrong = RECORD_ATTACKS["tariff of the wrong shape"]
    result.append(
        Case(
            f"{over} malformed of {len(uids)} (over the share)",
            "refused",
            users=_records(rows, dict.fromkeys(uids[:over], wrong)),
        )
    )
    return result


@contextlib.contextmanager
def _hostile_billing(dataset: dict[str, Any]) -> Iterator[BillingHTTPServer]:
    """The billing emulator of ``dataset`` on 127.0.0.1, answered by the hostile handler."""
    server, _thread = start_billing(BillingEmulator(dataset, key=BILLING_KEY), port=0)
    server.RequestHandlerClass = _HostileHandler
    server.attack = None  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class _Run:
    """What one run of the importer ended with and everything it let out."""

    summary: dict[str, Any] | None
    error: BaseException | None
    text: str  # stdout, stderr, log records, the exception with its chain, the report
    seconds: float
    traced_peak_mib: float


def _run(config: Path) -> _Run:
    """One ``run_sync``, as the CLI runs it, with everything it prints or logs captured."""
    from usm_billing.cli import run_sync
    from usm_billing.exceptions import UsmBillingError

    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    loud = [logging.getLogger(name) for name in ("usm_billing", "urllib3")]
    levels = [logger.level for logger in loud]
    console, root.handlers = root.handlers, [handler]  # every record, and only here
    for logger in loud:
        logger.setLevel(logging.DEBUG)
    summary: dict[str, Any] | None = None
    error: BaseException | None = None
    tracemalloc.start()
    started = time.monotonic()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            try:
                summary = run_sync(config)
            except UsmBillingError as err:
                error = err
        seconds = time.monotonic() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        root.handlers = console
        for logger, level in zip(loud, levels, strict=True):
            logger.setLevel(level)
    text = out.getvalue()
    if error is not None:
        text += "".join(traceback.format_exception(error))
    if summary is not None:
        text += json.dumps(summary, ensure_ascii=False)
    return _Run(summary, error, text, round(seconds, 2), round(peak / 2**20, 1))


def _outcome(run: _Run) -> str:
    if run.error is not None:
        return f"failed: {type(run.error).__name__}"
    refused = list((run.summary or {}).get("failed", ()))
    return f"completed, {len(refused)} refused" if refused else "completed"


def _key_forms() -> set[str]:
    from urllib.parse import quote, quote_plus

    return {form for key in KEYS for form in (key, quote(key, safe=""), quote_plus(key))}


def _lost(before: dict[str, Any], after: dict[str, Any]) -> int:
    """Customers and tariffs whose UserSide state differs from ``before``."""
    return sum(
        1
        for section in before
        for key in before[section].keys() | after[section].keys()
        if not same(before[section].get(key), after[section].get(key))
    )


def _judge(case: Case, run: _Run) -> list[str]:
    """Why the run did not end as ``case`` expects (empty: it did)."""
    from usm_billing.exceptions import ImplausibleExtractError

    problems = []
    name = type(run.error).__name__ if run.error is not None else None
    if case.expect == "failed" and name not in case.error:
        problems.append(f"expected {'/'.join(case.error)}, got {_outcome(run)}")
    if case.expect == "refused" and not isinstance(run.error, ImplausibleExtractError):
        problems.append(f"expected ImplausibleExtractError, got {_outcome(run)}")
    if case.expect == "completed":
        if run.error is not None:
            problems.append(f"expected a completed run, got {_outcome(run)}: {run.error}")
        else:
            failed = {f["record"] for f in (run.summary or {}).get("failed", ())}
            wanted = {f"customer {uid}" for uid in case.refused_uids}
            if failed != wanted:
                problems.append(f"refused {sorted(failed)}, expected {sorted(wanted)}")
    if run.seconds > MAX_SECONDS:
        problems.append(f"took {run.seconds} s (bound {MAX_SECONDS} s)")
    if run.traced_peak_mib > MAX_TRACED_MIB:
        problems.append(f"traced {run.traced_peak_mib} MiB (bound {MAX_TRACED_MIB} MiB)")
    return problems


def _rss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


def run_hostile(
    customers: int = 100, seed: int = 1, only: Collection[str] = ()
) -> list[AttackResult]:
    """Every attack (or those named in ``only``) against one UserSide seeded by a clean
    import; the last row is the clean run after them, which must write nothing."""
    from usm_billing.config import load_config

    dataset = generate(customers, seed=seed)
    rows = dict(dataset["get_user_list"])
    forms = _key_forms()
    results = []
    with tempfile.TemporaryDirectory() as tmp, _stack(dataset, None, Path(tmp)) as stack:
        config, userside = stack
        with config.open("a", encoding="utf-8") as file:
            file.write(f"max_reply_mib: {CAP_MIB}\n")
        share = load_config(config).max_rejected_share
        seeded = _run(config)
        if seeded.error is not None or (seeded.summary or {}).get("failed"):
            msg = f"the clean import failed: {_outcome(seeded)} {seeded.error or seeded.summary}"
            raise RuntimeError(msg)
        snapshot = comparable(userside)
        with _hostile_billing(dataset) as billing:
            _point_billing_at(billing)
            chosen = [case for case in cases(rows, share) if not only or case.name in only]
            for case in [*chosen, Case("clean run", "completed")]:
                billing.attack = case.attack  # type: ignore[attr-defined]
                users = case.users if case.users is not None else dataset["get_user_list"]
                billing.emulator.replace_source({**dataset, "get_user_list": users})
                writes = _writes(userside)
                run = _run(config)
                writes = _writes(userside) - writes
                problems = _judge(case, run)
                leaked = sum(run.text.count(form) for form in forms)
                lost = _lost(snapshot, comparable(userside))
                if leaked:
                    problems.append(f"a key appears {leaked} times in the output")
                if lost:
                    problems.append(f"{lost} customers or tariffs differ from the snapshot")
                if writes and (case.expect != "completed" or case.name == "clean run"):
                    problems.append(f"{writes} write requests (expected none)")
                results.append(
                    AttackResult(
                        case.name,
                        case.expect,
                        _outcome(run),
                        run.seconds,
                        run.traced_peak_mib,
                        _rss_mib(),
                        leaked,
                        lost,
                        writes,
                        not problems,
                        problems,
                    )
                )
    return results


def _point_billing_at(server: BillingHTTPServer) -> None:
    """Re-point ``scripts/chaos.py``'s billing connection at ``server`` (its stack puts the
    variable back on exit)."""
    os.environ["AIRFLOW_CONN_USM_BILLING_CHAOS"] = json.dumps(
        {
            "conn_type": "http",
            "password": BILLING_KEY,
            "host": f"http://127.0.0.1:{server.server_address[1]}/?action=userside",
        }
    )


def _writes(userside: UserSideEmulator) -> int:
    """UserSide's write requests so far (lifecycle calls not counted)."""
    return int(userside.stats()["writes"])


def table(results: list[AttackResult]) -> str:
    """The results as the text table ``main`` prints (one row per attack)."""
    width = max(len(r.attack) for r in results)
    lines = [
        f"{'attack':<{width}}  {'outcome':<31}  {'seconds':>7}  {'traced MiB':>10}  "
        f"{'keys leaked':>11}  {'data lost':>9}  {'writes':>6}  held"
    ]
    lines += [
        f"{r.attack:<{width}}  {r.outcome:<31}  {r.seconds:>7.2f}  {r.traced_peak_mib:>10.1f}  "
        f"{r.keys_leaked:>11}  {r.data_lost:>9}  {r.writes:>6}  {'yes' if r.held else 'NO'}"
        for r in results
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", nargs="+", default=(), metavar="ATTACK", help="attack names")
    args = parser.parse_args()
    logging.getLogger("usm_billing").setLevel(logging.WARNING)
    started = time.monotonic()
    results = run_hostile(args.customers, args.seed, args.only)
    seconds = round(time.monotonic() - started, 1)
    attacks = results[:-1]
    total = {
        "attacks_tried": len(attacks),
        "attacks_held": sum(r.held for r in attacks),
        "data_lost": sum(r.data_lost for r in results),
        "keys_leaked": sum(r.keys_leaked for r in results),
        "clean_run_writes": results[-1].writes,
        "max_attack_seconds": max(r.seconds for r in attacks),
        "peak_rss_mib": _rss_mib(),
        "seconds": seconds,
    }
    print(
        f"hostile billing: {args.customers} customers, deadline {DEADLINE_S} s, cap {CAP_MIB} MiB\n"
    )
    print(table(results))
    for r in results:
        for problem in r.problems:
            print(f"NOT HELD: {r.attack}: {problem}")
    print(f"\ntotal: {total}")
    out = REPO / ".chaos"
    out.mkdir(exist_ok=True)
    settings = {"customers": args.customers, "seed": args.seed, "deadline_s": DEADLINE_S}
    (out / "hostile.json").write_text(
        json.dumps(
            {"settings": settings, "attacks": [asdict(r) for r in results], "total": total},
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    return 0 if all(r.held for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
