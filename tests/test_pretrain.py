import pytest
import torch

from conftest import synthetic_photo
from influgan.images import image_to_tensor
from influgan.lut_torch import apply_lut_colours, identity_lut, resample_lut
from influgan.pretrain import (
    HELD_OUT,
    LOOK_SIZE,
    RANDOM_COLOURS,
    LookStream,
    channels_swapped,
    looks_of,
    sample_look,
    sample_tasks,
    scene_pixels,
    shot_differently,
    turned,
    vary_look,
)
from influgan.prior import FEATURE_PIXELS, PhotoBank
from influgan.procedural import white_balance


def flat_photos(sizes: list[tuple[int, int]]) -> list[torch.Tensor]:
    """Photos of one mid-grey each (3, h, w), photo i a little brighter than photo i−1: pixels say where they came from."""
    return [torch.full((3, h, w), 0.3 + 0.02 * i) for i, (h, w) in enumerate(sizes)]


def test_scene_pixels_come_from_inside_each_photo_never_from_the_padding():
    bank = PhotoBank(flat_photos([(8, 40), (40, 8), (20, 20)]))  # padded to 40×40 with black
    assert bank.pixels.shape == (3, 3, 40, 40)
    pixels = scene_pixels(bank, torch.tensor([0, 1, 2, 1]), 500, torch.Generator().manual_seed(0))
    assert pixels.shape == (4, 500, 3)
    assert float(pixels.min()) > 0.15  # ±0.7 stops of 0.3; the black padding would be 0
    # one exposure per photo: every pixel of a sample is the same grey
    assert torch.allclose(pixels, pixels[:, :1].expand_as(pixels))


def indexed_photos(count: int) -> list[torch.Tensor]:
    """Flat photos (3, 8, 12) whose green/red ratio tells photo i: exposure (a gain in linear light) keeps it."""
    return [torch.tensor([0.5, 0.05 + 0.01 * i, 0.5]).reshape(3, 1, 1).expand(3, 8, 12).clone() for i in range(count)]


def photo_index(references: torch.Tensor) -> list[int]:
    """Which photo of ``indexed_photos`` each reference (n, P, 3) shows."""
    colour = references.mean(dim=1)
    return ((colour[:, 1] / colour[:, 0] * 0.5 - 0.05) / 0.01).round().long().tolist()


def test_tasks_hold_3_to_24_references_distinct_photos_and_the_true_look():
    bank = PhotoBank(indexed_photos(40))
    generator = torch.Generator().manual_seed(1)
    looks = torch.stack([resample_lut(sample_look(generator, [], 0.0), LOOK_SIZE) for _ in range(6)])
    tasks = sample_tasks(bank, looks, generator)
    counts = torch.bincount(tasks.sets, minlength=6)
    assert tasks.references.shape == (int(counts.sum()), FEATURE_PIXELS, 3)
    assert ((counts >= 3) & (counts <= 24)).all()
    assert torch.equal(tasks.references, (tasks.references * 255).round() / 255)  # 8-bit, like posted photos
    assert tasks.colours.shape == (6, HELD_OUT * 1024 + RANDOM_COLOURS, 3)
    assert torch.allclose(tasks.truth[2], apply_lut_colours(tasks.colours[2], looks[2]), atol=1e-6)
    # under identity each reference shows its photo: a task never shows one photo twice, and tasks differ
    plain = sample_tasks(bank, identity_lut(LOOK_SIZE).expand(3, *looks.shape[1:]), generator)
    shown = [photo_index(plain.references[plain.sets == task]) for task in range(3)]
    assert all(len(indices) == len(set(indices)) and set(indices) <= set(range(40)) for indices in shown)
    assert shown[0] != shown[1]


def test_small_banks_give_fewer_references_and_too_small_ones_are_refused():
    generator = torch.Generator().manual_seed(2)
    looks = identity_lut(LOOK_SIZE).expand(4, LOOK_SIZE, LOOK_SIZE, LOOK_SIZE, 3)
    tasks = sample_tasks(PhotoBank(flat_photos([(8, 8)] * 10)), looks, generator)
    assert int(torch.bincount(tasks.sets).max()) <= 10 - HELD_OUT
    with pytest.raises(ValueError, match="at least 7 photos"):
        sample_tasks(PhotoBank(flat_photos([(8, 8)] * 6)), looks, generator)


def test_look_variations_at_zero_are_the_look_and_keep_its_structure():
    warm = white_balance(identity_lut(17), temperature=0.8)  # red up, blue down
    assert torch.allclose(shot_differently(warm, 0.0, 0.0, 0.0), warm, atol=1e-5)
    assert torch.allclose(turned(warm, 0.0), warm, atol=1e-5)
    identity = identity_lut(17)
    assert torch.allclose(channels_swapped(identity, torch.tensor([2, 0, 1])), identity, atol=1e-6)
    cool = channels_swapped(warm, torch.tensor([2, 1, 0]))  # red and blue swapped in and out: a cool cast
    grey = cool[8, 8, 8]
    assert grey[2] > grey[1] > grey[0]
    assert torch.allclose(channels_swapped(cool, torch.tensor([2, 1, 0])), warm, atol=1e-6)
    near_grey = 0.4 + 0.2 * torch.rand(200, 3)  # colours a small turn keeps in gamut
    assert torch.allclose(apply_lut_colours(near_grey, turned(identity, 30.0)), near_grey, atol=1e-4)


def test_varied_looks_are_valid_luts_unlike_the_original():
    generator = torch.Generator().manual_seed(3)
    warm = white_balance(identity_lut(17), temperature=0.8)
    for _ in range(10):
        varied = vary_look(warm, generator)
        assert varied.shape == warm.shape and float(varied.min()) >= 0.0 and float(varied.max()) <= 1.0
        assert (varied - warm).abs().max() > 1e-3


def test_look_stream_is_seeded_and_gives_batches_of_full_size_looks():
    cubes = [white_balance(identity_lut(LOOK_SIZE), temperature=0.5)]
    first = next(looks_of(LookStream(cubes, 5, 0.5, 0.5, seed=7), workers=0))
    again = next(looks_of(LookStream(cubes, 5, 0.5, 0.5, seed=7), workers=0))
    assert first.shape == (5, LOOK_SIZE, LOOK_SIZE, LOOK_SIZE, 3) and torch.equal(first, again)
    assert not torch.equal(first, next(looks_of(LookStream(cubes, 5, 0.5, 0.5, seed=8), workers=0)))
    repeated = next(looks_of(LookStream(cubes, 6, 0.5, 0.5, seed=7, repeats=3), workers=0))
    assert torch.equal(repeated[0], repeated[2]) and not torch.equal(repeated[2], repeated[3])
    with pytest.raises(ValueError, match="multiple"):
        LookStream(cubes, 5, 0.5, 0.5, seed=7, repeats=2)


def test_synthetic_photos_make_a_bank():
    photos = [image_to_tensor(synthetic_photo(seed, (64 + seed, 48))) for seed in range(8)]
    bank = PhotoBank(photos)
    assert len(bank) == 8 and bank.pixels.shape == (8, 3, 48, 71)
    assert torch.equal(bank.sizes[3], torch.tensor([48.0, 67.0]))
