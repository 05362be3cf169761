"""End-to-end tests in a real browser: Debian's Chromium driven by Playwright against the app on 127.0.0.1.

- the whole path on a desktop: references, a photo, a fine-tune whose live preview changes while it runs, the
  strength slider, the full-resolution download (prints timings);
- the example in one click;
- the layout at 1366×900 and on a phone (390×844): no sideways scrolling on any tab with 50 references and
  20 photos, all three steps one tap away (saves ``docs/screenshot-*.png`` when ``INFLUGAN_DOCS_SCREENSHOTS`` is
  set, else in a temporary folder);
- hostile strings (a look named like markup, a file named like a script) show as text and fetch nothing; a bad
  upload gives one message and no red "Error" pill, and the panels keep what they showed.
"""
from __future__ import annotations

import http.server
import os
import re
import shutil
import threading
import time
from pathlib import Path

import pytest
from conftest import synthetic_photo
from PIL import Image

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
sync_api = pytest.importorskip("playwright.sync_api")

from app_server import free_port, running_app  # noqa: E402

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMEOUT = 120_000  # ms; the fine-tune shares 2 cores with the browser
DESKTOP = {"viewport": {"width": 1366, "height": 900}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
TABS = ("1 · References", "2 · Personalize", "3 · Stylize")


@pytest.fixture(scope="module")
def url():
    with running_app(steps=int(os.environ.get("INFLUGAN_E2E_STEPS", "20"))) as address:
        yield address


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield chromium
        chromium.close()


def open_app(browser, url, device=DESKTOP, **options):
    context = browser.new_context(**device, **options)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    page.goto(url, wait_until="load")
    page.locator("#reference-files").wait_for(state="visible")
    return page


def screenshot_path(name: str, tmp_path: Path) -> Path:
    folder = ROOT / "docs" if os.environ.get("INFLUGAN_DOCS_SCREENSHOTS") else tmp_path
    return folder / name


def _after_src(page) -> str:
    images = page.locator("#comparison img")
    return images.nth(images.count() - 1).get_attribute("src") or ""


def test_create_and_apply_a_look(url, browser, tmp_path):
    references = []
    for seed in range(5):
        path = tmp_path / f"post_{seed}.jpg"
        synthetic_photo(seed + 20, (400, 300)).save(path, quality=92)
        references.append(str(path))
    photo = tmp_path / "holiday.png"
    synthetic_photo(7, (1200, 900)).save(photo)
    timings = {}

    started = time.perf_counter()
    page = open_app(browser, url, accept_downloads=True)
    timings["page load"] = time.perf_counter() - started

    # 1 · References
    page.locator("#reference-files input[type=file]").set_input_files(references)
    page.locator("#reference-notes").get_by_text("5 reference photos").wait_for()
    page.locator("#palette img").wait_for()
    page.locator("#histograms img").wait_for()
    assert page.locator("#reference-gallery img").count() >= 5

    # 3 · Stylize: the photo first, so the fine-tune uses it as content and previews on it
    page.get_by_role("tab", name="3 · Stylize").click()
    page.locator("#photo-files input[type=file]").set_input_files([str(photo)])
    page.locator("#comparison img").first.wait_for()

    # 2 · Personalize: the live preview stays visible and changes while the look is learned
    page.get_by_role("tab", name="2 · Personalize").click()
    page.locator("#look-name textarea, #look-name input").first.fill("Browser look")
    page.get_by_text("Advanced").click()
    steps = page.locator("#steps input[type=number]")
    steps.fill("60")
    steps.press("Enter")
    started = time.perf_counter()
    page.locator("#train-button").click()
    page.wait_for_function(  # learning, and a step's preview (not the instant look's) is shown
        "() => { const m = document.querySelector('#train-status').innerText.match(/Step (\\d+) of/); return m && +m[1] >= 10; }"
    )
    source = page.locator("#train-preview img").get_attribute("src")
    first = page.locator("#train-preview").screenshot()
    page.wait_for_function(  # a later step's preview has arrived and loaded
        "(old) => { const img = document.querySelector('#train-preview img'); return img && img.getAttribute('src') !== old && img.complete; }", arg=source
    )
    assert page.locator("#train-status").get_by_text("Step").count() == 1  # still learning
    second = page.locator("#train-preview").screenshot()
    assert first != second, "the live preview did not change during the fine-tune"
    assert page.locator("#train-preview img").is_visible()
    page.locator("#train-status").get_by_text("learned from 5 photos").wait_for()
    assert page.locator("#train-status").get_by_text("Step").count() == 0  # one progress line, now the result
    timings["fine-tune (click to done)"] = time.perf_counter() - started
    assert page.locator("#look-downloads").get_by_text(".cube").count() >= 1

    # 3 · Stylize with the new look: move the strength slider, watch the preview change
    page.get_by_role("tab", name="3 · Stylize").click()
    assert page.locator("#look-choice input").input_value() == "Browser look"
    page.locator("#comparison img").first.wait_for()
    time.sleep(1.0)  # let the look's own re-render settle
    before = _after_src(page)
    track = page.locator("#strength input[type=range]")
    box = track.bounding_box()
    started = time.perf_counter()
    page.mouse.click(box["x"] + box["width"] * 0.3, box["y"] + box["height"] / 2)
    page.wait_for_function(
        "(old) => { const imgs = document.querySelectorAll('#comparison img'); return imgs.length && imgs[imgs.length - 1].src !== old; }",
        arg=before,
    )
    timings["slider round trip"] = time.perf_counter() - started
    assert 20 <= float(page.locator("#strength input[type=number]").input_value()) <= 70
    assert "influgan-sessions" in _after_src(page)  # served from the visitor's folder, not copied into Gradio's cache

    started = time.perf_counter()
    page.locator("#export-button").click()
    link = page.locator("#export-file a").first
    link.wait_for()
    with page.expect_download() as download_info:
        link.click()
    download = download_info.value
    timings["full-resolution download"] = time.perf_counter() - started
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert Image.open(saved).size == (1200, 900)

    shot = Path(os.environ.get("INFLUGAN_SCREENSHOT", tmp_path / "influgan.png"))
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    page.close()
    print("\n" + "\n".join(f"{name}: {seconds:.2f} s" for name, seconds in timings.items()) + f"\nscreenshot: {shot}")


def test_example_in_one_click(url, browser, tmp_path):
    """The live-demo path: one click loads the example feed and photo, learns the look and shows the result."""
    page = open_app(browser, url, {"viewport": {"width": 1366, "height": 860}})
    started = time.perf_counter()
    page.locator("#example-button").click()
    page.locator("#reference-notes").get_by_text("8 reference photos").wait_for(state="attached")  # its tab is left at once
    page.locator("#train-status").get_by_text("learned from 8 photos").wait_for(state="attached")
    page.locator("#comparison img").first.wait_for()
    page.wait_for_function("() => document.querySelector('#look-choice input').value === 'Golden hour example'")
    assert page.locator("#comparison").is_visible()  # the Stylize tab is shown
    time.sleep(1.0)  # the chosen look's preview
    seconds = time.perf_counter() - started
    page.evaluate("window.scrollTo(0, 0)")
    shot = Path(os.environ.get("INFLUGAN_EXAMPLE_SCREENSHOT", tmp_path / "influgan_example.png"))
    page.screenshot(path=str(shot))
    page.close()
    print(f"\nexample, click to result: {seconds:.2f} s\nscreenshot: {shot}")


# --- layout on a desktop and on a phone --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def many_files(tmp_path_factory):
    """50 references and 20 photos, made from the example photos (so the screenshots show real photos)."""
    folder = tmp_path_factory.mktemp("many")
    sources = sorted((ROOT / "examples" / "feed").glob("*.jpg")) + sorted((ROOT / "examples" / "content").glob("*.jpg"))
    refs, photos = [], []
    for index in range(50):
        refs.append(folder / f"post_{index:02d}_saved_from_a_social_app_with_a_long_name.jpg")
        Image.open(sources[index % len(sources)]).save(refs[-1], quality=80)
    for index in range(20):
        photos.append(folder / f"IMG_{1000 + index}.jpg")
        Image.open(sources[(index * 3) % len(sources)]).save(photos[-1], quality=85)
    return [str(p) for p in refs], [str(p) for p in photos]


def upload_look_file(page, path: Path) -> None:
    """The "Upload a look" button opens a file chooser."""
    with page.expect_file_chooser() as chooser:
        page.locator("#look-file").click()
    chooser.value.set_files([str(path)])


def page_width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


@pytest.mark.parametrize("device, name", [(DESKTOP, "desktop"), (PHONE, "phone")])
def test_no_sideways_scrolling_and_every_step_one_tap_away(url, browser, many_files, tmp_path, device, name):
    refs, photos = many_files
    page = open_app(browser, url, device)
    width = device["viewport"]["width"]
    for tab in TABS:  # every step is a visible tab, none folded into a "more" menu (once Gradio has laid the bar out)
        try:
            page.get_by_role("tab", name=tab).wait_for(state="visible", timeout=10_000)
        except sync_api.TimeoutError:
            pytest.fail(f"{tab} is not one tap away on the {name}")
    page.locator("#reference-files input[type=file]").set_input_files(refs)
    page.locator("#reference-notes").get_by_text("50 reference photos").wait_for()
    page.locator("#histograms img").wait_for()
    assert page_width(page) <= width, f"References: the page is {page_width(page)} px wide on a {width} px {name}"
    page.screenshot(path=str(screenshot_path(f"screenshot-{name}-references.png", tmp_path)), full_page=name == "phone")

    page.get_by_role("tab", name="3 · Stylize").click()
    page.locator("#photo-files input[type=file]").set_input_files(photos)
    page.locator("#comparison img").first.wait_for()
    page.wait_for_function("() => document.querySelectorAll('#photo-gallery img').length >= 20")
    assert page_width(page) <= width, f"Stylize: the page is {page_width(page)} px wide on a {width} px {name}"
    controls, result = page.locator("#export-button").bounding_box(), page.locator("#comparison").bounding_box()
    if name == "phone":  # the result is the first thing under the controls
        assert 0 <= result["y"] - (controls["y"] + controls["height"]) < 60
    page.screenshot(path=str(screenshot_path(f"screenshot-{name}-stylize.png", tmp_path)), full_page=name == "phone")

    page.get_by_role("tab", name="2 · Personalize").click()
    page.locator("#train-button").wait_for()
    assert page_width(page) <= width, f"Personalize: the page is {page_width(page)} px wide on a {width} px {name}"
    page.context.close()


# --- hostile strings and bad uploads ------------------------------------------------------------------------------
@pytest.fixture
def listener():
    """A local HTTP server that counts the requests it gets: markup in a user's string must never reach it."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()


def test_markup_in_names_is_shown_as_text(url, browser, tmp_path, listener):
    address, hits = listener
    title = f'<img src="{address}/look-title"><b>bold</b>'
    cube = tmp_path / "markup.cube"
    cube.write_text(f'TITLE "{title}"\nLUT_3D_SIZE 2\n' + "".join(f"{r} {g} {b}\n" for b in (0, 1) for g in (0, 1) for r in (0, 1)))
    script = tmp_path / '<img src=x onerror="window.pwned=1">.jpg'
    script.write_bytes(b"not a photo")
    page = open_app(browser, url)

    page.locator("#reference-files input[type=file]").set_input_files([str(script)])
    page.get_by_text("window.pwned=1", exact=False).first.wait_for()  # named, as text, in the message

    page.get_by_role("tab", name="3 · Stylize").click()
    upload_look_file(page, cube)
    page.get_by_text("<b>bold</b>", exact=False).first.wait_for()  # "Added the look …" shows the markup as text
    page.wait_for_function(f"() => document.querySelector('#look-choice input').value.includes('{address}')")
    page.wait_for_timeout(1000)
    assert hits == [], f"the browser fetched {hits}"
    assert page.evaluate("window.pwned") is None
    page.context.close()


def test_a_bad_upload_gives_one_message_and_keeps_the_panels(url, browser, tmp_path):
    bad = tmp_path / "broken.cube"
    bad.write_text('TITLE "x"\nLUT_3D_SIZE 2\n0 0 0\n')
    page = open_app(browser, url)
    page.get_by_role("tab", name="3 · Stylize").click()
    chosen = page.locator("#look-choice input").input_value()
    upload_look_file(page, bad)
    page.get_by_text("broken.cube", exact=False).first.wait_for()  # the toast names the file and the reason
    page.get_by_role("tab", name="2 · Personalize").click()
    page.locator("#train-button").click()  # no feed yet
    page.get_by_text("Add at least 3 reference photos", exact=False).first.wait_for()
    page.wait_for_timeout(500)
    pills = page.evaluate(  # Gradio keeps a hidden pill in every panel; a shown one has an opaque tracker
        "() => [...document.querySelectorAll(\"[data-testid='status-tracker'] .error\")]"
        ".filter(e => getComputedStyle(e.closest(\"[data-testid='status-tracker']\")).opacity !== '0').length"
    )
    assert pills == 0, "a red Error pill covers a panel"
    page.get_by_role("tab", name="3 · Stylize").click()
    assert page.locator("#look-choice input").input_value() == chosen
    page.context.close()


# --- a clip on the Stylize tab ------------------------------------------------------------------------------------
def test_a_clip_renders_plays_and_cancels(url, browser, tmp_path):
    from test_video import make_clip

    short, long = tmp_path / "short.mp4", tmp_path / "long.mp4"
    make_clip(short, size=(160, 96), frames=24, fps=24)
    make_clip(long, size=(640, 360), frames=600, fps=30, audio=None)  # 20 s: time to press Cancel
    page = open_app(browser, url)
    page.get_by_role("tab", name="3 · Stylize").click()
    page.locator("#photo-files input[type=file]").set_input_files([str(short)])
    page.locator("#render-button").wait_for()  # the clip's controls appear with a clip
    page.locator("#comparison img").first.wait_for()
    page.locator("#render-button").click()
    page.wait_for_function("() => { const v = document.querySelector('#video-output video'); return v && v.readyState >= 2; }")
    assert abs(page.evaluate("document.querySelector('#video-output video').duration") - 1.0) < 0.1

    page.locator("#photo-files input[type=file]").set_input_files([str(long)])
    page.wait_for_function("() => document.querySelectorAll('#photo-gallery img').length >= 2")
    page.locator("#render-button").click()
    page.locator("#video-status").get_by_text("Frame", exact=False).wait_for()
    page.locator("#cancel-render-button").click()
    page.locator("#video-status").get_by_text("Cancelled", exact=False).wait_for()
    page.wait_for_timeout(2000)
    assert "Cancelled" in page.locator("#video-status").inner_text()  # no late result overwrote it
    page.context.close()


# --- issue 29: what a first-time visitor hit on a desktop and on a phone --------------------------------------------
DEVICES = [(DESKTOP, "desktop"), (PHONE, "phone")]


def in_view(page, selector: str) -> bool:
    """Whether the element is wholly inside the viewport (allowing 1 px of rounding)."""
    box, height = page.locator(selector).bounding_box(), page.viewport_size["height"]
    return box is not None and box["y"] >= -1 and box["y"] + box["height"] <= height + 1


def feed_files(tmp_path: Path, count: int = 4) -> list[str]:
    paths = []
    for seed in range(count):
        paths.append(tmp_path / f"post_{seed}.jpg")
        synthetic_photo(seed + 40, (400, 300)).save(paths[-1], quality=90)
    return [str(p) for p in paths]


def texts_inside_the_plot(page) -> list[str]:
    """The plot's labels that are not wholly inside its drawing (cut off, or digits lost at an edge)."""
    return page.evaluate("""() => { const svg = document.querySelector('#distance-plot svg'); const s = svg.getBoundingClientRect();
        return [...svg.querySelectorAll('text')].filter(t => { const r = t.getBoundingClientRect();
            return r.left < s.left - 0.5 || r.right > s.right + 0.5 || r.top < s.top - 0.5 || r.bottom > s.bottom + 0.5; }).map(t => t.textContent); }""")


@pytest.mark.parametrize("device, name", DEVICES)
def test_learning_keeps_progress_plot_and_preview_in_view_and_the_last_downloads(url, browser, tmp_path, device, name):
    page = open_app(browser, url, device)
    page.locator("#reference-files input[type=file]").set_input_files(feed_files(tmp_path))
    page.locator("#reference-notes").get_by_text("4 reference photos").wait_for()
    page.get_by_role("tab", name="2 · Personalize").click()
    heights = [page.locator(f"#{button}").bounding_box()["height"] for button in ("train-button", "cancel-button")]
    assert abs(heights[0] - heights[1]) < 1, f"Learn this look and Cancel differ in height on the {name}: {heights}"
    page.locator("#cancel-button").click()  # nothing runs: nothing is said
    page.wait_for_timeout(800)
    assert "Cancelled" not in page.locator("#train-status").inner_text()

    page.locator("#train-button").click()
    page.wait_for_function("() => /Step (\\d+) of/.test(document.querySelector('#train-status').innerText)")
    page.locator("#distance-plot svg").wait_for()
    page.wait_for_timeout(800)  # the page settles where it scrolled
    for selector in ("#train-status", "#distance-plot", "#train-preview"):
        assert in_view(page, selector), f"{selector} is out of view on the {name} while the look learns"
    if name == "phone":
        page.screenshot(path=str(screenshot_path("screenshot-phone-training.png", tmp_path)))
    page.locator("#train-status").get_by_text("learned from 4 photos").wait_for()
    assert texts_inside_the_plot(page) == [], f"the plot's labels are cut off on the {name}"
    labels = page.evaluate("[...document.querySelectorAll('#distance-plot text')].map(t => t.textContent)")
    assert "0" in labels and "step" in labels and "ΔE" in labels
    if name == "desktop":
        page.screenshot(path=str(screenshot_path("screenshot-desktop-personalize.png", tmp_path)))
    files = page.locator("#look-downloads tbody tr")
    assert files.count() == 3
    for index in range(3):  # all three files in view in their box, none behind an inner scroll
        assert files.nth(index).is_visible()
    scrolled = page.evaluate("""() => [...document.querySelectorAll('#look-downloads *')].filter(e =>
        e.scrollHeight > e.clientHeight + 2 && ['auto', 'scroll'].includes(getComputedStyle(e).overflowY)).length""")
    assert scrolled == 0, f"the downloads box scrolls inside on the {name}"
    page.locator("#cancel-button").click()  # idle again: the look and its message stay
    page.wait_for_timeout(800)
    assert "learned from 4 photos" in page.locator("#train-status").inner_text()

    page.locator("#train-button").click()  # a new run: the last look's files stay until it finishes; cancelled, they stay
    page.wait_for_function("() => /Step (\\d+) of/.test(document.querySelector('#train-status').innerText)")
    assert page.locator("#look-downloads tbody tr", has_text=".look").count() == 1
    page.locator("#cancel-button").click()
    page.locator("#train-status").get_by_text("Cancelled").wait_for()
    assert page.locator("#look-downloads tbody tr", has_text=".look").count() == 1
    page.context.close()


@pytest.mark.parametrize("device, name", DEVICES)
def test_controls_are_touch_sized_and_empty_panels_say_what_appears(url, browser, device, name):
    page = open_app(browser, url, device)
    expected = {"#reference-gallery": "feed's photos", "#palette": "palette", "#histograms": "histograms"}
    for tab, panels in (("1 · References", expected), ("2 · Personalize", {"#train-preview": "as it learns", "#look-downloads": "once it is learned"}),
                        ("3 · Stylize", {"#photo-gallery": "Your photos", "#comparison": "before and after"})):
        page.get_by_role("tab", name=tab).click()
        page.wait_for_timeout(500)
        for selector, words in panels.items():
            said = page.evaluate(f"getComputedStyle(document.querySelector('{selector} .empty'), '::after').content")
            assert words in said, f"the empty {selector} says nothing of what appears there on the {name}"
        if tab == "3 · Stylize":  # what a negative vignette does, where the slider is
            assert "lightens the corners" in page.locator("#vignette").inner_text()
        if name == "phone":
            small = page.evaluate("""() => [...document.querySelectorAll('.gradio-container button, .gradio-container input[type=number]')]
                .filter(e => !e.closest('footer')).map(e => [e.innerText || e.id || e.className, e.getBoundingClientRect().height])
                .filter(([_, h]) => h > 4 && h < 43.5)""")  # (tab bars keep a 1 px measuring copy)
            assert small == [], f"touch targets under 44 px on the {tab} tab: {small}"
            clipped = page.evaluate("""() => [...document.querySelectorAll('.gradio-container input[type=number]')]
                .map(e => [e.closest('.block') && e.closest('.block').id, e.getBoundingClientRect().height, e.parentElement.getBoundingClientRect().height])
                .filter(([_, input, box]) => input > 4 && box < input - 1)""")  # a box cutting its number in half
            assert clipped == [], f"number boxes cut on the {tab} tab (input, box heights): {clipped}"
    page.context.close()


@pytest.mark.parametrize("device, name", DEVICES)
def test_after_the_example_the_result_is_in_view(url, browser, tmp_path, device, name):
    page = open_app(browser, url, device)
    page.locator("#example-button").click()
    page.locator("#train-status").get_by_text("learned from 8 photos").wait_for(state="attached")
    page.wait_for_function("() => document.querySelector('#look-choice input').value === 'Golden hour example'")
    page.locator("#comparison img").first.wait_for()
    page.wait_for_timeout(1500)  # the chosen look's preview, and the scroll to it
    assert in_view(page, "#comparison img >> nth=0") or in_view(page, "#comparison"), f"the example's result is out of view on the {name}"
    page.screenshot(path=str(screenshot_path(f"screenshot-{name}-example.png", tmp_path)))
    page.context.close()


def test_on_a_phone_the_before_after_box_is_as_tall_as_the_photo(url, browser):
    """A landscape photo on a 390 px phone: the box around the before/after is the photo plus its label row, not a
    fixed 560 px with a third of it blank above and below; the photo is not under the label or the buttons."""
    page = open_app(browser, url, PHONE)
    page.get_by_role("tab", name="3 · Stylize").click()
    page.locator("#photo-files input[type=file]").set_input_files([str(ROOT / "examples" / "content" / "rocket.jpg")])
    page.locator("#comparison img").first.wait_for()
    page.wait_for_timeout(1000)
    box = page.locator("#comparison").bounding_box()
    photo = page.locator("#comparison img").first.bounding_box()
    buttons = page.locator("#comparison .icon-button-wrapper").bounding_box()
    assert photo["height"] == pytest.approx(photo["width"] * 427 / 640, abs=2)  # the whole width, its own shape
    assert box["height"] <= photo["height"] + 70, (box, photo)
    assert photo["y"] >= buttons["y"] + buttons["height"] - 1  # under the label row, not behind it
    page.context.close()


def test_refused_uploads_are_reported_once_and_leave_the_box(url, browser, tmp_path):
    bad = []
    for index in range(3):
        bad.append(tmp_path / f"broken_{index}.jpg")
        bad[-1].write_bytes(b"not a photo")
    page = open_app(browser, url)
    page.locator("#reference-files input[type=file]").set_input_files([str(p) for p in bad])
    page.get_by_text("None of these files could be used", exact=False).first.wait_for()
    page.wait_for_function("() => !document.querySelector('#reference-files').innerText.includes('broken_0')")  # the box is empty again
    page.locator("#reference-files input[type=file]").set_input_files(feed_files(tmp_path, 3))
    page.locator("#reference-notes").get_by_text("3 reference photos").wait_for()
    page.wait_for_timeout(1000)
    assert page.locator(".toast-body", has_text="Skipped").count() == 0  # the refused files are not reported again
    assert "Skipped" not in page.locator("#reference-notes").inner_text() and "broken_0" not in page.locator("#reference-files").inner_text()

    page.get_by_role("tab", name="3 · Stylize").click()
    page.locator("#photo-files input[type=file]").set_input_files([str(p) for p in bad])
    page.get_by_text("None of these files is a photo", exact=False).first.wait_for()
    page.wait_for_function("() => !document.querySelector('#photo-files').innerText.includes('broken_0')")
    page.locator("#photo-files input[type=file]").set_input_files(feed_files(tmp_path, 1))
    page.locator("#comparison img").first.wait_for()
    page.wait_for_timeout(1000)
    assert page.locator(".toast-body", has_text="Skipped").count() == 0 and page.locator("#photo-gallery img").count() == 1
    page.context.close()


def test_a_number_typed_out_of_range_is_clamped_in_the_box_and_the_preview(url, browser, tmp_path):
    page = open_app(browser, url)
    page.get_by_role("tab", name="3 · Stylize").click()
    page.locator("#photo-files input[type=file]").set_input_files(feed_files(tmp_path, 1))
    page.locator("#comparison img").first.wait_for()
    page.wait_for_timeout(1000)
    before = _after_src(page)
    box = page.locator("#strength input[type=number]")
    box.fill("999")
    box.press("Enter")
    page.wait_for_function("() => document.querySelector('#strength input[type=number]').value === '150'")
    page.wait_for_function("(old) => { const imgs = document.querySelectorAll('#comparison img'); return imgs.length && imgs[imgs.length - 1].src !== old; }", arg=before)
    assert page.locator(".toast-body.error").count() == 0  # no refusal: clamped
    page.context.close()


def test_gradio_s_own_messages_never_render_a_name_as_markup(url, browser, tmp_path, listener):
    """The probe: a .cube titled <svg onload=…><img src=…>, uploaded; then the request is rewritten (as after a
    server restart) so the look's name reaches the server as a value it does not know. Whoever builds the
    refusal, the name is text: nothing is fetched."""
    import json

    address, hits = listener
    title = f"<svg onload=alert(43)><img src={address}/C>"
    cube = tmp_path / "probe.cube"
    cube.write_text(f'TITLE "{title}"\nLUT_3D_SIZE 2\n' + "".join(f"{r} {g} {b}\n" for b in (0, 1) for g in (0, 1) for r in (0, 1)))
    page = open_app(browser, url)
    page.get_by_role("tab", name="3 · Stylize").click()
    page.locator("#photo-files input[type=file]").set_input_files(feed_files(tmp_path, 1))
    page.locator("#comparison img").first.wait_for()
    upload_look_file(page, cube)
    page.wait_for_function(f"() => document.querySelector('#look-choice input').value.includes('{address}')")

    def rewrite(route):  # the dropdown's value as the server no longer knows it: a name with markup and a NUL
        body = json.loads(route.request.post_data or "{}")
        body["data"] = [f"{title}\u0000x" if isinstance(v, str) and address in v else v for v in body.get("data", [])]
        route.continue_(post_data=json.dumps(body))

    page.route("**/queue/join*", rewrite)
    track = page.locator("#strength input[type=range]").bounding_box()
    page.mouse.click(track["x"] + track["width"] * 0.3, track["y"] + track["height"] / 2)
    page.get_by_text("Choose a look first", exact=False).first.wait_for()
    page.wait_for_timeout(1500)
    assert hits == [], f"the browser fetched {hits}"
    page.context.close()
