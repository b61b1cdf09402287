"""The check's report as text: version, methods, clock skew and verdict."""

from __future__ import annotations

from tests.check.probes import Fail, judged
from usm_billing.check.render import render


def test_render_shows_version_methods_skew_and_verdict() -> None:
    text = render(judged({"get_services_list": Fail("billing `b` get_services_list: HTTP 500")}))
    assert "  API version  1.5 (06.10.2017)" in text
    assert "  clock skew   -10 s" in text
    assert "missing get_services_list" in text
    assert "  ok      get_user_list " in text
    assert text.endswith("verdict: COMPATIBLE, 1 warning(s)")
