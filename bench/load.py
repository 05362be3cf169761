"""Load test: many visitors at once against the app on 127.0.0.1, each uploading a feed, learning a look, stylizing.

    python bench/load.py [--clients 8 --steps 50 --stylize 10 --timeout 600] [--hostile]

Starts ``app.py`` in its own process (so the memory measured is the server's alone, and its files are in a
folder of their own) and drives it with gradio_client from N threads, one visitor each: upload 4 feed photos and a
photo → fine-tune → stylize (the 1024 px before/after preview) ×10 → save full size. Fine-tunes run one at a time,
so while one trains the others wait in the queue and the visitors who are done stylize: the table shows whether
stylizing stays fast meanwhile.

--hostile adds, at the same time, what pushed the app over before (issue 20): two `.cube` uploads of one 30 MB
line, two 10000×10000 PNG photos (100 MP; 300 KB files), two feeds holding that PNG, and three 100 MP full-size
saves at grain 100 % (its noise is finest there: one sample a pixel).
The cubes must be refused with their reason; everything else must work. And the disk amplifications of issue 29,
with the server's disk caps set low (a visitor 400 MB, all visitors 700 MB): 20 flat 6000×6000 PNGs (46 KB each)
saved full size at grain 100 % (~500 MB written before; refused up front now) and a one-minute 720p clip of 40 KB
rendered at grain 100 % (~500 MB; refused up front). The busiest visitor's folder and all of them together must
stay within the caps (the server's cap refusing what would pass it is tests/test_session.py's).

Every visitor checks that nothing was lost (each photo it added is in its gallery; each saved file opens at the
photo's size). When all have left, the server's sessions end after INFLUGAN_SESSION_IDLE (set short here) and old
uploads are swept: the disk used by its folder must return to where it started.
Uses only the photos in ``examples/`` (and images it makes). Goals: 0 errors, 0 lost files, server peak RSS under
2 GB, stylize p95 under 2 s, disk back to the start.
"""
from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from gradio_client import Client, handle_file
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
FEED = sorted((ROOT / "examples" / "feed").glob("*.jpg"))
PHOTOS = sorted((ROOT / "examples" / "content").glob("*.jpg"))


@dataclass
class Tally:
    """What all visitors saw, shared between their threads."""

    requests: int = 0
    errors: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # hostile inputs refused with their reason, as they must be
    lost: list[str] = field(default_factory=list)  # files added but missing, or saved results that do not open
    stylize: list[tuple[float, float]] = field(default_factory=list)  # (start, seconds) of each stylize request
    finetunes: list[tuple[float, float, float]] = field(default_factory=list)  # (start, end, seconds of training)
    lock: threading.Lock = field(default_factory=threading.Lock)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


VISITOR_DISK_MB, SERVER_DISK_MB = 400, 700  # the disk caps of the --hostile run (the app's defaults: 1536 MB, 8 GB)
IDLE = 150  # seconds: the server ends sessions unused this long (longer than a fine-tune waits in the queue here), and sweeps uploads this old


def start_server(port: int, steps: int, log, folder: Path, caps: bool = False) -> subprocess.Popen:
    """``python app.py`` on 127.0.0.1:port with its files in ``folder``; returns once it answers. caps: the low disk
    caps of the --hostile run."""
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "INFLUGAN_STEPS": str(steps), "GRADIO_ANALYTICS_ENABLED": "False",
           "GRADIO_TEMP_DIR": str(folder), "INFLUGAN_SESSION_IDLE": str(IDLE), "INFLUGAN_UPLOAD_TTL": str(IDLE),
           **({"INFLUGAN_VISITOR_DISK_MB": str(VISITOR_DISK_MB), "INFLUGAN_DISK_MB": str(SERVER_DISK_MB)} if caps else {})}
    server = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read()
            return server
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the app did not start; see its log") from None
            time.sleep(0.5)


def disk_used(folder: Path) -> int:
    """Bytes in the files under ``folder``."""
    total = 0
    for path in folder.rglob("*"):
        try:
            total += path.stat().st_size if path.is_file() else 0
        except OSError:  # deleted while we looked
            continue
    return total


def session_disk(folder: Path) -> tuple[int, int]:
    """(bytes in the busiest visitor's folder, bytes in all visitors' folders) of the server's files in ``folder``."""
    visitors = [path for path in folder.glob("**/influgan-sessions/*/*") if path.is_dir()]
    sizes = [disk_used(path) for path in visitors]
    return max(sizes, default=0), sum(sizes)


def peak_rss(pid: int) -> int:
    """The process's peak resident memory in bytes (VmHWM), from /proc."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status)[1]) * 1024


def _file(update):
    """A File output's path, whether the app sent a value or an update holding one."""
    return update.get("value") if isinstance(update, dict) else update


def _caller(client: Client, index, tally: Tally, deadline: float):
    def call(*inputs, api_name: str, refusal: str | None = None):
        """One request; a failure is an error unless it is the refusal this hostile input must get."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the run's time limit was reached")
        try:
            result = client.submit(*inputs, api_name=api_name).result(timeout=remaining)
        except Exception as error:
            with tally.lock:
                if refusal is not None and refusal in str(error):
                    tally.refused.append(f"visitor {index} {api_name}: {str(error)[:100]}")
                    return None
                tally.errors.append(f"visitor {index} {api_name}: {type(error).__name__}: {str(error)[:120]}")
            raise
        with tally.lock:
            tally.requests += 1
            if refusal is not None:
                tally.errors.append(f"visitor {index} {api_name}: accepted what must be refused")
        return result

    return call


def check_saved(path: str | None, size: tuple[int, int], what: str, tally: Tally) -> None:
    try:
        with Image.open(path) as image:
            ok = image.size == size
    except Exception:
        ok = False
    if not ok:
        with tally.lock:
            tally.lost.append(what)


def visitor(url: str, index: int, args: argparse.Namespace, tally: Tally, deadline: float) -> None:
    """One visitor's session: upload → fine-tune → stylize ×N → save; every request counted, every failure recorded."""
    client = Client(url, verbose=False)
    call = _caller(client, index, tally, deadline)
    try:
        feed = [handle_file(str(FEED[(index + k) % len(FEED)])) for k in range(4)]
        if len(call(feed, api_name="/add_references")[0]) != 4:
            tally.lost.append(f"visitor {index}: a feed photo")
        photo = PHOTOS[index % len(PHOTOS)]
        if len(call([handle_file(str(photo))], "Golden hour", 100, 0, 0, api_name="/add_photos")[0]) != 1:
            tally.lost.append(f"visitor {index}: the photo")
        name = f"Visitor {index}"
        started = time.monotonic()
        status = call(name, args.steps, index, api_name="/finetune")[0]
        trained = float(re.search(r"in ([\d.]+) s", status)[1])
        with tally.lock:
            tally.finetunes.append((started, time.monotonic(), trained))
        for k in range(args.stylize):
            started = time.monotonic()
            call(name, 50 + 10 * (k % 10), 0, 0, api_name="/preview_strength")
            with tally.lock:
                tally.stylize.append((started, time.monotonic() - started))
        saved = _file(call(name, 100, 20, 20, api_name="/download")[0])
        check_saved(saved, Image.open(photo).size, f"visitor {index}: the full-size photo", tally)
    except Exception:  # recorded by call(); this visitor stops, the others go on
        pass
    finally:
        client.close()


def hostile_files(folder: Path) -> dict[str, Path]:
    """A .cube of one 30 MB line and a 10000×10000 PNG (100 MP) written row by row into a 300 KB file."""
    flats = []  # 46 KB each; ~25 MB each once saved with grain (distinct bytes: Gradio stores equal uploads once)
    for index in range(20):
        flats.append(folder / f"flat_{index:02d}.png")
        flats[-1].write_bytes(_flat_png(6000, 6000, (90 + index, 140, 200)))
    clip = folder / "still_720p.mp4"  # one minute of a still picture: ~40 KB; ~500 MB once rendered with grain
    _still_clip(clip, (1280, 720), seconds=60)
    cube = folder / "one_line.cube"
    with open(cube, "w") as handle:
        handle.write("LUT_3D_SIZE 2 " + "0.5 " * (30 * 2**20 // 4))
    big = folder / "huge.png"
    big.write_bytes(_flat_png(10000, 10000))
    return {"cube": cube, "png": big, "flats": flats, "clip": clip}


def _still_clip(path: Path, size: tuple[int, int], seconds: int, fps: int = 30) -> None:
    import av

    picture = np.asarray(Image.open(PHOTOS[0]).convert("RGB").resize(size), dtype=np.uint8)
    with av.open(str(path), "w") as clip:
        stream = clip.add_stream("libx264", rate=fps, options={"preset": "ultrafast", "crf": "30"})
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
        for _ in range(seconds * fps):
            for packet in stream.encode(frame):
                clip.mux(packet)
        for packet in stream.encode():
            clip.mux(packet)


def _flat_png(width: int, height: int, colour: tuple[int, int, int] = (90, 140, 200)) -> bytes:
    import struct
    import zlib

    row = b"\x00" + bytes(colour) * width
    squeeze = zlib.compressobj(9)
    body = b"".join(squeeze.compress(row) for _ in range(height)) + squeeze.flush()

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def hostile(url: str, kind: str, index: int, files: dict[str, Path], tally: Tally, deadline: float) -> None:
    """One hostile visitor: kind "cube" (must be refused), "photo" (a 100 MP PNG), "feed" (a feed holding it),
    "save" (a 100 MP photo saved at full size, grain 100 %), "amplify-photos" (20 flat 36 MP PNGs saved at grain 100 %: must be
    refused) or "amplify-clip" (a still one-minute clip at grain 100 %: must be refused)."""
    client = Client(url, verbose=False)
    call = _caller(client, f"hostile-{kind}-{index}", tally, deadline)
    try:
        if kind == "cube":
            call(handle_file(str(files["cube"])), api_name="/upload_look", refusal="line 1")
        elif kind == "amplify-photos":
            gallery = call([handle_file(str(path)) for path in files["flats"]], "Golden hour", 100, 0, 0, api_name="/add_photos")[0]
            if len(gallery) != len(files["flats"]):
                tally.lost.append(f"hostile {kind} {index}: a flat photo")
            call("Golden hour", 100, 100, 0, api_name="/download", refusal="Saving full-size photos: your files would take")
        elif kind == "amplify-clip":
            call([handle_file(str(files["clip"]))], "Golden hour", 100, 0, 0, api_name="/add_photos")
            call("Golden hour", 100, 100, 0, api_name="/render_video", refusal="still_720p.mp4 with the look")
        elif kind == "feed":
            feed = [handle_file(str(files["png"]))] + [handle_file(str(p)) for p in FEED[:3]]
            if len(call(feed, api_name="/add_references")[0]) != 4:
                tally.lost.append(f"hostile feed {index}: a feed photo")
        else:
            if len(call([handle_file(str(files["png"]))], "Golden hour", 100, 0, 0, api_name="/add_photos")[0]) != 1:
                tally.lost.append(f"hostile {kind} {index}: the 100 MP photo")
            if kind == "save":
                saved = _file(call("Faded film", 100, 100, 30, api_name="/download")[0])  # per-pixel grain at 100 %
                check_saved(saved, (10000, 10000), f"hostile save {index}: the 100 MP result", tally)
    except Exception:
        pass
    finally:
        client.close()


def percentiles(seconds: list[float]) -> str:
    if not seconds:
        return "–"
    p50, p95 = np.percentile(seconds, [50, 95])
    return f"{p50:.2f} s / {p95:.2f} s (n={len(seconds)})"


def report(args: argparse.Namespace, tally: Tally, rss: int, wall: float, disk: tuple[int, int, int], sessions: tuple[int, int]) -> None:
    training = (min(s for s, _, _ in tally.finetunes), max(e for _, e, _ in tally.finetunes)) if tally.finetunes else (0, 0)
    during = [t for s, t in tally.stylize if s < training[1] and s + t > training[0]]
    waits = [end - start - trained for start, end, trained in tally.finetunes]
    p95 = np.percentile([t for _, t in tally.stylize], 95) if tally.stylize else float("inf")
    rows = [
        ("requests done", f"{tally.requests}", ""),
        ("errors", f"{len(tally.errors)}", "0: " + ("met" if not tally.errors else "MISSED")),
        ("hostile inputs refused with their reason", f"{len(tally.refused)}", "≥ 4 with --hostile (2 cubes, 2 amplifications)" if args.hostile else ""),
        ("lost files", f"{len(tally.lost)}", "0: " + ("met" if not tally.lost else "MISSED")),
        ("fine-tunes completed", f"{len(tally.finetunes)} of {args.clients}", ""),
        ("fine-tune training time, median", f"{np.median([t for _, _, t in tally.finetunes]):.1f} s" if tally.finetunes else "–", ""),
        ("fine-tune time waiting in the queue, max", f"{max(waits):.1f} s" if waits else "–", ""),
        ("stylize p50 / p95, all", percentiles([t for _, t in tally.stylize]), "p95 < 2 s: " + ("met" if p95 < 2 else "MISSED")),
        ("stylize p50 / p95, while fine-tunes ran", percentiles(during), ""),
        ("server peak RSS", f"{rss / 2**20:.0f} MB", "< 2 GB: " + ("met" if rss < 2 * 2**30 else "MISSED")),
        ("server disk: at start / at the busiest check / after all left", " / ".join(f"{b / 2**20:.1f} MB" for b in disk),
         "back to the start: " + ("met" if disk[2] <= disk[0] else "MISSED")),
        ("wall time", f"{wall:.0f} s", ""),
    ]
    if args.hostile:
        rows[-1:-1] = [
            ("busiest visitor's folder, at its busiest", f"{sessions[0] / 2**20:.1f} MB",
             f"≤ {VISITOR_DISK_MB} MB: " + ("met" if sessions[0] <= VISITOR_DISK_MB * 2**20 else "MISSED")),
            ("all visitors' folders, at their busiest", f"{sessions[1] / 2**20:.1f} MB",
             f"≤ {SERVER_DISK_MB} MB: " + ("met" if sessions[1] <= SERVER_DISK_MB * 2**20 else "MISSED")),
        ]
    mix = (" + the hostile mix (2 one-line 30 MB .cube, 2 × 100 MP PNG photos, 2 feeds holding it, 3 × 100 MP saves at grain 100 %; 20 flat 36 MP PNGs "
           "and a still 1-minute 720p clip saved and rendered at grain 100 %)") if args.hostile else ""
    print(f"\nInfluGAN load test: {args.clients} visitors × (upload → fine-tune {args.steps} steps → stylize ×{args.stylize} → save){mix}, "
          f"server on 127.0.0.1, {os.cpu_count()} CPU cores\n")
    print("| measure | value | goal |")
    print("|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    for error in tally.errors:
        print(f"error: {error}")
    for lost in tally.lost:
        print(f"lost: {lost}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8, help="visitors at once (default %(default)s)")
    parser.add_argument("--steps", type=int, default=50, help="fine-tune steps per visitor (default %(default)s)")
    parser.add_argument("--stylize", type=int, default=10, help="stylize requests per visitor (default %(default)s)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds before visitors give up (default %(default)s)")
    parser.add_argument("--hostile", action="store_true", help="add the hostile mix of issue 20")
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryFile("w+") as log, tempfile.TemporaryDirectory(prefix="influgan-load-") as scratch:
        server_files, inputs = Path(scratch) / "server", Path(scratch) / "inputs"
        server_files.mkdir()
        inputs.mkdir()
        files = hostile_files(inputs) if args.hostile else {}
        server = start_server(port, args.steps, log, server_files, caps=args.hostile)
        disk, sessions = [disk_used(server_files), 0, 0], [0, 0]
        tally = Tally()
        started = time.monotonic()
        url = f"http://127.0.0.1:{port}/"
        try:
            with ThreadPoolExecutor(args.clients + (9 if args.hostile else 0)) as pool:
                deadline = started + args.timeout
                jobs = [pool.submit(visitor, url, index, args, tally, deadline) for index in range(args.clients)]
                if args.hostile:
                    kinds = ["cube", "cube", "photo", "photo", "feed", "feed", "save", "save", "save", "amplify-photos", "amplify-clip"]
                    jobs += [pool.submit(hostile, url, kind, index, files, tally, deadline) for index, kind in enumerate(kinds)]
                while not all(job.done() for job in jobs):  # the disk at its busiest, sampled
                    disk[1] = max(disk[1], disk_used(server_files))
                    sessions = [max(a, b) for a, b in zip(sessions, session_disk(server_files))]
                    time.sleep(1)
            wall = time.monotonic() - started
            left = time.monotonic()  # everyone has left: sessions end after IDLE, uploads older than IDLE are swept
            disk[2] = disk_used(server_files)
            while disk[2] > disk[0] and time.monotonic() - left < 3 * IDLE:
                time.sleep(5)
                disk[2] = disk_used(server_files)
            rss = peak_rss(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)
        report(args, tally, rss, wall, tuple(disk), tuple(sessions))
        if tally.errors:
            log.seek(0)
            print("\nserver log (last lines):\n" + "".join(log.readlines()[-200:]))
    return 1 if tally.errors or tally.lost else 0


if __name__ == "__main__":
    sys.exit(main())
