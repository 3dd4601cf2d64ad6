"""One writer per run folder: an exclusive OS file lock on ``FOLDER/.lock``.

``with run_lock(folder, "train"):`` holds the lock for the block. A second process asking for
the same folder fails at once with :class:`RunLockedError`, which names the folder and the
holder's pid, host, command and start time (read from the lock file, where the holder writes
them). The lock is the operating system's, not the file's existence: it disappears with the
process however that ends (``kill -9`` included), so a stale ``.lock`` file never blocks.

Why POSIX record locks (``fcntl.lockf``) and not ``flock``: a ``flock`` belongs to the open file
and is inherited by forked children, so DataLoader workers kept a killed trainer's lock alive
for up to their 5 s watchdog interval (measured: 3.0 s with a child sleeping 3 s, against 0.0 s
for ``lockf``). A record lock belongs to the process and is never inherited. Its one pitfall is
that closing *any* descriptor of the file drops the process's lock; this module opens the file
once per held folder and never again while it is held (nested use goes through the registry).

Re-entrant per process: a process that already holds a folder (a sweep evaluating the run it
trains, say) enters again without blocking; the OS lock is released when the outermost block
exits. Threads of one process share the lock (it guards against other processes, not threads).

Windows: ``msvcrt.locking`` on one byte far beyond the holder's text (locked bytes cannot be
read by other processes there); untested in this project's CI, which has no Windows machine.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pdloss.errors import PdlossError

LOCK_NAME = ".lock"
_WINDOWS_LOCK_OFFSET = 1 << 30  # the byte locked on Windows, past any holder text


class RunLockedError(PdlossError, RuntimeError):
    """Another process holds the run folder's lock. ``folder`` and ``holder`` (a dict with
    ``pid``, ``host``, ``command``, ``what``, ``started``; empty while the holder is starting)
    are attributes."""

    def __init__(self, message: str, folder: Path, holder: dict) -> None:
        super().__init__(message)
        self.folder, self.holder = folder, holder


@dataclass
class _Held:
    fd: int
    depth: int
    pid: int  # the process that took it: a forked child inherits this dict but not the lock
    record: dict


_HELD: dict[str, _Held] = {}
_REGISTRY_LOCK = threading.Lock()


def _try_lock(fd: int) -> bool:
    """Take the exclusive lock without waiting; False when another process holds it."""
    if sys.platform == "win32":
        import msvcrt

        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # EAGAIN / EACCES: held by another process
        return False
    return True


def _unlock(fd: int) -> None:
    if sys.platform == "win32":
        import msvcrt

        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        return
    import fcntl

    fcntl.lockf(fd, fcntl.LOCK_UN)


def _holder_record(what: str) -> dict:
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "what": what,
        "command": " ".join(sys.argv)[:300],
        "started": time.strftime("%Y-%m-%d %H:%M:%S %z"),
    }


def _read_file(folder: Path) -> dict:
    try:
        text = (folder / LOCK_NAME).read_bytes()[:4096].decode("utf-8", "replace").strip()
        return json.loads(text) if text else {}
    except (OSError, ValueError):
        return {}


def read_holder(folder: str | os.PathLike) -> dict:
    """The holder record of ``folder/.lock``: ``{"pid", "host", "what", "command", "started"}``,
    ``{}`` when the file is empty or missing. A clean exit empties the file; a killed holder
    leaves its record behind, so only the OS lock (:func:`run_lock`) says whether it is held.

    In the process that holds the lock this returns the in-memory record without opening the
    file: closing a descriptor of the file would release the lock (POSIX record-lock semantics).
    """
    held = _live_entries().get(_key(Path(folder)))
    if held is not None:
        return dict(held.record)
    return _read_file(Path(folder))


def _key(folder: Path) -> str:
    return os.path.realpath(folder)


def _live_entries() -> dict[str, _Held]:
    pid = os.getpid()
    with _REGISTRY_LOCK:
        for key in [k for k, v in _HELD.items() if v.pid != pid]:
            del _HELD[key]  # inherited through fork: the child does not hold the OS lock
        return dict(_HELD)


def is_locked_here(folder: str | os.PathLike) -> bool:
    """True when this process holds ``folder``'s lock."""
    return _key(Path(folder)) in _live_entries()


def _locked_message(folder: Path, holder: dict) -> str:
    if holder.get("pid"):
        who = f"pid {holder['pid']} on host {holder.get('host', '?')}"
        details = [f"pdloss {holder['what']}" if holder.get("what") else "", f"since {holder.get('started', '?')}"]
        who += f" ({', '.join(d for d in details if d)})"
        if holder.get("command"):
            who += f", command: {holder['command']}"
    else:
        who = "another process that is starting (its pid and host are not written yet)"
    return (
        f"run folder {folder} is in use by {who}. Two writers would corrupt its logs and checkpoints: "
        "wait for that process to end or stop it, then retry (the lock dies with its process, even "
        "after kill -9), or write to another folder."
    )


@contextmanager
def run_lock(folder: str | os.PathLike, what: str = "train") -> Iterator[Path]:
    """Hold the exclusive lock on ``folder`` (created if missing) for the ``with`` block.

    Args:
        folder: the run folder (or a sweep root); the lock file is ``folder/.lock``.
        what: what the holder does (``"train"``, ``"evaluate"``, ``"sweep"``), shown to others.

    Yields the folder as a Path. Raises :class:`RunLockedError` at once (no waiting) when another
    process holds it. Re-entrant within one process.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    key = _key(folder)
    _live_entries()  # forget entries inherited through fork
    # Taking, registering and releasing happen under one in-process lock, so two threads entering
    # at once cannot both open the file (two descriptors: closing either would drop the OS lock).
    with _REGISTRY_LOCK:
        held = _HELD.get(key)
        if held is not None:
            held.depth += 1
        else:
            held = _acquire(folder, key, what)
    try:
        yield folder
    finally:
        with _REGISTRY_LOCK:
            held.depth -= 1
            if held.depth == 0:
                del _HELD[key]
                try:
                    os.ftruncate(held.fd, 0)  # while still held: the next holder never reads our record
                    _unlock(held.fd)
                finally:
                    os.close(held.fd)


def _acquire(folder: Path, key: str, what: str) -> _Held:
    """Open ``folder/.lock``, take the OS lock, write the holder record; caller holds the registry."""
    fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o644)
    try:
        acquired = _try_lock(fd)
    except BaseException:
        os.close(fd)
        raise
    if not acquired:
        os.close(fd)  # not held by us, so closing releases nothing
        holder = _read_file(folder)
        if not holder:  # the holder may be between locking and writing its record
            time.sleep(0.2)
            holder = _read_file(folder)
        raise RunLockedError(_locked_message(folder, holder), folder, holder)
    record = _holder_record(what)
    try:
        # Truncate-and-write under the lock; readers see either nothing or the whole record.
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, (json.dumps(record) + "\n").encode())
    except BaseException:
        _unlock(fd)
        os.close(fd)
        raise
    held = _Held(fd=fd, depth=1, pid=os.getpid(), record=record)
    _HELD[key] = held
    return held
