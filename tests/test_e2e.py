"""End-to-end test in a real browser: Debian's Chromium driven by Playwright against the app on 127.0.0.1.

Upload references, fine-tune, upload a photo, move the strength slider, download the full-resolution result.
Saves a screenshot (``$INFLUGAN_SCREENSHOT`` or a pytest tmp path) and prints timings.
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from conftest import synthetic_photo
from PIL import Image

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
sync_api = pytest.importorskip("playwright.sync_api")

from app_server import running_app  # noqa: E402

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMEOUT = 120_000  # ms; the fine-tune shares 2 cores with the browser


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

    page = browser.new_page(viewport={"width": 1360, "height": 900}, accept_downloads=True)
    page.set_default_timeout(TIMEOUT)
    started = time.perf_counter()
    page.goto(url, wait_until="load")
    page.locator("#reference-files").wait_for(state="visible")
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

    # 2 · Personalize
    page.get_by_role("tab", name="2 · Personalize").click()
    page.locator("#look-name textarea, #look-name input").first.fill("Browser look")
    started = time.perf_counter()
    page.locator("#train-button").click()
    page.locator("#train-status").get_by_text("learned from 5 photos").wait_for()
    timings["fine-tune"] = time.perf_counter() - started
    page.locator("#train-preview img").wait_for()
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
    timings["slider re-render (browser round trip)"] = time.perf_counter() - started
    assert 20 <= float(page.locator("#strength input[type=number]").input_value()) <= 70

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

    screenshot = Path(os.environ.get("INFLUGAN_SCREENSHOT", tmp_path / "influgan.png"))
    page.screenshot(path=str(screenshot))
    assert screenshot.stat().st_size > 10_000
    page.close()
    print("\n" + "\n".join(f"{name}: {seconds:.2f} s" for name, seconds in timings.items()) + f"\nscreenshot: {screenshot}")


def test_example_in_one_click(url, browser):
    """The live-demo path: one click loads the example feed and photo, learns the look and shows the result."""
    page = browser.new_page(viewport={"width": 1360, "height": 860})
    page.set_default_timeout(TIMEOUT)
    page.goto(url, wait_until="load")
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
    screenshot = Path(os.environ.get("INFLUGAN_EXAMPLE_SCREENSHOT", Path(os.environ.get("TMPDIR", "/tmp")) / "influgan_example.png"))
    page.screenshot(path=str(screenshot))
    page.close()
    print(f"\nexample, click to result: {seconds:.2f} s\nscreenshot: {screenshot}")
