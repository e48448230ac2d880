"""A real ``marginengine serve`` process on a free loopback port, for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A free loopback TCP port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``marginengine serve CONFIG ...`` in a subprocess; ``url`` once it answers."""

    def __init__(self, args: list[str], token: str = "soak-token",
                 timeout: float = 60.0) -> None:
        self.port = free_port()
        self.token = token
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "MARGINENGINE_TOKEN": token}
        self.stderr_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"serve-{self.port}.log"
        self._stderr = open(self.stderr_path, "w")  # noqa: SIM115  (closed in stop)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "marginengine.cli.main", "serve", *args,
             "--port", str(self.port)],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=self._stderr)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited with {self.proc.returncode}: "
                                   f"{self.stderr_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"serve did not answer in {timeout} s: "
                           f"{self.stderr_path.read_text()[-2000:]}")

    @property
    def auth(self) -> dict[str, str]:
        """The write header."""
        return {"Authorization": f"Bearer {self.token}"}

    def post(self, path: str, body: Any) -> httpx.Response:
        """POST JSON with the token."""
        return httpx.post(f"{self.url}{path}", json=body, headers=self.auth, timeout=30)

    def get(self, path: str) -> Any:
        """GET JSON."""
        r = httpx.get(f"{self.url}{path}", timeout=30)
        r.raise_for_status()
        return r.json()

    def kill(self) -> None:
        """``kill -9``: no shutdown, no close record."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self._stderr.close()

    def stop(self) -> None:
        """SIGINT (uvicorn shuts down, the log is closed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._stderr.close()
