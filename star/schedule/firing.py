"""One firing: run the schedule's next rounds in a child process, holding a lease.

Locally the child is `star run` on the schedule's run; with an address it is
`star submit --wait` with a submission id derived from the schedule and slot,
so Ray refuses a duplicate too. Either way the child resumes from what the
store holds (the `star run` resume machinery), so a firing that died half-way
is completed by the next one, not redone. While the child runs, a heartbeat
renews the firing's lease; a firing whose lease runs out is reaped as lost.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import yaml

# Lines of the child's output kept in a failed firing's error.
ERROR_TAIL_LINES = 15


@dataclass(frozen=True)
class FiringSpec:
    """What the child of one firing attempt needs; commands are built from it."""

    schedule: str
    run_name: str
    slot: datetime
    attempt: int
    target_round: int
    config_path: Path
    store_url: str
    address: str | None

    @property
    def submission_id(self) -> str:
        """Derived from schedule, slot and attempt: a re-submission of the same attempt is refused by Ray."""
        stamp = self.slot.strftime("%Y%m%dT%H%M%SZ")
        suffix = "" if self.attempt <= 1 else f"-retry{self.attempt - 1}"
        return f"star-{self.schedule}-{stamp}{suffix}"


CommandBuilder = Callable[[FiringSpec], list[str]]


def star_command(spec: FiringSpec) -> list[str]:
    """The child's command line: `star run` locally, `star submit --wait` on a cluster."""
    star = [sys.executable, "-m", "star"]
    if spec.address is None:
        return star + ["run", str(spec.config_path), "--run-name", spec.run_name,
                       "--rounds", str(spec.target_round), "--db", spec.store_url, "--quiet"]
    return star + ["submit", str(spec.config_path), "--address", spec.address, "--run-name", spec.run_name,
                   "--rounds", str(spec.target_round), "--submission-id", spec.submission_id, "--wait"]


def write_config(config: dict, run_name: str, store_url: str, folder: Path) -> Path:
    """The schedule's stored config as YAML for the child, pointed at this store and run."""
    raw = dict(config, run_name=run_name, database=store_url)
    path = folder / f"{run_name}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@dataclass(frozen=True)
class ChildResult:
    returncode: int
    output_tail: str
    stopped: bool  # ended because the scheduler stopped or lost the lease


def _die_with_parent() -> None:
    # A scheduler killed with SIGKILL must not leave its `star run` driving the
    # run on: the next firing would start a second driver.
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def run_child(argv: list[str], log_path: Path, *, heartbeat: Callable[[], bool], interval: float,
              stop: threading.Event) -> ChildResult:
    """Run the child, calling `heartbeat` every `interval` s; stop it when asked or when the lease is lost."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        child = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 preexec_fn=_die_with_parent, env=_child_env())
        stopped = False
        while True:
            try:
                child.wait(timeout=interval)
                break
            except subprocess.TimeoutExpired:
                pass
            if stop.is_set() or not heartbeat():
                stopped = True
                _terminate(child)
                break
    return ChildResult(child.returncode, _tail(log_path), stopped)


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    # The child imports the same star as this process, also from a source tree.
    here = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (here, env.get("PYTHONPATH")) if p)
    return env


def _terminate(child: subprocess.Popen, grace: float = 30.0) -> None:
    child.terminate()
    try:
        child.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def _tail(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-ERROR_TAIL_LINES:])[-2000:]
