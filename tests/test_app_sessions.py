"""Many visitors at once: isolation between sessions, cancelling a fine-tune, dropped connections and closed tabs,
and what each session keeps on disk.

The app runs in this process (tests/app_server.py), so the tests can look at its sessions and live networks.
"""
from __future__ import annotations

import gc
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
from influgan.looks.look import Look  # noqa: E402
from influgan.learning.networks import LookGenerator  # noqa: E402
from test_app import value  # noqa: E402

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


def session_of(app, session_hash: str):
    """The app's Session object for a client's session hash (what gr.State holds for it)."""
    data = app.demo.state_holder.session_data[session_hash].state_data
    return data[app.session_state._id]


# --- isolation ----------------------------------------------------------------------------------------------
def visit(url: str, folder: Path, index: int) -> dict:
    """One visitor: their own feed (3 + index photos), photo (own colour and size) and look; returns what they saw."""
    client = Client(url, verbose=False)
    colour, size = (40 + 50 * index, 90, 220 - 50 * index), (300 + 20 * index, 200)
    photo = folder / f"photo{index}.png"
    Image.new("RGB", size, colour).save(photo)
    seen: dict = {"colour": colour, "size": size, "name": f"Look of visitor {index}", "refs": 3 + index, "previews": []}
    notes = client.predict(feed(folder, 3 + index, index), api_name="/add_references")[1]
    assert f"**{3 + index} reference photos**" in notes, notes
    client.predict([handle_file(str(photo))], "Golden hour", 100, 0, 0, api_name="/add_photos")
    seen["status"], _, _, downloads, seen["dropdown"] = client.predict(seen["name"], STEPS, index, api_name="/finetune")
    seen["look"] = Look.load(next(p for p in downloads if p.endswith(".look")))
    for strength in (40, 80, 120):
        seen["previews"].append(client.predict(seen["name"], strength, 0, 0, api_name="/preview_strength")[0])  # (before, after)
    seen["export"] = Image.open(value(client.predict(seen["name"], 100, 0, 0, api_name="/download")))
    return seen


def test_concurrent_sessions_never_see_each_other(url, tmp_path):
    with ThreadPoolExecutor(VISITORS) as pool:
        visits = list(pool.map(lambda index: visit(url, tmp_path, index), range(VISITORS)))
    names = {seen["name"] for seen in visits}
    for seen in visits:
        others = names - {seen["name"]}
        assert f"<b>{seen['name']}</b> learned from {seen['refs']} photos" in seen["status"]
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
    return sum(type(thing) is LookGenerator for thing in gc.get_objects())


def test_cancel_stops_the_finetune_and_frees_it(url, tmp_path, app):
    client = Client(url, verbose=False)
    client.predict(feed(tmp_path, 3, 7), api_name="/add_references")
    networks_before = live_networks()
    job = client.submit("Long", 1000, 0, api_name="/finetune")
    assert wait_for(lambda: live_networks() > networks_before), "the fine-tune never started"
    job.cancel()  # what the Cancel button does for the browser (cancels=), as an API client does it
    assert wait_for(lambda: live_networks() <= networks_before, 15), "the fine-tune kept running"
    assert wait_for(job.done, 15)
    session = session_of(app, client.session_hash)
    assert "Long" not in session.looks and wait_for(lambda: session._holds == 0, 5)
    client.close()


# --- closing the tab, or losing the connection for a moment --------------------------------------------------
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


def drop_connection(url: str, session_hash: str) -> None:
    """A heartbeat that opens and breaks, as when a phone loses its network for a moment."""
    with httpx.stream("GET", f"{url}gradio_api/heartbeat/{session_hash}", timeout=10) as stream:
        next(stream.iter_lines())


def test_closed_tab_leaves_no_work_running(url, tmp_path, app):
    """A closing tab drops its event stream: Gradio then closes the running fine-tune (the generator stops at its
    next step and frees its networks) and removes a queued one."""
    a, b = Client(url, verbose=False), Client(url, verbose=False)
    a.predict(feed(tmp_path, 3, 8), api_name="/add_references")
    b.predict(feed(tmp_path, 3, 9), api_name="/add_references")
    idle = live_networks()
    assert join(url, a.session_hash, "A's look", 1000).status_code == 200
    assert join(url, b.session_hash, "B's look", 1000).status_code == 200
    read_until(url, b.session_hash, lambda line: '"estimation"' in line)  # B waits behind A, then closes the tab
    read_until(url, a.session_hash, lambda line: "Step 10 of" in line)  # A is learning, then closes the tab
    assert wait_for(lambda: live_networks() <= idle, 20), "A's fine-tune kept running"
    time.sleep(2)  # B's queued fine-tune would have started by now
    assert live_networks() <= idle
    assert wait_for(lambda: session_of(app, a.session_hash)._holds == 0, 5)
    a.close()
    b.close()


def test_a_dropped_connection_loses_nothing(url, tmp_path, app):
    client = Client(url, verbose=False)
    client.predict(feed(tmp_path, 3, 11), api_name="/add_references")
    photo = tmp_path / "kept.png"
    synthetic_photo(12, (200, 150)).save(photo)
    client.predict([handle_file(str(photo))], "Golden hour", 100, 0, 0, api_name="/add_photos")
    session = session_of(app, client.session_hash)
    files = sorted(p.name for p in session.folder.iterdir())
    drop_connection(url, client.session_hash)
    time.sleep(1.5)  # the server has noticed the broken heartbeat and run its unload events
    assert sorted(p.name for p in session.folder.iterdir())[: len(files)] == files
    (before, after), *_ = client.predict("Faded film", 70, 0, 0, api_name="/preview_strength")
    assert Image.open(after).size == (200, 150)
    assert Image.open(value(client.predict("Faded film", 100, 0, 0, api_name="/download"))).size == (200, 150)
    assert "learned from 3 photos" in client.predict("After the drop", STEPS, 0, api_name="/finetune")[0]
    client.close()


def test_the_folder_goes_with_the_session(url, tmp_path, app):
    client = Client(url, verbose=False)
    client.predict(feed(tmp_path, 3, 13), api_name="/add_references")
    session = session_of(app, client.session_hash)
    assert session.folder.is_dir()
    with session.hold():  # a request still at work keeps the folder until it is done
        app.demo.state_holder.delete_state(client.session_hash)  # what Gradio does once the session has expired
        time.sleep(0.5)
        assert session.folder.is_dir() and session.closed
    assert wait_for(lambda: not session.folder.exists(), 5)
    client.close()


# --- disk stays bounded ---------------------------------------------------------------------------------------
def test_repeated_downloads_do_not_fill_the_disk(url, tmp_path, app):
    client = Client(url, verbose=False)
    photo = tmp_path / "big.png"
    synthetic_photo(14, (800, 600)).save(photo)
    client.predict([handle_file(str(photo))], "Golden hour", 100, 0, 0, api_name="/add_photos")
    session = session_of(app, client.session_hash)
    sizes = []
    for strength in (60, 70, 80, 90, 100, 110):
        client.predict("Golden hour", strength, 0, 0, api_name="/download")
        client.predict("Golden hour", strength, 0, 0, api_name="/download_look")
        client.predict("Golden hour", strength, 0, 0, api_name="/preview_strength")
        assert wait_for(lambda: session._holds == 0, 5)
        sizes.append(session.disk_used())
    assert max(sizes[2:]) <= sizes[1] * 1.05  # flat after the first rounds: older results are deleted
    client.close()


def test_stale_session_folders_are_cleaned_at_start_up(tmp_path):
    from influgan.serving.session import process_root

    dead = tmp_path / "999999999-1"  # a process id that cannot be running
    (dead / "abc").mkdir(parents=True)
    (dead / "abc" / "photo.jpg").write_bytes(b"x")
    mine = process_root(tmp_path)
    assert not dead.exists() and mine.is_dir()


def test_a_session_left_idle_ends_and_says_so(url, tmp_path, app):
    """No page pinging it for SESSION_IDLE (a closed tab, an API client gone quiet): the folder is deleted, and a
    late request is told so instead of finding an empty session."""
    from gradio_client.exceptions import AppError

    client = Client(url, verbose=False)
    client.predict(feed(tmp_path, 3, 15), api_name="/add_references")
    session = session_of(app, client.session_hash)
    session.last_seen -= app.SESSION_IDLE + 1
    assert app.sessions().close_idle() >= 1
    assert not session.folder.exists()
    with pytest.raises(AppError, match="Your session ended after .* minutes away"):
        client.predict("Golden hour", 50, 0, 0, api_name="/preview_strength")
    client.close()
