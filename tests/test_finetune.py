import threading

import numpy as np
import pytest
import torch

from conftest import synthetic_photo
from influgan import FinetuneCancelled, FinetuneSettings, Look, finetune, finetune_steps
from influgan.learning.lut_torch import identity_lut

FAST = dict(steps=40, thumb_size=64, colour_samples=1024)


def warm_look() -> Look:
    """Strong warm cast: red up, blue down."""
    lut = identity_lut()
    lut = torch.stack([lut[..., 0] * 0.7 + 0.3, lut[..., 1] * 0.95, lut[..., 2] * 0.6], dim=-1)
    return Look(lut=lut)


def feed(count=6, offset=100):
    look = warm_look()
    return [look.apply(synthetic_photo(offset + i)) for i in range(count)]


def mean_rgb(images):
    return np.mean([np.asarray(im, dtype=float).reshape(-1, 3).mean(0) for im in images], axis=0)


def test_short_finetune_moves_colours_toward_the_references(photos):
    references = feed()
    look = finetune(references, photos, FinetuneSettings(**FAST))
    before = mean_rgb(photos)
    after = mean_rgb([look.apply(p) for p in photos])
    target = mean_rgb([warm_look().apply(p) for p in photos])
    assert np.abs(after - target).sum() < 0.5 * np.abs(before - target).sum()
    assert after[0] > before[0] + 10 and after[2] < before[2] - 10  # warmer: more red, less blue


def test_deterministic_for_a_seed(photos):
    references = feed(4)
    first = finetune(references, photos[:3], FinetuneSettings(seed=7, **FAST))
    second = finetune(references, photos[:3], FinetuneSettings(seed=7, **FAST))
    other = finetune(references, photos[:3], FinetuneSettings(seed=8, **FAST))
    assert torch.equal(torch.from_numpy(first.lut), torch.from_numpy(second.lut))
    assert not torch.equal(torch.from_numpy(first.lut), torch.from_numpy(other.lut))


def test_callback_reports_every_step_with_a_preview_look(photos):
    reports = []
    finetune(feed(3), photos[:2], FinetuneSettings(**{**FAST, "steps": 5}), callback=reports.append)
    assert [r.step for r in reports] == [1, 2, 3, 4, 5]
    assert {"colour", "regularity", "total"} <= set(reports[-1].losses)
    assert isinstance(reports[-1].look(), Look)
    assert reports[-1].elapsed > 0


def test_cancel_stops_the_finetune(photos):
    cancel = threading.Event()

    def stop_at_three(report):
        if report.step == 3:
            cancel.set()

    with pytest.raises(FinetuneCancelled):
        finetune(feed(3), photos[:2], FinetuneSettings(**FAST), callback=stop_at_three, cancel=cancel)


def test_reference_count_is_checked(photos):
    with pytest.raises(ValueError, match="3 to 50"):
        finetune(feed(2), photos, FinetuneSettings(**FAST))


def test_default_content_is_the_shipped_examples():
    look = finetune(feed(3), None, FinetuneSettings(**{**FAST, "steps": 3}))
    assert look.metadata["content_photos"] >= 3


def test_settings_are_validated():
    with pytest.raises(ValueError, match="adversary"):
        FinetuneSettings(adversary="feed")  # the colour discriminators are gone
    with pytest.raises(ValueError, match="steps"):
        FinetuneSettings(steps=0)


def test_metadata_records_the_settings(photos):
    look = finetune(feed(3), photos[:2], FinetuneSettings(**{**FAST, "steps": 2}), name="Sunny")
    assert look.name == "Sunny" and look.metadata["references"] == 3
    assert look.metadata["settings"]["steps"] == 2


def test_a_strip_thin_reference_is_refused_with_a_clear_error(photos):
    from PIL import Image

    from influgan import ImageError

    strip = Image.new("RGB", (2000, 40), (120, 80, 60))
    with pytest.raises(ImageError, match="photo 3: 2000×40 px is too thin"):
        finetune(photos[:2] + [strip], photos[2:4], FinetuneSettings(**FAST))


def test_anchor_trust_is_high_for_a_start_that_explains_the_references_and_low_for_one_that_does_not(photos):
    from influgan.learning.finetune import anchor_trust, scene_noise
    from influgan.images import image_to_tensor

    references = [image_to_tensor(image) for image in feed(8)]
    content = torch.cat([image_to_tensor(p).reshape(3, -1).T for p in photos])  # (N, 3) plain colours

    def trust(start: torch.Tensor) -> float:
        generator = torch.Generator().manual_seed(0)
        return anchor_trust(start, references, content, scene_noise(references, generator), generator)

    assert trust(torch.from_numpy(warm_look().lut)) > 0.5  # the true look: what is left is scene noise (about 1 here)
    assert trust(identity_lut()) < 0.05  # no cast at all: the references say far more than noise


def test_scene_noise_is_steady_across_seeds_and_grows_with_scene_differences():
    from influgan.learning.finetune import scene_noise
    from influgan.images import image_to_tensor

    references = [image_to_tensor(image) for image in feed(12)]
    estimates = [scene_noise(references, torch.Generator().manual_seed(seed)) for seed in range(8)]
    assert max(estimates) < 1.3 * min(estimates)  # the split of photos into halves must not decide the trust (16 splits of 128: 1.7×)
    same_scene = [image_to_tensor(image) for image in feed(1)] * 12  # one scene twelve times: only sampling noise
    assert scene_noise(same_scene, torch.Generator().manual_seed(0)) < 0.2 * min(estimates)


def test_a_wrong_start_gives_way_to_the_references(photos):
    references = feed(8)
    settings = dict(FAST, steps=80)
    fixed = finetune(references, photos, FinetuneSettings(adaptive_anchor=False, **settings), start=Look())
    adaptive = finetune(references, photos, FinetuneSettings(**settings), start=Look())
    target = mean_rgb([warm_look().apply(p) for p in photos])

    def miss(look):
        return np.abs(mean_rgb([look.apply(p) for p in photos]) - target).sum()

    assert adaptive.metadata["anchor_weight"] < 0.2 * fixed.metadata["anchor_weight"]
    assert miss(adaptive) < 0.7 * miss(fixed)


def test_finetune_steps_yields_every_step_then_the_look(photos):
    reports = list(finetune_steps(feed(3), photos[:2], FinetuneSettings(**{**FAST, "steps": 4}), name="Stepwise"))
    assert [r.step for r in reports] == [1, 2, 3, 4]
    assert all(r.result is None for r in reports[:-1]) and reports[-1].result.name == "Stepwise"
    assert all(r.losses["feed_distance"] > 0 for r in reports)
    assert reports[-1].look() is reports[-1].result


def test_closing_finetune_steps_stops_it(photos):
    steps = finetune_steps(feed(3), photos[:2], FinetuneSettings(**FAST))
    first = next(steps)
    steps.close()  # what Gradio does to a cancelled event's generator
    assert first.step == 1 and steps.gi_frame is None


def finished_feed(finish, count=8):
    """Synthetic scenes under the warm look and ``finish``, saved as JPEGs of quality 80 and opened again."""
    import io

    from PIL import Image
    from test_finish_estimate import scene

    look = Look(lut=warm_look().lut, finish=finish)
    out = []
    for index in range(count):
        buffer = io.BytesIO()
        look.apply(scene(index), seed=index).save(buffer, "JPEG", quality=80)
        out.append(Image.open(io.BytesIO(buffer.getvalue())))
    return out


def test_the_feeds_grain_and_vignette_are_learned_and_its_colours_read_without_the_vignette(photos, monkeypatch):
    from influgan import Finish
    from influgan.learning import finish_estimate

    flat = {"black": np.zeros(finish_estimate.RADIAL_BINS), "white": np.zeros(finish_estimate.RADIAL_BINS)}
    monkeypatch.setattr(finish_estimate, "load_natural_texture", lambda: flat)  # synthetic scenes: no lens falloff
    truth = Finish(grain_amount=4.0, grain_size=0.004, vignette_amount=0.4, vignette_radius=0.5)
    references = finished_feed(truth)
    look = finetune(references, photos, FinetuneSettings(**{**FAST, "steps": 60, "start_from": "identity"}))
    assert look.finish.grain_amount == pytest.approx(4.0, rel=0.25) and look.finish.grain_size == pytest.approx(0.004, rel=0.3)
    assert look.finish.vignette_amount == pytest.approx(0.4, abs=0.06)
    assert look.metadata["finish_reading"]["jpeg_modelled"] is True
    identity = {**FAST, "steps": 60, "start_from": "identity"}
    colour_only = finetune(references, photos, FinetuneSettings(**identity, learn_finish=False))
    assert colour_only.finish == Finish()
    # the same scenes without the vignette: read without it, the vignetted feed's colours are nearer theirs
    plain = finetune(finished_feed(Finish(grain_amount=4.0, grain_size=0.004)), photos, FinetuneSettings(**identity))
    target = mean_rgb([Look(lut=plain.lut).apply(p) for p in photos])
    assert np.abs(mean_rgb([Look(lut=look.lut).apply(p) for p in photos]) - target).sum() < 0.5 * np.abs(
        mean_rgb([colour_only.apply(p) for p in photos]) - target).sum()
