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
import unicodedata
import zipfile
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import ContextManager, Iterator, Sequence

from PIL import Image

from .budget import MemoryBudget, decode_cost
from ..looks.finishing import Finish
from ..images import MAX_REFERENCES, ImageError, check_photo_size, check_training_size, load_image, open_image, save_image, thumbnail
from ..learning.finish_estimate import TEXTURE_SIDE
from ..learning.references import ReferenceReading, read_reference
from ..looks.look import Look
from ..media.outputs import fit_name
from ..media.stylize import iter_stylize, share_name
from ..media.video import VideoError, first_frame, is_video, probe_video, render_cost, stylize_video

DISK_BUDGET = 1536 * 2**20  # bytes a visitor's folder may hold: 30 phone photos or a few clips, previews and results
SERVER_DISK_BUDGET = 8 * 2**30  # bytes all visitors' folders may hold together (a new session hash is a new visitor)
# bytes a stylized photo may take on disk, per pixel, by format: heavy grain defeats compression, so at most raw
# RGB(A) for PNG; JPEG q95 4:4:4 and WebP q95 of grain 100 % measured ~1 B/px (6000×6000: 0.7 for a flat PNG)
OUTPUT_BYTES_PER_PIXEL = {".png": 3.0, ".jpg": 1.5, ".jpeg": 1.5, ".webp": 1.5}
KEEP_PREVIEWS = 4  # rendered previews kept per kind: the browser may still be fetching the one before the last
MAX_PHOTOS = 30  # photos (and clips) a visitor stylizes at a time
MAX_CLIP_SECONDS = 180.0  # the longest clip the app takes (the CLI has no limit)
REFERENCE_SIZE = 1024  # references are shown at this size (learning reads them once, on upload: references.py)
PREVIEW_SIZE = 1024  # longer side of a photo's interactive preview; full resolution only for saving
# a painterly stage at full size: the photo, its painted copy and the result (copies), plus the core at the working
# size and the strips in flight (fixed): tracemalloc peak of render_brushwork at 12 MP ≤ 260 MB (bench/speed.py --paint)
BRUSHWORK_COPIES, BRUSHWORK_BYTES = 4.5, 256 * 2**20


def clean_text(text: object, limit: int | None = None) -> str:
    """A name a visitor sent (a file's, a look's), fit to show and to name files by: control characters (NUL, …)
    and the invisible ones that reorder or hide text (U+202E right-to-left override, zero-width marks) are
    removed, runs of whitespace become one space; at most ``limit`` characters."""
    text = "".join(ch for ch in str(text) if unicodedata.category(ch) not in ("Cc", "Cf", "Cs"))
    text = " ".join(text.split())
    return text[:limit] if limit else text


class SessionFull(ValueError):
    """A visitor's folder would exceed its size limit; the message says what to do."""


@dataclass
class Reference:
    """A feed photo as kept for the session: what learning reads of it (read once, on upload), a 1024 px JPEG to
    show, and the name it was uploaded as."""

    path: Path
    name: str
    reading: ReferenceReading | None = field(default=None, repr=False)  # None only for a reference made by hand
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
    server: "SessionStore | None" = field(default=None, repr=False)  # whose disk cap counts every visitor's folder
    closed: bool = False
    training: bool = False  # a fine-tune of this visitor's is running (the app's Cancel says so only then)
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
        return _folder_bytes(self.folder) if self.folder.exists() else 0

    def check_room(self, incoming: int, what: str) -> None:
        """Raise SessionFull unless ``incoming`` more bytes fit in the visitor's folder, and in the server's cap on
        all visitors' folders together."""
        used = self.disk_used()
        if used + incoming > self.disk_budget:
            raise SessionFull(
                f"{what}: your files would take {(used + incoming) / 2**20:.0f} MB; a visitor may keep "
                f"{self.disk_budget / 2**20:.0f} MB here — clear some photos first"
            )
        if self.server is not None:
            self.server.check_room(incoming, what)

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
            name = clean_text(Path(path).name) or "photo"
            try:
                with self._reserve(path, TEXTURE_SIDE, copies=1.5):  # the one decode, at the texture reading's size
                    reading = read_reference(path, display_size=REFERENCE_SIZE)
            except ImageError as error:
                problems.append(str(error))
                continue
            image, reading.display = reading.display, None  # shown from disk; the session keeps only what learning reads
            self.check_room(3 * image.width * image.height // 10, name)  # a q95 JPEG: ~0.3 bytes a pixel
            stored = self.new_path(name, ".jpg")
            save_image(image, stored)
            self.refs.append(Reference(stored, name, reading, example=example))
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
            name = clean_text(Path(path).name) or "photo"
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
                    with open_image(path) as header:  # the size rule of references, before any pixel is decoded
                        check_photo_size(header.size, name)
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

    def save_full_size(self, look: Look, strength: float, finish: Finish, protect_skin: float = 0.0,
                       apply_to: str = "whole", brushwork: float = 1.0) -> tuple[Path | None, list[str]]:
        """Every photo (not the clips) stylized at full resolution: (one file, or a zip of them, or None when none
        could be saved; a line per photo that failed). Only the newest result is kept. protect_skin, apply_to: as
        in ``Look.apply`` (each photo's masks computed at its full size). brushwork: the amount of the look's
        painterly stage, if any (0..1.5)."""
        photos = [photo for photo in self.photos if not photo.clip]
        names = {photo.original: photo.name for photo in photos}  # the names the photos came with
        name_for = share_name(look.name)
        sizes = [output_bytes(photo.original, name_for(Path(photo.name))[1]) for photo in photos]
        # each result is written, then moved into the zip: at the peak, all of them and the largest once more
        self.check_room(sum(sizes) + (max(sizes) if len(sizes) > 1 else 0), "Saving full-size photos")
        folder = self.new_folder("export")

        painted = look.brushwork is not None and brushwork > 0

        def reserve(source: Path) -> ContextManager:  # decoded pixels and the strips in flight (stylized in place)
            if painted and self.memory:
                return self.memory.reserve(decode_cost(source, None, BRUSHWORK_COPIES) + BRUSHWORK_BYTES)
            return self._reserve(source, None, copies=1.3)

        written, problems = [], []
        for done in iter_stylize(look, list(names), folder, strength, finish, lambda source: name_for(Path(names[source])), reserve=reserve,
                                 protect_skin=protect_skin, apply_to=apply_to, brushwork=brushwork):
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

    def render_clip(self, clip: Photo, look: Look, strength: float, finish: Finish, progress=None, cancel=None,
                    protect_skin: float = 0.0, apply_to: str = "whole", brushwork: float = 1.0) -> Path:
        """The clip with the look, as an H.264 MP4 (``video.stylize_video``: sound kept, nothing half-written);
        progress(done, total) as frames are encoded; set ``cancel`` to stop. Only the newest clip result is kept."""
        info = probe_video(clip.original, MAX_CLIP_SECONDS)
        estimate = clip_output_bytes(info, clip.original.stat().st_size, (finish or look.finish).scaled(strength))
        self.check_room(estimate, f"{clip.name} with the look (about {estimate / 2**20:.0f} MB)")
        folder = self.new_folder("video")
        target = folder / fit_name(*share_name(look.name)(Path(clip.name)))
        target = target.with_suffix(".mp4")
        room = self.disk_budget - self.disk_used()

        def watch(done: int, total: int) -> None:  # the estimate is a guess: the budget holds whatever x264 makes
            if done % 30 == 0 and _folder_bytes(folder) > room:
                raise SessionFull(f"{clip.name}: the clip with the look grew past the {self.disk_budget / 2**20:.0f} MB a visitor may keep here; "
                                  "try less grain, a shorter clip, or clear some photos first")
            if progress is not None:
                progress(done, total)

        try:
            painting = 2 * BRUSHWORK_BYTES if look.brushwork is not None and brushwork > 0 else 0  # two frames painted at once
            with self.memory.reserve(render_cost(info) + painting) if self.memory else nullcontext():
                stylize_video(look, clip.original, target, strength, finish, watch, cancel, MAX_CLIP_SECONDS,
                              protect_skin=protect_skin, apply_to=apply_to, brushwork=brushwork)
        except BaseException:
            self.discard(folder)
            raise
        self.keep_recent("video", folder, keep=1)
        return target

    def look_files(self, look: Look, strength: float = 1.0, finish: Finish | None = None, brushwork: float = 1.0,
                   protect_skin: float | None = None) -> list[Path]:
        """The look as set: a .look with its colour at ``strength``, ``finish`` (default: its own), the ``brushwork``
        amount and ``protect_skin`` baked in (``Look.at``), and that colour as a .cube LUT and a Hald CLUT (level 8).
        Each file's name says what it carries (``<look>_75pct_grain_vignette_brushwork.look``,
        ``<look>_75pct_colour-only.cube``); the newest two sets are kept."""
        stem = re.sub(r"[^A-Za-z0-9_-]+", "_", look.name).strip("_")[:60] or "look"
        baked = look.at(strength, finish, brushwork=brushwork, protect_skin=protect_skin)
        at = "" if strength == 1.0 else f"_{round(strength * 100)}pct"
        parts = (("grain", baked.finish.grain_amount), ("vignette", baked.finish.vignette_amount),
                 ("brushwork", baked.brushwork is not None), ("skin-protected", baked.default_protect_skin()))
        carried = "_".join(part for part, amount in parts if amount) or "colour-only"
        folder = self.new_folder("look")
        paths = [folder / f"{stem}{at}_{carried}.look", folder / f"{stem}{at}_colour-only.cube", folder / f"{stem}{at}_colour-only_hald.png"]
        baked.save(paths[0])
        baked.to_cube(paths[1])
        baked.to_hald(paths[2])
        self.keep_recent("look-files", folder, keep=2)
        return paths


def output_bytes(source: Path, suffix: str) -> int:
    """At most how many bytes ``source`` stylized full size takes as ``suffix`` (by its header: no decode)."""
    try:
        with open_image(source) as header:
            width, height = header.size
            alpha = header.mode in ("RGBA", "LA", "PA") or "transparency" in header.info
    except ImageError:
        return 0  # refused when it is read, by name
    per_pixel = OUTPUT_BYTES_PER_PIXEL.get(suffix, 3.0) * (4 / 3 if alpha and suffix in (".png", ".webp") else 1)
    return int(width * height * per_pixel) + 64 * 1024


def clip_output_bytes(info, source_bytes: int, finish: Finish) -> int:
    """About how many bytes a clip with the look takes as H.264 CRF 18: the source's own bitrate twice over (its
    detail re-encoded, its sound copied), plus the grain, which x264 must spend bits on in every frame (measured
    on 640×360: 0.06 B a pixel a frame at 2 L*, 0.24 at 8 L*)."""
    pixels = info.output_size[0] * info.output_size[1] * info.frames
    return int(2 * source_bytes + pixels * (0.002 + 0.035 * finish.grain_amount))


def _folder_bytes(folder: Path) -> int:
    total = 0
    for entry in folder.rglob("*"):
        try:
            total += entry.stat().st_size if entry.is_file() else 0
        except OSError:
            continue
    return total


class SessionClosed(RuntimeError):
    """A request arrived for a session that has already ended."""


class SessionStore:
    """The sessions of one server process: made in ``root``, closed when they go unused for ``idle`` seconds.

    An open page keeps its session in use (the app pings it well within ``idle``); a closed tab, a phone asleep
    or an API client that stopped calling does not, and its folder is deleted ``idle`` seconds after its last
    request — never while one of its requests is still running.
    """

    def __init__(self, root: Path, idle: float, total_disk: int = SERVER_DISK_BUDGET, **settings):
        self.root = Path(root)
        self.idle = idle
        self.settings = settings  # passed to each Session (e.g. disk_budget, a visitor's)
        self.total_disk = total_disk  # bytes all its sessions' folders may hold together
        self._sessions: set[Session] = set()
        self._lock = threading.Lock()

    def check_room(self, incoming: int, what: str) -> None:
        """Raise SessionFull unless ``incoming`` more bytes fit within the cap on all visitors' folders together."""
        used = _folder_bytes(self.root)
        if used + incoming > self.total_disk:
            raise SessionFull(f"{what}: the server is holding all the files it can for its visitors "
                              f"({self.total_disk / 2**20:.0f} MB) — try again in a few minutes")

    def create(self) -> Session:
        session = Session.create(self.root, server=self, **self.settings)
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
