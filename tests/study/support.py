"""Shared helpers of the study tests: a small study made from images written here, a server
subprocess, and a tiny HTTP rater client. (No tests in this module.)"""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
from PIL import Image

TOKEN_RE = re.compile(r'name="token" value="([A-Za-z0-9_-]+)"')


def write_method_images(
    root: Path, methods: list[str], stems: list[str], size=(48, 64), seed=0, reference: bool = False
) -> dict[str, Path]:
    """Write one random RGB PNG per (method, stem); methods differ by a known offset."""
    rng = np.random.default_rng(seed)
    folders = {}
    base = {s: rng.integers(0, 200, (*size, 3), dtype=np.uint8) for s in stems}
    for k, name in enumerate([*methods, *(["reference"] if reference else [])]):
        folder = root / f"src_{name}"
        folder.mkdir(parents=True, exist_ok=True)
        for stem in stems:
            Image.fromarray(base[stem] + np.uint8(10 * k)).save(folder / f"{stem}.png")
        folders[name] = folder
    return folders


def make_study(root: Path, methods=("A", "B", "C"), n_images=4, questions=6, crop=32, reference=False, **kw):
    from pdloss.study.design import create_study

    stems = [f"img{i:02d}" for i in range(n_images)]
    folders = write_method_images(root, list(methods), stems, reference=reference)
    folder = root / "study"
    create_study(
        folder,
        [(m, folders[m]) for m in methods],
        reference=folders.get("reference"),
        crop=crop,
        questions=questions,
        show_progress=False,
        **kw,
    )
    return folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``pdloss study serve`` as a subprocess on 127.0.0.1."""

    def __init__(self, folder: Path, port: int, admin_token: str = "admin-secret-token", extra=()):
        self.folder, self.port, self.admin_token, self.extra = folder, port, admin_token, list(extra)
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 20.0) -> None:
        env = {**os.environ, "PDLOSS_STUDY_ADMIN_TOKEN": self.admin_token}
        cmd = [sys.executable, "-m", "pdloss", "study", "serve", str(self.folder), "--port", str(self.port)]
        # The server's output goes to a file, not a pipe: an undrained pipe fills up (waitress logs
        # its queue depth under load) and then blocks the server mid-request.
        self.log_path = self.folder.parent / f"server-{self.port}.log"
        log = open(self.log_path, "a")  # handed to the child, closed below
        try:
            self.proc = subprocess.Popen([*cmd, *self.extra], env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("server did not come up")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


class RaterClient:
    """One rater over a keep-alive HTTP connection, with its own cookie."""

    def __init__(self, port: int, timeout: float = 5.0):
        self.port, self.timeout = port, timeout
        self.cookie: str | None = None
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict, str]:
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        headers = {}
        if self.cookie:
            headers["Cookie"] = self.cookie
        data = None
        if body is not None:
            data = urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            self.conn.request(method, path, body=data, headers=headers)
            resp = self.conn.getresponse()
            text = resp.read().decode("utf-8", "replace")
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = None
            raise
        set_cookie = resp.getheader("Set-Cookie")
        if set_cookie:
            self.cookie = set_cookie.split(";", 1)[0]
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, text

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


def expected_wins(conn, choices: dict[str, str], n_methods: int) -> np.ndarray:
    """Row-beats-column counts implied by ``{question token: "left" | "right"}``, computed from the
    database's left/right order independently of the report code."""
    expected = np.zeros((n_methods, n_methods), int)
    for token, choice in choices.items():
        a, b, left = conn.execute(
            "SELECT method_a, method_b, left_method FROM assignments WHERE token = ?", (token,)
        ).fetchone()
        right = b if left == a else a
        win, lose = (left, right) if choice == "left" else (right, left)
        expected[win - 1, lose - 1] += 1
    return expected
