"""MediaPipe's selfie segmentation network, run with NumPy: an RGB photo → the probability of a person per pixel.

The network (a MobileNetV3-like encoder with squeeze-excite blocks and a small decoder, 0.1 M parameters, Apache-2.0)
is read from ``weights/selfie_segmentation.safetensors``, which ``bench/convert_selfie_segmentation.py`` wrote from
the ``.tflite`` file of the npm package ``@mediapipe/selfie_segmentation``: its graph as JSON (each op with its
options) and its float16 weights exactly as stored. This module interprets that graph; no torch, no TFLite.
Two networks ship: the general one (input 256×256) and the landscape one (144×256), for photos wider than 4:3.
Input: (H, W, 3) float32 in 0..1 at the net's size, stretched (MediaPipe does not keep the aspect ratio either).
Output: (H, W) float32 person probability in 0..1. About 20 ms on one core.
"""
from __future__ import annotations

import json
import os
from contextlib import nullcontext
from functools import lru_cache

import numpy as np
from PIL import Image
from safetensors import safe_open

from ..weights import weights_path

SELFIE_WEIGHTS = {False: "selfie_segmentation.safetensors", True: "selfie_segmentation_landscape.safetensors"}
LANDSCAPE_ASPECT = 4 / 3  # from this width/height on, the landscape net (16:9 input) stretches the photo less


def _activate(x: np.ndarray, act: str) -> np.ndarray:
    if act == "relu":
        return np.maximum(x, 0.0, out=x)
    if act == "relu6":
        return np.clip(x, 0.0, 6.0, out=x)
    return x


def _same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's SAME padding: the output is ceil(size / stride); the odd pixel of padding goes after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _pad(x: np.ndarray, kernel: tuple[int, int], stride: list[int], padding: str) -> np.ndarray:
    if padding != "same":
        return x
    (top, bottom), (left, right) = (_same_pads(x.shape[0], kernel[0], stride[0]),
                                    _same_pads(x.shape[1], kernel[1], stride[1]))
    return np.pad(x, ((top, bottom), (left, right), (0, 0))) if top or bottom or left or right else x


def _windows(x: np.ndarray, kh: int, kw: int, stride: list[int], out_h: int, out_w: int):
    """Each kernel tap (i, j) with the (out_h, out_w, C) slice of the padded input it multiplies."""
    sh, sw = stride
    for i in range(kh):
        for j in range(kw):
            yield i, j, x[i : i + sh * (out_h - 1) + 1 : sh, j : j + sw * (out_w - 1) + 1 : sw]


def conv2d(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray, stride: list[int], padding: str) -> np.ndarray:
    """x (H, W, Cin), kernel (Cout, kh, kw, Cin) as TFLite stores it, bias (Cout,) → (H', W', Cout)."""
    cout, kh, kw, cin = kernel.shape
    h, w = x.shape[:2]
    if kh == kw == 1 and stride == [1, 1]:
        return (x.reshape(-1, cin) @ kernel.reshape(cout, cin).T + bias).reshape(h, w, cout)
    x = _pad(x, (kh, kw), stride, padding)
    out_h, out_w = (x.shape[0] - kh) // stride[0] + 1, (x.shape[1] - kw) // stride[1] + 1
    columns = np.concatenate([win for _, _, win in _windows(x, kh, kw, stride, out_h, out_w)], axis=-1)  # (H', W', kh·kw·Cin)
    return (columns.reshape(-1, kh * kw * cin) @ kernel.reshape(cout, -1).T + bias).reshape(out_h, out_w, cout)


def depthwise_conv2d(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray, stride: list[int], padding: str) -> np.ndarray:
    """x (H, W, C), kernel (1, kh, kw, C), bias (C,) → (H', W', C): one kh×kw filter per channel."""
    _, kh, kw, _ = kernel.shape
    x = _pad(x, (kh, kw), stride, padding)
    out_h, out_w = (x.shape[0] - kh) // stride[0] + 1, (x.shape[1] - kw) // stride[1] + 1
    out = np.broadcast_to(bias, (out_h, out_w, bias.shape[0])).copy()
    for i, j, win in _windows(x, kh, kw, stride, out_h, out_w):
        out += win * kernel[0, i, j]
    return out


def transpose_conv_bias(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray, stride: list[int]) -> np.ndarray:
    """MediaPipe's custom ``Convolution2DTransposeBias`` where kernel == stride (no overlap): each input pixel
    becomes a kh×kw block. x (H, W, Cin), kernel (Cout, kh, kw, Cin), bias (Cout,) → (H·kh, W·kw, Cout)."""
    cout, kh, kw, cin = kernel.shape
    if [kh, kw] != list(stride):
        raise ValueError("only a transposed convolution whose kernel equals its stride is supported")
    h, w = x.shape[:2]
    blocks = x.reshape(-1, cin) @ kernel.reshape(-1, cin).T  # (H·W, Cout·kh·kw)
    blocks = blocks.reshape(h, w, cout, kh, kw).transpose(0, 3, 1, 4, 2)  # (H, kh, W, kw, Cout)
    return blocks.reshape(h * kh, w * kw, cout) + bias


def resize_bilinear(x: np.ndarray, size: list[int], align_corners: bool, half_pixel_centers: bool) -> np.ndarray:
    """TFLite's RESIZE_BILINEAR of x (H, W, C) to size (H', W')."""

    def taps(n_in: int, n_out: int):
        if align_corners and n_out > 1:
            pos = np.arange(n_out) * ((n_in - 1) / (n_out - 1))
        elif half_pixel_centers:
            pos = np.maximum((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0.0)
        else:
            pos = np.arange(n_out) * (n_in / n_out)
        low = np.minimum(np.floor(pos).astype(int), n_in - 1)
        return low, np.minimum(low + 1, n_in - 1), (pos - low).astype(np.float32)

    (y0, y1, fy), (x0, x1, fx) = taps(x.shape[0], size[0]), taps(x.shape[1], size[1])
    rows = x[y0] * (1 - fy)[:, None, None] + x[y1] * fy[:, None, None]
    return rows[:, x0] * (1 - fx)[None, :, None] + rows[:, x1] * fx[None, :, None]


@lru_cache(maxsize=1)
def _blas_controller():
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # still right without it, only slower
        return None
    return ThreadpoolController()


def _one_blas_thread():
    controller = _blas_controller()
    return controller.limit(limits=1, user_api="blas") if controller else nullcontext()


class SelfieSegmenter:
    """The converted graph and its float32 weights; ``forward`` runs it, ``__call__`` takes any photo size."""

    def __init__(self, graph: dict, tensors: dict[str, np.ndarray]):
        if graph.get("format") != "influgan.selfie_segmentation":
            raise ValueError("not a converted selfie segmentation graph")
        self.graph = graph
        self.tensors = {k: v.astype(np.float32) for k, v in tensors.items()}
        _, self.height, self.width, _ = graph["input_shape"]

    @classmethod
    def load(cls, path: str | os.PathLike) -> "SelfieSegmenter":
        with safe_open(str(path), framework="numpy") as file:
            graph = json.loads((file.metadata() or {}).get("influgan", "{}"))
            tensors = {key: file.get_tensor(key) for key in file.keys()}
        return cls(graph, tensors)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x (H, W, 3) float32 in 0..1 at the net's input size → (H, W) person probability in 0..1."""
        if x.shape != (self.height, self.width, 3):
            raise ValueError(f"the network takes ({self.height}, {self.width}, 3), got {x.shape}")
        with _one_blas_thread():  # its matrices are small: BLAS threads cost more in start-up than they save (5×)
            return self._forward(x)

    def _forward(self, x: np.ndarray) -> np.ndarray:
        values = {self.graph["input"]: x.astype(np.float32)}
        t = self.tensors
        for op in self.graph["ops"]:
            args = [values[n] if n in values else t[n] for n in op["in"]]
            kind = op["op"]
            if kind == "conv":
                y = _activate(conv2d(*args, op["stride"], op["padding"]), op["act"])
            elif kind == "depthwise":
                y = _activate(depthwise_conv2d(*args, op["stride"], op["padding"]), op["act"])
            elif kind == "transpose_conv":
                y = transpose_conv_bias(*args, op["stride"])
            elif kind == "global_mean":
                y = _activate(args[0].mean(axis=(0, 1), keepdims=True), op["act"])
            elif kind == "add":
                y = _activate(args[0] + args[1], op["act"])
            elif kind == "mul":
                y = _activate(args[0] * args[1], op["act"])
            elif kind == "hard_swish":
                y = args[0] * np.clip(args[0] + 3.0, 0.0, 6.0) / 6.0
            elif kind == "relu":
                y = np.maximum(args[0], 0.0)
            elif kind == "sigmoid":
                y = 0.5 + 0.5 * np.tanh(0.5 * args[0])  # the logistic, without overflow
            elif kind == "resize_bilinear":
                y = resize_bilinear(args[0], op["size"], op["align_corners"], op["half_pixel_centers"])
            else:
                raise ValueError(f"unknown op {kind!r} in the graph")
            values[op["out"]] = y.astype(np.float32, copy=False)
        return values[self.graph["output"]][..., 0]

    def __call__(self, image: Image.Image) -> np.ndarray:
        """An RGB photo of any size → (H, W) person probability at the net's size, in its stretched frame."""
        small = image.convert("RGB").resize((self.width, self.height), Image.BILINEAR, reducing_gap=2.0)
        return self.forward(np.asarray(small, dtype=np.float32) / 255.0)


@lru_cache(maxsize=2)
def selfie_segmenter(landscape: bool = False) -> SelfieSegmenter:
    """A shipped network, loaded once per process: the general one (256×256 input) or the landscape one
    (144×256), which scores better on photos wider than 4:3 (bench/maskbench.py)."""
    return SelfieSegmenter.load(weights_path(SELFIE_WEIGHTS[landscape]))
