"""A web visitor's working set: their feed, photos and looks, and a private folder on disk with a size limit.

The folder lives as long as the session can still be used, and no longer: it is deleted when the session is
closed (unused for a while, or dropped by the server), never while one of the visitor's requests is at work in
it. Files a visitor discards (a cleared feed, an older download) are deleted as soon as no request of theirs is
running. Folders are named at random, never from anything a client sends. Every decode of a photo reserves its
memory from the server's budget first (``budget.py``).

What a session does with files — keep a feed, keep photos with their previews, render, save results at full size,
write a look's files — is here, so the web app above it is only views and wiring.
"""
from __future__ import annotations

import os
import re
import secrets
import shutil
import threading
import time
import zipfile
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import ContextManager, Iterator, Sequence

from PIL import Image

from .budget import MemoryBudget, decode_cost
from ..looks.finishing import Finish
from ..images import MAX_REFERENCES, ImageError, check_training_size, load_image, load_training_images, save_image, thumbnail
from ..looks.look import Look
from ..media.outputs import fit_name
from ..media.stylize import iter_stylize, share_name
from ..media.video import VideoError, first_frame, is_video, probe_video, render_cost, stylize_video

DISK_BUDGET = 1536 * 2**20  # bytes a visitor's folder may hold: 30 phone photos or a few clips, previews and results
KEEP_PREVIEWS = 4  # rendered previews kept per kind: the browser may still be fetching the one before the last
MAX_PHOTOS = 30  # photos (and clips) a visitor stylizes at a time
MAX_CLIP_SECONDS = 180.0  # the longest clip the app takes (the CLI has no limit)
REFERENCE_SIZE = 1024  # references are kept at this size (the fine-tune looks at 128 px thumbnails)
PREVIEW_SIZE = 1024  # longer side of a photo's interactive preview; full resolution only for saving


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
    clip: bool = False  # a video clip: ``original`` is the clip, ``preview`` and ``thumb`` its first frame


@dataclass(eq=False)  # compared and hashed by identity: a store keeps them in a set
class Session:
    """One visitor: references, photos, looks made or uploaded, and their folder."""

    folder: Path
    refs: list[Reference] = field(default_factory=list)
    photos: list[Photo] = field(default_factory=list)
    looks: dict[str, Look] = field(default_factory=dict)
    current: int = 0  # index of the photo shown in the preview
    disk_budget: int = DISK_BUDGET
    memory: MemoryBudget | None = None  # the server's memory budget, shared by all sessions
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


    # --- the feed ---------------------------------------------------------------------------------------------
    def _reserve(self, path: str | os.PathLike, longest_side: int | None, copies: float) -> ContextManager:
        return self.memory.reserve(decode_cost(path, longest_side, copies)) if self.memory else nullcontext()

    def add_references(self, paths: Sequence[str], example: bool = False) -> list[str]:
        """Read photos into the feed (kept as REFERENCE_SIZE JPEGs); a line per skipped file is returned. Beyond
        MAX_REFERENCES the first usable ones are kept and the rest counted. The visitor's own feed replaces the
        example's."""
        if not example:
            self.drop_references([ref for ref in self.refs if ref.example])
        problems, kept, room = [], 0, MAX_REFERENCES - len(self.refs)
        for path in paths:
            if kept >= room:
                break
            with self._reserve(path, REFERENCE_SIZE, copies=1.2):
                loaded = load_training_images([path], REFERENCE_SIZE)
            if loaded.problems:
                problems.extend(loaded.problems)
                continue
            image, name = loaded.images[0], Path(path).name
            self.check_room(3 * image.width * image.height // 10, name)  # a q95 JPEG: ~0.3 bytes a pixel
            stored = self.new_path(name, ".jpg")
            save_image(image, stored)
            self.refs.append(Reference(stored, name, example=example))
            kept += 1
        over = len(paths) - kept - len(problems)
        if over > 0:
            problems.append(f"{over} more photo{'s' if over != 1 else ''}: a feed holds at most {MAX_REFERENCES} photos, "
                            f"so the first {MAX_REFERENCES} usable ones were kept")
        return problems

    def drop_references(self, refs: Sequence[Reference] | None = None) -> None:
        """Forget these references (all of them by default) and delete their files."""
        refs = list(self.refs if refs is None else refs)
        self.refs = [ref for ref in self.refs if ref not in refs]
        self.discard(*(ref.path for ref in refs))

    # --- photos -----------------------------------------------------------------------------------------------
    def add_photos(self, paths: Sequence[str], example: bool = False) -> list[str]:
        """Keep each photo's original (for full-size results), a PREVIEW_SIZE preview and a thumbnail; a line per
        skipped file is returned. The first new photo becomes the current one; the visitor's own photos replace the
        example's."""
        if not example:
            self.drop_photos([photo for photo in self.photos if photo.example])
        problems, first_new = [], None
        for path in paths:
            name = Path(path).name
            if len(self.photos) >= MAX_PHOTOS:
                problems.append(f"{name}: at most {MAX_PHOTOS} photos at a time")
                continue
            clip = is_video(path)
            try:
                self.check_room(Path(path).stat().st_size, name)
                if clip:  # the whole clip is checked here (damage, frame rate, size, length), its first frame kept
                    probe_video(path, MAX_CLIP_SECONDS)
                    preview = first_frame(path, PREVIEW_SIZE)
                else:
                    with self._reserve(path, PREVIEW_SIZE, copies=1.2):
                        preview = thumbnail(load_image(path, draft_size=PREVIEW_SIZE), PREVIEW_SIZE)  # all decoded: damage shows here
            except (ImageError, VideoError, SessionFull) as error:
                problems.append(str(error))
                continue
            photo = Photo(name, self.new_path(name), self.new_path(name, "_preview.png"), self.new_path(name, "_thumb.jpg"), example, clip)
            shutil.copyfile(path, photo.original)
            preview.save(photo.preview, compress_level=1)
            thumbnail(preview, 256).save(photo.thumb, quality=85)
            self.photos.append(photo)
            first_new = len(self.photos) - 1 if first_new is None else first_new
        if first_new is not None:
            self.current = first_new
        return problems

    def drop_photos(self, photos: Sequence[Photo] | None = None) -> None:
        """Forget these photos (all of them by default) and delete their files."""
        photos = list(self.photos if photos is None else photos)
        self.photos = [photo for photo in self.photos if photo not in photos]
        self.current = min(self.current, max(0, len(self.photos) - 1))
        self.discard(*(path for photo in photos for path in (photo.original, photo.preview, photo.thumb)))

    def current_photo(self) -> Photo | None:
        return self.photos[min(self.current, len(self.photos) - 1)] if self.photos else None

    def content_photos(self) -> list[Image.Image] | None:
        """The visitor's own photos that can teach the mapping, at preview size (None: none can). Example photos
        don't (the example feed pairs with the default content); nor do tiny or strip-thin ones."""
        images = []
        for photo in self.photos:
            if photo.example or photo.clip:
                continue
            image = Image.open(photo.preview)
            try:
                check_training_size(image.size, photo.name)
            except ImageError:
                continue
            images.append(image.convert("RGB"))
        return images or None

    # --- results ----------------------------------------------------------------------------------------------
    def save_render(self, image: Image.Image, kind: str) -> Path:
        """A rendered preview of ``kind`` as a JPEG in the folder; only the newest few of each kind stay."""
        path = self.new_path(kind, ".jpg")
        image.convert("RGB").save(path, quality=90)
        return self.keep_recent(kind, path)

    def save_full_size(self, look: Look, strength: float, finish: Finish) -> tuple[Path | None, list[str]]:
        """Every photo (not the clips) stylized at full resolution: (one file, or a zip of them, or None when none
        could be saved; a line per photo that failed). Only the newest result is kept."""
        photos = [photo for photo in self.photos if not photo.clip]
        self.check_room(sum(photo.original.stat().st_size for photo in photos), "Saving full-size photos")
        folder = self.new_folder("export")
        names = {photo.original: photo.name for photo in photos}  # the names the photos came with

        def reserve(source: Path) -> ContextManager:  # decoded pixels and the strips in flight (stylized in place)
            return self._reserve(source, None, copies=1.3)

        written, problems = [], []
        name_for = share_name(look.name)
        for done in iter_stylize(look, list(names), folder, strength, finish, lambda source: name_for(Path(names[source])), reserve=reserve):
            if done.error:
                problems.append(done.error.replace(done.source.name, names[done.source]))
            else:
                written.append(done.target)
        if not written:
            self.discard(folder)
            return None, problems
        result = written[0]
        if len(written) > 1:
            result = folder / "influgan_photos.zip"
            with zipfile.ZipFile(result, "w", compression=zipfile.ZIP_STORED) as zipped:  # photos are compressed already
                for path in written:
                    zipped.write(path, path.name)
                    path.unlink()  # the zip holds it now: half the disk
        self.keep_recent("export", folder, keep=1)
        return result, problems

    def render_clip(self, clip: Photo, look: Look, strength: float, finish: Finish, progress=None, cancel=None) -> Path:
        """The clip with the look, as an H.264 MP4 (``video.stylize_video``: sound kept, nothing half-written);
        progress(done, total) as frames are encoded; set ``cancel`` to stop. Only the newest clip result is kept."""
        info = probe_video(clip.original, MAX_CLIP_SECONDS)
        self.check_room(clip.original.stat().st_size * 2, clip.name)  # a CRF 18 re-encode: about the source's size
        folder = self.new_folder("video")
        target = folder / fit_name(*share_name(look.name)(Path(clip.name)))
        target = target.with_suffix(".mp4")
        try:
            with self.memory.reserve(render_cost(info)) if self.memory else nullcontext():
                stylize_video(look, clip.original, target, strength, finish, progress, cancel, MAX_CLIP_SECONDS)
        except BaseException:
            self.discard(folder)
            raise
        self.keep_recent("video", folder, keep=1)
        return target

    def look_files(self, look: Look, strength: float = 1.0) -> list[Path]:
        """The look as a .look file, and its colour at ``strength`` as a .cube LUT and a Hald CLUT (level 8); only
        the newest two sets are kept."""
        stem = re.sub(r"[^A-Za-z0-9_-]+", "_", look.name).strip("_")[:60] or "look"
        folder = self.new_folder("look")
        paths = [folder / f"{stem}.look", folder / f"{stem}.cube", folder / f"{stem}_hald.png"]
        look.save(paths[0])
        look.to_cube(paths[1], strength=strength)
        look.to_hald(paths[2], strength=strength)
        self.keep_recent("look-files", folder, keep=2)
        return paths


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
