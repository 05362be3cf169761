import json
import pickle
import struct

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save

from influgan.finishing import Finish
from influgan.look import Look, LookError
from influgan.lut import identity_lut


def warm_look() -> Look:
    lut = identity_lut() * torch.tensor([1.0, 0.9, 0.75]) + torch.tensor([0.0, 0.03, 0.02])
    return Look(lut=lut, finish=Finish(grain_amount=0.02, vignette_amount=0.3), name="Warm", metadata={"references": 12})


def test_round_trip(tmp_path):
    look = warm_look()
    look.save(tmp_path / "warm.look")
    loaded = Look.load(tmp_path / "warm.look")
    assert torch.equal(loaded.lut, look.lut)
    assert loaded.finish.to_dict() == pytest.approx(look.finish.to_dict())
    assert loaded.name == "Warm"
    assert loaded.metadata["references"] == 12 and "created" in loaded.metadata and "version" in loaded.metadata


def test_cube_round_trip(tmp_path):
    look = warm_look()
    look.to_cube(tmp_path / "warm.cube")
    loaded = Look.load(tmp_path / "warm.cube")
    assert torch.allclose(loaded.lut, look.lut, atol=1e-6)
    assert loaded.name == "Warm" and loaded.finish == Finish()


def test_strength_zero_is_identity(photo):
    out = warm_look().apply(photo, strength=0.0)
    assert np.array_equal(np.asarray(out), np.asarray(photo))


def test_apply_changes_colours_and_keeps_size(photo):
    out = warm_look().apply(photo, strength=1.0)
    assert out.size == photo.size and out.mode == "RGB"
    assert np.asarray(out, dtype=float)[..., 2].mean() < np.asarray(photo, dtype=float)[..., 2].mean() - 10


def test_apply_matches_tensor_reference_without_finish(photo):
    look = Look(lut=warm_look().lut)
    fast = np.asarray(look.apply(photo, 0.7), dtype=float)
    tensor = torch.from_numpy(np.asarray(photo, dtype=np.float32) / 255).permute(2, 0, 1)[None]
    exact = look.apply_tensor(tensor, 0.7)[0].permute(1, 2, 0).numpy() * 255
    assert np.abs(fast - exact).max() <= 1.0


def test_alpha_is_kept(photo):
    rgba = photo.convert("RGBA")
    rgba.putalpha(Image.new("L", photo.size, 77))
    out = warm_look().apply(rgba)
    assert out.mode == "RGBA" and out.getchannel("A").getextrema() == (77, 77)


def test_pickle_renamed_to_look_is_refused_without_running_it(tmp_path):
    class Boom:
        def __reduce__(self):
            return (exec, ("raise SystemExit('pwned')",))

    path = tmp_path / "evil.look"
    path.write_bytes(pickle.dumps(Boom()))
    with pytest.raises(LookError, match="not an InfluGAN look file"):
        Look.load(path)


def safetensors_bytes(tensors, meta=None):
    return save(tensors, metadata={"influgan": json.dumps(meta or {"format": "influgan.look", "name": "x"})})


@pytest.mark.parametrize(
    "tensors, message",
    [
        ({"lut": torch.zeros(5, 5, 4, 3), "finish": torch.zeros(5)}, "must be float32"),
        ({"lut": torch.zeros(1, 1, 1, 3), "finish": torch.zeros(5)}, "must be float32"),
        ({"lut": torch.zeros(5, 5, 5, 3, dtype=torch.float64), "finish": torch.zeros(5)}, "must be float32"),
        ({"lut": torch.zeros(5, 5, 5, 3), "finish": torch.zeros(4)}, "finish tensor"),
        ({"lut": torch.full((5, 5, 5, 3), float("nan")), "finish": torch.zeros(5)}, "NaN"),
        ({"lut": torch.full((5, 5, 5, 3), 7.0), "finish": torch.zeros(5)}, "within 0..1"),
        ({"lut": torch.zeros(5, 5, 5, 3), "finish": torch.tensor([5.0, 0, 0, 0, 0])}, "grain_amount"),
        ({"finish": torch.zeros(5)}, "lacks"),
    ],
)
def test_malformed_look_files(tensors, message):
    with pytest.raises(LookError, match=message):
        Look.from_bytes(safetensors_bytes(tensors))


def test_foreign_safetensors_and_garbage():
    with pytest.raises(LookError, match="no look metadata"):
        Look.from_bytes(save({"weight": torch.zeros(3)}))
    with pytest.raises(LookError, match="too short"):
        Look.from_bytes(b"abc")
    with pytest.raises(LookError, match="bad safetensors header"):
        Look.from_bytes(struct.pack("<Q", 10**12) + b"{}")
    with pytest.raises(LookError, match="bad safetensors header"):
        Look.from_bytes(struct.pack("<Q", 2) + b"[]")


def test_oversized_file_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge.look"
    with open(path, "wb") as handle:
        handle.truncate(50 * 1024 * 1024)
    with pytest.raises(LookError, match="at most"):
        Look.load(path)
