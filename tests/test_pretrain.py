import hashlib
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open

from conftest import synthetic_photo
from influgan.looks.cube import save_cube
from influgan.images import image_to_tensor
from influgan.learning.lut_torch import apply_lut_colours, identity_lut, resample_lut
from influgan.looks.lut import pillow_lut
from influgan.training.pretrain import (
    FEED_REFERENCES,
    HELD_OUT,
    LOOK_SIZE,
    RANDOM_COLOURS,
    LookStream,
    PostedFeeds,
    channels_swapped,
    data_manifest,
    family_fold,
    find_looks,
    main,
    load_looks,
    look_family,
    looks_of,
    parse_fold,
    posted,
    sample_look,
    sample_tasks,
    scene_pixels,
    shot_differently,
    source_commit,
    turned,
    vary_look,
)
from influgan.learning.prior import FEATURE_PIXELS, READ_SIZE, LookPrior, PhotoBank, reading_size
from influgan.training.procedural import white_balance

LIBRARY = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "looks-train" / "film_looks.npz"


@pytest.mark.parametrize("name, family", [
    ("fuji_fp_100c_cool_3", "fuji_fp_100c"),
    ("fuji_fp_100c_negative_6_alt", "fuji_fp_100c"),
    ("fuji_fp_3000b_negative_early", "fuji_fp_3000b"),
    ("kodak_tmax_3200_3_alt", "kodak_tmax_3200"),
    ("polaroid_px_70_warm_5", "polaroid_px_70"),
    ("polaroid_665_negative_hc", "polaroid_665"),
    ("kodak_portra_800_hc", "kodak_portra_800"),
    ("kodak_kodachrome_64_generic", "kodak_kodachrome_64"),
    ("bleachbypass3", "bleachbypass"),
    ("tealorange", "tealorange"),
    ("tealorange2", "tealorange"),
    ("ilford_hp5_2", "ilford_hp5"),
    ("ilford_hps_800", "ilford_hp5"),  # the same LUT as ilford_hp5_plus_400
    ("nightfromday", "moonlight"),  # all but the same look
    ("ilford_xp2", "ilford_xp2"),  # a stock's own number stays
    ("kodak_portra_400_nc_1", "kodak_portra_400_nc"),
    ("fuji_superia_200_xpro", "fuji_superia_200_xpro"),
])
def test_look_family_strips_exposures_and_renderings_of_one_stock(name, family):
    assert look_family(name) == family


def test_other_stocks_are_other_families():
    stocks = ["kodak_portra_400_2", "kodak_portra_800_1", "kodak_portra_400_vc_3", "fuji_velvia_50", "fuji_velvia_100_generic",
              "ilford_delta_100", "ilford_delta_3200_1", "fuji_superia_200", "fuji_superia_200_xpro", "kodak_kodachrome_200"]
    assert len({look_family(name) for name in stocks}) == len(stocks)


def test_folds_split_by_family_and_every_script_agrees():
    names = ["polaroid_669_1", "polaroid_669_cold_2", "polaroid_669_6", "bleachbypass1", "bleachbypass4", "anime", "moonlight",
             "nightfromday", "kodak_ektar_100", "fuji_400h_1", "fuji_400h_3"]
    for folds in (2, 4, 5):
        for name in names:
            assert 0 <= family_fold(name, folds) < folds
            assert family_fold(name, folds) == int(hashlib.sha256(look_family(name).encode()).hexdigest()[:8], 16) % folds
        by_family = {}
        for name in names:
            by_family.setdefault(look_family(name), set()).add(family_fold(name, folds))
        assert all(len(fold) == 1 for fold in by_family.values())
    assert parse_fold("1/4") == (1, 4)
    for bad in ("4/4", "x", "1/4/2", "-1/3"):
        with pytest.raises(ValueError, match="--fold"):
            parse_fold(bad)


@pytest.mark.skipif(not LIBRARY.exists(), reason="needs ../shared/data/looks-train")
def test_the_film_library_splits_into_four_folds_of_whole_families():
    names = [name for name, _ in load_looks([LIBRARY])]
    assert len(names) == 217
    folds = [family_fold(name, 4) for name in names]
    assert all(0.15 < folds.count(k) / len(names) < 0.4 for k in range(4))


def test_looks_load_from_cube_files_folders_and_npz_libraries(tmp_path):
    warm = white_balance(identity_lut(17), temperature=0.6)
    save_cube(tmp_path / "warm.cube", warm)
    (tmp_path / "set").mkdir()
    save_cube(tmp_path / "set" / "cool.cube", white_balance(identity_lut(17), temperature=-0.6))
    library = np.stack([identity_lut(9).numpy(), white_balance(identity_lut(9), temperature=-0.3).numpy()]).astype(np.float16)
    np.savez(tmp_path / "library.npz", luts=library, names=np.array(["plain", "warm"]))
    looks = load_looks(find_looks([str(tmp_path / "warm.cube"), str(tmp_path / "set"), str(tmp_path / "library.npz")]))
    assert [name for name, _ in looks] == ["warm", "cool", "plain"]  # a name met again keeps its first look
    assert all(lut.shape == (LOOK_SIZE, LOOK_SIZE, LOOK_SIZE, 3) for _, lut in looks)
    assert torch.allclose(looks[0][1], resample_lut(warm, LOOK_SIZE), atol=1e-4)
    assert torch.allclose(looks[2][1], identity_lut(LOOK_SIZE), atol=1e-3)
    with pytest.raises(FileNotFoundError, match="nothing.cube"):
        find_looks([str(tmp_path / "nothing.cube")])


def test_a_posted_photo_is_read_at_the_prior_size_and_keeps_its_look_within_the_jpeg():
    photo = synthetic_photo(3, (512, 340))
    warm = resample_lut(white_balance(identity_lut(17), temperature=0.8), LOOK_SIZE)
    clean = reading_size(photo.filter(pillow_lut(warm.numpy())))
    shown = posted(photo, warm, [0.5, 0.0, 0.9, 0.5])  # no exposure change, quality 70, no sharpening
    assert shown.shape == clean.shape and max(shown.shape[1:]) == READ_SIZE
    assert 0.0 < (shown - clean).abs().mean() < 0.02  # JPEG moves the pixels a little
    assert torch.allclose(shown.mean(dim=(1, 2)), clean.mean(dim=(1, 2)), atol=0.01)
    brighter = posted(photo, warm, [1.0, 0.0, 0.9, 0.5])  # +0.7 stops
    assert float(brighter.mean()) > float(shown.mean()) + 0.03
    sharpened = posted(photo, warm, [0.5, 0.0, 0.0, 1.0])

    def detail(image: torch.Tensor) -> float:  # mean difference between neighbouring pixels
        return float((image[:, :, 1:] - image[:, :, :-1]).abs().mean() + (image[:, 1:] - image[:, :-1]).abs().mean())

    assert detail(sharpened) > 1.1 * detail(shown)  # sharpening raises local contrast


def flat_photos(sizes: list[tuple[int, int]]) -> list[torch.Tensor]:
    """Photos of one mid-grey each (3, h, w), photo i a little brighter than photo i−1: pixels say where they came from."""
    return [torch.full((3, h, w), 0.3 + 0.02 * i) for i, (h, w) in enumerate(sizes)]


def test_scene_pixels_come_from_inside_each_photo_never_from_the_padding():
    bank = PhotoBank(flat_photos([(8, 40), (40, 8), (20, 20)]))  # padded to 40×40 with black
    assert bank.pixels.shape == (3, 40, 40, 3)
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


def test_tasks_drawn_from_posted_feeds_show_the_feed_look_and_hold_out_other_photos():
    photos = indexed_photos(40)
    bank = PhotoBank(photos)
    feeds = PostedFeeds([Image.fromarray((p.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)) for p in photos])
    generator = torch.Generator().manual_seed(4)
    feed_look = resample_lut(white_balance(identity_lut(17), temperature=0.5), LOOK_SIZE)
    feeds.add(feed_look, generator)
    (look, indices, reads) = feeds.feeds[0]
    assert len(indices) == FEED_REFERENCES == len(reads) and len(set(indices.tolist())) == FEED_REFERENCES
    plain = identity_lut(LOOK_SIZE).expand(6, LOOK_SIZE, LOOK_SIZE, LOOK_SIZE, 3)
    tasks = sample_tasks(bank, plain, generator, feeds=feeds, feed_share=1.0)
    counts = torch.bincount(tasks.sets, minlength=6)
    assert ((counts >= 3) & (counts <= FEED_REFERENCES)).all()
    for task in range(6):
        assert torch.allclose(tasks.truth[task], apply_lut_colours(tasks.colours[task], feed_look), atol=1e-6)
        held = photo_index(tasks.colours[task, : HELD_OUT * 1024].reshape(HELD_OUT, 1024, 3))
        assert not set(held) & set(indices.tolist())
    unposted = sample_tasks(bank, plain, generator, feeds=feeds, feed_share=0.0)
    assert torch.allclose(unposted.truth, unposted.colours, atol=1e-5)  # feed_share 0: the batch's own (identity) looks
    for _ in range(20):
        feeds.add(feed_look, generator)
    assert len(feeds) == 16  # only the most recent feeds are kept


def test_data_manifest_is_sha256sum_lines_and_the_commit_is_recorded(tmp_path):
    (tmp_path / "b.png").write_bytes(b"second")
    (tmp_path / "a.npz").write_bytes(b"first")
    manifest = data_manifest([tmp_path / "b.png", tmp_path / "a.npz", tmp_path / "b.png"])
    lines = manifest.splitlines()
    assert lines == [f"{hashlib.sha256(b'first').hexdigest()}  {tmp_path / 'a.npz'}", f"{hashlib.sha256(b'second').hexdigest()}  {tmp_path / 'b.png'}"]
    assert re.fullmatch(r"[0-9a-f]{40}( \(uncommitted changes\))?|unknown", source_commit())


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
    assert len(bank) == 8 and bank.pixels.shape == (8, 48, 71, 3)
    assert torch.equal(bank.sizes[3], torch.tensor([48.0, 67.0]))


def test_the_cli_records_command_commit_data_and_what_it_started_from(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for seed in range(9):
        synthetic_photo(seed, (72, 48)).save(photos / f"p{seed}.png")
    first, second = tmp_path / "base.safetensors", tmp_path / "prior.safetensors"
    small = ["--photos", str(photos), "--steps", "2", "--tasks", "2", "--repeats", "1", "--hidden", "8", "--basis", "2", "--threads", "1"]
    main(small + ["--out", str(first)])
    main(small + ["--init", str(first), "--feed-share", "1", "--out", str(second)])
    with safe_open(str(second), framework="pt") as file:
        metadata = file.metadata()
    assert metadata["command"].startswith("python -m influgan.training.pretrain --photos") and "--init" in metadata["command"]
    assert re.fullmatch(r"[0-9a-f]{40}( \(uncommitted changes\))?|unknown", metadata["commit"])
    assert metadata["init_sha256"] == hashlib.sha256(first.read_bytes()).hexdigest()
    assert float(metadata["final_loss"]) > 0 and metadata["init_command"].endswith(str(first))
    manifest = second.with_suffix(".data.sha256").read_text()
    assert metadata["data_sha256"] == hashlib.sha256(manifest.encode()).hexdigest()
    assert len(manifest.splitlines()) == 10 and f"{metadata['init_sha256']}  {first}" in manifest
    assert LookPrior.load(second).config["hidden"] == 8
