"""A one-node SLURM cluster on this machine, for the cluster test (`make test-cluster`).

Debian's packages (slurm-wlm, munge): installed when missing, munged started as the munge user,
a minimal /etc/slurm/slurm.conf written for this node (its name, CPUs and memory as `slurmd -C`
reports them; process tracking by /proc, no task plugin, no accounting, one partition), then
slurmctld and slurmd. `OneNodeCluster.stop()` stops only what `start()` started and removes the
configuration it wrote. Starting needs root; `CannotStart` says in one line why it could not.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

CONF = Path("/etc/slurm/slurm.conf")
CGROUP_CONF = Path("/etc/slurm/cgroup.conf")
MARK = "# one-node test cluster written by tests/slurm.py"
PARTITION = "test"
PACKAGES = ("slurm-wlm", "munge")


class CannotStart(Exception):
    """SLURM cannot be started here; the message says why, in one line."""


def _run(*cmd: str, timeout: float = 60, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


def node_state() -> str | None:
    """State of this cluster's node ("idle", "mixed", ...), or None when no controller answers."""
    if shutil.which("sinfo") is None:
        return None
    try:
        proc = _run("sinfo", "--noheader", "--format=%T", timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    states = proc.stdout.split()
    return states[0].rstrip("*") if proc.returncode == 0 and states else None


def munge_works() -> bool:
    if shutil.which("munge") is None:
        return False
    cred = _run("munge", "--no-input", timeout=10)
    return cred.returncode == 0 and _run("unmunge", input=cred.stdout, timeout=10).returncode == 0


class OneNodeCluster:
    """Start (if needed) and stop a one-node SLURM cluster; `partition` is where jobs go."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.wrote_conf = False
        self.partition = PARTITION

    def start(self, wait: float = 90) -> None:
        if node_state() in ("idle", "mixed", "allocated"):
            self.partition = self._default_partition()
            return  # a cluster is already running: use it, stop nothing
        if os.name != "posix" or os.geteuid() != 0:
            raise CannotStart("SLURM is not running and starting one needs root (apt, daemons)")
        if shutil.which("apt-get") is None and shutil.which("slurmctld") is None:
            raise CannotStart("SLURM is not running and there is no apt-get to install it")
        self._install()
        self._start_munge()
        self._write_conf()
        for daemon in ("slurmctld", "slurmd"):
            proc = _run(daemon)
            if proc.returncode != 0:
                self.stop()
                raise CannotStart(f"{daemon} did not start: {_first(proc.stderr)}")
            self.started.append(daemon)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if node_state() in ("idle", "mixed"):
                return
            time.sleep(1)
        self.stop()
        raise CannotStart(f"the SLURM node did not become idle within {wait:.0f} s")

    def stop(self) -> None:
        """Stop the daemons this object started and remove the configuration it wrote."""
        if "slurmctld" in self.started or "slurmd" in self.started:
            _run("scontrol", "shutdown", timeout=30)
            for _ in range(30):
                if (
                    _run("pgrep", "-x", "slurmd").returncode
                    and _run("pgrep", "-x", "slurmctld").returncode
                ):
                    break
                time.sleep(0.5)
        if "munged" in self.started:
            _run("pkill", "-x", "munged")
        if self.wrote_conf:
            CONF.unlink(missing_ok=True)
        self.started.clear()

    # --- the steps ----------------------------------------------------------------------------
    def _install(self) -> None:
        missing = [d for d in ("slurmctld", "slurmd", "sbatch", "munged") if not shutil.which(d)]
        if not missing:
            return
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        proc = _run(
            "apt-get", "install", "-y", "--no-install-recommends", *PACKAGES, timeout=600, env=env
        )
        if proc.returncode != 0:
            _run("apt-get", "update", timeout=600, env=env)
            proc = _run(
                "apt-get", "install", "-y", "--no-install-recommends", *PACKAGES,
                timeout=600, env=env,
            )  # fmt: skip
        if proc.returncode != 0:
            raise CannotStart(
                f"apt-get could not install {' '.join(PACKAGES)}: {_first(proc.stderr)}"
            )

    def _start_munge(self) -> None:
        if munge_works():
            return
        run_dir = Path("/run/munge")
        run_dir.mkdir(parents=True, exist_ok=True)
        shutil.chown(run_dir, "munge", "munge")
        if not Path("/etc/munge/munge.key").exists():
            _run("mungekey", "--create", "--keyfile=/etc/munge/munge.key")
            shutil.chown("/etc/munge/munge.key", "munge", "munge")
        proc = _run("runuser", "-u", "munge", "--", "/usr/sbin/munged")
        if proc.returncode != 0:
            raise CannotStart(f"munged did not start: {_first(proc.stderr)}")
        self.started.append("munged")
        for _ in range(20):
            if munge_works():
                return
            time.sleep(0.5)
        raise CannotStart("munge does not authenticate after starting munged")

    def _write_conf(self) -> None:
        if CONF.exists() and MARK not in CONF.read_text(encoding="utf-8"):
            raise CannotStart(f"{CONF} exists and was not written by this test: not overwritten")
        node = _run("slurmd", "-C").stdout.splitlines()[0]  # NodeName=... CPUs=... RealMemory=...
        name = node.split()[0].split("=", 1)[1]
        for spool in ("/var/spool/slurmctld", "/var/spool/slurmd", "/var/log/slurm"):
            Path(spool).mkdir(parents=True, exist_ok=True)
        CGROUP_CONF.unlink(missing_ok=True)  # slurm 22.05 refuses CgroupPlugin=disabled
        CONF.write_text(
            "\n".join(
                [
                    MARK,
                    "ClusterName=exchange-test",
                    f"SlurmctldHost={socket.gethostname()}",
                    "SlurmUser=root",
                    "SlurmdUser=root",
                    "AuthType=auth/munge",
                    "StateSaveLocation=/var/spool/slurmctld",
                    "SlurmdSpoolDir=/var/spool/slurmd",
                    "SlurmctldPidFile=/run/slurmctld.pid",
                    "SlurmdPidFile=/run/slurmd.pid",
                    "SlurmctldLogFile=/var/log/slurm/slurmctld.log",
                    "SlurmdLogFile=/var/log/slurm/slurmd.log",
                    "ProctrackType=proctrack/linuxproc",
                    "TaskPlugin=task/none",
                    "AccountingStorageType=accounting_storage/none",
                    "JobAcctGatherType=jobacct_gather/none",
                    "SchedulerType=sched/backfill",
                    "SelectType=select/cons_tres",
                    "SelectTypeParameters=CR_Core",
                    "ReturnToService=2",
                    "MpiDefault=none",
                    f"{node} State=UNKNOWN",
                    f"PartitionName={PARTITION} Nodes={name} Default=YES MaxTime=INFINITE State=UP",
                    "",
                ]
            ),
            encoding="utf-8",
        )
        self.wrote_conf = True

    @staticmethod
    def _default_partition() -> str:
        proc = _run("sinfo", "--noheader", "--format=%P", timeout=10)
        names = proc.stdout.split()
        default = [n for n in names if n.endswith("*")]
        return (default or names or [PARTITION])[0].rstrip("*")


def _first(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no message"
