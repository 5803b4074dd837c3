"""Is the driver that holds a run's lease still alive?

A SIGKILLed driver cannot give its lease back, and its heartbeat stays fresh for
up to `lease.timeout_s`; a resubmitted job would wait that long. The lease names
its holder's host and pid. A holder on this host whose process is gone, or whose
pid now belongs to a process started after the lease was taken (the pid was
reused), is dead, and its lease can be taken at once. A Ray job's driver runs on
the head node, so a job resubmitted after `ray job stop` or a crash finds its dead
predecessor this way. A holder on another host is taken for alive until its
heartbeat goes stale: this process cannot see that host's processes.

This trusts that a host name names one process namespace, as it does for a
Kubernetes pod, a Docker container (unless started with --uts=host) or a VM.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from db.leases import LeaseInfo


def dead_holder_reason(info: LeaseInfo, *, host: str | None = None) -> str | None:
    """Why the lease's holder is certainly gone, or None when it may be alive."""
    holder = info.holder
    if holder.host != (host or socket.gethostname()):
        return None
    if not _pid_exists(holder.pid):
        return f"its process {holder.pid} on {holder.host} is gone"
    started = process_start(holder.pid)
    if started is not None and started > info.acquired_at.timestamp() + 1.0:
        return f"pid {holder.pid} on {holder.host} now belongs to another process, started after the lease"
    return None


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def process_start(pid: int) -> float | None:
    """When process `pid` started (epoch seconds), from /proc; None where /proc cannot tell."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
    except (OSError, StopIteration, ValueError):
        return None
    # the command name (field 2) may hold spaces and parentheses: fields resume after the last ")"
    fields = stat.rsplit(")", 1)[1].split()
    return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: start time in clock ticks

