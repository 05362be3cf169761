"""Subject-aware looks: person and skin masks on real photos, protect-skin and apply-to through Look.apply, the
"no person" note, and a clip's masks smoothed over time."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from influgan import Look
from influgan.looks.lut import identity_lut
from influgan.masks import NO_PERSON, MaskSmoother, check_controls, subject_masks

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "content"
STRONG = Look(lut=identity_lut() ** np.float32([2.0, 1.0, 0.5]), name="strong")  # (b, g, r) exponents: very warm


@pytest.fixture(scope="module")
def astronaut() -> Image.Image:
    return Image.open(EXAMPLES / "astronaut.jpg").convert("RGB")


@pytest.fixture(scope="module")
def masks(astronaut):
    return subject_masks(astronaut)


def test_masks_find_the_person_and_her_skin(masks):
    assert masks.has_person and masks.note("subject") is None
    h, w = masks.person.shape
    assert max(h, w) <= 512 and 0 <= masks.person.min() and masks.person.max() <= 1
    assert masks.person[h // 4, w // 2 - w // 16] > 0.9  # her face (at 512 px: x ~ 220, y ~ 110)
    assert masks.person[h // 10, w // 20] < 0.1  # the flag in the top-left corner
    assert masks.skin[int(h * 0.22), int(w * 0.4)] > 0.8  # her cheek
    assert masks.skin[int(h * 0.6), int(w * 0.2)] < 0.2  # the orange suit is not skin
    assert (masks.skin <= masks.person + 1e-6).all()  # skin only inside the person


def test_protect_skin_full_keeps_skin_and_leaves_the_rest_to_the_look(astronaut, masks):
    styled = np.asarray(STRONG.apply(astronaut), np.int16)
    kept = np.asarray(STRONG.apply(astronaut, protect_skin=1.0, masks=masks), np.int16)
    half = np.asarray(STRONG.apply(astronaut, protect_skin=0.5, masks=masks), np.int16)
    original = np.asarray(astronaut, np.int16)
    cheek = (slice(100, 130), slice(180, 200))
    suit = (slice(380, 440), slice(60, 140))
    assert np.abs(kept[cheek] - original[cheek]).mean() < 3 < np.abs(styled[cheek] - original[cheek]).mean() / 4
    assert np.abs(kept[suit] - styled[suit]).mean() < 1.5  # off skin, the look is untouched
    between = np.abs(half[cheek] - original[cheek]).mean() / np.abs(styled[cheek] - original[cheek]).mean()
    assert 0.3 < between < 0.7  # in between: proportional


def test_apply_to_subject_and_background_split_the_photo(astronaut, masks):
    styled, original = np.asarray(STRONG.apply(astronaut), np.int16), np.asarray(astronaut, np.int16)
    subject = np.asarray(STRONG.apply(astronaut, apply_to="subject", masks=masks), np.int16)
    background = np.asarray(STRONG.apply(astronaut, apply_to="background", masks=masks), np.int16)
    suit, wall = (slice(380, 440), slice(60, 140)), (slice(20, 80), slice(330, 400))
    assert np.abs(subject[suit] - styled[suit]).mean() < 2 and np.abs(subject[wall] - original[wall]).mean() < 2
    assert np.abs(background[suit] - original[suit]).mean() < 2 and np.abs(background[wall] - styled[wall]).mean() < 2


def test_the_masks_are_computed_when_not_given_and_the_alpha_is_kept(astronaut, masks):
    rgba = astronaut.convert("RGBA")
    rgba.putalpha(200)
    out = STRONG.apply(rgba, protect_skin=1.0)
    assert out.mode == "RGBA" and np.asarray(out)[..., 3].min() == 200
    given = STRONG.apply(astronaut, protect_skin=1.0, masks=masks)
    assert np.abs(np.asarray(out.convert("RGB"), np.int16) - np.asarray(given, np.int16)).max() <= 1


def test_no_person_says_so_and_the_whole_photo_gets_the_look():
    rocket = Image.open(EXAMPLES / "rocket.jpg").convert("RGB")
    found = subject_masks(rocket)
    assert not found.has_person and found.note("subject") == NO_PERSON and found.note("whole") is None
    with pytest.warns(UserWarning, match="no person found"):
        out = STRONG.apply(rocket, apply_to="background")
    np.testing.assert_array_equal(np.asarray(out), np.asarray(STRONG.apply(rocket)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # given masks: the caller says it, no warning
        STRONG.apply(rocket, apply_to="subject", masks=found)


def test_whole_photo_without_protection_skips_the_masks(monkeypatch, astronaut):
    import influgan.looks.look as look_module

    monkeypatch.setattr(look_module, "subject_masks", lambda *a, **k: pytest.fail("masks computed for nothing"))
    STRONG.apply(astronaut, protect_skin=0.0, apply_to="whole")


@pytest.mark.parametrize("protect_skin, apply_to, message", [
    (1.5, "whole", "protect_skin must be"), (float("nan"), "whole", "protect_skin must be"),
    (True, "whole", "protect_skin must be"), (0.5, "face", "apply_to must be one of whole, subject, background")])
def test_bad_controls_are_one_line_errors(astronaut, protect_skin, apply_to, message):
    with pytest.raises(ValueError, match=message):
        STRONG.apply(astronaut, protect_skin=protect_skin, apply_to=apply_to)
    with pytest.raises(ValueError, match=message):
        check_controls(protect_skin, apply_to)


def test_masks_of_another_photo_are_refused(astronaut, masks):
    with pytest.raises(ValueError, match="masks are for a 512×512 photo"):
        STRONG.apply(astronaut.resize((256, 256)), protect_skin=1.0, masks=masks)


def test_a_looks_own_protect_skin_is_its_default(astronaut, masks):
    gentle = Look(lut=STRONG.lut, metadata={"protect_skin": 1.0})
    assert gentle.default_protect_skin() == 1.0
    np.testing.assert_array_equal(np.asarray(gentle.apply(astronaut, masks=masks)),
                                  np.asarray(STRONG.apply(astronaut, protect_skin=1.0, masks=masks)))
    assert np.array_equal(np.asarray(gentle.apply(astronaut, protect_skin=0.0)), np.asarray(STRONG.apply(astronaut)))
    assert Look(metadata={"protect_skin": "all"}).default_protect_skin() == 0.0  # not a number: ignored


def test_a_clips_masks_flicker_less_when_smoothed(astronaut):
    rng = np.random.default_rng(0)
    frames = [Image.fromarray(np.clip(np.asarray(astronaut, np.int16) + rng.normal(0, 12, (512, 512, 3)), 0, 255)
                              .astype(np.uint8)).resize((256, 256)) for _ in range(6)]
    raw = np.stack([subject_masks(f).person for f in frames])
    smoother = MaskSmoother()
    smoothed = np.stack([smoother.masks(f, i).person for i, f in enumerate(frames)])
    edge = (raw.mean(0) > 0.1) & (raw.mean(0) < 0.9)  # where the mask's edge is
    assert edge.sum() > 50
    assert np.abs(np.diff(smoothed, axis=0))[:, edge].mean() < 0.7 * np.abs(np.diff(raw, axis=0))[:, edge].mean()
    assert smoother.saw_person


def test_the_smoother_gives_the_same_masks_from_a_pool_of_threads(astronaut):
    from concurrent.futures import ThreadPoolExecutor

    frames = [astronaut.resize((160, 128)).rotate(3 * i) for i in range(6)]
    smoother = MaskSmoother()
    with ThreadPoolExecutor(3) as pool:  # frames handed out in order, finished in any order (as stylize_video does)
        out = list(pool.map(lambda i: smoother.masks(frames[i], i), range(6)))
    sequential = MaskSmoother()
    expected = [sequential.masks(f, i) for i, f in enumerate(frames)]
    for got, want in zip(out, expected):
        np.testing.assert_allclose(got.person, want.person, atol=1e-6)


def test_the_smoothed_masks_follow_a_person_who_moves(astronaut):
    still = astronaut.resize((256, 256))
    moved = Image.fromarray(np.roll(np.asarray(still), 60, axis=1))  # she steps 60 px to the right
    smoother = MaskSmoother()
    masks = [smoother.masks(frame, i) for i, frame in enumerate([still] * 4 + [moved] * 5)]
    before, after = subject_masks(still).person, subject_masks(moved).person
    left_behind = (before > 0.9) & (after < 0.1)  # where she was and is no more
    assert left_behind.sum() > 100
    assert masks[3].person[left_behind].mean() > 0.8  # before the step
    assert masks[-1].person[left_behind].mean() < 0.2  # four frames after it: followed


def test_the_last_full_size_mask_is_reused_only_for_the_same_photo_and_controls(astronaut, masks):
    first = masks.full_size(astronaut, 0.8, "subject")
    assert masks.full_size(astronaut.copy(), 0.8, "subject") is first  # a preview re-opened: same pixels, reused
    assert masks.full_size(astronaut, 0.7, "subject") is not first
    flipped = astronaut.transpose(Image.FLIP_LEFT_RIGHT)  # same size, other pixels: its own luma guides the edges
    assert masks.full_size(flipped, 0.7, "subject") is not masks.full_size(astronaut, 0.7, "subject")


def _two_colour_scene() -> tuple[np.ndarray, np.ndarray]:
    """(colours (64, 96, 3) CIELAB, network-like person (64, 96)): a warm person (left) the network is sure of, a
    blue background (right) it is sure of, and two patches it is unsure of (0.5): one of the background's blue,
    one of the person's warm colour; plus a small blue badge on the person the network is sure is person."""
    colours = np.zeros((64, 96, 3), np.float32)
    colours[:, :48] = (60.0, 20.0, 30.0)  # warm: the person
    colours[:, 48:] = (50.0, -5.0, -35.0)  # blue: the background
    person = np.where(np.arange(96) < 48, 0.97, 0.03)[None].repeat(64, 0).astype(np.float32)
    person[8:24, 60:80] = 0.5  # unsure, background's colour
    person[40:56, 60:80] = 0.5
    colours[40:56, 60:80] = (60.0, 20.0, 30.0)  # unsure, person's colour
    person[28:34, 10:16] = 0.95
    colours[28:34, 10:16] = (50.0, -5.0, -35.0)  # a blue badge, surely person
    return colours, person


def test_colour_settles_where_the_network_is_unsure_and_nowhere_else():
    from influgan.masks.person_colour import settle_by_colour

    colours, person = _two_colour_scene()
    settled = settle_by_colour(colours, person)
    assert settled[8:24, 60:80].max() < 0.2  # unsure and background-coloured: background
    assert settled[40:56, 60:80].min() > 0.8  # unsure and person-coloured: person
    assert settled[28:34, 10:16].min() > 0.85  # sure person of a background colour: colour does not overturn it
    assert np.abs(settled[:, :8] - person[:, :8]).max() < 0.03  # sure pixels stay nearly as they were
    # with too few sure pixels on one side there is nothing to learn: the mask is left as it is
    assert np.array_equal(settle_by_colour(colours, np.full_like(person, 0.9)), np.full_like(person, 0.9))


def test_the_networks_mask_is_settled_by_colour_and_a_callers_is_taken_as_given(monkeypatch):
    from influgan.masks import subject

    rgb = np.zeros((64, 96, 3), np.uint8)
    rgb[:, :48], rgb[:, 48:] = (200, 140, 110), (60, 110, 200)  # a warm person, a blue wall
    photo = Image.fromarray(rgb)
    unsure = np.where(np.arange(96) < 48, 0.97, 0.03)[None].repeat(64, 0).astype(np.float32)
    unsure[8:56, 56:88] = 0.55  # the network takes half the wall for person
    monkeypatch.setattr(subject, "person_probability", lambda work: unsure)
    settled = subject.subject_masks(photo)
    assert settled.person[16:48, 64:80].max() < 0.2
    given = subject.subject_masks(photo, person=unsure)
    assert given.person[16:48, 64:80].min() > 0.45  # the caller's own mask is not second-guessed
