"""Load test: many visitors at once against the app on 127.0.0.1, each uploading a feed, learning a look, stylizing.

    python bench/load.py [--clients 8 --steps 50 --stylize 10 --timeout 600]

Starts ``app.py`` in its own process (so the memory measured is the server's alone) and drives it with
gradio_client from N threads, one visitor each: upload 4 feed photos and a photo → fine-tune → stylize (the
1024 px before/after preview) ×10. Fine-tunes run one at a time, so while one trains the others wait in the queue
and the visitors who are done stylize: the table shows whether stylizing stays fast meanwhile.
Uses only the photos in ``examples/``. Goals (issue 4): 0 errors, server peak RSS under 2 GB, stylize p95 under 2 s.
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

ROOT = Path(__file__).resolve().parent.parent
FEED = sorted((ROOT / "examples" / "feed").glob("*.jpg"))
PHOTOS = sorted((ROOT / "examples" / "content").glob("*.jpg"))


@dataclass
class Tally:
    """What all visitors saw, shared between their threads."""

    requests: int = 0
    errors: list[str] = field(default_factory=list)
    stylize: list[tuple[float, float]] = field(default_factory=list)  # (start, seconds) of each stylize request
    finetunes: list[tuple[float, float, float]] = field(default_factory=list)  # (start, end, seconds of training)
    lock: threading.Lock = field(default_factory=threading.Lock)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(port: int, steps: int, log) -> subprocess.Popen:
    """``python app.py`` on 127.0.0.1:port; returns once it answers."""
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "INFLUGAN_STEPS": str(steps), "GRADIO_ANALYTICS_ENABLED": "False"}
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


def peak_rss(pid: int) -> int:
    """The process's peak resident memory in bytes (VmHWM), from /proc."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status)[1]) * 1024


def visitor(url: str, index: int, args: argparse.Namespace, tally: Tally, deadline: float) -> None:
    """One visitor's session: upload → fine-tune → stylize ×N; every request counted, every failure recorded."""
    client = Client(url, verbose=False)

    def call(*inputs, api_name: str):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the run's time limit was reached")
        try:
            result = client.submit(*inputs, api_name=api_name).result(timeout=remaining)
        except Exception as error:
            with tally.lock:
                tally.errors.append(f"visitor {index} {api_name}: {type(error).__name__}: {str(error)[:120]}")
            raise
        with tally.lock:
            tally.requests += 1
        return result

    try:
        feed = [handle_file(str(FEED[(index + k) % len(FEED)])) for k in range(4)]
        call(feed, api_name="/add_references")
        call([handle_file(str(PHOTOS[index % len(PHOTOS)]))], "Golden hour", 100, 0, 0, api_name="/add_photos")
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
    except Exception:  # recorded by call(); this visitor stops, the others go on
        pass
    finally:
        client.close()


def percentiles(seconds: list[float]) -> str:
    if not seconds:
        return "–"
    p50, p95 = np.percentile(seconds, [50, 95])
    return f"{p50:.2f} s / {p95:.2f} s (n={len(seconds)})"


def report(args: argparse.Namespace, tally: Tally, rss: int, wall: float) -> None:
    training = (min(s for s, _, _ in tally.finetunes), max(e for _, e, _ in tally.finetunes)) if tally.finetunes else (0, 0)
    during = [t for s, t in tally.stylize if s < training[1] and s + t > training[0]]
    waits = [end - start - trained for start, end, trained in tally.finetunes]
    p95 = np.percentile([t for _, t in tally.stylize], 95) if tally.stylize else float("inf")
    rows = [
        ("requests done", f"{tally.requests}", ""),
        ("errors", f"{len(tally.errors)}", "0: " + ("met" if not tally.errors else "MISSED")),
        ("fine-tunes completed", f"{len(tally.finetunes)} of {args.clients}", ""),
        ("fine-tune training time, median", f"{np.median([t for _, _, t in tally.finetunes]):.1f} s" if tally.finetunes else "–", ""),
        ("fine-tune time waiting in the queue, max", f"{max(waits):.1f} s" if waits else "–", ""),
        ("stylize p50 / p95, all", percentiles([t for _, t in tally.stylize]), "p95 < 2 s: " + ("met" if p95 < 2 else "MISSED")),
        ("stylize p50 / p95, while fine-tunes ran", percentiles(during), ""),
        ("server peak RSS", f"{rss / 2**20:.0f} MB", "< 2 GB: " + ("met" if rss < 2 * 2**30 else "MISSED")),
        ("wall time", f"{wall:.0f} s", ""),
    ]
    print(f"\nInfluGAN load test: {args.clients} visitors × (upload → fine-tune {args.steps} steps → stylize ×{args.stylize}), "
          f"server on 127.0.0.1, {os.cpu_count()} CPU cores\n")
    print("| measure | value | goal |")
    print("|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    for error in tally.errors:
        print(f"error: {error}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8, help="visitors at once (default %(default)s)")
    parser.add_argument("--steps", type=int, default=50, help="fine-tune steps per visitor (default %(default)s)")
    parser.add_argument("--stylize", type=int, default=10, help="stylize requests per visitor (default %(default)s)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds before visitors give up (default %(default)s)")
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryFile("w+") as log:
        server = start_server(port, args.steps, log)
        tally = Tally()
        started = time.monotonic()
        try:
            with ThreadPoolExecutor(args.clients) as pool:
                for index in range(args.clients):
                    pool.submit(visitor, f"http://127.0.0.1:{port}/", index, args, tally, started + args.timeout)
            wall = time.monotonic() - started
            rss = peak_rss(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)
        report(args, tally, rss, wall)
        if tally.errors:
            log.seek(0)
            print("\nserver log (last lines):\n" + "".join(log.readlines()[-30:]))
    return 1 if tally.errors else 0


if __name__ == "__main__":
    sys.exit(main())
