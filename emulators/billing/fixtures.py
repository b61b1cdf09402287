"""Serve a folder of captured billing replies, laid out like ``shared/peers/<billing>/``.

Layout (see the ``MANIFEST.md`` of each capture folder):

* ``<request>.body`` + ``<request>.headers`` — body byte-exact, headers as received by
  ``curl -D`` (HTTP status line, header lines, CRLF);
* ``<request>.raw`` — complete CGI output: header lines, one empty line, the body
  (status 200 unless a ``Status:`` CGI header says otherwise);
* variants ``<request>.<param>=<value>.*`` — the reply to ``request=<request>&<param>=<value>``;
* variants ``<request>.no_<param>.*`` — the reply when ``<param>`` is *absent* (used by the
  uBilling capture for ``get_user_history`` without ``customer_id``);
* error replies ``error.unknown_request[.<request>].*``, ``error.no_request.*``,
  ``error.wrong_key.*``.

Files are indexed once (names only) and read on every request, so a request can never reach
a file outside the folder and large captures do not stay in memory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = [
    "HOP_BY_HOP_HEADERS",
    "FixtureFolder",
    "Reply",
    "parse_cgi_output",
    "parse_headers_file",
]

#: Headers that describe one particular transfer and are never replayed (lower case).
HOP_BY_HOP_HEADERS = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "date"}
)

_BODY, _HEADERS, _RAW = ".body", ".headers", ".raw"
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 500: "Internal Server Error"}


@dataclass(frozen=True)
class Reply:
    """One HTTP reply: status, reason phrase, ordered headers (duplicates kept) and body.

    ``Content-Length`` is always the last header and always matches ``body``.
    """

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    @classmethod
    def build(
        cls, status: int, reason: str | None, headers: Iterable[tuple[str, str]], body: bytes
    ) -> Reply:
        """Drop hop-by-hop headers, append a correct ``Content-Length``.

        :param status: HTTP status code.
        :param reason: reason phrase; ``None`` picks the standard one.
        :param headers: ``(name, value)`` pairs in wire order.
        :param body: the exact body bytes.
        """
        kept = [(k, v) for k, v in headers if k.strip().lower() not in HOP_BY_HOP_HEADERS]
        kept.append(("Content-Length", str(len(body))))
        return cls(
            status, reason if reason is not None else _REASONS.get(status, ""), tuple(kept), body
        )

    def header_dict(self) -> dict[str, str]:
        """Headers as a dict; repeated ones (AXbills' two ``Set-Cookie``) are joined by ``, ``."""
        out: dict[str, str] = {}
        for name, value in self.headers:
            out[name] = f"{out[name]}, {value}" if name in out else value
        return out


def _split_header_lines(block: bytes) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    for raw_line in block.replace(b"\r\n", b"\n").split(b"\n"):
        line = raw_line.decode("latin-1")
        if not line.strip():
            continue
        if line[0] in " \t" and headers:  # obsolete line folding
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, sep, value = line.partition(":")
        if sep:
            headers.append((name.strip(), value.strip()))
    return headers


def parse_headers_file(data: bytes) -> tuple[int, str, list[tuple[str, str]]]:
    """Parse a ``curl -D`` header dump: status line + header lines (CRLF or LF).

    When the dump holds several header blocks (``100 Continue``, redirects) the last one wins.

    :param data: the ``.headers`` file content.
    :returns: ``(status, reason, headers)``.
    """
    text = data.replace(b"\r\n", b"\n")
    blocks = [b for b in text.split(b"\n\n") if b.strip()]
    if not blocks:
        return 200, "OK", []
    status_line, _, rest = blocks[-1].partition(b"\n")
    parts = status_line.decode("latin-1").split(" ", 2)
    if len(parts) < 2 or not parts[0].upper().startswith("HTTP/") or not parts[1].isdigit():
        msg = f"Header dump does not start with an HTTP status line: {status_line[:80]!r}"
        raise ValueError(msg)
    status = int(parts[1])
    reason = parts[2] if len(parts) > 2 else _REASONS.get(status, "")
    return status, reason, _split_header_lines(rest)


def parse_cgi_output(data: bytes) -> tuple[int, str, list[tuple[str, str]], bytes]:
    """Split CGI output (headers, empty line, body); a ``Status:`` header sets the status.

    :param data: the ``.raw`` file content.
    :returns: ``(status, reason, headers, body)``; the body is returned byte-exact.
    """
    cut = [(i, len(sep)) for sep in (b"\r\n\r\n", b"\n\n") if (i := data.find(sep)) >= 0]
    if not cut:
        return 200, "OK", [], data
    pos, seplen = min(cut)
    headers = _split_header_lines(data[:pos])
    status, reason = 200, "OK"
    kept: list[tuple[str, str]] = []
    for name, value in headers:
        if name.lower() == "status":
            code, _, phrase = value.partition(" ")
            if code.isdigit():
                status, reason = int(code), phrase or _REASONS.get(int(code), "")
            continue
        kept.append((name, value))
    return status, reason, kept, data[pos + seplen :]


class FixtureFolder:
    """A capture folder, indexed by file stem.

    :param folder: directory with ``.body``/``.headers``/``.raw`` files; sub-directories
        (``day2/``, ``sql/``) are ignored — point at ``day2/`` itself to serve it.
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            msg = (
                f"Fixture folder {self.folder} does not exist or is not a directory; "
                "pass a capture folder such as shared/peers/ubilling-1.6.4."
            )
            raise FileNotFoundError(msg)
        self._files: dict[str, dict[str, Path]] = {}
        for entry in os.scandir(self.folder):
            if not entry.is_file():
                continue
            for ext in (_BODY, _HEADERS, _RAW):
                if entry.name.endswith(ext):
                    self._files.setdefault(entry.name[: -len(ext)], {})[ext] = Path(entry.path)
                    break
        self._methods = frozenset(
            stem.split(".", 1)[0] for stem in self._files if not stem.startswith("error.")
        )

    def __repr__(self) -> str:
        return f"FixtureFolder({str(self.folder)!r}, {len(self._files)} replies)"

    @property
    def stems(self) -> frozenset[str]:
        """Every servable reply stem (file name without ``.body``/``.headers``/``.raw``)."""
        return frozenset(s for s, f in self._files.items() if _BODY in f or _RAW in f)

    @property
    def methods(self) -> frozenset[str]:
        """Request names that have at least one captured reply."""
        return self._methods

    def load(self, stem: str) -> Reply | None:
        """Read one reply by stem (``get_user_list.customer_id=diachenko``); ``None`` if absent."""
        files = self._files.get(stem)
        if not files:
            return None
        if _BODY in files:
            body = files[_BODY].read_bytes()
            if _HEADERS in files:
                status, reason, headers = parse_headers_file(files[_HEADERS].read_bytes())
            else:
                status, reason, headers = 200, "OK", [("Content-Type", "application/json")]
            return Reply.build(status, reason, headers, body)
        if _RAW in files:
            status, reason, headers, body = parse_cgi_output(files[_RAW].read_bytes())
            return Reply.build(status, reason, headers, body)
        return None

    def lookup(self, name: str, params: Mapping[str, str]) -> Reply | None:
        """Find the reply to ``request=<name>`` with extra query ``params``.

        Order: the first ``<name>.<param>=<value>`` matching a query parameter (query order),
        then a ``<name>.no_<param>`` whose ``param`` is absent, then ``<name>`` itself.
        Names containing ``.`` or starting with ``error.`` are never methods.

        :returns: the reply, or ``None`` when the folder has nothing for ``name``.
        """
        if not name or "." in name or name not in self._methods:
            return None
        for param, value in params.items():
            reply = self.load(f"{name}.{param}={value}")
            if reply is not None:
                return reply
        prefix = f"{name}.no_"
        for stem in sorted(self._files):
            if stem.startswith(prefix) and "=" not in stem and stem[len(prefix) :] not in params:
                reply = self.load(stem)
                if reply is not None:
                    return reply
        return self.load(name)

    def error(self, kind: str, name: str | None = None) -> Reply | None:
        """Captured error reply ``error.<kind>[.<name>]`` (more specific first), or ``None``."""
        if name and "." not in name:
            reply = self.load(f"error.{kind}.{name}")
            if reply is not None:
                return reply
        return self.load(f"error.{kind}")
