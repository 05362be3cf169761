"""InfluGAN in the browser: learn a creator's look from a few of their posts, and put it on your photos.

A thin layer over the ``influgan`` package: the functions below turn UI inputs into package calls; the
``gr.Blocks`` body is only layout and event wiring. Every visitor gets their own ``gr.State`` and temporary
folder, removed when they leave. Runs offline and on a CPU.

    pip install -r requirements.txt && python app.py        # then open http://127.0.0.1:7860
"""
from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported: no calls home

import dataclasses
import hashlib
import queue
import re
import shutil
import tempfile
import threading
import zipfile
from functools import lru_cache
from pathlib import Path

import gradio as gr
import pandas as pd
import torch
from PIL import Image

import influgan
from influgan.finetune import MAX_REFERENCES, MIN_REFERENCES
from influgan.fingerprint import render_fingerprint
from influgan.images import check_training_size, load_training_image, thumbnail

try:  # ZeroGPU Spaces: run the fine-tune under @spaces.GPU; everywhere else plain CPU
    import spaces

    _gpu = spaces.GPU
except ImportError:
    def _gpu(fn):
        return fn

ROOT = Path(__file__).resolve().parent
LOOKS_DIR = ROOT / "weights" / "looks"
EXAMPLE_FEED = ROOT / "examples" / "feed"
EXAMPLE_PHOTO = ROOT / "examples" / "content" / "chelsea.jpg"
SAMPLE_PHOTO = ROOT / "examples" / "content" / "astronaut.jpg"  # training preview when the user has no photos yet
SESSIONS_DIR = Path(tempfile.gettempdir()) / "influgan-sessions"

MAX_PHOTOS = 30
REFERENCE_SIZE = 1024  # references are kept at this size (the fine-tune looks at 128 px thumbnails)
PREVIEW_SIZE = 1024  # longer side of the interactive preview; full resolution only for download
DEFAULT_STEPS = int(os.environ.get("INFLUGAN_STEPS", "200"))
PREVIEW_EVERY = 10  # steps between live previews during the fine-tune
GRAIN_MAX = influgan.Finish.RANGES["grain_amount"][1]
LOOK_SUFFIXES = (".look", ".cube")

torch.set_num_threads(min(2, os.cpu_count() or 1))  # a Space has 2 vCPUs; leave room for the web server
_cancel_events: dict[str, threading.Event] = {}  # per session; threading.Event cannot live in gr.State


# --- per-session state -------------------------------------------------------------------------------------
def _session_dir(key: str) -> Path:
    """A visitor's private folder. The session hash comes from the client: it is hashed, never used as a path."""
    return SESSIONS_DIR / hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()[:32]


def _new_session(request: gr.Request | None) -> dict:
    """A visitor's state: their references, looks and photos, and a private temporary folder."""
    key = (request.session_hash if request is not None and request.session_hash else None) or os.urandom(8).hex()
    folder = _session_dir(key)
    folder.mkdir(parents=True, exist_ok=True)
    return {"key": key, "dir": str(folder), "refs": [], "looks": {}, "photos": [], "current": 0, "preview": None, "counter": 0}


def _session(state: dict | None, request: gr.Request | None) -> dict:
    if not state:
        state = _new_session(request)
    Path(state["dir"]).mkdir(parents=True, exist_ok=True)  # recreated if a cleanup removed it
    return state


def _unique_path(state: dict, name: str) -> Path:
    """A fresh file path in the session folder, keeping ``name``'s readable stem and suffix."""
    state["counter"] += 1
    stem, suffix = Path(name).stem, Path(name).suffix.lower()
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_")[:60] or "file"
    return Path(state["dir"]) / f"{state['counter']:03d}_{stem}{suffix}"


def cleanup_session(request: gr.Request) -> None:
    """When a visitor leaves: cancel their fine-tune and delete their files."""
    key = request.session_hash or ""
    event = _cancel_events.pop(key, None)
    if event is not None:
        event.set()
    if key:
        shutil.rmtree(_session_dir(key), ignore_errors=True)


def delete_state(state: dict | None) -> None:
    """gr.State's delete callback (session expired): delete the session folder."""
    if state and state.get("dir"):
        shutil.rmtree(state["dir"], ignore_errors=True)


# --- looks -------------------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def builtin_looks() -> dict[str, influgan.Look]:
    """The looks shipped in weights/looks/, by name (loaded once, on first use)."""
    order = ["golden_hour", "teal_orange", "faded_film", "soft_pastel", "crisp_mono"]  # warm and friendly first
    paths = sorted(LOOKS_DIR.glob("*.look"), key=lambda p: (order.index(p.stem) if p.stem in order else len(order), p.stem))
    return {look.name: look for look in map(influgan.Look.load, paths)}


def _all_looks(state: dict) -> dict[str, influgan.Look]:
    return {**builtin_looks(), **state["looks"]}


def _look_choices(state: dict) -> list[str]:
    return list(state["looks"])[::-1] + list(builtin_looks())  # the visitor's newest first


def _get_look(state: dict, name: str | None) -> influgan.Look:
    looks = _all_looks(state)
    if not name or name not in looks:
        raise gr.Error("Choose a look first (a built-in one, one you made, or upload a .look or .cube file).")
    return looks[name]


def _finish_for(look: influgan.Look, grain: float, vignette: float) -> influgan.Finish:
    """The look's finishing with the sliders' grain (0–100 % of the maximum) and vignette (−100–100 %)."""
    return dataclasses.replace(look.finish, grain_amount=GRAIN_MAX * grain / 100.0, vignette_amount=vignette / 100.0)


def _slider_values(look: influgan.Look) -> tuple[float, float]:
    return round(100.0 * look.finish.grain_amount / GRAIN_MAX, 1), round(100.0 * look.finish.vignette_amount, 1)


# --- references --------------------------------------------------------------------------------------------
def _reference_outputs(state: dict, problems: list[str]):
    refs = state["refs"]
    gallery = [(path, name) for path, name in refs]
    if refs:
        palette, histograms = render_fingerprint([Image.open(path) for path, _ in refs])
    else:
        palette = histograms = None
    lines = []
    if refs:
        count = len(refs)
        ready = "ready to learn the look" if count >= MIN_REFERENCES else f"add {MIN_REFERENCES - count} more"
        lines.append(f"**{count} reference photo{'s' if count != 1 else ''}** — {ready}.")
    if problems:
        lines.append("Skipped:\n" + "\n".join(f"- {problem}" for problem in problems))
    return gallery, "\n\n".join(lines), palette, histograms, state


def add_references(files: list[str] | None, state: dict | None, request: gr.Request):
    """Add uploaded photos to the feed; unreadable or unusable files are listed with the reason and skipped.

    A feed holds at most MAX_REFERENCES photos: beyond that, the first usable ones are kept and the rest counted.
    """
    state = _session(state, request)
    problems, over_cap = [], 0
    for path in files or []:
        if len(state["refs"]) >= MAX_REFERENCES:
            over_cap += 1
            continue
        try:
            image = load_training_image(path, REFERENCE_SIZE)
        except influgan.ImageError as error:
            problems.append(str(error))
            continue
        name = Path(path).name
        stored = _unique_path(state, Path(name).stem + ".jpg")
        influgan.save_image(image, stored)
        state["refs"].append((str(stored), name))
    skipped = len(problems) + over_cap
    if over_cap:
        problems.append(
            f"{over_cap} more photo{'s' if over_cap != 1 else ''}: a feed holds at most {MAX_REFERENCES} photos, "
            f"so the first {MAX_REFERENCES} usable ones were kept"
        )
    if skipped:
        gr.Warning(f"Skipped {skipped} file{'s' if skipped != 1 else ''}; the others were kept. See the list below the gallery.")
    if files and not state["refs"]:
        raise gr.Error("None of these files could be used as reference photos.")
    return _reference_outputs(state, problems)


def clear_references(state: dict | None, request: gr.Request):
    """Start a new feed (the looks made so far are kept)."""
    state = _session(state, request)
    for path, _ in state["refs"]:
        Path(path).unlink(missing_ok=True)
    state["refs"] = []
    return _reference_outputs(state, [])


# --- personalize (fine-tune) -------------------------------------------------------------------------------
def _sample_photo(state: dict) -> Image.Image:
    """The photo the live preview shows: the visitor's current photo, else an example."""
    if state["preview"] is not None:
        return thumbnail(Image.open(state["preview"]), 512)
    return thumbnail(influgan.load_image(SAMPLE_PHOTO), 512)


def _content_photos(state: dict) -> list[Image.Image] | None:
    """The visitor's own photos that can teach the mapping (None: use the default content).

    Example photos don't (the example feed pairs with the default content); nor do tiny or strip-thin ones, which
    can still be stylized.
    """
    images = []
    for photo in state["photos"]:
        if photo.get("example"):
            continue
        image = Image.open(photo["preview"])
        try:
            check_training_size(image.size, photo["name"])
        except influgan.ImageError:
            continue
        images.append(image.convert("RGB"))
    return images or None


def _loss_frame(history: list[tuple[int, dict]]) -> pd.DataFrame:
    rows = [
        {"step": step, "loss": losses[key], "term": key}
        for step, losses in history
        for key in ("total", "colour")
        if key in losses
    ]
    return pd.DataFrame(rows, columns=["step", "loss", "term"])


def _unique_look_name(state: dict, name: str) -> str:
    name = (name or "").strip()[:60] or "My look"
    taken = set(_all_looks(state))
    if name not in taken:
        return name
    index = 2
    while f"{name} ({index})" in taken:
        index += 1
    return f"{name} ({index})"


@_gpu
def _run_finetune(references, content, settings, start, callback, cancel, name):
    return influgan.finetune(references, content, settings, start=start, callback=callback, cancel=cancel, name=name)


def train_look(name: str, steps: float, seed: float, state: dict | None, request: gr.Request, progress=gr.Progress()):
    """Fine-tune a look on the feed, streaming progress, a live preview and the loss curve; then offer downloads.

    Yields (status, preview image, loss frame, download files, look dropdown, state).
    """
    state = _session(state, request)
    refs = state["refs"]
    minimum = MIN_REFERENCES
    if len(refs) < minimum:
        raise gr.Error(f"Add at least {minimum} reference photos on the References tab first (you have {len(refs)}).")
    cancel = threading.Event()
    references = [Image.open(path).convert("RGB") for path, _ in refs]
    content = _content_photos(state)
    settings = influgan.FinetuneSettings(steps=int(steps), seed=int(seed or 0))
    look_name = _unique_look_name(state, name)
    sample = _sample_photo(state)
    reports: queue.Queue = queue.Queue()
    outcome: dict = {}

    def callback(report: influgan.StepReport) -> None:
        reports.put((report.step, report.steps, dict(report.losses), report.elapsed, report.look() if report.step % PREVIEW_EVERY == 0 or report.step == report.steps else None))

    def work() -> None:
        try:
            outcome["look"] = _run_finetune(references, content, settings, instant, callback, cancel, look_name)
        except BaseException as error:  # handed to the UI thread below
            outcome["error"] = error
        finally:
            reports.put(None)

    thread = threading.Thread(target=work, name=f"finetune-{state['key']}", daemon=True)
    history: list[tuple[int, dict]] = []
    _cancel_events[state["key"]] = cancel
    try:
        progress(0, desc="Reading the feed…")
        instant = influgan.instant_look(references, name=look_name)  # the learned prior: a first look in < 1 s
        if instant is None:
            yield "Learning the look…", gr.skip(), _loss_frame([]), gr.skip(), gr.skip(), state
        else:
            yield "Instant look from the prior; refining it on your feed…", instant.apply(sample), _loss_frame([]), gr.skip(), gr.skip(), state
        thread.start()
        while (item := reports.get()) is not None:
            step, total, losses, elapsed, look = item
            history.append((step, losses))
            progress((step, total), desc=f"Learning the look ({elapsed:.0f} s)", unit="steps")
            if look is not None:
                yield f"Step {step} of {total} · {elapsed:.1f} s", look.apply(sample), _loss_frame(history), gr.skip(), gr.skip(), state
    finally:
        # Done, or Gradio closed this generator because the visitor left or the event was cancelled: then the
        # worker stops at its next step and drops what it holds. Not joined here: Gradio closes generators on its
        # event loop, which must not wait for a training step.
        cancel.set()
        if _cancel_events.get(state["key"]) is cancel:
            del _cancel_events[state["key"]]
    thread.join()  # already finished: it sent its last report
    if isinstance(outcome.get("error"), influgan.FinetuneCancelled):
        gr.Info("Fine-tune cancelled; nothing was kept.")
        yield "Cancelled. Press **Learn this look** to start again.", gr.skip(), _loss_frame(history), gr.skip(), gr.skip(), state
        return
    if "error" in outcome:
        error = outcome["error"]
        raise gr.Error(f"The fine-tune failed: {error}") if isinstance(error, ValueError) else error
    look: influgan.Look = outcome["look"]
    state["looks"][look.name] = look
    files = _look_files(state, look)
    seconds = look.metadata.get("seconds", 0.0)
    status = f"**{look.name}** learned from {len(refs)} photos in {seconds:.1f} s. It is now selected on the Stylize tab."
    dropdown = gr.update(choices=_look_choices(state), value=look.name)
    yield status, look.apply(sample), _loss_frame(history), files, dropdown, state


def _look_files(state: dict, look: influgan.Look) -> list[str]:
    """Write a look as .look and .cube into the session folder; returns both paths."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", look.name).strip("_") or "look"
    folder = Path(state["dir"]) / f"look_{state['counter'] + 1:03d}"
    state["counter"] += 1
    folder.mkdir(exist_ok=True)
    look_path, cube_path = folder / f"{stem}.look", folder / f"{stem}.cube"
    look.save(look_path)
    look.to_cube(cube_path)
    return [str(look_path), str(cube_path)]


def cancel_training(state: dict | None, request: gr.Request) -> str:
    """Stop this visitor's running fine-tune (the training loop checks the event every step)."""
    key = (state or {}).get("key") or request.session_hash
    event = _cancel_events.get(key)
    if event is None:
        return "Nothing is running."
    event.set()
    return "Cancelling…"


def download_look(look_name: str, state: dict | None, request: gr.Request) -> list[str]:
    """The chosen look as a .look file and a .cube LUT (for Lightroom, Premiere, Resolve, CapCut)."""
    state = _session(state, request)
    return _look_files(state, _get_look(state, look_name))


# --- stylize -----------------------------------------------------------------------------------------------
def _preview_pair(state: dict, look_name: str | None, strength: float, grain: float, vignette: float):
    if state["preview"] is None:
        return None
    before = Image.open(state["preview"])
    before.load()
    if not look_name:
        return before, before
    look = _get_look(state, look_name)
    after = look.apply(before, strength=strength / 100.0, finish=_finish_for(look, grain, vignette))
    return before, after


def render_preview(look_name: str, strength: float, grain: float, vignette: float, state: dict | None, request: gr.Request):
    """Before/after of the current photo at preview size (fast: called on every slider move)."""
    state = _session(state, request)
    return _preview_pair(state, look_name, strength, grain, vignette)


def _photo_gallery(state: dict) -> list:
    return [(photo["thumb"], photo["name"]) for photo in state["photos"]]


def add_photos(files: list[str] | None, look_name: str, strength: float, grain: float, vignette: float, state: dict | None, request: gr.Request):
    """Add the visitor's own photos; bad files are reported and skipped. Shows the first new one."""
    state = _session(state, request)
    problems, first_new = [], None
    for path in files or []:
        name = Path(path).name
        if len(state["photos"]) >= MAX_PHOTOS:
            problems.append(f"{name}: at most {MAX_PHOTOS} photos at a time")
            continue
        try:
            image = influgan.load_image(path, draft_size=PREVIEW_SIZE)  # decodes it all: damage is caught here, not at download
        except influgan.ImageError as error:
            problems.append(str(error))
            continue
        photo = {"name": name, "path": str(_unique_path(state, name))}
        shutil.copyfile(path, photo["path"])
        photo["preview"] = str(_unique_path(state, Path(name).stem + "_preview.png"))
        thumbnail(image, PREVIEW_SIZE).save(photo["preview"], compress_level=1)
        photo["thumb"] = str(_unique_path(state, Path(name).stem + "_thumb.jpg"))
        thumbnail(image, 256).save(photo["thumb"], quality=85)
        state["photos"].append(photo)
        first_new = len(state["photos"]) - 1 if first_new is None else first_new
    if problems:
        gr.Warning("Skipped " + "; ".join(problems) + ". The other photos were kept.")
    if files and not state["photos"]:
        raise gr.Error("None of these files is a photo InfluGAN can read (JPEG, PNG, WebP, HEIC, TIFF).")
    if first_new is not None:
        state["current"], state["preview"] = first_new, state["photos"][first_new]["preview"]
    return _photo_gallery(state), _preview_pair(state, look_name, strength, grain, vignette), state


def select_photo(look_name: str, strength: float, grain: float, vignette: float, state: dict | None, request: gr.Request, selection: gr.SelectData):
    """Show the photo clicked in the gallery."""
    state = _session(state, request)
    if selection is not None and 0 <= selection.index < len(state["photos"]):
        state["current"], state["preview"] = selection.index, state["photos"][selection.index]["preview"]
    return _preview_pair(state, look_name, strength, grain, vignette), state


def clear_photos(state: dict | None, request: gr.Request):
    """Forget this visitor's photos."""
    state = _session(state, request)
    for photo in state["photos"]:
        for key in ("path", "preview", "thumb"):
            Path(photo[key]).unlink(missing_ok=True)
    state.update(photos=[], preview=None, current=0)
    return [], None, state


def choose_look(look_name: str, strength: float, state: dict | None, request: gr.Request):
    """A look was picked: set the grain and vignette sliders to its own finishing and re-render."""
    state = _session(state, request)
    if not look_name:
        return gr.skip(), gr.skip(), None, state
    look = _get_look(state, look_name)
    grain, vignette = _slider_values(look)
    return grain, vignette, _preview_pair(state, look_name, strength, grain, vignette), state


def upload_look(file: str | None, state: dict | None, request: gr.Request):
    """Add a .look or .cube file to this visitor's looks and select it."""
    state = _session(state, request)
    if not file:
        return gr.skip(), state
    name = Path(file).name
    if Path(file).suffix.lower() not in LOOK_SUFFIXES:
        raise gr.Error(f"{name}: a look must be an InfluGAN .look file or a .cube LUT.")
    try:
        look = influgan.Look.load(file)
    except (influgan.LookError, influgan.CubeError) as error:
        raise gr.Error(str(error)) from None
    look.name = _unique_look_name(state, look.name or Path(file).stem)
    state["looks"][look.name] = look
    gr.Info(f"Added the look “{look.name}”.")
    return gr.update(choices=_look_choices(state), value=look.name), state


def export_photos(look_name: str, strength: float, grain: float, vignette: float, state: dict | None, request: gr.Request, progress=gr.Progress()):
    """Stylize every photo at full resolution: one file, or a zip for many."""
    state = _session(state, request)
    if not state["photos"]:
        raise gr.Error("Upload a photo first.")
    look = _get_look(state, look_name)
    finish = _finish_for(look, grain, vignette)
    out_dir = Path(state["dir"]) / f"export_{state['counter'] + 1:03d}"
    state["counter"] += 1
    out_dir.mkdir()
    written = []
    for index, item in enumerate(progress.tqdm(state["photos"], desc="Rendering full resolution")):
        name = item["name"]
        try:
            photo = influgan.load_image(item["path"], keep_alpha=True)
        except influgan.ImageError as error:
            gr.Warning(str(error))
            continue
        suffix = Path(name).suffix.lower()
        suffix = suffix if suffix in (".jpg", ".jpeg", ".png", ".webp") else ".jpg"
        if photo.mode == "RGBA" and suffix in (".jpg", ".jpeg"):
            suffix = ".png"
        target = out_dir / f"{Path(name).stem}_{re.sub(r'[^A-Za-z0-9]+', '_', look.name).strip('_').lower()}{suffix}"
        while target.exists():
            target = target.with_stem(target.stem + f"_{index}")
        influgan.save_image(look.apply(photo, strength=strength / 100.0, finish=finish), target)
        written.append(target)
    if len(written) == 1:
        return str(written[0])
    archive = out_dir / "influgan_photos.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as zipped:  # photos are compressed already
        for path in written:
            zipped.write(path, path.name)
    return str(archive)


# --- the example -------------------------------------------------------------------------------------------
def load_example(state: dict | None, request: gr.Request):
    """One click: the example feed as references and an example photo to stylize."""
    state = _session(state, request)
    clear_references(state, request)
    feed = sorted(str(p) for p in EXAMPLE_FEED.glob("*.jpg"))
    gallery, notes, palette, histograms, state = add_references(feed, state, request)
    clear_photos(state, request)
    photos, pair, state = add_photos([str(EXAMPLE_PHOTO)], None, 100, 0, 0, state, request)
    state["photos"][-1]["example"] = True
    notes += "\n\nThe example feed is loaded. Learning its look now — watch it on the **Personalize** tab."
    return gallery, notes, palette, histograms, photos, pair, "Golden hour example", state


def go_to_tab(tab_id: str):
    return gr.Tabs(selected=tab_id)


# --- layout ------------------------------------------------------------------------------------------------
CSS = """
.gradio-container {max-width: 1280px !important; margin: auto;}
#hero h1 {margin-bottom: 0.2em;}
#hero p {margin-top: 0; opacity: 0.8;}
#palette img, #histograms img {border-radius: 8px;}
"""
THEME = gr.themes.Soft(primary_hue="pink", secondary_hue="amber", font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])  # no web fonts: offline

with gr.Blocks(title="InfluGAN — learn a creator's look", delete_cache=(3600, 6 * 3600)) as demo:
    state = gr.State(None, delete_callback=delete_state, time_to_live=6 * 3600)
    with gr.Row(elem_id="hero"):
        with gr.Column(scale=4):
            gr.Markdown(
                "# InfluGAN\n"
                "Learn a creator's photo look from a few of their posts, then put it on your own photos — "
                "and take it to Lightroom, Premiere, Resolve or CapCut as a `.cube` LUT."
            )
        with gr.Column(scale=1, min_width=200):
            example_button = gr.Button("Try the example", variant="primary", elem_id="example-button")
    with gr.Tabs(selected="references") as tabs:
        with gr.Tab("1 · References", id="references"):
            gr.Markdown("Drop **3–50 photos** from one creator's feed. JPEG, PNG, WebP and HEIC are fine; files that can't be used are listed and skipped.")
            with gr.Row():
                with gr.Column(scale=3):
                    reference_files = gr.File(
                        label="Reference photos", file_count="multiple", file_types=["image", ".heic", ".heif"], height=140, elem_id="reference-files"
                    )
                    reference_gallery = gr.Gallery(label="The feed", columns=6, height=330, object_fit="cover", elem_id="reference-gallery")
                    reference_notes = gr.Markdown(elem_id="reference-notes")
                    clear_references_button = gr.Button("Clear the feed", size="sm", variant="secondary")
                with gr.Column(scale=2):
                    gr.Markdown("### Style fingerprint\nWhat the look is learned from: the feed's dominant colours and how its tones and channels are spread.")
                    palette_image = gr.Image(label="Palette", type="pil", interactive=False, height=130, elem_id="palette", buttons=[])
                    histogram_image = gr.Image(label="Tone and colour histograms", type="pil", interactive=False, height=210, elem_id="histograms", buttons=[])
        with gr.Tab("2 · Personalize", id="personalize"):
            with gr.Row():
                with gr.Column(scale=2):
                    look_name = gr.Textbox(label="Name your look", value="My look", max_length=60, elem_id="look-name")
                    with gr.Row():
                        train_button = gr.Button("Learn this look", variant="primary", elem_id="train-button")
                        cancel_button = gr.Button("Cancel", variant="stop", elem_id="cancel-button")
                    train_status = gr.Markdown("Uses the feed from the References tab, and your own photos from the Stylize tab if you uploaded some.", elem_id="train-status")
                    with gr.Accordion("Advanced", open=False):
                        steps = gr.Slider(10, 1000, value=DEFAULT_STEPS, step=10, label="Training steps", elem_id="steps")
                        seed = gr.Number(value=0, precision=0, minimum=0, maximum=2**31 - 1, label="Seed")
                    look_downloads = gr.File(label="Download the look (.look for InfluGAN, .cube for Lightroom, Premiere, Resolve, CapCut)", file_count="multiple", interactive=False, elem_id="look-downloads")
                with gr.Column(scale=3):
                    train_preview = gr.Image(label="Live preview", type="pil", interactive=False, height=380, elem_id="train-preview")
                    loss_plot = gr.LinePlot(x="step", y="loss", color="term", label="Loss", height=200, x_title="step", y_title="loss")
        with gr.Tab("3 · Stylize", id="stylize"):
            with gr.Row():
                with gr.Column(scale=2):
                    photo_files = gr.File(label="Your photos", file_count="multiple", file_types=["image", ".heic", ".heif"], height=120, elem_id="photo-files")
                    photo_gallery = gr.Gallery(label="Click a photo to preview it", columns=5, height=140, object_fit="cover", allow_preview=False, elem_id="photo-gallery")
                    look_choice = gr.Dropdown(label="Look", choices=list(builtin_looks()), value=next(iter(builtin_looks()), None), elem_id="look-choice")
                    look_file = gr.UploadButton("Upload a look (.look or .cube)", file_types=[".look", ".cube"], size="sm", elem_id="look-file")
                    strength = gr.Slider(0, 150, value=100, step=1, label="Style strength (%)", elem_id="strength")
                    with gr.Row():
                        grain = gr.Slider(0, 100, value=0, step=1, label="Grain (%)", elem_id="grain")
                        vignette = gr.Slider(-100, 100, value=0, step=1, label="Vignette (%)", elem_id="vignette")
                    with gr.Row():
                        export_button = gr.Button("Save full-size photos", variant="primary", elem_id="export-button")
                        download_look_button = gr.Button("Download this look", elem_id="download-look-button")
                    export_file = gr.File(label="Your stylized photos", interactive=False, elem_id="export-file")
                    clear_photos_button = gr.Button("Clear my photos", size="sm")
                with gr.Column(scale=3):
                    comparison = gr.ImageSlider(label="Before / after (drag the handle)", type="pil", format="jpeg", height=560, interactive=False, elem_id="comparison")

    # --- wiring ---
    reference_files.upload(add_references, [reference_files, state], [reference_gallery, reference_notes, palette_image, histogram_image, state], api_name="add_references")
    clear_references_button.click(clear_references, [state], [reference_gallery, reference_notes, palette_image, histogram_image, state], api_name="clear_references")

    training = train_button.click(
        train_look, [look_name, steps, seed, state], [train_status, train_preview, loss_plot, look_downloads, look_choice, state],
        api_name="finetune", concurrency_limit=1, concurrency_id="finetune",
    )
    cancel_button.click(cancel_training, [state], [train_status], api_name="cancel", queue=False)

    preview_inputs = [look_choice, strength, grain, vignette, state]
    photo_files.upload(add_photos, [photo_files, *preview_inputs], [photo_gallery, comparison, state], api_name="add_photos", concurrency_id="render", concurrency_limit=2)
    photo_gallery.select(select_photo, preview_inputs, [comparison, state], api_name="select_photo", concurrency_id="render")
    clear_photos_button.click(clear_photos, [state], [photo_gallery, comparison, state], api_name="clear_photos")
    look_choice.change(choose_look, [look_choice, strength, state], [grain, vignette, comparison, state], api_name="choose_look", concurrency_id="render")
    look_file.upload(upload_look, [look_file, state], [look_choice, state], api_name="upload_look")
    for slider in (strength, grain, vignette):
        slider.input(render_preview, preview_inputs, [comparison], api_name=f"preview_{slider.elem_id}", trigger_mode="always_last",
                     show_progress="hidden", concurrency_id="render")
    export_button.click(export_photos, preview_inputs, [export_file], api_name="download", concurrency_limit=1, concurrency_id="export")
    download_look_button.click(download_look, [look_choice, state], [look_downloads], api_name="download_look").then(
        go_to_tab, gr.State("personalize"), [tabs], api_name="show_look_downloads"
    )

    example_button.click(
        load_example, [state], [reference_gallery, reference_notes, palette_image, histogram_image, photo_gallery, comparison, look_name, state], api_name="load_example"
    ).then(go_to_tab, gr.State("personalize"), [tabs], api_name="show_personalize").then(
        train_look, [look_name, steps, seed, state], [train_status, train_preview, loss_plot, look_downloads, look_choice, state],
        api_name="example_finetune", concurrency_limit=1, concurrency_id="finetune",
    ).success(go_to_tab, gr.State("stylize"), [tabs], api_name="show_stylize")
    demo.unload(cleanup_session)

demo.queue(max_size=16, default_concurrency_limit=2)  # a bounded queue; fine-tune 1 at a time, previews 2
LAUNCH_OPTIONS = {"theme": THEME, "css": CSS, "max_file_size": "50mb"}  # Gradio 6: theme and css go to launch()

if __name__ == "__main__":
    demo.launch(server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"), **LAUNCH_OPTIONS)
