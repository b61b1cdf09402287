"""The tolerant reader of the PHP module's config file (issue 13 §10): the literal forms
a ``usm_billing.conf.php`` uses, unreadable assignments named (never their values), and
nothing executed."""

from __future__ import annotations

import pytest

from usm_billing.php_config import parse_php_config


@pytest.mark.parametrize(
    ("php", "expected"),
    [
        pytest.param("$a = 'x';", "x", id="single-quoted"),
        pytest.param(r"$a = 'it\'s \\ \n';", "it's \\ \\n", id="single-quoted-escapes"),
        pytest.param(r'$a = "tab\there \$x \"q\"";', 'tab\there $x "q"', id="double-quoted"),
        pytest.param("$a = 12;", 12, id="int"),
        pytest.param("$a = -3;", -3, id="negative"),
        pytest.param("$a = 0x1F;", 31, id="hex"),
        pytest.param("$a = 010;", 8, id="octal-as-php"),
        pytest.param("$a = 1.5;", 1.5, id="float"),
        pytest.param("$a = TRUE;", True, id="bool-upper"),
        pytest.param("$a = false;", False, id="bool"),
        pytest.param("$a = NULL;", None, id="null"),
        pytest.param("$a = 'ab' . 'cd' . 1;", "abcd1", id="concatenation"),
        pytest.param("$a = array();", {}, id="empty-array"),
        pytest.param("$a = [1, 2,];", {0: 1, 1: 2}, id="list-trailing-comma"),
        pytest.param("$a = array(3 => 7, '4' => 0, 'x' => 'y');", {3: 7, 4: 0, "x": "y"}, id="map"),
        pytest.param("$a = [5 => 'a', 'b'];", {5: "a", 6: "b"}, id="next-index"),
        pytest.param("$a = [1 => [3, 4]];", {1: {0: 3, 1: 4}}, id="nested"),
        pytest.param("$a = ['k' => 1]; $a['j'] = 2; $a[] = 3;", {"k": 1, "j": 2, 0: 3}, id="index"),
        pytest.param("$a = 1; $a = 2;", 2, id="last-wins"),
    ],
)
def test_literals(php, expected):
    result = parse_php_config(f"<?php\n{php}\n")
    assert result.values == {"a": expected}
    assert result.skipped == {}


def test_comments_tags_and_other_statements_are_skipped():
    text = """<?php
    // $a = 1;
    # $b = 2;
    /* $c = 3;
       */
    define('X', 1);
    if (true) { include 'other.php'; }
    $d = 'kept'; // trailing
    ?>
    <html>$e = 5;</html>
    """
    result = parse_php_config(text)
    assert result.values["d"] == "kept"
    assert not {"a", "b", "c"} & set(result.values)


@pytest.mark.parametrize(
    ("php", "why"),
    [
        pytest.param("$a = SOME_CONSTANT;", "constant or a function call", id="constant"),
        pytest.param("$a = getenv('KEY');", "constant or a function call", id="function-call"),
        pytest.param('$a = "key-$secret";', "$variable", id="interpolation"),
        pytest.param("$a = $b;", "another variable", id="variable"),
        pytest.param("$a = 08;", "invalid octal", id="bad-octal"),
        pytest.param("$a = [1 2];", "expected `,`", id="bad-array"),
        pytest.param("$a = 'x' 'y';", "expected `;`, found a string", id="two-literals"),
    ],
)
def test_unreadable_assignments_are_named_not_guessed(php, why):
    result = parse_php_config(f"<?php\n$before = 1;\n{php}\n$after = 'ok';\n")
    assert result.values == {"before": 1, "after": "ok"}
    assert list(result.skipped) == ["a"]
    assert result.skipped["a"].startswith("line 3: ")
    assert why in result.skipped["a"]


def test_a_missing_semicolon_loses_only_up_to_the_next_one():
    result = parse_php_config("<?php\n$a = 'x'\n$b = 'y';\n$c = 3;\n")
    assert result.values == {"c": 3}
    assert result.skipped == {"a": "line 2: expected `;`, found `$b`"}


def test_the_file_ending_inside_an_assignment():
    assert parse_php_config("<?php $a = [1,").skipped == {
        "a": "line 1: the file ends inside the assignment"
    }


def test_reasons_never_hold_a_value():
    result = parse_php_config("<?php $k = 'SECRET' SECRET2; $u = \"SECRET3$x\";")
    assert set(result.skipped) == {"k", "u"}
    assert "SECRET" not in " ".join(result.skipped.values())
