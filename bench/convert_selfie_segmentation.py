"""One-off: convert MediaPipe's selfie segmentation model (.tflite) to ``weights/*.safetensors`` for NumPy.

The model ships in the npm package ``@mediapipe/selfie_segmentation`` (Apache-2.0)::

    npm pack @mediapipe/selfie_segmentation && tar xzf mediapipe-selfie_segmentation-*.tgz
    pip install tflite ai-edge-litert      # the flatbuffer schema; the original runtime, for the check
    for name in selfie_segmentation selfie_segmentation_landscape; do
      python bench/convert_selfie_segmentation.py package/$name.tflite --out weights/$name.safetensors \
          --reference tests/data/${name}_reference.npz
    done

The flatbuffer's graph (CONV_2D, DEPTHWISE_CONV_2D, HARD_SWISH, squeeze-excite pools, RESIZE_BILINEAR and the
custom ``Convolution2DTransposeBias``) is written as JSON metadata with each op's options, its float16 weights
as tensors, exactly as stored (the model's weights are float16 with DEQUANTIZE ops). ``influgan.masks.selfie``
runs that graph. With ``--check`` (default when ai-edge-litert imports) the NumPy net is compared with the
original runtime on test images and the max abs difference printed; ``--reference`` stores one input and the
runtime's output (float16) for tests/test_selfie.py. The two files of the package are the general model
(256×256) and the landscape one (144×256); influgan uses the landscape one for photos wider than 4:3.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import tflite  # noqa: E402  (pip install tflite: the schema's Python bindings)
from safetensors.numpy import save_file  # noqa: E402

_BUILTIN = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
_ACT = {0: "none", 1: "relu", 3: "relu6"}
_PAD = {0: "same", 1: "valid"}
_TYPES = {0: np.float32, 1: np.float16, 2: np.int32}


def _tensor(model, graph, index: int) -> np.ndarray | None:
    t = graph.Tensors(index)
    data = model.Buffers(t.Buffer()).DataAsNumpy()
    if isinstance(data, int) or data is None or len(data) == 0:
        return None
    return np.frombuffer(data.tobytes(), dtype=_TYPES[t.Type()]).reshape(t.ShapeAsNumpy())


def _options(op, cls):
    table = op.BuiltinOptions()
    options = cls()
    options.Init(table.Bytes, table.Pos)
    return options


def convert(path: Path) -> tuple[dict[str, np.ndarray], dict]:
    """(tensors, graph) of a .tflite selfie segmentation model; tensors keep the file's float16."""
    buf = path.read_bytes()
    model = tflite.Model.GetRootAsModel(buf, 0)
    graph = model.Subgraphs(0)
    name = lambda i: graph.Tensors(i).Name().decode()  # noqa: E731
    aliases: dict[str, str] = {}  # a DEQUANTIZE's output → its float16 constant
    tensors: dict[str, np.ndarray] = {}
    ops = []
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        code = model.OperatorCodes(op.OpcodeIndex())
        kind = _BUILTIN.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()))
        if kind == "CUSTOM":
            kind = code.CustomCode().decode()
        ins, outs = [int(x) for x in op.InputsAsNumpy()], [int(x) for x in op.OutputsAsNumpy()]
        for j in ins:  # constants (weights, biases, sizes) become tensors of the file
            if j >= 0 and name(j) not in tensors and (data := _tensor(model, graph, j)) is not None:
                tensors[name(j)] = data
        src = [aliases.get(name(j), name(j)) for j in ins if j >= 0]
        entry: dict = {"in": src, "out": name(outs[0])}
        if kind == "DEQUANTIZE":
            aliases[name(outs[0])] = src[0]
            continue
        if kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            o = _options(op, tflite.Conv2DOptions if kind == "CONV_2D" else tflite.DepthwiseConv2DOptions)
            assert o.DilationHFactor() == 1 and o.DilationWFactor() == 1
            entry.update(op="conv" if kind == "CONV_2D" else "depthwise", stride=[o.StrideH(), o.StrideW()],
                         padding=_PAD[o.Padding()], act=_ACT[o.FusedActivationFunction()])
        elif kind == "AVERAGE_POOL_2D":
            o = _options(op, tflite.Pool2DOptions)
            shape = graph.Tensors(ins[0]).ShapeAsNumpy()
            assert (o.FilterHeight(), o.FilterWidth()) == tuple(shape[1:3]), "only global pooling is used"
            entry.update(op="global_mean", act=_ACT[o.FusedActivationFunction()])
        elif kind == "MEAN":
            axes = sorted(int(v) for v in tensors[src[1]].reshape(-1))
            assert axes == [1, 2] and _options(op, tflite.ReducerOptions).KeepDims(), "only a global spatial mean"
            entry.update(op="global_mean", act="none")
            entry["in"] = src[:1]
        elif kind in ("ADD", "MUL"):
            o = _options(op, tflite.AddOptions if kind == "ADD" else tflite.MulOptions)
            entry.update(op=kind.lower(), act=_ACT[o.FusedActivationFunction()])
        elif kind == "RESIZE_BILINEAR":
            o = _options(op, tflite.ResizeBilinearOptions)
            entry.update(op="resize_bilinear", size=[int(v) for v in tensors[src[1]]],
                         align_corners=bool(o.AlignCorners()), half_pixel_centers=bool(o.HalfPixelCenters()))
            entry["in"] = src[:1]
        elif kind in ("HARD_SWISH", "RELU", "LOGISTIC"):
            entry.update(op={"HARD_SWISH": "hard_swish", "RELU": "relu", "LOGISTIC": "sigmoid"}[kind])
        elif kind == "Convolution2DTransposeBias":
            padding, stride_w, stride_h = np.frombuffer(op.CustomOptionsAsNumpy().tobytes(), np.int32)[:3]
            entry.update(op="transpose_conv", stride=[int(stride_h), int(stride_w)], padding=_PAD[int(padding) - 1])
        else:
            raise NotImplementedError(f"op {kind} is not supported")
        ops.append(entry)
    (inp,), (out,) = graph.InputsAsNumpy(), graph.OutputsAsNumpy()
    used = {n for e in ops for n in e["in"]}
    tensors = {k: v for k, v in tensors.items() if k in used and v.dtype != np.int32}  # sizes, axes: in the ops
    meta = {"format": "influgan.selfie_segmentation", "source": path.name,
            "input": name(inp), "input_shape": [int(v) for v in graph.Tensors(inp).ShapeAsNumpy()],
            "output": name(out), "ops": ops}
    return tensors, meta


def litert(path: Path):
    """The original runtime's forward pass, or None when ai-edge-litert is not installed."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        return None
    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]

    def run(x: np.ndarray) -> np.ndarray:
        interpreter.set_tensor(inp["index"], x[None].astype(np.float32))
        interpreter.invoke()
        return interpreter.get_tensor(out["index"])[0, ..., 0]

    return run


def test_images(height: int, width: int) -> list[tuple[str, np.ndarray]]:
    """(name, (H, W, 3) float32 in 0..1) inputs: the repo's example photos, a few shared portraits, noise."""
    root = Path(__file__).resolve().parents[1]
    paths = sorted((root / "examples" / "content").glob("*.jpg"))
    shared = root.parent / "shared" / "data" / "photos" / "kodak"
    paths += [shared / f"kodim{n:02d}.png" for n in (4, 15, 18) if (shared / f"kodim{n:02d}.png").exists()]
    images = []
    for p in paths:
        rgb = Image.open(p).convert("RGB").resize((width, height), Image.BILINEAR)
        images.append((p.name, np.asarray(rgb, np.float32) / 255.0))
    images.append(("noise", np.random.default_rng(0).random((height, width, 3), dtype=np.float32)))
    return images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tflite", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--reference", type=Path, help="write one input and the runtime's output here (npz)")
    args = parser.parse_args()
    tensors, meta = convert(args.tflite)
    save_file(tensors, str(args.out), metadata={"influgan": json.dumps(meta)})
    print(f"{args.out}: {len(meta['ops'])} ops, {len(tensors)} tensors, {args.out.stat().st_size / 1024:.0f} KB")

    from influgan.masks.selfie import SelfieSegmenter  # after the path is set up

    net = SelfieSegmenter.load(args.out)
    reference = litert(args.tflite)
    if reference is None:
        print("ai-edge-litert is not installed: conversion not checked")
        return
    _, height, width, _ = meta["input_shape"]
    worst = 0.0
    for name, x in test_images(height, width):
        diff = float(np.abs(net.forward(x) - reference(x)).max())
        worst = max(worst, diff)
        print(f"  {name:24s} max |numpy - litert| = {diff:.2e}")
    print(f"max abs diff over {len(test_images(height, width))} images: {worst:.2e}")
    if args.reference:
        name, x = test_images(height, width)[0]
        np.savez_compressed(args.reference, input=(x * 255).round().astype(np.uint8),
                            output=reference((x * 255).round() / 255).astype(np.float16), source=name)
        print(f"{args.reference}: input {name} and the runtime's output")


if __name__ == "__main__":
    main()
