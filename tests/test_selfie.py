"""The converted selfie segmentation networks: ops against plain definitions, the whole net against the original
runtime's outputs (stored in tests/data by bench/convert_selfie_segmentation.py, and recomputed with ai-edge-litert
when it is installed)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from influgan.masks.selfie import (SelfieSegmenter, conv2d, depthwise_conv2d, resize_bilinear, selfie_segmenter,
                                   transpose_conv_bias)

DATA = Path(__file__).resolve().parent / "data"
NETS = {False: "selfie_segmentation", True: "selfie_segmentation_landscape"}


def naive_conv(x, kernel, bias, stride, pad):
    """Direct definition: out[i, j, o] = bias[o] + Σ kernel[o, di, dj, c] · x[s·i + di − top, s·j + dj − left, c]."""
    cout, kh, kw, _ = kernel.shape
    (top, bottom), (left, right) = pad
    padded = np.pad(x, ((top, bottom), (left, right), (0, 0)))
    out_h, out_w = (padded.shape[0] - kh) // stride + 1, (padded.shape[1] - kw) // stride + 1
    out = np.zeros((out_h, out_w, cout))
    for i in range(out_h):
        for j in range(out_w):
            window = padded[i * stride : i * stride + kh, j * stride : j * stride + kw]
            out[i, j] = np.tensordot(kernel, window, axes=([1, 2, 3], [0, 1, 2])) + bias
    return out


@pytest.mark.parametrize("stride, size", [(1, 7), (2, 8), (2, 7)])
def test_conv2d_matches_the_definition_with_tensorflow_same_padding(stride, size):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((size, size, 3)).astype(np.float32)
    kernel, bias = rng.standard_normal((4, 3, 3, 3)).astype(np.float32), rng.standard_normal(4).astype(np.float32)
    out_size = -(-size // stride)
    total = max((out_size - 1) * stride + 3 - size, 0)
    pad = ((total // 2, total - total // 2),) * 2  # TF SAME: the extra pixel after
    np.testing.assert_allclose(conv2d(x, kernel, bias, [stride, stride], "same"), naive_conv(x, kernel, bias, stride, pad), atol=1e-4)


def test_depthwise_conv2d_is_a_conv_per_channel():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, 8, 3)).astype(np.float32)
    kernel, bias = rng.standard_normal((1, 5, 5, 3)).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    out = depthwise_conv2d(x, kernel, bias, [2, 2], "same")
    for c in range(3):
        single = naive_conv(x[..., c : c + 1], kernel[..., c : c + 1].transpose(3, 1, 2, 0), bias[c : c + 1], 2, ((1, 2), (1, 2)))
        np.testing.assert_allclose(out[..., c], single[..., 0], atol=1e-4)


def test_transpose_conv_turns_each_pixel_into_a_block():
    x = np.arange(2 * 3 * 2, dtype=np.float32).reshape(2, 3, 2)
    kernel = np.arange(1 * 2 * 2 * 2, dtype=np.float32).reshape(1, 2, 2, 2)
    out = transpose_conv_bias(x, kernel, np.float32([0.5]), [2, 2])
    assert out.shape == (4, 6, 1)
    for i in range(2):
        for j in range(3):
            expected = np.tensordot(kernel[0], x[i, j], axes=([2], [0])) + 0.5  # (2, 2)
            np.testing.assert_allclose(out[2 * i : 2 * i + 2, 2 * j : 2 * j + 2, 0], expected)


def test_resize_bilinear_doubles_like_tflite():
    x = np.float32([[0, 2], [4, 6]])[..., None]
    out = resize_bilinear(x, [4, 4], align_corners=False, half_pixel_centers=False)[..., 0]
    np.testing.assert_allclose(out[0], [0, 1, 2, 2])  # source position out·0.5, clamped at the last pixel
    np.testing.assert_allclose(out[:, 0], [0, 2, 4, 4])


@pytest.mark.parametrize("landscape", [False, True])
def test_network_matches_the_original_runtime_on_a_stored_photo(landscape):
    reference = np.load(DATA / f"{NETS[landscape]}_reference.npz")
    net = selfie_segmenter(landscape)
    out = net.forward(reference["input"].astype(np.float32) / 255.0)
    assert out.shape == reference["output"].shape
    assert np.abs(out - reference["output"].astype(np.float32)).max() < 2e-3  # float16 storage of the reference
    assert out.max() > 0.9 and out.min() < 0.1  # an astronaut on a studio background: both classes present


@pytest.mark.parametrize("landscape", [False, True])
def test_network_matches_ai_edge_litert(landscape):
    interpreter_module = pytest.importorskip("ai_edge_litert.interpreter")
    interpreter = interpreter_module.Interpreter(model_path=str(DATA / f"{NETS[landscape]}.tflite"))
    interpreter.allocate_tensors()
    net = selfie_segmenter(landscape)
    rng = np.random.default_rng(2)
    for x in (np.asarray(Image.open(Path(__file__).resolve().parent.parent / "examples/content/grace_hopper.jpg").convert("RGB")
                         .resize((net.width, net.height)), np.float32) / 255.0,
              rng.random((net.height, net.width, 3), dtype=np.float32)):
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x[None])
        interpreter.invoke()
        expected = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[0, ..., 0]
        assert np.abs(net.forward(x) - expected).max() < 1e-3


def test_network_takes_any_photo_and_refuses_a_wrong_array(tmp_path):
    net = selfie_segmenter()
    out = net(Image.new("RGB", (37, 1000), (120, 140, 160)))
    assert out.shape == (net.height, net.width) and 0 <= out.min() and out.max() <= 1
    with pytest.raises(ValueError, match="takes"):
        net.forward(np.zeros((10, 10, 3), np.float32))


def test_a_file_that_is_not_a_converted_graph_is_refused(tmp_path):
    from safetensors.numpy import save_file

    path = tmp_path / "other.safetensors"
    save_file({"x": np.zeros(3, np.float32)}, str(path), metadata={"influgan": "{}"})
    with pytest.raises(ValueError, match="not a converted"):
        SelfieSegmenter.load(path)
