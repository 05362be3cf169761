"""Launch ``app.py``'s Gradio demo on 127.0.0.1 at a free port, in this process, for the API and browser tests."""
from __future__ import annotations

import contextlib
import os
import socket
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_app(steps: int = 20):
    """Yield the app's URL while it serves; the training-steps default is ``steps`` (fast tests)."""
    os.environ["INFLUGAN_STEPS"] = str(steps)
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    sys.path.insert(0, str(ROOT))
    import app  # noqa: E402 - after the environment is set

    app.steps.value = steps  # the module may have been imported before with another default
    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 60
    while True:
        try:
            urllib.request.urlopen(url, timeout=5).read()
            break
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.2)
    try:
        yield url
    finally:
        app.demo.close()
