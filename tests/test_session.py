"""A web visitor's session (folder, holds, disk limit, idle expiry) and the process-wide memory budget."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from influgan.serving.budget import BudgetTimeout, MemoryBudget, decode_cost
from influgan.serving.session import Session, SessionClosed, SessionFull, SessionStore, process_root, sweep_files
from conftest import png_bytes, synthetic_photo

ROOT = Path(__file__).resolve().parent.parent


def test_a_session_folder_is_random_and_made_on_first_use(tmp_path):
    first, second = Session.create(tmp_path), Session.create(tmp_path)
    assert first.folder != second.folder and len(first.folder.name) == 32 and not first.folder.exists()
    path = first.new_path("../../etc/passwd <img>.jpg")
    assert path.parent == first.folder and path.name == "001_passwd_img.jpg" and first.folder.is_dir()


def test_discarded_files_wait_for_running_requests(tmp_path):
    session = Session.create(tmp_path)
    path = session.new_path("photo.jpg")
    path.write_bytes(b"x")
    with session.hold():
        session.discard(path)
        assert path.exists()  # a request may still be reading it
    assert not path.exists()


def test_closing_waits_for_running_requests_then_deletes_the_folder(tmp_path):
    session = Session.create(tmp_path)
    session.new_path("a.jpg").write_bytes(b"x")
    with session.hold():
        session.close()
        assert session.folder.is_dir()
        with pytest.raises(SessionClosed):
            with session.hold():
                pass
    assert not session.folder.exists()


def test_the_disk_limit_is_checked_before_writing(tmp_path):
    session = Session.create(tmp_path, disk_budget=1000)
    session.new_path("a.bin").write_bytes(b"x" * 600)
    session.check_room(400, "b.jpg")
    with pytest.raises(SessionFull, match="b.jpg: your files would take"):
        session.check_room(401, "b.jpg")


# --- outputs are counted before they are written ------------------------------------------------------------------
def test_a_full_size_save_is_refused_before_writing_when_its_output_would_pass_the_budget(tmp_path):
    """A 46 KB 6000×6000 PNG saved full size at grain 100 % is ~25 MB: refused up front in one line."""
    from influgan import Finish, Look

    source = tmp_path / "flat.png"
    source.write_bytes(png_bytes(6000, 6000, row=bytes([128]) * 18000))
    session = Session.create(tmp_path / "sessions", disk_budget=6 * 2**20)
    assert session.add_photos([str(source)]) == []
    with pytest.raises(SessionFull, match="Saving full-size photos: your files would take 1[0-9][0-9] MB; a visitor may keep 6 MB"):
        session.save_full_size(Look(), 1.0, Finish(grain_amount=8.0))
    assert not any(session.folder.glob("*export*")) and session.disk_used() < 6 * 2**20


def test_a_clip_is_refused_before_rendering_when_its_output_would_pass_the_budget(tmp_path):
    """A tiny five-second clip with grain renders to ~8 MB: the estimate says so before a frame is encoded."""
    from test_video import make_clip

    from influgan import Finish, Look

    source = tmp_path / "small.mp4"
    make_clip(source, size=(640, 360), frames=150, fps=30, audio=None, static=True)
    session = Session.create(tmp_path / "sessions", disk_budget=6 * 2**20)
    session.add_photos([str(source)])
    with pytest.raises(SessionFull, match=r"small.mp4 with the look \(about [0-9]+ MB\): your files would take"):
        session.render_clip(session.photos[0], Look(), 1.0, Finish(grain_amount=8.0))
    assert not any(session.folder.glob("*video*"))
    session.render_clip(session.photos[0], Look(), 1.0, Finish())  # without grain it fits, and is written
    assert session.disk_used() < 6 * 2**20


def test_the_server_caps_the_disk_of_all_visitors_together(tmp_path):
    """A new session hash is a new visitor: many of them still share one cap."""
    store = SessionStore(tmp_path, idle=60, total_disk=1000, disk_budget=900)
    first, second = store.create(), store.create()
    first.new_path("a.bin").write_bytes(b"x" * 700)
    second.check_room(300, "b.jpg")
    with pytest.raises(SessionFull, match="b.jpg: the server is holding all the files it can"):
        second.check_room(301, "b.jpg")


def test_only_the_newest_renders_are_kept(tmp_path):
    session = Session.create(tmp_path)
    paths = []
    for index in range(6):
        paths.append(session.new_path(f"preview{index}.jpg"))
        paths[-1].write_bytes(b"x")
        session.keep_recent("preview", paths[-1], keep=2)
    assert [p.exists() for p in paths] == [False] * 4 + [True] * 2


def test_idle_sessions_end_busy_ones_do_not(tmp_path):
    store = SessionStore(tmp_path, idle=10.0)
    idle, busy, fresh = store.create(), store.create(), store.create()
    for session in (idle, busy, fresh):
        session.new_path("a.jpg").write_bytes(b"x")
    now = time.monotonic()
    idle.last_seen = busy.last_seen = now - 60
    with busy.hold():
        busy.last_seen = now - 60
        assert store.close_idle(now) == 1
    assert idle.closed and not idle.folder.exists()
    assert not busy.closed and busy.folder.exists() and not fresh.closed and len(store) == 2


def test_folders_of_dead_processes_are_removed(tmp_path):
    dead = tmp_path / "999999999-1"
    (dead / "abc").mkdir(parents=True)
    alive = tmp_path / f"{os.getppid()}-1"
    alive.mkdir()
    mine = process_root(tmp_path)
    assert not dead.exists() and alive.exists() and mine.parent == tmp_path and mine.name.startswith(f"{os.getpid()}-")


def test_old_uploads_are_swept_but_sessions_kept(tmp_path):
    old_upload = tmp_path / "abc123" / "photo.jpg"
    new_upload = tmp_path / "def456" / "photo.jpg"
    session_file = tmp_path / "sessions" / "1-1" / "x" / "photo.jpg"
    for path in (old_upload, new_upload, session_file):
        path.parent.mkdir(parents=True)
        path.write_bytes(b"x")
    long_ago = time.time() - 7200
    for path in (old_upload, session_file):
        os.utime(path, (long_ago, long_ago))
    assert sweep_files(tmp_path, 3600, keep=tmp_path / "sessions") == 1
    assert not old_upload.parent.exists() and new_upload.exists() and session_file.exists()


# --- the memory budget -------------------------------------------------------------------------------------------
def test_the_budget_admits_in_order_and_within_capacity():
    budget = MemoryBudget(100)
    order, peak = [], []
    lock = threading.Lock()

    def work(name: str, amount: int, delay: float) -> None:
        time.sleep(delay)
        with budget.reserve(amount):
            with lock:
                order.append(name)
                peak.append(budget.used)
            time.sleep(0.2)

    threads = [threading.Thread(target=work, args=args) for args in (("big", 80, 0.0), ("huge", 100, 0.05), ("small", 10, 0.1))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert order == ["big", "huge", "small"]  # "small" fits beside "big" but waits its turn behind "huge"
    assert max(peak) <= 100 and budget.used == 0


def test_a_reservation_larger_than_the_budget_runs_alone_and_a_long_wait_says_so():
    budget = MemoryBudget(100, timeout=0.2)
    with budget.reserve(10**9):
        assert budget.used == 100
        with pytest.raises(BudgetTimeout, match="busy"):
            with budget.reserve(1):
                pass
    assert budget.used == 0


def test_decode_cost_reads_the_header_only(tmp_path):
    bomb = tmp_path / "big.png"
    bomb.write_bytes(png_bytes(10000, 10000))  # 100 MP in a few hundred KB
    assert decode_cost(bomb, copies=1) == 10000 * 10000 * 4
    jpeg = tmp_path / "phone.jpg"
    synthetic_photo(1, (4000, 3000)).save(jpeg, quality=80)
    assert decode_cost(jpeg, longest_side=1000, copies=1) == 1000 * 750 * 4  # decoded at 1/4 scale a side
    assert decode_cost(tmp_path / "missing.jpg") == 0


def test_names_are_cleaned_of_controls_and_text_reversal():
    from influgan.serving.session import clean_text

    assert clean_text("evil\u202egnp.exe") == "evilgnp.exe"  # U+202E would show it as "evilexe.png"
    assert clean_text("a\x00b\u200b c\t\n d") == "ab c d" and clean_text("x" * 80, 60) == "x" * 60
    assert clean_text("Café 🎞️ 東京") == "Café 🎞️ 東京"  # letters and emoji stay


ARENA_PROBE = """
import ctypes, os, sys, threading
from influgan.serving.budget import limit_malloc_arenas
if sys.argv[1] == "limit":
    assert limit_malloc_arenas(2)
libc = ctypes.CDLL(None)
libc.malloc.restype, libc.free.argtypes = ctypes.c_void_p, [ctypes.c_void_p]
start = threading.Barrier(8)
def work():  # each thread's first allocations: glibc gives a new thread an arena of its own while it may
    start.wait()
    blocks = [libc.malloc(64 * 1024) for _ in range(32)]
    for block in blocks:
        libc.free(block)
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
libc.fdopen.restype = ctypes.c_void_p
out = libc.fdopen(os.dup(1), b"w")
libc.malloc_info(0, ctypes.c_void_p(out))
libc.fflush(ctypes.c_void_p(out))
"""


def test_the_server_keeps_to_two_malloc_arenas():
    """What a render thread frees goes back to the process: with 8 threads allocating, glibc makes an arena for each
    by default (the load bench's RSS grew to 2.2 GB); after limit_malloc_arenas(2) there are 2."""
    def arenas(mode: str) -> int:
        done = subprocess.run([sys.executable, "-c", ARENA_PROBE, mode], capture_output=True, text=True, timeout=60,
                              cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert done.returncode == 0, done.stderr
        return done.stdout.count("<heap nr=")

    assert arenas("default") > 4 and arenas("limit") <= 2
