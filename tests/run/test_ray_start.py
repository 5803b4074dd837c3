"""A local Ray start whose node misses Ray's hard-coded 30 s registration wait is started again.

Ray itself is replaced here: the test is about star's retry, not about Ray (a real start is
in every slow test); forcing a real node to miss its 30 s would need a machine under load.
"""

from __future__ import annotations

import pytest

from star.run import ray_start

TIMEOUT = Exception("The current node timed out during startup. This could happen because some of the raylet "
                    "failed to startup or the GCS has become overloaded.")


class FakeRay:
    def __init__(self, failures: list[BaseException]) -> None:
        self.failures = list(failures)
        self.inits: list[str] = []
        self.shutdowns = 0

    def init(self, address: str, **kwargs) -> None:
        self.inits.append(address)
        if self.failures:
            raise self.failures.pop(0)

    def shutdown(self) -> None:
        self.shutdowns += 1


@pytest.fixture
def fake_ray(monkeypatch: pytest.MonkeyPatch):
    import ray

    def install(failures: list[BaseException]) -> FakeRay:
        fake = FakeRay(failures)
        monkeypatch.setattr(ray, "init", fake.init)
        monkeypatch.setattr(ray, "shutdown", fake.shutdown)
        return fake
    return install


def test_a_node_that_missed_its_registration_wait_is_started_again(fake_ray) -> None:
    fake = fake_ray([TIMEOUT, TIMEOUT])
    lines: list[str] = []
    ray_start.start_ray("local", log=lines.append)
    assert fake.inits == ["local"] * 3 and fake.shutdowns == 2
    assert "starting it again (3 of 3)" in lines[-1]


def test_the_last_timeout_and_other_errors_are_raised_and_a_cluster_is_not_retried(fake_ray) -> None:
    fake = fake_ray([TIMEOUT] * ray_start.LOCAL_START_TRIES)
    with pytest.raises(Exception, match="timed out during startup"):
        ray_start.start_ray("local", log=lambda line: None)
    assert len(fake.inits) == ray_start.LOCAL_START_TRIES
    fake = fake_ray([RuntimeError("something else")])
    with pytest.raises(RuntimeError, match="something else"):
        ray_start.start_ray("local", log=lambda line: None)
    fake = fake_ray([TIMEOUT])
    with pytest.raises(Exception, match="timed out during startup"):
        ray_start.start_ray("10.0.0.1:6379", log=lambda line: None)  # a cluster's node is not ours
    assert fake.inits == ["10.0.0.1:6379"]
