"""Safe outputs: a result never replaces an input, two results never share a name, nothing half-written is left.

Every command that writes files plans all its output paths with these functions *before* any work starts:

- ``check_output_file``: the path is writable (its folder exists and accepts a file), is not a folder, and is not
  any input of the run — compared by resolved path and by inode, so symbolic and hard links are caught too;
- ``plan_outputs``: one path per input inside an output folder; a name already planned or held by an input of the
  run moves to the next free ``stem-2.ext``, ``stem-3.ext``…; names are shortened to fit the file system;
- ``write_atomically``: the file is written under a temporary name in the same folder, then renamed into place,
  so a failure (disk full, bad pixels, Ctrl-C) leaves any earlier file of that name untouched.

An existing file that is not an input of the run (say, the result of an earlier run) is replaced.
"""
from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path
from typing import Callable, Iterable, Sequence

MAX_NAME_BYTES = 255  # the longest file name ext4, APFS, NTFS accept (in UTF-8 bytes on ext4)


class OutputError(ValueError):
    """An output path that cannot be used; the message is fit to show a user."""


class _Inputs:
    """The inputs of a run, matched by resolved path and by (device, inode)."""

    def __init__(self, inputs: Iterable[str | os.PathLike]):
        self.paths: set[Path] = set()
        self.inodes: set[tuple[int, int]] = set()
        for path in inputs:
            self.paths.add(Path(path).resolve())
            try:
                stat = os.stat(path)
            except OSError:
                continue
            self.inodes.add((stat.st_dev, stat.st_ino))

    def holds(self, path: Path) -> bool:
        if path.resolve() in self.paths:
            return True
        try:
            stat = os.stat(path)
        except OSError:
            return False
        return (stat.st_dev, stat.st_ino) in self.inodes


def _check_folder(folder: Path, what: str) -> None:
    """Raise OutputError unless ``folder`` exists and a file can be created in it (tried, not guessed: root ignores
    permission bits, and a read-only mount or /proc refuses whoever asks)."""
    if not folder.exists():
        raise OutputError(f"{what}: the folder {folder} does not exist")
    if not folder.is_dir():
        raise OutputError(f"{what}: {folder} is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise OutputError(f"{what}: cannot write in {folder} ({error.strerror or error})") from None


def fit_name(stem: str, suffix: str, limit: int = MAX_NAME_BYTES) -> str:
    """``stem + suffix``, the stem shortened (never mid-character) so that the name fits ``limit`` UTF-8 bytes."""
    room = limit - len(suffix.encode("utf-8"))
    encoded = stem.encode("utf-8")
    if len(encoded) > room:
        stem = encoded[:room].decode("utf-8", "ignore").rstrip() or "photo"
    return stem + suffix


def check_output_file(path: str | os.PathLike, inputs: Iterable[str | os.PathLike] = (), what: str = "--out") -> Path:
    """Check that a single output file can be written and replaces no input; returns it as a Path.

    Raises OutputError naming ``what`` (e.g. the option it came from) and the reason.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{what}: {path} is a folder; give a file name")
    if len(path.name.encode("utf-8")) > MAX_NAME_BYTES:
        raise OutputError(f"{what}: the file name is longer than {MAX_NAME_BYTES} bytes")
    if _Inputs(inputs).holds(path):
        raise OutputError(f"{what}: {path} is an input of this command; writing it would replace that file")
    _check_folder(path.parent if str(path.parent) else Path("."), what)
    return path


def check_output_folder(folder: str | os.PathLike, what: str = "--out") -> Path:
    """Create ``folder`` if needed (with its parents) and check that files can be written in it."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{what}: {folder} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"{what}: cannot create the folder {folder} ({error.strerror or error})") from None
    _check_folder(folder, what)
    return folder


def plan_outputs(
    sources: Sequence[str | os.PathLike],
    folder: str | os.PathLike,
    name_for: Callable[[Path], tuple[str, str]],
    inputs: Iterable[str | os.PathLike] = (),
) -> list[Path]:
    """One output path in ``folder`` for each of ``sources``, in order, none replacing an input, no two alike.

    name_for(source) gives the wished (stem, suffix); a taken name becomes ``stem-2.suffix``, ``stem-3.suffix``…
    inputs: every input of the run (the sources are added to them).
    """
    folder = Path(folder)
    held = _Inputs([*sources, *inputs])
    planned: set[str] = set()
    out = []
    for source in sources:
        stem, suffix = name_for(Path(source))
        candidate, number = fit_name(stem, suffix), 1
        while candidate in planned or held.holds(folder / candidate):
            number += 1
            candidate = fit_name(stem, f"-{number}{suffix}")
        planned.add(candidate)
        out.append(folder / candidate)
    return out


def write_atomically(path: str | os.PathLike, write: Callable[[Path], None]) -> None:
    """Call ``write(temporary_path)`` (same folder, same suffix), then rename it to ``path``; on any failure the
    temporary file is removed and ``path`` is left as it was."""
    path = Path(path)
    temporary = path.parent / f".influgan-{secrets.token_hex(8)}{path.suffix}"  # created by ``write``: the user's umask applies
    try:
        write(temporary)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
