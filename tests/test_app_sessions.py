"""Many visitors at once: isolation between sessions, cancelling a fine-tune, and visitors who close the tab.

The app runs in this process (tests/app_server.py), so the tests can look at its fine-tune threads directly.
"""
from __future__ import annotations

import gc
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import synthetic_photo

gradio_client = pytest.importorskip("gradio_client")
import httpx  # noqa: E402
from gradio_client import Client, handle_file  # noqa: E402

from app_server import running_app  # noqa: E402
from influgan.look import Look  # noqa: E402
from influgan.networks import Discriminator, LookGenerator  # noqa: E402

STEPS = 10
VISITORS = 4


@pytest.fixture(scope="module")
def url():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GRADIO_HEARTBEAT_INTERVAL", "0.5")  # a closed tab is noticed within half a second
        with running_app(steps=STEPS) as address:
            yield address


@pytest.fixture(scope="module")
def app():
    import app as module

    return module


def finetune_threads(session_hash: str | None = None) -> list[str]:
    prefix = f"finetune-{session_hash}" if session_hash else "finetune-"
    return [thread.name for thread in threading.enumerate() if thread.name.startswith(prefix)]


def wait_for(condition, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def feed(folder: Path, count: int, seed: int) -> list:
    paths = []
    for index in range(count):
        paths.append(folder / f"feed{seed}_{index}.png")
        synthetic_photo(seed * 10 + index, (120, 90)).save(paths[-1])
    return [handle_file(str(p)) for p in paths]


# --- isolation ----------------------------------------------------------------------------------------------
def visit(url: str, folder: Path, index: int) -> dict:
    """One visitor: their own feed (3 + index photos), photo (own colour and size) and look; returns what they saw."""
    client = Client(url, verbose=False)
    colour, size = (40 + 50 * index, 90, 220 - 50 * index), (300 + 20 * index, 200)
    photo = folder / f"photo{index}.png"
    Image.new("RGB", size, colour).save(photo)
    seen: dict = {"colour": colour, "size": size, "name": f"Look of visitor {index}", "refs": 3 + index, "previews": []}
    client.predict(feed(folder, 3 + index, index), api_name="/add_references")
    client.predict([handle_file(str(photo))], "Golden hour", 100, 0, 0, api_name="/add_photos")
    seen["status"], _, _, downloads, seen["dropdown"] = client.predict(seen["name"], STEPS, index, api_name="/finetune")
    seen["look"] = Look.load(next(p for p in downloads if p.endswith(".look")))
    for strength in (40, 80, 120):
        seen["previews"].append(client.predict(seen["name"], strength, 0, 0, api_name="/preview_strength"))
    seen["export"] = Image.open(client.predict(seen["name"], 100, 0, 0, api_name="/download"))
    return seen


def test_concurrent_sessions_never_see_each_other(url, tmp_path):
    with ThreadPoolExecutor(VISITORS) as pool:
        visits = list(pool.map(lambda index: visit(url, tmp_path, index), range(VISITORS)))
    names = {seen["name"] for seen in visits}
    for seen in visits:
        others = names - {seen["name"]}
        assert f"**{seen['name']}** learned from {seen['refs']} photos" in seen["status"]
        assert seen["dropdown"]["value"] == seen["name"]
        assert not others & {choice[0] for choice in seen["dropdown"]["choices"]}
        assert seen["look"].name == seen["name"] and seen["look"].metadata["references"] == seen["refs"]
        for before, after in seen["previews"]:
            shown = np.asarray(Image.open(before).convert("RGB"), dtype=int)
            assert Image.open(after).size == shown.shape[1::-1] == seen["size"]
            assert np.abs(shown - seen["colour"]).max() <= 3  # their own photo, nobody else's
        assert seen["export"].size == seen["size"]


# --- cancelling ---------------------------------------------------------------------------------------------
def live_networks() -> int:
    gc.collect()
    return sum(type(thing) in (LookGenerator, Discriminator) for thing in gc.get_objects())


def test_cancel_stops_the_finetune_and_frees_it(url, tmp_path, app):
    client = Client(url, verbose=False)
    client.predict(feed(tmp_path, 3, 7), api_name="/add_references")
    networks_before = live_networks()
    job = client.submit("Long", 1000, 0, api_name="/finetune")
    assert wait_for(lambda: finetune_threads(client.session_hash)), "the fine-tune never started"
    assert client.predict(api_name="/cancel") == "Cancelling…"
    started = time.monotonic()
    status = job.result(timeout=60)[0]
    assert status == "Cancelled. Press **Learn this look** to start again."
    assert time.monotonic() - started < 15
    assert wait_for(lambda: not finetune_threads(client.session_hash), 10)
    assert client.session_hash not in app._cancel_events
    assert live_networks() <= networks_before  # the generator, discriminator and optimisers are gone
    assert client.predict(api_name="/cancel") == "Nothing is running."
    client.close()


# --- closing the tab ----------------------------------------------------------------------------------------
def join(url: str, session_hash: str, name: str, steps: int) -> httpx.Response:
    """Start a fine-tune as the browser does (queue/join), for a session whose data stream we hold ourselves."""
    config = httpx.get(url + "config").json()
    fn_index = next(d.get("id", i) for i, d in enumerate(config["dependencies"]) if d.get("api_name") == "finetune")
    body = {"data": [name, steps, 0, None], "fn_index": fn_index, "session_hash": session_hash, "event_data": None, "trigger_id": None}
    return httpx.post(url + "gradio_api/queue/join", json=body)


def read_until(url: str, session_hash: str, seen) -> None:
    """Hold the session's event stream open until ``seen(line)``, then drop it, as a closing tab does."""
    with httpx.stream("GET", url + "gradio_api/queue/data", params={"session_hash": session_hash}, timeout=60) as stream:
        for line in stream.iter_lines():
            if seen(line):
                return


def test_closed_tab_leaves_no_work_running(url, tmp_path, app):
    # visitor A trains for long; visitor B's fine-tune waits behind it in the queue
    a, b = Client(url, verbose=False), Client(url, verbose=False)
    a.predict(feed(tmp_path, 3, 8), api_name="/add_references")
    b.predict(feed(tmp_path, 3, 9), api_name="/add_references")
    job = a.submit("A's look", 1000, 0, api_name="/finetune")
    assert wait_for(lambda: finetune_threads(a.session_hash))
    assert join(url, b.session_hash, "B's look", 1000).status_code == 200
    read_until(url, b.session_hash, lambda line: '"estimation"' in line)  # B is queued, then closes the tab
    # A closes the tab too: its heartbeat stops, the app's unload cancels the fine-tune and deletes A's files
    folder = app._session_dir(a.session_hash)
    assert folder.is_dir()
    a.close()
    assert wait_for(lambda: not finetune_threads(a.session_hash), 20), "A's fine-tune kept running"
    assert wait_for(lambda: not folder.exists(), 10)
    time.sleep(2)  # B's queued fine-tune would have started by now
    assert not finetune_threads(b.session_hash)
    job.cancel()

    # visitor C's fine-tune is running when C closes the tab
    c = Client(url, verbose=False)
    c.predict(feed(tmp_path, 3, 10), api_name="/add_references")
    assert join(url, c.session_hash, "C's look", 1000).status_code == 200
    read_until(url, c.session_hash, lambda line: '"progress"' in line and finetune_threads(c.session_hash))
    assert wait_for(lambda: not finetune_threads(c.session_hash), 20), "C's fine-tune kept running"
    assert wait_for(lambda: c.session_hash not in app._cancel_events, 5)
    assert not finetune_threads()
    b.close()
    c.close()
