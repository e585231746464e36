# This file is part of ap_alerts.
#
# Developed for the LSST Data Management System.
# This product includes software developed by the LSST Project
# (https://www.lsst.org).
# See the COPYRIGHT file at the top-level directory of this distribution
# for details of code ownership.
#
# This program is free software: you can redistribute it and/or modify
# it under the terms of the GNU General Public License as published by
# the Free Software Foundation, either version 3 of the License, or
# (at your option) any later version.
#
# This program is distributed in the hope that it will be useful,
# but WITHOUT ANY WARRANTY; without even the implied warranty of
# MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the
# GNU General Public License for more details.
#
# You should have received a copy of the GNU General Public License
# along with this program.  If not, see <https://www.gnu.org/licenses/>.

"""A throw-away one-node Slurm cluster for the ``bps submit`` tests.

Not a test module. `SlurmCluster` starts, all under one temporary directory
and in the foreground (so the processes it holds are the daemons themselves):

- ``munged`` with a freshly generated key and its own socket (no
  ``/etc/munge`` or ``/run/munge`` involved);
- ``slurmctld`` and ``slurmd`` with a generated ``slurm.conf``: this host
  (``127.0.0.1``), its CPUs, one partition, free ports, state, spool, pid
  and log files in the temporary directory, and ``jobcomp/filetxt``: every
  finished job is a line of `jobCompLog`, Slurm's own record of what ran.

Clients (``sbatch``, ``squeue``, ``scancel``, Parsl's ``SlurmProvider``)
find the cluster through ``SLURM_CONF`` (`environment`).  `stop` cancels
the jobs still queued or running, waits until Slurm has ended them, then
stops the three daemons by process id; it also runs at interpreter exit.
Several clusters can run on one host at the same time (pytest-xdist
workers): nothing is shared but the host name.

The daemons need root (``SlurmUser=root``, ``proctrack/linuxproc``,
``task/none``: no cgroups), as on the CI machine; `unavailableReason`
says why a cluster cannot start here.
"""

__all__ = ["SlurmCluster", "unavailableReason"]

import atexit
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import weakref

from kafkaBrokers import _dieWithParent, freePort

_DAEMONS = ("munged", "slurmctld", "slurmd")
_CLIENTS = ("sbatch", "squeue", "scancel", "sinfo")
_READY_TIMEOUT = 60.0
_STOP_TIMEOUT = 30.0

_RUNNING = weakref.WeakSet()


@atexit.register
def _stopAll():
    for cluster in list(_RUNNING):
        cluster.stop()


def _find(name):
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")


def unavailableReason():
    """Why a cluster cannot start here (`str`), or `None` if it can."""
    missing = [name for name in _DAEMONS + _CLIENTS if _find(name) is None]
    if missing:
        return f"Slurm/munge not installed ({', '.join(missing)} not found): apt-get install slurm-wlm munge"
    if os.geteuid() != 0:
        return "the one-node Slurm cluster runs its daemons as root (SlurmUser=root); not root here"
    return None


_CONF = """\
ClusterName=aptest{ctldPort}
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctldPort}
SlurmdPort={slurmdPort}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={munge}
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
SchedulerType=sched/backfill
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
JobCompType=jobcomp/filetxt
JobCompLoc={jobComp}
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
InactiveLimit=0
KillWait=5
MinJobAge=30
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory} State=UNKNOWN
PartitionName={partition} Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


class SlurmCluster:
    """``munged`` + ``slurmctld`` + ``slurmd`` of one node, this host.

    Parameters
    ----------
    cpus : `int`, optional
        CPUs the node offers (default: this machine's).
    memory : `int`
        The node's ``RealMemory`` (MB).
    partition : `str`
        Name of the only (default) partition.
    """

    def __init__(self, cpus=None, memory=4000, partition="aptest"):
        self.cpus = cpus or os.cpu_count()
        self.memory = memory
        self.partition = partition
        self.host = socket.gethostname().split(".")[0]
        self._tmp = tempfile.TemporaryDirectory(prefix="slurm-")
        self.root = self._tmp.name
        self.confPath = os.path.join(self.root, "slurm.conf")
        self.jobCompLog = os.path.join(self.root, "jobcomp.txt")
        self._processes = {}

    @property
    def environment(self):
        """Variables that point Slurm's clients at this cluster (`dict`)."""
        return {"SLURM_CONF": self.confPath}

    def start(self):
        """Start the three daemons and wait until the node is idle."""
        _RUNNING.add(self)
        try:
            self._startMunge()
            self._writeConf()
            self._spawn("slurmctld", [_find("slurmctld"), "-D", "-i", "-f", self.confPath])
            self._spawn("slurmd", [_find("slurmd"), "-D", "-f", self.confPath])
            self._waitIdle()
        except BaseException:
            self.stop()
            raise
        return self

    def _startMunge(self):
        mungeDir = os.path.join(self.root, "munge")
        os.makedirs(mungeDir, mode=0o700)
        key = os.path.join(mungeDir, "munge.key")
        with open(os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400), "wb") as stream:
            stream.write(os.urandom(1024))
        self.mungeSocket = os.path.join(mungeDir, "munge.socket")
        self._spawn(
            "munged",
            [
                _find("munged"),
                "--foreground",
                "--force",
                f"--key-file={key}",
                f"--socket={self.mungeSocket}",
                f"--pid-file={mungeDir}/munged.pid",
                f"--seed-file={mungeDir}/munged.seed",
                f"--log-file={mungeDir}/munged.log",
            ],
        )
        self._waitFor(lambda: os.path.exists(self.mungeSocket), "munged socket")

    def _writeConf(self):
        for name in ("state", "spool"):
            os.makedirs(os.path.join(self.root, name))
        with open(self.confPath, "w") as stream:
            stream.write(
                _CONF.format(
                    host=self.host,
                    ctldPort=freePort(),
                    slurmdPort=freePort(),
                    munge=self.mungeSocket,
                    root=self.root,
                    jobComp=self.jobCompLog,
                    cpus=self.cpus,
                    memory=self.memory,
                    partition=self.partition,
                )
            )

    def _spawn(self, name, command):
        with open(os.path.join(self.root, f"{name}.out"), "ab") as out:
            self._processes[name] = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.root,
                env=os.environ | self.environment,
                start_new_session=True,
                preexec_fn=_dieWithParent,  # noqa: PLW1509 (only a prctl call)
            )

    def _waitFor(self, condition, what, timeout=_READY_TIMEOUT):
        deadline = time.monotonic() + timeout
        while not condition():
            for name, process in self._processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited with {process.returncode}:\n{self.logs()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {what} after {timeout} s:\n{self.logs()}")
            time.sleep(0.2)

    def _waitIdle(self):
        def idle():
            state = self.run("sinfo", "--noheader", "--format=%t", check=False).stdout.split()
            return state == ["idle"]

        self._waitFor(idle, "idle node in sinfo")

    def run(self, command, *args, check=True):
        """Run a Slurm client command against this cluster.

        Returns
        -------
        completed : `subprocess.CompletedProcess`
            With text ``stdout`` and ``stderr``.
        """
        return subprocess.run(
            [_find(command), *args],
            env=os.environ | self.environment,
            capture_output=True,
            text=True,
            check=check,
            timeout=60,
        )

    def queue(self):
        """Jobs queued or running: a `list` of (job id, name, state)."""
        out = self.run("squeue", "--noheader", "--format=%i %j %T").stdout
        return [tuple(line.split()) for line in out.splitlines() if line.strip()]

    def completedJobs(self):
        """Finished jobs from the ``jobcomp/filetxt`` log: a `list` of `dict`
        (``JobId``, ``Name``, ``JobState``, ``NodeList``, ...)."""
        if not os.path.exists(self.jobCompLog):
            return []
        jobs = []
        with open(self.jobCompLog) as stream:
            for line in stream:
                fields = dict(item.split("=", 1) for item in line.split() if "=" in item)
                jobs.append(fields)
        return jobs

    def logs(self):
        """The tail of every daemon's log (`str`), for error messages."""
        parts = []
        for name in ("munge/munged.log", "slurmctld.log", "slurmd.log", *(f"{d}.out" for d in _DAEMONS)):
            path = os.path.join(self.root, name)
            if os.path.exists(path):
                with open(path, errors="replace") as stream:
                    parts.append(f"--- {name}\n{''.join(stream.readlines()[-15:])}")
        return "\n".join(parts)

    def stop(self):
        """Cancel every job, then stop the daemons by process id."""
        _RUNNING.discard(self)
        if self._running("slurmctld"):
            self.run("scancel", "--full", f"--partition={self.partition}", check=False)
            deadline = time.monotonic() + _STOP_TIMEOUT
            while self._running("slurmd") and time.monotonic() < deadline:
                try:
                    if not self.queue():
                        break
                except subprocess.SubprocessError:
                    break
                time.sleep(0.5)
        for name in reversed(_DAEMONS):
            process = self._processes.pop(name, None)
            if process is None:
                continue
            if process.poll() is None:
                os.kill(process.pid, signal.SIGTERM)
                try:
                    process.wait(_STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()

    def _running(self, name):
        process = self._processes.get(name)
        return process is not None and process.poll() is None

    def cleanup(self):
        """Stop the cluster and remove its directory."""
        self.stop()
        self._tmp.cleanup()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()
