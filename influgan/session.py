"""A web visitor's working set: their feed, photos and looks, and a private folder on disk with a size limit.

The folder lives as long as the session can still be used, and no longer: it is deleted when the session is
closed (the server drops the visitor's state), never while one of the visitor's requests is at work in it. Files a
visitor discards (a cleared feed, an older download) are deleted as soon as no request of theirs is running.
Folders are named at random, never from anything a client sends.
"""
from __future__ import annotations

import os
import re
import secrets
import shutil
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from .look import Look

DISK_BUDGET = 1024 * 2**20  # bytes a visitor's folder may hold: 30 phone photos and their previews and results
KEEP_PREVIEWS = 4  # rendered previews kept per kind: the browser may still be fetching the one before the last


class SessionFull(ValueError):
    """A visitor's folder would exceed its size limit; the message says what to do."""


@dataclass
class Reference:
    """A feed photo as kept for the session: a 1024 px JPEG and the name it was uploaded as."""

    path: Path
    name: str
    example: bool = False  # put there by "Try the example"; replaced by the visitor's own feed


@dataclass
class Photo:
    """A visitor's photo: the original file (for full-size results), a 1024 px preview and a gallery thumbnail."""

    name: str
    original: Path
    preview: Path
    thumb: Path
    example: bool = False  # put there by "Try the example"; replaced by the visitor's own photos


@dataclass(eq=False)  # compared and hashed by identity: a store keeps them in a set
class Session:
    """One visitor: references, photos, looks made or uploaded, and their folder."""

    folder: Path
    refs: list[Reference] = field(default_factory=list)
    photos: list[Photo] = field(default_factory=list)
    looks: dict[str, Look] = field(default_factory=dict)
    current: int = 0  # index of the photo shown in the preview
    disk_budget: int = DISK_BUDGET
    closed: bool = False
    last_seen: float = field(default_factory=time.monotonic)  # when a request last held the session
    _counter: int = 0
    _holds: int = 0  # requests at work right now
    _trash: list[Path] = field(default_factory=list)  # discarded files, deleted when no request holds the session
    _recent: dict[str, list[Path]] = field(default_factory=dict)  # rendered files per kind, oldest first
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def create(cls, root: Path, **settings) -> "Session":
        """A new session with a fresh, randomly named folder under ``root`` (made when the first file is)."""
        return cls(folder=Path(root) / secrets.token_hex(16), **settings)

    # --- lifetime ---------------------------------------------------------------------------------------------
    @contextmanager
    def hold(self) -> Iterator["Session"]:
        """Mark a request at work: nothing of this session is deleted until every hold is released."""
        with self._lock:
            if self.closed:
                raise SessionClosed("this session has ended; reload the page to start again")
            self._holds += 1
            self.last_seen = time.monotonic()
        try:
            yield self
        finally:
            with self._lock:
                self._holds -= 1
                idle = self._holds == 0
            if idle:
                self._collect()

    def discard(self, *paths: Path | None) -> None:
        """Delete these files once no request holds the session (at once if none does)."""
        with self._lock:
            self._trash.extend(p for p in paths if p is not None)
            idle = self._holds == 0
        if idle:
            self._collect()

    def close(self) -> None:
        """The visitor is gone: delete the folder (when the last running request, if any, is done)."""
        with self._lock:
            self.closed = True
            idle = self._holds == 0
        if idle:
            self._collect()

    def _collect(self) -> None:
        with self._lock:
            if self._holds:
                return
            trash, self._trash = self._trash, []
            closed = self.closed
        if closed:
            shutil.rmtree(self.folder, ignore_errors=True)
            return
        for path in trash:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)

    # --- files ------------------------------------------------------------------------------------------------
    def new_path(self, name: str, suffix: str | None = None) -> Path:
        """A fresh path in the folder that keeps a short, safe form of ``name``'s stem (and its suffix, or
        ``suffix``), e.g. ``007_holiday.jpg``."""
        with self._lock:
            self._counter += 1
            number = self._counter
        stem = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(name).stem).strip("_")[:40] or "file"
        suffix = (suffix if suffix is not None else Path(name).suffix).lower()
        self.folder.mkdir(parents=True, exist_ok=True)
        return self.folder / f"{number:03d}_{stem}{suffix}"

    def new_folder(self, name: str) -> Path:
        path = self.new_path(name, "")
        path.mkdir()
        return path

    def disk_used(self) -> int:
        """Bytes in the folder now."""
        total = 0
        if not self.folder.exists():
            return 0
        for entry in self.folder.rglob("*"):
            try:
                if entry.is_file():
                    total += entry.stat().st_size
            except OSError:
                continue
        return total

    def check_room(self, incoming: int, what: str) -> None:
        """Raise SessionFull unless ``incoming`` more bytes fit in the visitor's folder."""
        used = self.disk_used()
        if used + incoming > self.disk_budget:
            raise SessionFull(
                f"{what}: your files would take {(used + incoming) / 2**20:.0f} MB; a visitor may keep "
                f"{self.disk_budget / 2**20:.0f} MB here — clear some photos first"
            )

    def keep_recent(self, kind: str, path: Path, keep: int = KEEP_PREVIEWS) -> Path:
        """Remember a rendered file of ``kind`` (a preview, a download); only the ``keep`` newest of each kind
        stay on disk. Returns ``path``."""
        with self._lock:
            recent = self._recent.setdefault(kind, [])
            recent.append(path)
            stale, self._recent[kind] = recent[:-keep], recent[-keep:]
        self.discard(*stale)
        return path


class SessionClosed(RuntimeError):
    """A request arrived for a session that has already ended."""


class SessionStore:
    """The sessions of one server process: made in ``root``, closed when they go unused for ``idle`` seconds.

    An open page keeps its session in use (the app pings it well within ``idle``); a closed tab, a phone asleep
    or an API client that stopped calling does not, and its folder is deleted ``idle`` seconds after its last
    request — never while one of its requests is still running.
    """

    def __init__(self, root: Path, idle: float, **settings):
        self.root = Path(root)
        self.idle = idle
        self.settings = settings  # passed to each Session (e.g. disk_budget)
        self._sessions: set[Session] = set()
        self._lock = threading.Lock()

    def create(self) -> Session:
        session = Session.create(self.root, **self.settings)
        with self._lock:
            self._sessions.add(session)
        return session

    def close(self, session: Session) -> None:
        with self._lock:
            self._sessions.discard(session)
        session.close()

    def close_idle(self, now: float | None = None) -> int:
        """Close every session unused for ``idle`` seconds; returns how many were closed."""
        now = time.monotonic() if now is None else now
        with self._lock:
            idle = [s for s in self._sessions if s._holds == 0 and now - s.last_seen > self.idle]
        for session in idle:
            self.close(session)
        return len(idle)

    def __len__(self) -> int:
        with self._lock:
            return sum(not s.closed for s in self._sessions)


def process_root(root: Path) -> Path:
    """This server process's own folder under ``root`` (named by pid and start time); folders of processes that
    are no longer running are deleted, so a crash or a restart leaves nothing behind for long."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for folder in root.iterdir():
        pid = folder.name.split("-", 1)[0]
        if folder.is_dir() and pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
    mine = root / f"{os.getpid()}-{int(time.time())}"
    mine.mkdir(exist_ok=True)
    return mine


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_files(root: Path, older_than: float, keep: Path | None = None) -> int:
    """Delete files under ``root`` not modified for ``older_than`` seconds (and the folders they leave empty),
    except under ``keep``. Returns the number of files deleted. For the web server's upload folder: an upload is
    read within seconds of arriving, so old ones are leftovers."""
    deadline = time.time() - older_than
    deleted = 0
    keep = keep.resolve() if keep is not None else None
    for folder, _, names in os.walk(root, topdown=False):
        here = Path(folder)
        if keep is not None and (here.resolve() == keep or keep in here.resolve().parents):
            continue
        for name in names:
            path = here / name
            try:
                if path.lstat().st_mtime < deadline:
                    path.unlink()
                    deleted += 1
            except OSError:
                continue
        if here != Path(root):
            try:
                here.rmdir()  # only when empty
            except OSError:
                pass
    return deleted
