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

The audit masks every password and sealed value (:func:`audit_values`, used by
``CustomerEdit.audit``), the hooks never log bodies, and no error text quotes a value.

Every password rule of the PHP module lives here too: the stored form (apostrophes
escaped, or md5(md5(pw) + ``_us1234567890US_`` + UserSide id) with
``is_encode_customer_password``) and the comment of ``save_password_to_comment``
(``<br><b>pass: …</b>``). This module imports nothing of the package: the diff
(:mod:`usm_billing.sync`) calls it, and the box of a billing is built from its connection
by :mod:`usm_billing.password_keys`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

__all__ = [
    "COMMENT_PASSWORD",
    "DIGEST_PREFIX",
    "MASK",
    "PASSWORD_SALT",
    "SEALED",
    "SECRET_FIELDS",
    "PasswordBox",
    "audit_values",
    "escape_password",
    "is_sealed",
    "mask_comment",
    "password_comment",
    "password_value",
]

SEALED = "$sealed"  # a change-set value sealed by a PasswordBox (opened only by the load)
ENCODE = "$encode"  # with SEALED: a password, stored as password_value(…, encode=value)
DIGEST_PREFIX = "hmac-sha256:"
#: ``group_edit`` fields that are a password: masked in the audit, old value included
SECRET_FIELDS = frozenset({"password"})
MASK = "***"
#: the salt of ``is_encode_customer_password`` (universal-api.md §4.5)
PASSWORD_SALT = "_us1234567890US_"
#: what ``save_password_to_comment`` appends to the comment (contract §5.2 ``comment``)
COMMENT_PASSWORD = re.compile(r"^(?P<comment>.*)<br><b>pass: (?P<password>.*)</b>$", re.DOTALL)


def escape_password(password: str) -> str:
    """``'`` → ``&#039;``, as the PHP module escapes a password before storing it (the same
    escaping as :func:`usm_billing.sync.normalize.escape_apostrophe`)."""
    return password.replace("'", "&#039;")


def password_value(password: str, us_id: int, *, encode: bool) -> str:
    """The password UserSide stores: ``'`` escaped, or with ``is_encode_customer_password``
    md5(md5(pw) + salt + UserSide id) (§4.5)."""
    plain = escape_password(password)
    if not encode:
        return plain
    inner = hashlib.md5(plain.encode("utf-8"), usedforsecurity=False).hexdigest()
    salted = f"{inner}{PASSWORD_SALT}{us_id}"
    return hashlib.md5(salted.encode("utf-8"), usedforsecurity=False).hexdigest()


def password_comment(comment: str, password: str) -> str:
    """The comment UserSide stores with ``save_password_to_comment``: the (already escaped)
    comment, then ``<br><b>pass: …</b>`` with the password's apostrophes escaped."""
    return f"{comment}<br><b>pass: {escape_password(password)}</b>"


class PasswordBox:
    """Seals and digests passwords of one billing; built from the billing's API key."""

    def __init__(self, key: str) -> None:
        secret = hashlib.sha256(b"usm_billing passwords\0" + key.encode("utf-8")).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(secret))
        self._mac_key = hashlib.sha256(b"usm_billing digests\0" + secret).digest()

    def __repr__(self) -> str:
        return "PasswordBox(***)"

    def seal(self, text: str) -> str:
        """``text`` encrypted (Fernet): a password is in XCom and change sets only sealed."""
        return self._fernet.encrypt(text.encode("utf-8")).decode("ascii")

    def open(self, token: str) -> str:
        """The sealed text; :class:`ValueError` (without the token) when it cannot be opened."""
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError, AttributeError):
            msg = "a sealed password could not be opened (was the billing API key changed?)"
            raise ValueError(msg) from None

    def digest(self, text: Any) -> str:
        """A keyed digest of ``text``: equal passwords compare equal without either being
        kept (``None`` digests as ``""``)."""
        value = "" if text is None else str(text)
        mac = hmac.new(self._mac_key, value.encode("utf-8"), hashlib.sha256).hexdigest()
        return DIGEST_PREFIX + mac

    def mask_comment(self, comment: Any) -> Any:
        """:func:`mask_comment` with this box."""
        return mask_comment(comment, self)

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
    """Whether ``value`` is a :meth:`PasswordBox.sealed` change-set value."""
    return isinstance(value, dict) and SEALED in value


def mask_comment(comment: Any, box: PasswordBox) -> Any:
    """A view comment with the password of its ``<br><b>pass: …</b>`` part as a digest."""
    if not isinstance(comment, str):
        return comment
    match = COMMENT_PASSWORD.match(comment)
    if match is None:
        return comment
    return f"{match['comment']}<br><b>pass: {box.digest(match['password'])}</b>"


def audit_values(field: str, value: Any, old: Any) -> tuple[Any, Any]:
    """``(new, old)`` of a change as an audit line may show them: a password field masked
    on both sides (an empty old one stays as it is), any other sealed value masked."""
    if field in SECRET_FIELDS:
        return MASK, MASK if old not in (None, "") else old
    if is_sealed(value):
        return MASK, old
    return value, old
