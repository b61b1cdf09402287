"""IPv4 addresses, ranges and networks (universal-api.md §3.13 ``ip_mac`` entry, §4.4
gray→white mirror, §4.5 ``skip_delete_ip``, §4.6.7 IP forms, §6 dotted IPs)."""

from __future__ import annotations

from typing import Any

import pytest

from usm_billing.iprange import parse_ip, parse_ip_range, parse_net, split_ranges

IP_1 = 3232235777  # 192.168.1.1
IP_2 = 3232235778  # 192.168.1.2


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(IP_1, IP_1, id="3.13-ip-inet_aton-number"),
        pytest.param(str(IP_1), IP_1, id="4.6.7-ip-numeric-string"),
        pytest.param(f" {IP_1} ", IP_1, id="4.6.7-ip-numeric-string-padded"),
        pytest.param(float(IP_1), IP_1, id="3.13-ip-integral-float"),
        pytest.param("192.168.1.1", IP_1, id="6-ip-dotted-quad-accepted"),
        pytest.param(3103851010, 3103851010, id="3.13-ip-above-2^31-unsigned"),
        pytest.param(0, 0, id="3.13-ip-0-is-none"),
        pytest.param("0", 0, id="3.13-ip-0-string-is-none"),
        pytest.param("", 0, id="3.13-ip-empty-is-none"),
        pytest.param(None, 0, id="3.13-ip-missing-is-none"),
        pytest.param(2**32, 0, id="3.13-ip-out-of-range-is-none"),
        pytest.param(-1, 0, id="3.13-ip-negative-is-none"),
        pytest.param("10.0.0.256", 0, id="6-ip-bad-dotted-is-none"),
        pytest.param("abc", 0, id="6-ip-garbage-is-none"),
        pytest.param(True, 0, id="6-ip-boolean-is-none"),
    ],
)
def test_parse_ip(value: Any, expected: int) -> None:
    assert parse_ip(value) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("10.0.0.0/8", (167772160, 184549375), id="4.5-skip-range-cidr"),
        pytest.param("10.0.0.7/24", (167772160, 167772415), id="4.5-skip-range-cidr-host-bits"),
        pytest.param(
            "192.168.1.1-192.168.1.2", (IP_1, IP_2), id="4.5-skip-range-dotted-first-last"
        ),
        pytest.param(f"{IP_1}-{IP_2}", (IP_1, IP_2), id="4.5-skip-range-inet_aton-min-max"),
        pytest.param(" 192.168.1.1 ", (IP_1, IP_1), id="4.5-skip-range-single-address"),
    ],
)
def test_parse_ip_range(text: str, expected: tuple[int, int]) -> None:
    assert parse_ip_range(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("10.0.0.0/33", "not a CIDR", id="4.5-skip-range-bad-prefix"),
        pytest.param("192.168.1.2-192.168.1.1", "after the last", id="4.5-skip-range-reversed"),
        pytest.param("10.0.0-10.0.0.5", "not an IPv4 address", id="4.5-skip-range-bad-address"),
    ],
)
def test_parse_ip_range_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_ip_range(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("10.0.0.0/16", (167772160, 65536), id="4.4-mirror-net-cidr"),
        pytest.param("10.0.0.0", (167772160, 65536), id="4.4-mirror-net-default-/16"),
        pytest.param("185.1.2.0/28", (3103851008, 16), id="4.4-mirror-net-small"),
    ],
)
def test_parse_net(text: str, expected: tuple[int, int]) -> None:
    assert parse_net(text) == expected


def test_split_ranges_reads_comma_separated_items() -> None:
    assert split_ranges(["192.168.1.1, 10.0.0.0/31", " ", f"{IP_1}-{IP_2}"]) == (
        (IP_1, IP_1),
        (167772160, 167772161),
        (IP_1, IP_2),
    )
