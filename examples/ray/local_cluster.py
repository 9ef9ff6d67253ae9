"""A real Ray cluster on this machine's loopback: a head node and worker
nodes, each started by ``ray start --block`` in its own process group, so
that stopping them ends exactly the processes they started (nothing else on
the machine is touched). Used by the example's test; also a quick way to try
the job on "several nodes" without any.

    with LocalCluster(Path("/tmp/ray-local"), workers=2, cpus=1) as cluster:
        subprocess.run([..., "--address", cluster.address], env=cluster.env)
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import List

#: How long a node may take to start and register with the head.
START_TIMEOUT_S = 180

#: The ports each node listens on besides the head's GCS port.
_NODE_PORTS = (
    "node-manager-port",
    "object-manager-port",
    "dashboard-agent-listen-port",
    "dashboard-agent-grpc-port",
    "metrics-export-port",
    "runtime-env-agent-port",
)
_PORTS_PER_NODE = len(_NODE_PORTS)


def free_ports(n: int) -> List[int]:
    """``n`` distinct ports free now on 127.0.0.1 (all held open together
    while they are picked, so none is handed out twice)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


class LocalCluster:
    """``workers`` worker nodes beside the head, ``cpus`` CPUs each; the
    head gets ``head_cpus`` (0: it only schedules, the workers score)."""

    def __init__(self, temp_dir: Path, workers: int = 2, cpus: int = 1, head_cpus: int = 1) -> None:
        self.temp_dir = temp_dir
        self.workers = workers
        self.cpus = cpus
        self.head_cpus = head_cpus
        # The head's GCS port, then each node's own ports.
        self.ports = free_ports(1 + _PORTS_PER_NODE * (1 + workers))
        self.address = f"127.0.0.1:{self.ports.pop()}"
        self.nodes: List[subprocess.Popen] = []
        # Token authentication with this cluster's own token (not the
        # user's ~/.ray/auth_token): nodes and drivers run with this env.
        token = temp_dir / "auth_token"
        self.env = dict(
            os.environ,
            RAY_AUTH_MODE="token",
            RAY_AUTH_TOKEN_PATH=str(token),
            RAY_USAGE_STATS_ENABLED="0",
        )

    def _start_node(self, head: bool, log: Path) -> None:
        # Every port of the node, so that several nodes share one host.
        ports = [f"--{name}={self.ports.pop()}" for name in _NODE_PORTS]
        cmd = [sys.executable, "-m", "ray.scripts.scripts", "start", "--block"]
        cmd += ["--node-ip-address=127.0.0.1", f"--object-store-memory={100 * 2**20}"]
        cmd += ["--disable-usage-stats", *ports]
        if head:
            cmd += ["--head", f"--port={self.address.rpartition(':')[2]}", f"--num-cpus={self.head_cpus}"]
            cmd += ["--include-dashboard=false", f"--temp-dir={self.temp_dir}"]
        else:
            cmd += [f"--address={self.address}", f"--num-cpus={self.cpus}"]
        with open(log, "wb") as out:
            self.nodes.append(
                subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=self.env, start_new_session=True)
            )

    def start(self) -> "LocalCluster":
        self.temp_dir.mkdir(parents=True, exist_ok=True)
        token = Path(self.env["RAY_AUTH_TOKEN_PATH"])
        token.write_text(secrets.token_hex(32))
        token.chmod(0o600)
        # One after the other: a node names its sockets after the ones it
        # finds in the shared session directory, so two starting together
        # could pick the same.
        for i in range(1 + self.workers):
            log = self.temp_dir / ("head.log" if i == 0 else f"worker{i}.log")
            self._start_node(i == 0, log)
            self._wait_started(self.nodes[-1], log)
        return self

    def _wait_started(self, node: subprocess.Popen, log: Path) -> None:
        """Until ``ray start`` says the node runs (it says so once the node
        registered with the head)."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while b"Ray runtime started" not in log.read_bytes():
            if node.poll() is not None:
                raise RuntimeError(f"a Ray node exited ({node.returncode}):\n{log.read_text()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"a Ray node did not start in {START_TIMEOUT_S} s:\n{log.read_text()}")
            time.sleep(0.2)

    def stop(self) -> None:
        """Ends every node: SIGTERM to ``ray start --block`` (which stops what
        it started), SIGKILL to the process group of any that lingers."""
        for n in reversed(self.nodes):
            if n.poll() is None:
                n.send_signal(signal.SIGTERM)
        for n in reversed(self.nodes):
            try:
                n.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(n.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            n.wait()
        self.nodes.clear()

    def __enter__(self) -> "LocalCluster":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()
