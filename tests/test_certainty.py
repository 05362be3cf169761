"""The certainty of a learned look: read from the feed alone, stored in the .look, printed by the CLI, and the
feed-size guidance. Small synthetic photos; the shipped prior reads the half feeds."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import synthetic_photo
from PIL import Image

from influgan.cli import main
from influgan.images import image_to_tensor, thumbnail
from influgan.learning import certainty
from influgan.learning.certainty import FEED_KNEE, Certainty, curve_error, expected_error, feed_advice, read_certainty, scene_spread
from influgan.learning.finetune import FinetuneSettings, finetune
from influgan.learning.lut_torch import identity_lut
from influgan.learning.prior import load_prior
from influgan.looks.look import Look

ROOT = Path(__file__).resolve().parent.parent
FAST = dict(steps=3, thumb_size=48, colour_samples=512)


def _example_scenes() -> list[Image.Image]:
    """15 small natural scenes: the shipped content photos and their left and right halves, at most 96 px."""
    scenes = []
    for path in sorted((ROOT / "examples" / "content").glob("*.jpg")):
        image = thumbnail(Image.open(path).convert("RGB"), 96)
        width, height = image.size
        scenes += [image, image.crop((0, 0, width // 2, height)), image.crop((width // 2, 0, width, height))]
    return scenes


def test_a_feed_whose_halves_disagree_is_less_certain_than_a_consistent_one():
    scenes = _example_scenes()
    gains = np.random.default_rng(0).uniform(0.55, 1.45, (len(scenes), 3))  # every post graded its own way

    def graded(photo: Image.Image, gain) -> torch.Tensor:  # (3, h, w) through a per-channel gain
        return (image_to_tensor(photo) * torch.tensor(gain, dtype=torch.float32).view(3, 1, 1)).clamp(0.0, 1.0)

    consistent = [graded(p, (1.1, 1.0, 0.9)) for p in scenes]  # one mild warm look on every post
    inconsistent = [graded(p, g) for p, g in zip(scenes, gains)]
    lut, prior = identity_lut(17), load_prior()
    sure = read_certainty(lut, lut, consistent, prior)
    unsure = read_certainty(lut, lut, inconsistent, prior)
    assert unsure.signals["halves"] > 1.5 * sure.signals["halves"]
    assert unsure.expected_error > sure.expected_error


def test_expected_error_grows_with_disagreement_and_with_how_far_the_look_moved():
    base = {"references": 12.0, "halves": 2.0, "moved": 1.0, "spread": 15.0}
    assert expected_error({**base, "halves": 6.0}) > expected_error(base)
    assert expected_error({**base, "moved": 5.0}) > expected_error(base)
    assert certainty.verdict_for(certainty.CLOSE) == "close" and certainty.verdict_for(certainty.FAIR + 0.1) == "rough"


def test_scene_spread_is_zero_for_one_scene_and_grows_with_difference():
    photo = synthetic_photo(3, (40, 30))
    assert scene_spread([photo] * 4) == pytest.approx(0.0, abs=1e-6)
    dark = Image.new("RGB", (40, 30), (20, 20, 20))
    light = Image.new("RGB", (40, 30), (230, 230, 230))
    assert scene_spread([dark, light]) > 30.0  # L* about 6 against 91: half the distance from the mean each
    assert scene_spread([image_to_tensor(dark), image_to_tensor(light)]) == pytest.approx(scene_spread([dark, light]))


def test_advice_asks_for_posts_below_the_knee_and_for_other_scenes_when_alike():
    assert "Add posts" in feed_advice(3, 20.0) and "alike" not in feed_advice(3, 20.0)
    assert "alike" in feed_advice(FEED_KNEE, 0.5) and "alike" not in feed_advice(3, 0.5)  # 3 posts: chance
    assert "change little" in feed_advice(FEED_KNEE + 10, 20.0)
    assert curve_error(3) > curve_error(FEED_KNEE) >= curve_error(50)
    assert certainty.small_feed_warning(FEED_KNEE) is None and str(FEED_KNEE) in certainty.small_feed_warning(3)


def test_finetune_stores_the_certainty_and_it_survives_the_look_file(photos, tmp_path):
    look = finetune(photos[:4], photos[4:6], FinetuneSettings(**FAST))
    read = Certainty.from_metadata(look.metadata)
    assert read is not None and read.references == 4 and read.verdict in certainty.VERDICTS
    assert math.isfinite(read.expected_error) and read.expected_error > 0 and read.advice
    assert {"halves", "moved", "spread", "references"} <= set(read.signals)
    look.save(tmp_path / "a.look")
    loaded = Certainty.from_metadata(Look.load(tmp_path / "a.look").metadata)
    assert loaded is not None
    assert loaded.expected_error == pytest.approx(read.expected_error, abs=1e-3)
    assert (loaded.verdict, loaded.advice, loaded.references) == (read.verdict, read.advice, read.references)
    assert "certainty" not in finetune(photos[:4], photos[4:6], FinetuneSettings(**FAST, certainty=False)).metadata


@pytest.mark.parametrize("record", [
    {"expected_error": "2", "verdict": "close", "advice": "x", "references": 3},
    {"expected_error": 2.0, "verdict": "<b>sure</b>", "advice": "x", "references": 3},
    {"expected_error": -1.0, "verdict": "close", "advice": "x", "references": 3},
    {"expected_error": 2.0, "verdict": "close", "advice": ["x"], "references": 3},
    "close",
])
def test_malformed_certainty_in_a_look_file_is_ignored(tmp_path, record):
    Look(name="odd", metadata={"certainty": record}).save(tmp_path / "odd.look")
    assert Certainty.from_metadata(Look.load(tmp_path / "odd.look").metadata) is None


def test_advice_from_a_file_is_one_printable_line(tmp_path):
    record = {"expected_error": 2.0, "verdict": "fair", "advice": "a\nb\x1b[31m" + "c" * 900, "references": 5}
    Look(name="odd", metadata={"certainty": record}).save(tmp_path / "odd.look")
    advice = Certainty.from_metadata(Look.load(tmp_path / "odd.look").metadata).advice
    assert "\n" not in advice and "\x1b" not in advice and len(advice) <= certainty.MAX_ADVICE


def test_cli_warns_for_a_small_feed_and_prints_the_certainty(tmp_path, capsys):
    refs = tmp_path / "refs"
    refs.mkdir()
    for seed in range(3):
        Image.fromarray(np.asarray(synthetic_photo(seed, (96, 64)))).save(refs / f"{seed}.png")
    out = tmp_path / "a.look"
    assert main(["finetune", "--refs", str(refs), "--out", str(out), "--steps", "2"]) == 0
    printed = capsys.readouterr()
    assert "warning: only 3 reference photos" in printed.err and "certainty" not in printed.err
    assert "certainty: " in printed.out and "expected colour error" in printed.out
    assert main(["info", str(out)]) == 0
    info = capsys.readouterr().out
    stored = Certainty.from_metadata(Look.load(out).metadata)
    assert f"certainty:  {stored.words()}, expected colour error {stored.expected_error:.1f}" in info
    assert f"advice:     {stored.advice}" in info


def test_a_painting_is_counted_as_one_painting_not_its_four_tiles(tmp_path, capsys):
    """One painting is read as four quarters for its colours; the certainty counts and advises as the user gave it."""
    painting = tmp_path / "painting.png"
    Image.fromarray(np.asarray(synthetic_photo(7, (640, 480)))).save(painting)
    out = tmp_path / "p.look"
    assert main(["finetune", "--refs", str(painting), "--out", str(out), "--steps", "2", "--no-brushwork"]) == 0
    printed = capsys.readouterr().out
    stored = Certainty.from_metadata(Look.load(out).metadata)
    assert stored.paintings and stored.references == 1 and stored.source() == "1 painting"
    assert "from 1 painting." in printed and "4 posts" not in printed and "Add posts" not in printed
    assert "a second painting" in stored.advice
