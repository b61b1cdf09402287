"""Customer passwords between tasks: never in clear in XCom, logs, reports or errors.

Snapshots and change sets travel through XCom (the metadata database or object storage),
which many more people can read than the billing. So a password never enters them in
clear (universal-api.md §4.5, ``import_password_to_us_password`` and
``save_password_to_comment``):

* the billing extract keeps each password **sealed**: a Fernet token (AES-128-CBC +
  HMAC-SHA256) under a key derived from the billing connection's API key. Whoever can
  open it can already read every password from the billing with that key, so the token
  gives an XCom reader nothing new;
* UserSide's view keeps only a keyed **digest** (HMAC-SHA256, same key) of the stored
  password, and of the ``<br><b>pass: …</b>`` part of a comment; the diff compares
  digests, so it needs no clear text from UserSide;
* the change set carries ``{"$sealed": token}`` in place of the value; the load task
  opens it just before the ``group_edit`` request, computing the stored form then (with
  ``is_encode_customer_password`` the md5 needs the UserSide id, which a new customer
  only has after ``group_add``).

The audit masks every password and sealed value (``CustomerEdit.audit``), the hooks never
log bodies, and no error text quotes a value.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import TYPE_CHECKING, Any

from cryptography.fernet import Fernet, InvalidToken

from usm_billing.sync.changes import SEALED
from usm_billing.sync.customer_extras import password_value
from usm_billing.sync.normalize import escape_apostrophe

if TYPE_CHECKING:
    from usm_billing.config import BillingConfig

__all__ = [
    "COMMENT_PASSWORD",
    "DIGEST_PREFIX",
    "SEALED",
    "PasswordBox",
    "is_sealed",
    "mask_comment",
    "password_comment",
]

ENCODE = "$encode"  # with SEALED: a password, stored as password_value(…, encode=value)
DIGEST_PREFIX = "hmac-sha256:"
#: what ``save_password_to_comment`` appends to the comment (contract §5.2 ``comment``)
COMMENT_PASSWORD = re.compile(r"^(?P<comment>.*)<br><b>pass: (?P<password>.*)</b>$", re.DOTALL)


def password_comment(comment: str, password: str) -> str:
    """The comment UserSide stores with ``save_password_to_comment``: the (already escaped)
    comment, then ``<br><b>pass: …</b>`` with the password's apostrophes escaped."""
    return f"{comment}<br><b>pass: {escape_apostrophe(password)}</b>"


class PasswordBox:
    """Seals and digests passwords of one billing; built from the billing's API key."""

    def __init__(self, key: str) -> None:
        secret = hashlib.sha256(b"usm_billing passwords\0" + key.encode("utf-8")).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(secret))
        self._mac_key = hashlib.sha256(b"usm_billing digests\0" + secret).digest()

    def __repr__(self) -> str:
        return "PasswordBox(***)"

    @classmethod
    def for_config(cls, config: BillingConfig) -> PasswordBox:
        """The box of ``config``'s billing (reads the connection; no request is sent)."""
        from usm_billing.universal_api.hook import UniversalApiHook

        return cls(UniversalApiHook(config.billing_conn_id, dialect=config.billing_name).api_key)

    def seal(self, text: str) -> str:
        return self._fernet.encrypt(text.encode("utf-8")).decode("ascii")

    def open(self, token: str) -> str:
        """The sealed text; :class:`ValueError` (without the token) when it cannot be opened."""
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError, AttributeError):
            msg = "a sealed password could not be opened (was the billing API key changed?)"
            raise ValueError(msg) from None

    def digest(self, text: Any) -> str:
        value = "" if text is None else str(text)
        mac = hmac.new(self._mac_key, value.encode("utf-8"), hashlib.sha256).hexdigest()
        return DIGEST_PREFIX + mac

    def sealed(self, text: str, *, encode: bool | None = None) -> dict[str, Any]:
        """A change-set value standing for ``text``; ``encode`` marks a password (stored
        as :func:`password_value` with that ``is_encode_customer_password``)."""
        value: dict[str, Any] = {SEALED: self.seal(text)}
        if encode is not None:
            value[ENCODE] = int(encode)
        return value

    def unseal(self, value: dict[str, Any], us_id: int) -> str:
        """The value to send for a :meth:`sealed` change-set value of customer ``us_id``."""
        text = self.open(value[SEALED])
        if ENCODE in value:
            return password_value(text, us_id, encode=bool(value[ENCODE]))
        return text


def is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and SEALED in value


def mask_comment(comment: Any, box: PasswordBox) -> Any:
    """A view comment with the password of its ``<br><b>pass: …</b>`` part as a digest."""
    if not isinstance(comment, str):
        return comment
    match = COMMENT_PASSWORD.match(comment)
    if match is None:
        return comment
    return f"{match['comment']}<br><b>pass: {box.digest(match['password'])}</b>"
