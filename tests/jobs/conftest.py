"""The jobs unit tests run with a private HOME and no Ray auth settings.

star's job client turns on RAY_AUTH_MODE=token in its own process when it finds
a token (this machine may have one in ~/.ray/auth_token). In the test process
that setting would outlive the test and make every later local `ray.init` of
the session start a token-protected GCS it cannot talk to; monkeypatch puts
the variables back as they were after each test.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_ray_auth_leaks(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("home")))
    for name in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
        monkeypatch.delenv(name, raising=False)
