"""InfluGAN in the browser: learn a creator's look from a few of their posts, and put it on your photos.

A thin layer over the ``influgan`` package: the handlers below turn UI inputs into package calls and return dicts
of component updates; the ``gr.Blocks`` body is layout and event wiring. Each visitor has a ``Session``
(``influgan/serving/session.py``): their feed, photos and looks, in a private folder inside Gradio's cache (so results
are served as they are, never copied), deleted when Gradio drops the session. Image work shares one memory
budget (``influgan/serving/budget.py``). Runs offline and on a CPU.

    pip install -r requirements.txt && python app.py        # then open http://127.0.0.1:7860
"""
from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported: no calls home

import dataclasses
import functools
import html
import inspect
import logging
import math
import queue
import re
import threading
import time
from functools import lru_cache
from pathlib import Path

import gradio as gr
from gradio.utils import get_upload_folder
from PIL import Image

import influgan
from influgan.serving.budget import BudgetTimeout, MemoryBudget, limit_malloc_arenas
from influgan.serving.plot import distance_svg
from influgan.learning.certainty import Certainty, feed_guidance
from influgan.learning.fingerprint import fingerprint, render_histograms, render_palette
from influgan.looks.finishing import grain_from_slider, slider_from_grain
from influgan.images import MIN_REFERENCES, PAINTING_SIDE, thumbnail
from influgan.looks.look import LOOK_FILE_SUFFIXES
from influgan.masks import APPLY_TO, SubjectMasks, subject_masks
from influgan.media.outputs import OutputError
from influgan.serving.session import MAX_CLIP_SECONDS, Session, SessionClosed, SessionFull, SessionStore, clean_text, process_root, sweep_files
from influgan.media.video import VideoCancelled, VideoError

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
CACHE_DIR = Path(get_upload_folder())  # Gradio's upload folder and file cache
SESSIONS_ROOT = CACHE_DIR / "influgan-sessions"

DEFAULT_STEPS = int(os.environ.get("INFLUGAN_STEPS", "200"))
PREVIEW_EVERY = 10  # steps between live previews during the fine-tune
PROGRESS_EVERY = 0.5  # seconds between progress updates at most (each costs a round of Gradio's queue)
MEMORY = MemoryBudget(int(float(os.environ.get("INFLUGAN_MEMORY_MB", "768")) * 2**20))  # all image work of the process
limit_malloc_arenas(2)  # what the budget frees goes back to the process, not to one thread's arena
FINETUNE_MEMORY = 256 * 2**20  # what a fine-tune holds beyond the references (thumbnails, networks, optimiser)
SERVER_DISK = int(float(os.environ.get("INFLUGAN_DISK_MB", "8192")) * 2**20)  # all visitors' folders together
VISITOR_DISK = {"disk_budget": int(float(os.environ["INFLUGAN_VISITOR_DISK_MB"]) * 2**20)} if "INFLUGAN_VISITOR_DISK_MB" in os.environ else {}
SESSION_IDLE = float(os.environ.get("INFLUGAN_SESSION_IDLE", "900"))  # a session unused this long (no open page pinging it) ends
UPLOAD_TTL = float(os.environ.get("INFLUGAN_UPLOAD_TTL", "600"))  # seconds an upload stays in Gradio's folder (read within seconds)
PING = max(1.0, SESSION_IDLE / 6)  # an open page tells the server it is still there this often
USER_ERRORS = (influgan.ImageError, influgan.LookError, influgan.CubeError, VideoError, SessionFull, OutputError, BudgetTimeout, ValueError)
log = logging.getLogger("influgan.app")


# --- text a visitor sent is shown as text, never as markup ----------------------------------------------------
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~<>&\"'])")


def md(text: object) -> str:
    """A user-supplied string (file name, look name, error naming them) made safe inside Markdown: every markup
    character is escaped, so ``<img src=…>`` or ``![x](http://…)`` shows as those characters and fetches nothing;
    control and text-reversing characters (NUL, U+202E) are dropped."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", clean_text(text))


def toast(text: object) -> str:
    """A string made safe for Gradio's toasts (gr.Info/Warning/Error) and HTML panels, which render HTML."""
    return html.escape(clean_text(text), quote=False)  # quotes are harmless in text: only markup characters are escaped


# --- every handler: user errors as one clear message, and never a bare "Error" --------------------------------
def _friendly(error: BaseException) -> gr.Error:
    if isinstance(error, gr.Error):
        return error
    if isinstance(error, SessionClosed):
        return gr.Error(f"Your session ended after {SESSION_IDLE / 60:.0f} minutes away, and its files were deleted. "
                        "Reload the page to start again.", print_exception=False)
    if isinstance(error, USER_ERRORS):
        return gr.Error(toast(error), print_exception=False)
    log.exception("handler failed", exc_info=error)
    return gr.Error(f"Something went wrong ({type(error).__name__}). Nothing of yours was lost; please try again.")


def handler(fn):
    """Wrap an event handler (plain or generator) so any failure reaches the visitor as one readable line."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def generator(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except Exception as error:
                raise _friendly(error) from None
        return generator

    @functools.wraps(fn)
    def plain(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as error:
            raise _friendly(error) from None
    return plain


def _number(value, what: str, low: float, high: float) -> float:
    """A slider or number from the page or the API: a finite number, clamped to its range (999 typed into a
    0–150 box is 150, and the box is told so); anything else is refused in one line."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        number = math.nan
    if not math.isfinite(number) or isinstance(value, bool):
        raise gr.Error(toast(f"{what} must be a number within {low:g}..{high:g}, got {_short(value)}"))
    return min(high, max(low, number))


def _short(value: object, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _box(raw, used: float) -> dict:
    """A slider's update after a request: its clamped value when the box held another, else no change (a
    slider being dragged is never pulled back)."""
    try:
        same = float(raw) == used
    except (TypeError, ValueError, OverflowError):
        same = False
    return gr.update() if same else gr.update(value=used)


class App(gr.Blocks):
    """gr.Blocks whose refusals of a malformed request (a value of the wrong shape or type, a file that was never
    uploaded, sent by hand over the API) are one line of plain text naming the control, never Gradio's multi-line
    report, a user's string as markup, or the server's folders."""

    async def preprocess_data(self, block_fn, inputs, state, explicit_call=False):
        try:
            return await super().preprocess_data(block_fn, inputs, state, explicit_call)
        except Exception as error:
            raise gr.Error(toast(_request_error(block_fn, inputs, error)), print_exception=False) from None


def _request_error(block_fn, inputs, error: Exception) -> str:
    """One line for a request Gradio could not read: the controls it expects, and the reason with every path named
    as the client gave it (a relative path is not shown resolved against the server's working directory)."""
    text = str(error.message if isinstance(error, gr.Error) else error).strip()
    reason = text.splitlines()[0] if text else type(error).__name__
    for given in _sent_strings(inputs):
        if given and not os.path.isabs(given):
            reason = reason.replace(os.path.abspath(given), given)
    reason = reason.replace(os.getcwd() + os.sep, "")
    if isinstance(error, gr.Error):
        return reason[:200]
    labels = ", ".join(str(getattr(block, "label", None) or type(block).__name__) for block in block_fn.inputs if not getattr(block, "stateful", False))
    return f"This request's values could not be read (expected: {labels}); {type(error).__name__}: {reason[:160]}"


def _sent_strings(value, depth: int = 0):
    """Every string in a request's values (file paths among them), nested lists and dicts included."""
    if depth > 6:
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _sent_strings(item, depth + 1)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _sent_strings(item, depth + 1)


# --- sessions ---------------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def sessions() -> SessionStore:
    """This process's sessions, in its own folder (folders of dead processes are removed on first use)."""
    return SessionStore(process_root(SESSIONS_ROOT), idle=SESSION_IDLE, memory=MEMORY, total_disk=SERVER_DISK, **VISITOR_DISK)


def sessions_root() -> Path:
    return sessions().root


def _session(state: Session | None) -> Session:
    """The visitor's session, or a new one on a first visit. One that has ended (the page was away longer than
    SESSION_IDLE) is said so, rather than silently replaced by an empty one."""
    if isinstance(state, Session):
        if state.closed:
            raise SessionClosed("session ended")
        return state
    return sessions().create()


def _claim_uploads(files: list[str] | None) -> list[str]:
    """This request's uploads, marked as in use (their modification time set to now) before the request waits for
    anything: the housekeeping sweep deletes uploads older than UPLOAD_TTL, and must not take one that a request
    waiting on the memory budget has yet to read. Only files in Gradio's upload folder are touched."""
    paths = [str(path) for path in files or []]
    cache = CACHE_DIR.resolve()
    for path in paths:
        try:
            if Path(path).resolve().is_relative_to(cache):
                os.utime(path)
        except OSError:
            pass  # reading it says what is wrong
    return paths


def keep_alive(state: Session | None) -> None:
    """The open page's ping: its session is still in use."""
    if isinstance(state, Session) and not state.closed:
        state.last_seen = time.monotonic()


def end_session(state: Session | None) -> None:
    """gr.State's delete callback (Gradio dropped the visitor's state): the folder goes with it, once any request
    of theirs still running is done."""
    if isinstance(state, Session):
        threading.Thread(target=sessions().close, args=(state,), name="influgan-end-session", daemon=True).start()


@lru_cache(maxsize=1)
def housekeeping() -> None:
    """In the background: end sessions unused for SESSION_IDLE and delete uploads older than UPLOAD_TTL from Gradio's
    folder (an upload is read into its session within seconds), so that the disk used returns to where it was."""
    def loop() -> None:
        while True:
            time.sleep(min(PING, UPLOAD_TTL / 4))
            try:
                sessions().close_idle()
                sweep_files(CACHE_DIR, UPLOAD_TTL, keep=SESSIONS_ROOT)
            except OSError:
                log.exception("housekeeping failed")

    threading.Thread(target=loop, name="influgan-housekeeping", daemon=True).start()


# --- looks -------------------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def builtin_looks() -> dict[str, influgan.Look]:
    """The looks shipped in weights/looks/, by name (loaded once, on first use)."""
    order = ["golden_hour", "teal_orange", "faded_film", "soft_pastel", "crisp_mono"]  # warm and friendly first
    paths = sorted(LOOKS_DIR.glob("*.look"), key=lambda p: (order.index(p.stem) if p.stem in order else len(order), p.stem))
    return {look.name: look for look in map(influgan.Look.load, paths)}


def _all_looks(session: Session) -> dict[str, influgan.Look]:
    return {**builtin_looks(), **session.looks}


def _look_choices(session: Session) -> list[str]:
    return list(session.looks)[::-1] + list(builtin_looks())  # the visitor's newest first


def _get_look(session: Session, name: str | None) -> influgan.Look:
    looks = _all_looks(session)
    if not isinstance(name, str) or name not in looks:
        raise gr.Error("Choose a look first (a built-in one, one you made, or upload a .look or .cube file).")
    return looks[name]


def _unique_look_name(session: Session, name: str) -> str:
    name = clean_text(name or "", 60) or "My look"  # no NUL, no U+202E reversing the dropdown's text
    taken = set(_all_looks(session))
    if name not in taken:
        return name
    index = 2
    while f"{name} ({index})" in taken:
        index += 1
    return f"{name} ({index})"


def _finish_for(look: influgan.Look, grain: float, vignette: float) -> influgan.Finish:
    """The look's finishing with the sliders' grain (0–100 % of the maximum) and vignette (−100–100 %)."""
    grain = _number(grain, "Grain", 0, 100)
    vignette = _number(vignette, "Vignette", -100, 100)
    return dataclasses.replace(look.finish, grain_amount=grain_from_slider(grain), vignette_amount=vignette / 100.0)


def _slider_values(look: influgan.Look) -> tuple[float, float]:
    """The grain and vignette sliders for a look's own finish (grain on the perceptual scale of ``grain_from_slider``)."""
    return round(slider_from_grain(look.finish.grain_amount), 1), round(100.0 * look.finish.vignette_amount, 1)


# --- references --------------------------------------------------------------------------------------------
def _references_view(session: Session, problems: list[str] = ()) -> dict:
    """Gallery, notes and fingerprint of the feed as it stands."""
    refs = session.refs
    if refs:
        print_ = fingerprint([Image.open(ref.path) for ref in refs])
        palette, histograms = render_palette(print_), render_histograms(print_)
        palette_path = session.keep_recent("palette", session.new_path("palette.png"), keep=2)
        histograms_path = session.keep_recent("histograms", session.new_path("histograms.png"), keep=2)
        palette.save(palette_path)
        histograms.save(histograms_path)
    else:
        palette_path = histograms_path = None
    lines = []
    if refs:
        count = len(refs)
        ready = ("ready to learn the look" if count >= MIN_REFERENCES else "ready to learn the look of this painting" if _paintings(refs)
                 else f"add {MIN_REFERENCES - count} more")
        lines.append(f"**{count} reference photo{'s' if count != 1 else ''}** — {ready}. Fingerprint: {md(print_.advice())}")
    if problems:
        lines.append("Skipped:\n" + "\n".join(f"- {md(problem)}" for problem in problems))
    return {
        reference_gallery: [(str(ref.path), ref.name) for ref in refs],
        reference_notes: "\n\n".join(lines),
        palette_image: str(palette_path) if palette_path else None,
        histogram_image: str(histograms_path) if histograms_path else None,
    }


@handler
def add_references(files: list[str] | None, state: Session | None):
    """Add uploaded photos to the feed; unusable files are listed with the reason and skipped; beyond
    50 the first usable ones are kept and the rest counted."""
    files = _claim_uploads(files)
    session = _session(state)
    with session.hold():
        had_example = any(photo.example for photo in session.photos)
        problems = session.add_references(files)
        updates = {**_references_view(session, problems), reference_files: None, session_state: session}
        if had_example:  # the visitor's own feed: the example photo goes too
            session.drop_photos([photo for photo in session.photos if photo.example])
            updates.update({**_photos_view(session), comparison: None})
    if files and not session.refs:
        raise gr.Error(toast("None of these files could be used as reference photos: " + "; ".join(problems)))
    if problems:
        gr.Warning(toast(f"Skipped {len(problems)} of the files; the others were kept: " + "; ".join(problems)))
    return updates


@handler
def clear_references(state: Session | None):
    """Start a new feed (the looks made so far are kept)."""
    session = _session(state)
    with session.hold():
        session.drop_references()
        return {**_references_view(session), session_state: session}


# --- personalize (fine-tune) -------------------------------------------------------------------------------
def _sample_photo(session: Session) -> Image.Image:
    """The photo the live preview shows: the visitor's current photo, else an example."""
    photo = session.current_photo()
    return thumbnail(Image.open(photo.preview) if photo else influgan.load_image(SAMPLE_PHOTO), 512)


def _progress_html(text: str, done: float | None = None) -> str:
    """The one place progress is shown: a bar (when there is a fraction done) and a line of text (already safe)."""
    bar = f'<progress max="1" value="{done:.3f}"></progress>' if done is not None else ""
    return f'<div class="train-progress">{bar}<span>{text}</span></div>'


def _render(session: Session, image: Image.Image, kind: str) -> str:
    return str(session.save_render(image, kind))


@_gpu
def _finetune_steps(references, content, settings, start, name):
    import torch  # only learning a look needs it; the rest of the app runs without

    torch.set_num_threads(min(2, os.cpu_count() or 1))  # a Space has 2 vCPUs; leave room for the web server
    yield from influgan.finetune_steps(references, content, settings, start=start, name=name)


@handler
def train_look(name: str, steps: float, seed: float, state: Session | None):
    """Fine-tune a look on the feed, streaming progress, a live preview and the distance to the feed; then offer
    the downloads and select the look on the Stylize tab. Cancel (``cancels=``) stops it at the next step; the
    last finished look's downloads stay until a new look is finished."""
    session = _session(state)
    try:
        yield from _learn(session, name, steps, seed)
    except Exception:  # a failure ends the run; a cancel (GeneratorExit) is told to Cancel's handler by the flag
        session.training = False
        raise


def _learn(session: Session, name: str, steps: float, seed: float):
    steps = int(_number(steps, "Training steps", 1, 5000))
    seed = int(_number(seed if seed is not None else 0, "Seed", 0, 2**31 - 1))
    refs = session.refs
    if len(refs) < MIN_REFERENCES and not _paintings(refs):
        raise gr.Error(f"Add at least {MIN_REFERENCES} reference photos on the References tab first (you have {len(refs)}), "
                       f"or one or two paintings of at least {PAINTING_SIDE} px.")
    with session.hold(), MEMORY.reserve(FINETUNE_MEMORY):
        content = session.content_photos()
        look_name = _unique_look_name(session, name)
        sample = _sample_photo(session)
        settings = influgan.FinetuneSettings(steps=steps, seed=seed)
        session.training = True  # Cancel says "cancelled" only while this is so
        yield {train_status: _progress_html("Reading the feed…", 0.0), loss_plot: distance_svg([], steps)}
        # the references as read on upload, once (as the CLI and the Python API read files): the same look from the same feed
        feed = influgan.read_feed([ref.reading for ref in refs], settings)
        instant = influgan.instant_look(feed.images, name=look_name)  # the learned prior: a first look in < 1 s
        if instant is not None:
            yield {train_status: _progress_html("Instant look from the prior; refining it on your feed…", 0.0),
                   train_preview: _render(session, instant.apply(sample), "training")}
        history: list[tuple[int, float]] = []
        shown = time.monotonic()
        for report in _finetune_steps(feed, content, settings, instant, look_name):
            history.append((report.step, report.losses["feed_distance"]))
            if report.result is not None:
                break
            preview = report.step % PREVIEW_EVERY == 0
            if not preview and time.monotonic() - shown < PROGRESS_EVERY:
                continue
            # the bar moves at least every PROGRESS_EVERY seconds, and a cancel or a closed tab takes effect there
            update = {train_status: _progress_html(f"Step {report.step} of {report.steps} · {report.elapsed:.1f} s", report.step / report.steps)}
            if preview:
                update.update({train_preview: _render(session, report.look().apply(sample), "training"), loss_plot: distance_svg(history, steps)})
            shown = time.monotonic()
            yield update
        look = report.result
        session.looks[look.name] = look
        session.training = False
        seconds = look.metadata.get("seconds", 0.0)
        certainty = Certainty.from_metadata(look.metadata)
        source = certainty.source() if certainty is not None and certainty.paintings else f"{len(refs)} photos"
        done = f"<b>{toast(look.name)}</b> learned from {source} in {seconds:.1f} s. It is now selected on the Stylize tab."
        if certainty is not None:  # how close it is expected to be, and what would make it closer
            done += (f"<br>How close: <b>{toast(certainty.words())}</b> (expected colour error {certainty.expected_error:.1f} ΔE). "
                     f"{toast(certainty.advice)}")
        yield {
            train_status: _progress_html(done),
            train_preview: _render(session, look.apply(sample), "training"),
            loss_plot: distance_svg(history, steps),
            look_downloads: [str(path) for path in session.look_files(look)],
            look_choice: gr.update(choices=_look_choices(session), value=look.name),
            session_state: session,
        }


def _paintings(refs) -> bool:
    """One or two references large enough to be a feed of their own (a painting: its palette and brushwork)."""
    return 1 <= len(refs) < MIN_REFERENCES and all(min(Image.open(ref.path).size) >= PAINTING_SIDE for ref in refs)


def cancel_training(state: Session | None):
    """The Cancel button: Gradio stops the running fine-tune through ``cancels=``; this says so, and says nothing
    when none runs (the last look, its downloads and its message stay as they were)."""
    if not isinstance(state, Session) or not state.training:
        return gr.update()
    state.training = False
    return _progress_html("Cancelled; nothing new was kept. Press <b>Learn this look</b> to start again.")


def empty_upload_box() -> None:
    """After an upload that was refused as a whole: the box is emptied, so no refused file lingers to be sent (and
    reported) again with the next upload. (An upload that kept some files empties the box itself.)"""
    return None


# --- stylize -----------------------------------------------------------------------------------------------
def _preview_view(session: Session, look_name: str | None, strength: float, grain: float, vignette: float,
                  protect_skin: float = 0, apply_to: str = "whole", brushwork_amount: float = 100) -> dict:
    """The before/after pair of the current photo at preview size."""
    strength = _number(strength, "Strength", 0, 150)
    protect, apply_to = _subject_controls(protect_skin, apply_to)
    brushwork_amount = _number(brushwork_amount, "Brushwork", 0, 150)
    photo = session.current_photo()
    if photo is None:
        return {comparison: None}
    if not look_name:
        return {comparison: (str(photo.preview), str(photo.preview))}
    look = _get_look(session, look_name)
    finish = _finish_for(look, grain, vignette)
    masks = _preview_masks(str(photo.preview)) if protect or apply_to != "whole" else None
    with Image.open(photo.preview) as before:
        after = look.apply(before, strength=strength / 100.0, finish=finish, protect_skin=protect, apply_to=apply_to, masks=masks,
                           brushwork=brushwork_amount / 100.0)
    return {comparison: (str(photo.preview), _render(session, after, "preview"))}


# --- subject-aware looks (issue 32): Protect skin and Apply to -------------------------------------------------
def _subject_controls(protect_skin, apply_to) -> tuple[float, str]:
    """The Protect skin slider (0–100 %) as 0..1 and the Apply to choice, checked (one line each when wrong)."""
    protect = _number(protect_skin, "Protect skin", 0, 100) / 100.0
    if apply_to not in APPLY_TO:
        raise gr.Error(toast(f"Apply to must be one of {', '.join(APPLY_TO)}, got {str(apply_to)[:40]!r}"))
    return protect, apply_to


@handler
def choose_apply_to(look_name: str, strength: float, grain: float, vignette: float, state: Session | None,
                    protect_skin: float = 0, apply_to: str = "whole", brushwork_amount: float = 100):
    """Apply to changed: re-render, and say in one line when the photo has no person (it all gets the look)."""
    session = _session(state)
    with session.hold():
        updates = {**_preview_view(session, look_name, strength, grain, vignette, protect_skin, apply_to, brushwork_amount),
                   session_state: session}
        photo = session.current_photo()
        note = _preview_masks(str(photo.preview)).note(apply_to) if photo is not None and apply_to != "whole" else None
    if note:
        gr.Info(toast(f"{photo.name}: {note}."))
    return updates


@lru_cache(maxsize=8)  # a preview's masks, kept per photo: moving a slider re-blends, never re-segments (~4 MB each)
def _preview_masks(preview_path: str) -> SubjectMasks:
    with Image.open(preview_path) as preview:
        return subject_masks(preview.convert("RGB"))


def _photos_view(session: Session) -> dict:
    has_clip = any(photo.clip for photo in session.photos)
    return {
        photo_gallery: [(str(photo.thumb), f"▶ {photo.name}" if photo.clip else photo.name) for photo in session.photos],
        clip_controls: gr.update(visible=has_clip),
    }


@handler
def add_photos(files: list[str] | None, look_name: str, strength: float, grain: float, vignette: float, state: Session | None,
               protect_skin: float = 0, apply_to: str = "whole", brushwork_amount: float = 100):
    """Add the visitor's own photos; bad files are reported and skipped. Shows the first new one."""
    files = _claim_uploads(files)
    session = _session(state)
    with session.hold():
        problems = session.add_photos(files)
        updates = {**_photos_view(session), **_preview_view(session, look_name, strength, grain, vignette, protect_skin, apply_to, brushwork_amount),
                   photo_files: None, session_state: session}
    if files and not session.photos:
        raise gr.Error(toast("None of these files is a photo InfluGAN can read: " + "; ".join(problems)))
    if problems:
        gr.Warning(toast("Skipped " + "; ".join(problems) + ". The other photos were kept."))
    return updates


@handler
def select_photo(look_name: str, strength: float, grain: float, vignette: float, state: Session | None,
                 protect_skin: float = 0, apply_to: str = "whole", brushwork_amount: float = 100, selection: gr.SelectData = None):
    """Show the photo clicked in the gallery."""
    session = _session(state)
    with session.hold():
        if selection is not None and 0 <= selection.index < len(session.photos):
            session.current = selection.index
        return {**_preview_view(session, look_name, strength, grain, vignette, protect_skin, apply_to, brushwork_amount), session_state: session}


@handler
def clear_photos(state: Session | None):
    """Forget this visitor's photos."""
    session = _session(state)
    with session.hold():
        session.drop_photos()
        return {**_photos_view(session), comparison: None, export_file: gr.update(value=None, visible=False), session_state: session}


@handler
def choose_look(look_name: str, strength: float, state: Session | None, brushwork_amount: float = 100,
                apply_to: str = "whole", protect_setting: float = 0):
    """A look was picked: set the grain and vignette sliders to its own finishing, and Protect skin to its own when
    it carries one (else the slider stays as the visitor set it), and re-render with Apply to as it stands."""
    session = _session(state)
    with session.hold():
        if not look_name:
            return {session_state: session}
        look = _get_look(session, look_name)
        grain_value, vignette_value = _slider_values(look)
        own = "protect_skin" in look.metadata
        protect_value = round(100.0 * look.default_protect_skin(), 1) if own else _number(protect_setting, "Protect skin", 0, 100)
        return {grain: grain_value, vignette: vignette_value, protect_skin: protect_value,
                **_preview_view(session, look_name, strength, grain_value, vignette_value, protect_value, apply_to,
                                brushwork_amount), session_state: session}


@handler
def upload_look(file: str | None, state: Session | None):
    """Add a .look or .cube file to this visitor's looks and select it."""
    session = _session(state)
    if not file:
        return {session_state: session}
    _claim_uploads([file])
    name = Path(file).name
    if Path(file).suffix.lower() not in LOOK_FILE_SUFFIXES:
        raise gr.Error(toast(f"{name}: a look must be an InfluGAN .look file, a .cube LUT or a Hald CLUT .png."))
    with session.hold(), MEMORY.reserve(8 * 2**20):
        try:
            look = influgan.Look.load(file)
        except (influgan.LookError, influgan.CubeError) as error:  # one message naming the file and the reason
            message = str(error)
            raise gr.Error(toast(message if name in message else f"{name}: {message}")) from None
        look.name = _unique_look_name(session, look.name or Path(file).stem)
        session.looks[look.name] = look
    gr.Info(toast(f"Added the look “{look.name}”."))
    return {look_choice: gr.update(choices=_look_choices(session), value=look.name), session_state: session}


@handler
def render_preview(look_name: str, strength_value: float, grain_value: float, vignette_value: float, state: Session | None,
                   protect_skin: float = 0, apply_to: str = "whole", brushwork_amount: float = 100):
    """Before/after of the current photo at preview size (fast: called on every slider move); a number typed out
    of a slider's range is clamped, in the box too, so the preview always shows what the boxes say."""
    session = _session(state)
    raw = strength_value, grain_value, vignette_value, brushwork_amount
    used = (_number(strength_value, "Strength", 0, 150), _number(grain_value, "Grain", 0, 100), _number(vignette_value, "Vignette", -100, 100),
            _number(brushwork_amount, "Brushwork", 0, 150))
    with session.hold():
        return {**_preview_view(session, look_name, *used[:3], protect_skin, apply_to, used[3]),
                **{box: _box(sent, value) for box, sent, value in zip((strength, grain, vignette, brushwork), raw, used)}, session_state: session}


@handler
def export_photos(look_name: str, strength: float, grain: float, vignette: float, state: Session | None,
                  protect_skin: float = 0, apply_to: str = "whole", brushwork_amount: float = 100):
    """Stylize every photo at full resolution: one file, or a zip for many."""
    session = _session(state)
    strength = _number(strength, "Strength", 0, 150)
    protect, apply_to = _subject_controls(protect_skin, apply_to)
    brushwork_amount = _number(brushwork_amount, "Brushwork", 0, 150)
    with session.hold():
        if not any(not photo.clip for photo in session.photos):
            raise gr.Error("Upload a photo first (a clip is rendered with Render video).")
        look = _get_look(session, look_name)
        result, problems = session.save_full_size(look, strength / 100.0, _finish_for(look, grain, vignette), protect, apply_to,
                                                  brushwork_amount / 100.0)
    if result is None:
        raise gr.Error(toast("None of your photos could be saved: " + "; ".join(problems)))
    if problems:
        gr.Warning(toast("Skipped " + "; ".join(problems) + ". The others were saved."))
    return {export_file: gr.update(value=str(result), visible=True), session_state: session}


@handler
def render_video(look_name: str, strength: float, grain: float, vignette: float, state: Session | None,
                 protect_skin: float = 0, apply_to: str = "whole", brushwork_amount: float = 100):
    """Put the look on the clip shown (else the newest clip): progress while frames are encoded, then a player
    and a download. Cancel (``cancels=``) stops it; nothing half-written is left."""
    session = _session(state)
    strength = _number(strength, "Strength", 0, 150)
    protect, apply_to = _subject_controls(protect_skin, apply_to)
    brushwork_amount = _number(brushwork_amount, "Brushwork", 0, 150)
    with session.hold():
        current = session.current_photo()
        clips = [photo for photo in session.photos if photo.clip]
        if not clips:
            raise gr.Error(f"Upload a clip first (MP4, MOV, WebM or MKV, up to {MAX_CLIP_SECONDS / 60:.0f} minutes).")
        clip = current if current is not None and current.clip else clips[-1]
        look = _get_look(session, look_name)
        finish = _finish_for(look, grain, vignette)
        frames: queue.Queue = queue.Queue()  # (done, total) from the render thread; None when it ends
        cancel, outcome = threading.Event(), {}

        def work() -> None:
            try:
                outcome["path"] = session.render_clip(clip, look, strength / 100.0, finish, lambda done, total: frames.put((done, total)), cancel,
                                                      protect_skin=protect, apply_to=apply_to, brushwork=brushwork_amount / 100.0)
            except BaseException as error:  # handed to this generator below
                outcome["error"] = error
            finally:
                frames.put(None)

        worker = threading.Thread(target=work, name="influgan-render", daemon=True)
        worker.start()
        try:
            yield {video_status: _progress_html(f"Rendering {toast(clip.name)}…", 0.0)}
            shown = time.monotonic()
            while (item := frames.get()) is not None:
                if time.monotonic() - shown >= PROGRESS_EVERY:
                    shown = time.monotonic()
                    yield {video_status: _progress_html(f"Frame {item[0]} of {item[1]}", item[0] / max(1, item[1]))}
        finally:  # done, or Gradio closed this generator (Cancel, a closed tab): the render stops at its next frame
            cancel.set()
            worker.join()
    if isinstance(outcome.get("error"), VideoCancelled):
        return
    if "error" in outcome:
        raise outcome["error"]
    yield {video_status: _progress_html(f"<b>{toast(clip.name)}</b> with the look “{toast(look.name)}”."), video_output: str(outcome["path"]),
           session_state: session}


def cancel_render() -> str:
    """The Cancel button under a clip: Gradio stops the render through ``cancels=``."""
    return _progress_html("Cancelled; nothing was kept.")


@handler
def download_look(look_name: str, strength_value: float, grain_value: float, vignette_value: float, state: Session | None,
                  protect_skin: float = 0, apply_to: str = "whole", brushwork_amount: float = 100):
    """The chosen look as set on the Stylize tab: a .look with the strength, grain, vignette, brushwork and protect
    skin baked in, and its colour at that strength as a .cube LUT and a Hald CLUT; each file's name says what it
    carries. (Apply to is a choice about each photo's subject: a look file does not carry it.)"""
    session = _session(state)
    strength_used = _number(strength_value, "Strength", 0, 150)
    brushwork_used = _number(brushwork_amount, "Brushwork", 0, 150)
    protect, _ = _subject_controls(protect_skin, apply_to)
    with session.hold():
        look = _get_look(session, look_name)
        files = session.look_files(look, strength_used / 100.0, _finish_for(look, grain_value, vignette_value),
                                   brushwork=brushwork_used / 100.0, protect_skin=protect)
        return {stylize_look_files: gr.update(value=[str(path) for path in files], visible=True), session_state: session}


# --- the example -------------------------------------------------------------------------------------------
@handler
def load_example(state: Session | None):
    """One click: the example feed as references and an example photo to stylize (learning follows)."""
    session = _session(state)
    with session.hold():
        session.drop_references()
        session.drop_photos()
        session.add_references(sorted(str(p) for p in EXAMPLE_FEED.glob("*.jpg")), example=True)
        session.add_photos([str(EXAMPLE_PHOTO)], example=True)
        return {
            **_references_view(session),
            **_photos_view(session),
            **_preview_view(session, None, 100, 0, 0),
            look_name: "Golden hour example",
            train_status: _progress_html("The example feed is loaded; learning its look…", 0.0),
            session_state: session,
        }


def go_to_tab(tab_id: str):
    return gr.Tabs(selected=tab_id)


# --- layout ------------------------------------------------------------------------------------------------
CSS = """
.gradio-container {max-width: 1280px !important; margin: auto;}
#hero h1 {margin-bottom: 0.2em;}
#hero p {margin-top: 0; opacity: 0.8;}
#palette img, #histograms img {border-radius: 8px;}
/* galleries: as many columns as fit (Gradio's fixed count forces 100 px a column, wider than a phone) */
#reference-gallery .grid-container, #photo-gallery .grid-container {grid-template-columns: repeat(auto-fill, minmax(72px, 1fr)) !important;}
/* the three steps fit a phone's width as tabs, none folded into a "⋯" menu */
@media (max-width: 480px) {#steps-tabs .tab-container button {padding: 0 6px !important; font-size: 14px !important;}}  /* measured copy too */
.train-progress {display: flex; flex-direction: column; gap: 6px; padding: 4px 0;}
.train-progress progress {width: 100%; height: 8px; border: 0; border-radius: 4px; overflow: hidden; background: var(--neutral-200); accent-color: var(--color-accent);}
.train-progress progress::-webkit-progress-bar {background: var(--neutral-200);}
.train-progress progress::-webkit-progress-value {background: var(--color-accent);}
/* the distance plot (influgan/serving/plot.py): an SVG that scales whole, so no axis or digit is cut off */
.distance-plot svg {display: block; width: 100%; height: auto;}
.distance-plot .grid {stroke: var(--border-color-primary); stroke-width: 1;}
.distance-plot .axis {stroke: var(--body-text-color-subdued); stroke-width: 1;}
.distance-plot text {fill: var(--body-text-color-subdued); font-size: 14px; font-family: system-ui, sans-serif;}
.distance-plot .plot-caption {font-size: 14px; font-weight: 600; margin: 4px 0;}
.distance-plot .title {fill: var(--body-text-color);}
.distance-plot .raw {fill: none; stroke: var(--color-accent); stroke-opacity: 0.3; stroke-width: 1;}
.distance-plot .smoothed {fill: none; stroke: var(--color-accent); stroke-width: 2.5; stroke-linejoin: round;}
.empty-note {color: var(--body-text-color-subdued); padding: 12px; border: 1px dashed var(--border-color-primary); border-radius: 8px; font-size: 14px;}
/* empty panels say what will appear in them, under Gradio's grey icon */
.empty.unpadded_box {flex-direction: column; gap: 10px;}
.empty.unpadded_box::after {font-size: 14px; line-height: 1.3; text-align: center; padding: 0 16px; color: var(--body-text-color-subdued);}
#reference-gallery .empty::after {content: "Your feed's photos appear here";}
#palette .empty::after {content: "Your feed's palette appears here";}
#histograms .empty::after {content: "Its tone and colour histograms appear here";}
#train-preview .empty::after {content: "The look on one of your photos appears here as it learns";}
#look-downloads .empty::after {content: "The look's files (.look, .cube, Hald .png) appear here once it is learned";}
#photo-gallery .empty::after {content: "Your photos and clips appear here";}
#comparison .empty::after {content: "Your photo before and after the look appears here";}
#video-output .empty::after {content: "Your clip with the look plays here";}
/* a phone: the before/after box as tall as the photo shown in it (a fixed 560 px left a landscape photo in 340 px of
   blank), its label and buttons above the photo rather than on it */
@media (max-width: 640px) {
  #comparison, #comparison .image-container, #comparison .slider-wrap, #comparison .slider-wrap > .wrap,
  #comparison .content {height: auto !important;}
  #comparison .image-container {padding-top: 58px;}
  #comparison .empty {min-height: 240px;}
}
/* two buttons side by side: one line each, one height */
#train-buttons button {white-space: nowrap;}
/* touch screens: every control at least 44 px high (Apple's and Google's minimum touch target) */
@media (pointer: coarse) {
  button, input[type=number], .label-wrap {min-height: 44px !important;}
  input[type=number] {font-size: 16px !important;}
  .tab-like-container {height: auto !important; min-height: 44px;}  /* a slider's number box: not cut */
}
"""
# the page scrolls only when what matters is not in view already (a phone: the columns are stacked)
_SCROLL_JS = """() => { setTimeout(() => { const top = document.querySelector('%s'), end = document.querySelector('%s');
  if (!top || !end) return; const a = top.getBoundingClientRect(), b = end.getBoundingClientRect();
  if (a.top < 0 || b.bottom > window.innerHeight) window.scrollBy({top: a.top - 8, behavior: 'instant'}); }, 300); }"""
SHOW_TRAINING = _SCROLL_JS % ("#train-status", "#train-preview")  # progress, distance plot and live preview
SHOW_RESULT = _SCROLL_JS % ("#comparison", "#comparison")  # the before/after of the example's photo
THEME = gr.themes.Soft(primary_hue="pink", secondary_hue="amber", font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])  # no web fonts: offline
QUIET = {"show_progress": "hidden"}  # no overlays, no red "Error" pills: errors come as one toast, panels keep their state

with App(title="InfluGAN — learn a creator's look") as demo:
    session_state = gr.State(None, delete_callback=end_session, time_to_live=6 * 3600)
    ping = gr.Timer(PING)
    with gr.Row(elem_id="hero"):
        with gr.Column(scale=4):
            gr.Markdown(
                "# InfluGAN\n"
                "Learn a creator's photo look from a few of their posts, then put it on your own photos — "
                "and take it to Lightroom, Premiere, Resolve or CapCut as a `.cube` LUT."
            )
        with gr.Column(scale=1, min_width=160):
            example_button = gr.Button("Try the example", variant="primary", elem_id="example-button")
    with gr.Tabs(selected="references", elem_id="steps-tabs") as tabs:
        with gr.Tab("1 · References", id="references"):
            gr.Markdown("Drop **3–50 photos** from one creator's feed. JPEG, PNG, WebP and HEIC are fine; files that can't be used are listed and skipped. "
                        + feed_guidance())
            with gr.Row():
                with gr.Column(scale=3, min_width=280):
                    reference_files = gr.File(
                        label="Reference photos", file_count="multiple", file_types=["image", ".heic", ".heif"], height=140, elem_id="reference-files"
                    )
                    reference_gallery = gr.Gallery(label="The feed", columns=6, height=330, object_fit="cover", elem_id="reference-gallery")
                    reference_notes = gr.Markdown(elem_id="reference-notes")
                    clear_references_button = gr.Button("Clear the feed", size="sm", variant="secondary")
                with gr.Column(scale=2, min_width=280):
                    gr.Markdown("### Style fingerprint\nWhat the look is learned from: the feed's dominant colours and how its tones and channels are spread.")
                    palette_image = gr.Image(label="Palette", show_label=False, type="filepath", interactive=False, elem_id="palette",
                                             buttons=[], container=False)
                    histogram_image = gr.Image(label="Tone and colour histograms", show_label=False, type="filepath", interactive=False,
                                               elem_id="histograms", buttons=[], container=False)
        with gr.Tab("2 · Personalize", id="personalize"):
            # on a phone the columns stack: controls, progress, the distance plot, the live preview; then the downloads
            # and Advanced, so that while it learns, the progress, plot and preview are in view together
            with gr.Row():
                with gr.Column(scale=2, min_width=280):
                    look_name = gr.Textbox(label="Name your look", value="My look", max_length=60, elem_id="look-name")
                    with gr.Row(elem_id="train-buttons", equal_height=True):
                        train_button = gr.Button("Learn this look", variant="primary", elem_id="train-button", scale=2, min_width=140)
                        cancel_button = gr.Button("Cancel", variant="stop", elem_id="cancel-button", scale=1, min_width=80)
                    train_status = gr.HTML(_progress_html("Uses the feed from the References tab, and your own photos from the Stylize tab if you uploaded some."), elem_id="train-status")
                    loss_plot = gr.HTML(distance_svg([], DEFAULT_STEPS), label="Colour distance to the feed (ΔE, lower is closer)", elem_id="distance-plot")
                with gr.Column(scale=3, min_width=280):
                    train_preview = gr.Image(label="Live preview", type="filepath", interactive=False, height=380, elem_id="train-preview")
            with gr.Row():
                with gr.Column(scale=3, min_width=280):
                    look_downloads = gr.File(label="Download the look: .look (all of it), .cube and Hald .png (its colour, for Lightroom, Resolve, darktable…)",
                                             file_count="multiple", interactive=False, elem_id="look-downloads")
                with gr.Column(scale=2, min_width=280):
                    with gr.Accordion("Advanced", open=False):
                        steps = gr.Slider(10, 1000, value=DEFAULT_STEPS, step=10, label="Training steps", elem_id="steps")
                        seed = gr.Number(value=0, precision=0, minimum=0, maximum=2**31 - 1, label="Seed", elem_id="seed")
        with gr.Tab("3 · Stylize", id="stylize"):
            with gr.Row():
                with gr.Column(scale=2, min_width=280):
                    photo_files = gr.File(label="Your photos and clips", file_count="multiple", file_types=["image", ".heic", ".heif", "video"],
                                          height=120, elem_id="photo-files")
                    photo_gallery = gr.Gallery(label="Click a photo to preview it", columns=5, height=140, object_fit="cover", allow_preview=False, elem_id="photo-gallery")
                    # allow_custom_value: an unknown name reaches the handler, which refuses it in plain text (Gradio's own refusal
                    # would render the name as markup in its toast)
                    look_choice = gr.Dropdown(label="Look", choices=list(builtin_looks()), value=next(iter(builtin_looks()), None), allow_custom_value=True,
                                              elem_id="look-choice")
                    look_file = gr.UploadButton("Upload a look (.look, .cube or Hald .png)", file_types=list(LOOK_FILE_SUFFIXES), size="sm", elem_id="look-file")
                    strength = gr.Slider(0, 150, value=100, step=1, label="Style strength (%)", elem_id="strength")
                    brushwork = gr.Slider(0, 150, value=100, step=1, label="Brushwork (%): a painterly look's strokes; 0 = colour only", elem_id="brushwork")
                    with gr.Row():
                        grain = gr.Slider(0, 100, value=0, step=1, label="Grain (%)", info="100 %: Tri-X pushed", elem_id="grain", min_width=120)
                        vignette = gr.Slider(-100, 100, value=0, step=1, label="Vignette (%)", info="below 0 lightens the corners", elem_id="vignette", min_width=120)
                    with gr.Row():  # subject-aware looks (issue 32)
                        protect_skin = gr.Slider(0, 100, value=0, step=1, label="Protect skin (%)", elem_id="protect_skin", min_width=120)
                        apply_to = gr.Radio([("Whole photo", "whole"), ("Subject", "subject"), ("Background", "background")], value="whole",
                                            label="Apply to", elem_id="apply-to", min_width=120)
                    with gr.Row(equal_height=True):
                        export_button = gr.Button("Save full-size photos", variant="primary", elem_id="export-button", min_width=120)
                        download_look_button = gr.Button("Download this look", elem_id="download-look-button", min_width=120)
                with gr.Column(scale=3, min_width=280):
                    comparison = gr.ImageSlider(label="Before / after", type="filepath", height=560, interactive=False, elem_id="comparison")
                    export_file = gr.File(label="Your stylized photos", interactive=False, visible=False, elem_id="export-file")
                    with gr.Column(visible=False, elem_id="clip-controls") as clip_controls:
                        with gr.Row():
                            render_button = gr.Button("Render video", variant="primary", elem_id="render-button", min_width=120)
                            cancel_render_button = gr.Button("Cancel", variant="stop", elem_id="cancel-render-button", min_width=80)
                        video_status = gr.HTML(_progress_html(f"The clip shown (else your newest) gets the look, with its sound. Up to {MAX_CLIP_SECONDS / 60:.0f} minutes."),
                                               elem_id="video-status")
                        video_output = gr.Video(label="Your clip with the look", interactive=False, elem_id="video-output")
                    stylize_look_files = gr.File(label="This look as set here: the .look carries strength, grain and vignette (and brushwork); .cube and Hald .png the colour only",
                                                 file_count="multiple", interactive=False, visible=False, elem_id="stylize-look-files")
                    clear_photos_button = gr.Button("Clear my photos", size="sm")

    # --- wiring ---
    reference_outputs = [reference_gallery, reference_notes, palette_image, histogram_image, reference_files, photo_gallery, comparison, clip_controls, session_state]
    reference_files.upload(add_references, [reference_files, session_state], reference_outputs, api_name="add_references", **QUIET).failure(  # a refused upload: its files leave the box (a success empties it itself)
        empty_upload_box, None, [reference_files], queue=False, api_visibility="private", **QUIET)
    clear_references_button.click(clear_references, [session_state], [reference_gallery, reference_notes, palette_image, histogram_image, session_state],
                                  api_name="clear_references", **QUIET)

    training_outputs = [train_status, train_preview, loss_plot, look_downloads, look_choice, session_state]
    train_button.click(None, js=SHOW_TRAINING)  # on a phone: progress, plot and preview in view
    training = train_button.click(train_look, [look_name, steps, seed, session_state], training_outputs, preprocess=False,  # numbers checked by train_look
                                  api_name="finetune", concurrency_limit=1, concurrency_id="finetune", **QUIET)

    preview_inputs = [look_choice, strength, grain, vignette, session_state, protect_skin, apply_to, brushwork]  # new controls last: older API calls keep their defaults
    photo_files.upload(add_photos, [photo_files, *preview_inputs], [photo_gallery, comparison, photo_files, clip_controls, session_state], api_name="add_photos",
                       concurrency_id="render", concurrency_limit=2, **QUIET).failure(  # a refused upload: its files leave the box (a success empties it itself)
        empty_upload_box, None, [photo_files], queue=False, api_visibility="private", **QUIET)
    photo_gallery.select(select_photo, preview_inputs, [comparison, session_state], api_name="select_photo", concurrency_id="render", **QUIET)
    clear_photos_button.click(clear_photos, [session_state], [photo_gallery, clip_controls, comparison, export_file, session_state], api_name="clear_photos", **QUIET)
    look_choice.change(choose_look, [look_choice, strength, session_state, brushwork, apply_to, protect_skin], [grain, vignette, protect_skin, comparison, session_state], api_name="choose_look",
                       concurrency_id="render", **QUIET)
    look_file.upload(upload_look, [look_file, session_state], [look_choice, session_state], api_name="upload_look", **QUIET)
    for slider in (strength, grain, vignette, protect_skin, brushwork):
        # preprocess=False: the numbers reach render_preview as sent, which clamps them and puts the clamped value back
        # in its box (Gradio's own check would refuse 999 and leave the box and the preview apart)
        slider.input(render_preview, preview_inputs, [comparison, strength, grain, vignette, brushwork, session_state], api_name=f"preview_{slider.elem_id}",
                     trigger_mode="always_last",
                     concurrency_id="render", preprocess=False, **QUIET)
    apply_to.input(choose_apply_to, preview_inputs, [comparison, session_state], api_name="preview_apply_to", concurrency_id="render", **QUIET)
    export_button.click(export_photos, preview_inputs, [export_file, session_state], api_name="download", concurrency_limit=1, concurrency_id="export",
                        show_progress_on=[export_file])
    rendering = render_button.click(render_video, preview_inputs, [video_status, video_output, session_state], api_name="render_video",
                                    concurrency_limit=1, concurrency_id="export", **QUIET)  # the queue of full-size work
    cancel_render_button.click(cancel_render, None, [video_status], cancels=[rendering], queue=False, api_visibility="private")
    download_look_button.click(download_look, preview_inputs, [stylize_look_files, session_state], api_name="download_look", **QUIET)

    example_training = example_button.click(
        load_example, [session_state], [*reference_outputs[:4], photo_gallery, comparison, clip_controls, look_name, train_status, session_state], api_name="load_example", **QUIET
    ).then(go_to_tab, gr.State("personalize"), [tabs], api_name="show_personalize").then(None, js=SHOW_TRAINING).then(
        train_look, [look_name, steps, seed, session_state], training_outputs, api_name="example_finetune", concurrency_limit=1, concurrency_id="finetune",
        preprocess=False, **QUIET
    )
    example_training.success(go_to_tab, gr.State("stylize"), [tabs], api_name="show_stylize").then(None, js=SHOW_RESULT)
    ping.tick(keep_alive, [session_state], None, queue=False, show_progress="hidden", api_visibility="private")
    # the browser cancels the fine-tune itself (cancels=); an API client cancels its own job (gradio_client: job.cancel())
    cancel_button.click(cancel_training, [session_state], [train_status], cancels=[training, example_training], queue=False, api_visibility="private")

demo.queue(max_size=16, default_concurrency_limit=2)  # a bounded queue; fine-tune 1 at a time, previews 2
# Gradio 6: theme and css go to launch(); show_error: a value Gradio itself refuses (a word for a slider, say) is named, not "Error"
# enable_monitoring: Gradio's /monitoring/summary (handler names, counts) is public unless turned off; INFLUGAN_MONITORING=1 asks for it
LAUNCH_OPTIONS = {"theme": THEME, "css": CSS, "max_file_size": "256mb", "show_error": True,
                  "enable_monitoring": os.environ.get("INFLUGAN_MONITORING") == "1"}


def launch(**options) -> None:
    """Serve the app: this process's session folder is made (stale ones of dead processes removed), and idle
    sessions and old uploads are cleaned up in the background."""
    sessions()
    housekeeping()
    demo.launch(**{**LAUNCH_OPTIONS, **options})


if __name__ == "__main__":
    launch(server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
