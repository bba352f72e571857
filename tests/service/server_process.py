"""A real `sparsecoding serve` (the documented console command, with its flags) on a free
loopback port, for the end-to-end tests."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

REPO = Path(__file__).resolve().parents[2]


def console_script(name: str = "sparsecoding") -> str:
    """The installed console script `name` of this interpreter's environment, as a user runs
    it (`pip install -e .` puts it beside the interpreter)."""
    script = Path(sys.executable).parent / name
    if not script.exists():
        raise RuntimeError(f"{script} is missing: install the project (pip install -e .)")
    return str(script)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    """One server process over `data_dir`; restartable on the same directory and port."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("SPARSECODING_")}
        self.env = {
            **inherited,
            "SPARSECODING_CHECKPOINT_INTERVAL_S": "0.5",
            "SPARSECODING_HEARTBEAT_INTERVAL_S": "0.2",
            "SPARSECODING_STALE_AFTER_S": "10",
            "SPARSECODING_DISPATCH_INTERVAL_S": "0.1",
            **(env or {}),
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.log = data_dir.parent / f"server-{self.port}.log"
        self.starts = 0

    def start(self, timeout: float = 90.0, ready: bool = True) -> str:
        """Start and wait until /readyz answers 200 (or /healthz, unless `ready`); returns what
        the server printed."""
        self.starts += 1
        offset = self.log.stat().st_size if self.log.exists() else 0
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [console_script(), "serve", "--host", "127.0.0.1",
                 "--port", str(self.port), "--data-dir", str(self.data_dir), "--workers", "2"],
                cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, as a terminal's job is
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.output()}")
            try:
                probe = "/readyz" if ready else "/healthz"
                if httpx.get(f"{self.url}{probe}", timeout=2).status_code == 200:
                    return self.log.read_bytes()[offset:].decode(errors="replace")
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server not ready after {timeout} s:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def printed_key(self, printed: str) -> str:
        match = re.search(r"API key for tenant 'default'.*: (\S+)", printed)
        assert match, printed
        return match.group(1)

    def children(self) -> list[psutil.Process]:
        assert self.process is not None
        return psutil.Process(self.process.pid).children(recursive=True)

    def worker_pid(self, address: str) -> int:
        """The pid of the Dask worker process listening at `tcp://127.0.0.1:<port>`."""
        port = int(address.rsplit(":", 1)[1])
        for child in self.children():
            for conn in child.net_connections(kind="tcp"):
                if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port:
                    return child.pid
        raise LookupError(f"no child process listens on {address}")

    def kill9(self) -> None:
        """SIGKILL the server; its worker processes must go down with it."""
        assert self.process is not None
        children = self.children()
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        _, alive = psutil.wait_procs(children, timeout=15)
        for proc in alive:  # never leak processes, but say so: this is a failure
            proc.kill()
        assert not alive, f"worker processes outlived the server: {alive}"

    def interrupt(self, sig: int = signal.SIGINT, timeout: float = 30.0) -> tuple[int, str]:
        """Send `sig` to the server's process group, as a terminal's Ctrl-C does; wait for the
        server and its worker processes to end. Returns (exit status, what it printed since
        its start)."""
        assert self.process is not None
        offset = self.log.stat().st_size
        started = self.output()
        children = self.children()
        os.killpg(self.process.pid, sig)
        code = self.process.wait(timeout)
        _, alive = psutil.wait_procs(children, timeout=10)
        for proc in alive:
            proc.kill()
        assert not alive, f"processes outlived the server: {alive}"
        return code, started + self.log.read_bytes()[offset:].decode(errors="replace")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        children = self.children()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        _, alive = psutil.wait_procs(children, timeout=10)
        for proc in alive:
            proc.kill()
