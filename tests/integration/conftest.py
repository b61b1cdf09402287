"""Both UserSide emulator profiles (contract §12): a test that proves convergence takes
the ``profile`` fixture and runs once against ``lenient`` and once against ``strict``."""

from __future__ import annotations

import pytest

PROFILES = ("lenient", "strict")


@pytest.fixture(params=PROFILES)
def profile(request: pytest.FixtureRequest) -> str:
    return request.param
