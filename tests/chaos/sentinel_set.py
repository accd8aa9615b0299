"""A Redis primary, its replica and three sentinels on free loopback ports, started by a test
(`redis-server --sentinel`), each with its own directory; AOF and `noeviction` on both data
nodes, as docs/scaling.md asks. The test can kill the primary, wait for the sentinels to
promote the replica, and bring the old primary back (the sentinels make it a replica)."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from scripts.devstack import free_port, redis_server_binary

MASTER = "zkb"
# Sentinel's internal timers (SENTINEL DEBUG, Redis >= 7.0), for a loaded 2-core test machine:
# TILT (30 s of doing nothing) only after a 10 s timer stall rather than 2 s, and a down node's
# link retried every second rather than every 15 s, so a restarted old primary is found and made
# a replica in seconds. Failure detection itself stays as configured below.
_TIMERS = ("tilt-trigger", "10000", "tilt-period", "5000", "min-link-reconnect-period", "1000",
           "info-period", "2000")


class SentinelSet:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.data_ports = [free_port(), free_port()]
        self.sentinel_ports = [free_port() for _ in range(3)]
        self.procs: dict[int, subprocess.Popen] = {}

    @property
    def sentinels(self) -> str:
        """REDIS_SENTINELS."""
        return ",".join(f"127.0.0.1:{p}" for p in self.sentinel_ports)

    def start(self) -> None:
        primary, replica = self.data_ports
        self._data_node(primary)
        self._data_node(replica, "--replicaof", "127.0.0.1", str(primary))
        for port in self.sentinel_ports:
            conf = self.workdir / f"sentinel-{port}.conf"
            conf.write_text(f"port {port}\nbind 127.0.0.1\ndir {self.workdir}\n"
                            f"sentinel monitor {MASTER} 127.0.0.1 {primary} 2\n"
                            f"sentinel down-after-milliseconds {MASTER} 3000\n"
                            f"sentinel failover-timeout {MASTER} 5000\n"
                            f"sentinel parallel-syncs {MASTER} 1\n")
            self._spawn(port, str(conf), "--sentinel")
        _until(lambda: self.client(replica).info("replication").get("master_link_status")
               == "up", 30, "the replica to sync")
        _until(lambda: all(self._sentinel(p).info("sentinel")["master0"]["sentinels"] == 3
                           for p in self.sentinel_ports), 30, "the sentinels to meet")
        for port in self.sentinel_ports:
            self._sentinel(port).execute_command("SENTINEL", "DEBUG", *_TIMERS)

    def primary_port(self) -> int:
        return self._master_port(self.sentinel_ports[0])

    def kill(self, port: int) -> None:
        self.procs[port].send_signal(signal.SIGKILL)
        self.procs[port].wait(10)

    def restart(self, port: int) -> None:
        """A data node again on its port and directory (its AOF), as it was started."""
        self._data_node(port)

    def wait_promoted(self, old: int, timeout: float = 60) -> int:
        """The new primary's port, once every sentinel names it and it accepts writes."""
        def promoted() -> int | None:
            ports = {self._master_port(p) for p in self.sentinel_ports}
            new = ports.pop() if len(ports) == 1 else old
            if new != old and self.client(new).info("replication")["role"] == "master":
                return new
            return None
        return _until(promoted, timeout, "a replica to be promoted")

    def wait_replicated(self, primary: int, old: int, timeout: float = 90) -> None:
        """A replica follows the new primary. The sentinels make the restarted old primary one;
        if they have not after half the timeout (seen once on a loaded CI machine, after a
        spurious failover of their own), the test does what they should have (REPLICAOF), as
        an operator would: the bridge's behaviour under test does not depend on who does it."""
        def followed() -> bool:
            return self.client(primary).info("replication").get("connected_slaves", 0) >= 1
        try:
            _until(followed, timeout / 2, "a replica to follow the new primary")
            return
        except AssertionError:
            self.client(old).execute_command("REPLICAOF", "127.0.0.1", str(primary))
        try:
            _until(followed, timeout / 2, "a replica to follow the new primary (REPLICAOF)")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; the sentinels said:\n{self.sentinel_log()}") from None

    def sentinel_log(self, lines: int = 15) -> str:
        """The last lines of each sentinel's log (+tilt, +convert-to-slave, ...), for a failure."""
        return "\n".join(
            f"{port}: {line}" for port in self.sentinel_ports
            for line in (self.workdir / f"redis-{port}.log").read_text(
                errors="replace").splitlines()[-lines:])

    def client(self, port: int) -> redis.Redis:
        return redis.Redis(port=port, socket_timeout=2, socket_connect_timeout=2)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    def _data_node(self, port: int, *extra: str) -> None:
        node_dir = self.workdir / f"redis-{port}"
        node_dir.mkdir(exist_ok=True)
        self._spawn(port, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(node_dir),
                    "--save", "", "--appendonly", "yes", "--appendfsync", "everysec",
                    "--maxmemory-policy", "noeviction", *extra)
        _until(lambda: _pings(self.client(port)), 30, f"redis on {port}")

    def _spawn(self, port: int, *args: str) -> None:
        log = open(self.workdir / f"redis-{port}.log", "ab")  # noqa: SIM115 - the child's
        self.procs[port] = subprocess.Popen([redis_server_binary(), *args], stdout=log,
                                            stderr=subprocess.STDOUT)

    def _master_port(self, sentinel_port: int) -> int:
        # The raw command: redis-py 6.4's sentinel_* helpers break on a plain client.
        _, port = self._sentinel(sentinel_port).execute_command(
            "SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER)
        return int(port)

    def _sentinel(self, port: int) -> redis.Redis:
        return redis.Redis(port=port, socket_timeout=2, decode_responses=True)


@contextmanager
def sentinel_set(workdir: Path) -> Iterator[SentinelSet]:
    workdir.mkdir(parents=True, exist_ok=True)
    nodes = SentinelSet(workdir)
    try:
        nodes.start()
        yield nodes
    finally:
        nodes.stop()


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


def _until(check, timeout: float, what: str):  # noqa: ANN001, ANN202
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = check()
        except redis.RedisError:
            found = None
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
