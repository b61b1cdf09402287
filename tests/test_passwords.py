"""Password rules (universal-api.md §4.5, contract §5.2 rows password/comment): the stored
form, the comment, sealing between tasks, digests, and masking in the audit."""

from __future__ import annotations

import hashlib

import pytest

from usm_billing.passwords import (
    MASK,
    SEALED,
    PasswordBox,
    audit_values,
    escape_password,
    is_sealed,
    mask_comment,
    password_comment,
    password_value,
)
from usm_billing.sync.normalize import escape_apostrophe

BOX = PasswordBox("billing-key")


def test_password_plain_and_encoded():
    assert password_value("it's", 7, encode=False) == "it&#039;s"
    inner = hashlib.md5(b"pw").hexdigest()
    assert (
        password_value("pw", 7, encode=True)
        == hashlib.md5(f"{inner}_us1234567890US_7".encode()).hexdigest()
    )


@pytest.mark.parametrize("text", ["it's", "''", "plain", ""])
def test_password_escaping_is_the_apostrophe_escaping(text):
    assert escape_password(text) == escape_apostrophe(text)


def test_password_comment():
    assert password_comment("note", "it's") == "note<br><b>pass: it&#039;s</b>"


def test_sealed_values_open_to_the_stored_form():
    assert BOX.unseal(BOX.sealed("it's", encode=False), 7) == "it&#039;s"
    assert BOX.unseal(BOX.sealed("pw", encode=True), 7) == password_value("pw", 7, encode=True)
    assert BOX.unseal(BOX.sealed("c<br><b>pass: pw</b>"), 7) == "c<br><b>pass: pw</b>"
    assert is_sealed(BOX.sealed("x"))
    assert not is_sealed({"other": 1})
    # a secret long enough that base64 ciphertext cannot contain it by chance
    assert "s3cret-Passw0rd" not in repr(BOX.sealed("s3cret-Passw0rd"))


def test_a_box_of_another_key_cannot_open():
    with pytest.raises(ValueError, match="could not be opened") as err:
        PasswordBox("other-key").unseal(BOX.sealed("pw"), 7)
    assert SEALED not in str(err.value)


@pytest.mark.parametrize(
    ("comment", "expected"),
    [
        pytest.param("note", "note", id="no-password-part"),
        pytest.param(None, None, id="not-a-string"),
        pytest.param(
            "note<br><b>pass: pw</b>",
            f"note<br><b>pass: {BOX.digest('pw')}</b>",
            id="password-part-digested",
        ),
    ],
)
def test_mask_comment(comment, expected):
    assert mask_comment(comment, BOX) == expected
    assert BOX.mask_comment(comment) == expected


@pytest.mark.parametrize(
    ("field", "value", "old", "expected"),
    [
        pytest.param("password", "pw", "old", (MASK, MASK), id="password-both-sides"),
        pytest.param("password", "pw", "", (MASK, ""), id="password-empty-old-kept"),
        pytest.param("password", "pw", None, (MASK, None), id="password-no-old-kept"),
        pytest.param("comment", BOX.sealed("c"), "old", (MASK, "old"), id="sealed-value"),
        pytest.param("login", "new", "old", ("new", "old"), id="other-field-shown"),
    ],
)
def test_audit_values(field, value, old, expected):
    assert audit_values(field, value, old) == expected
