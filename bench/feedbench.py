"""The feed benchmark: how well is a look learned from an unpaired feed? (needs ../shared)

For each look L in ../shared/data/looks/*.cube (or, with --library, in a .npz look library): all photos under
../shared/data/photos sorted by path are permuted with numpy.random.default_rng(int(sha256(L's name)[:8], 16));
the first 12 are references, the next 6 test photos; each is resized to a longer side of 512 px (Lanczos).
References = L applied (trilinear), rounded to 8 bits (with --ref-jpeg Q: then saved as JPEG of quality Q and
read back, as a feed saved from a social app); test inputs rounded to 8 bits; truth = L applied to the test
inputs. A method sees only the styled references and the raw test inputs. Score: mean CIEDE2000 between output
and truth.

    python bench/feedbench.py [--looks a,b] [--methods identity,mkl,prior,gan,prior+gan] [--sheets DIR]
        [--prior PATH] [--folds N] [--ref-jpeg Q] [--library NPZ] [--fold K/N] [--set KEY=VALUE ...] [--threads T]

Methods: identity (do nothing); mkl (global MKL, the color-matcher package); prior (the look prior alone);
gan (the fine-tune from identity); prior+gan (the fine-tune from the prior: the default). A fine-tune method
may end in /ADVERSARY (e.g. prior+gan/none) to set the adversary. For an honest score on looks the prior never
saw, train priors on family folds (python -m influgan.training.pretrain --fold K/N --out ...foldK.safetensors) and pass
--prior 'PATH_with_{fold}' --folds N: each look is then scored with the prior that left its family out
(influgan.training.pretrain.family_fold). --library with --fold K/N scores every look of one fold's families, not only
the 24 of ../shared/data/looks.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from skimage.color import deltaE_ciede2000, rgb2lab

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from influgan import FinetuneSettings, finetune  # noqa: E402
from influgan.images import find_images  # noqa: E402
from influgan.learning.lut_torch import apply_lut  # noqa: E402
from influgan.training.pretrain import family_fold, load_looks, parse_fold  # noqa: E402
from influgan.learning.prior import LookPrior, load_prior  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
REFERENCES, TESTS, SIDE = 12, 6, 512


def load_photo(path: Path) -> np.ndarray:
    """A photo resized to a longer side of 512 px (Lanczos), float RGB (H, W, 3) in 0..1."""
    image = Image.open(path).convert("RGB")
    scale = SIDE / max(image.size)
    size = (max(1, round(image.size[0] * scale)), max(1, round(image.size[1] * scale)))
    return np.asarray(image.resize(size, Image.Resampling.LANCZOS), dtype=np.float64) / 255.0


def apply_float(lut: torch.Tensor, image: np.ndarray) -> np.ndarray:
    tensor = torch.from_numpy(image).permute(2, 0, 1).unsqueeze(0).to(torch.float32)
    return apply_lut(tensor, lut)[0].permute(1, 2, 0).double().numpy()


def to8(image: np.ndarray) -> np.ndarray:
    return np.round(np.clip(image, 0, 1) * 255.0).astype(np.uint8)


def jpeg_round_trip(image: np.ndarray, quality: int) -> np.ndarray:
    """An 8-bit image (H, W, 3) saved as a JPEG of ``quality`` (Pillow's default 4:2:0 chroma) and read back."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
    return np.asarray(Image.open(buffer).convert("RGB"))


def look_seed(name: str) -> int:
    """A look's own seed: which photos are its references and test photos (``permutation`` of the sorted photos)."""
    return int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)


def settings_overrides(items: list[str]) -> dict:
    """``--set KEY=VALUE`` items as FinetuneSettings fields, each value of its field's type."""
    overrides = {}
    for item in items:
        key, value = item.split("=", 1)
        kind = type(getattr(FinetuneSettings(), key))
        overrides[key] = value.lower() in ("1", "true", "yes") if kind is bool else kind(value)
    return overrides


def make_task(name: str, lut: torch.Tensor, photos: list[Path], ref_jpeg: int = 0):
    order = np.random.default_rng(look_seed(name)).permutation(len(photos))
    chosen = [load_photo(photos[i]) for i in order[: REFERENCES + TESTS]]
    references = [to8(apply_float(lut, p)) for p in chosen[:REFERENCES]]
    if ref_jpeg:
        references = [jpeg_round_trip(r, ref_jpeg) for r in references]
    inputs = [to8(p) for p in chosen[REFERENCES:]]
    truths = [apply_float(lut, x / 255.0) for x in inputs]
    return references, inputs, truths


def ciede2000(output: np.ndarray, truth: np.ndarray) -> float:
    return float(deltaE_ciede2000(rgb2lab(output), rgb2lab(truth)).mean())


def global_mkl(references: list[np.ndarray], inputs: list[np.ndarray]) -> list[np.ndarray]:
    """One MKL transform fit from the pooled test inputs to the pooled references, applied to every input."""
    from color_matcher import ColorMatcher

    source = np.concatenate([x.reshape(-1, 1, 3) for x in inputs]).astype(np.float64) / 255.0
    target = np.concatenate([r.reshape(-1, 1, 3) for r in references]).astype(np.float64) / 255.0
    matched = ColorMatcher(src=source, ref=target, method="mkl").main()
    out, start = [], 0
    for x in inputs:
        count = x.shape[0] * x.shape[1]
        out.append(to8(matched[start : start + count].reshape(x.shape)))
        start += count
    return out


def sheet_of_rows(rows, path: Path, height: int = 128, resample=Image.Resampling.BICUBIC) -> None:
    """Save rows of pictures (PIL images, uint8 arrays or 0..1 float arrays), each scaled to ``height``, 4 px apart."""

    def row(images):
        tiles = [im if isinstance(im, Image.Image) else Image.fromarray(im if im.dtype == np.uint8 else to8(im)) for im in images]
        tiles = [t.resize((max(1, round(t.width * height / t.height)), height), resample) for t in tiles]
        canvas = Image.new("RGB", (sum(t.width for t in tiles) + 4 * len(tiles), height), "white")
        x = 0
        for tile in tiles:
            canvas.paste(tile, (x, 0))
            x += tile.width + 4
        return canvas

    strips = [row(images) for images in rows]
    sheet = Image.new("RGB", (max(r.width for r in strips), sum(r.height + 4 for r in strips)), "white")
    y = 0
    for strip in strips:
        sheet.paste(strip, (0, y))
        y += strip.height + 4
    sheet.save(path)


def contact_sheet(references, inputs, outputs, truths, path: Path, height: int = 128) -> None:
    """Rows: 6 references; then input, ours and truth for three test photos."""
    sheet_of_rows([references[:6]] + [[inputs[i], outputs[i], truths[i]] for i in range(3)], path, height)


def run_method(method: str, references, inputs, prior: LookPrior | None, overrides: dict) -> list[np.ndarray]:
    """Outputs (8-bit arrays) of one method on the test inputs."""
    if method == "identity":
        return inputs
    if method == "mkl":
        return global_mkl(references, inputs)
    refs = [Image.fromarray(r) for r in references]
    if method == "prior":
        look = prior.predict(refs)
    else:
        kind, _, adversary = method.partition("/")
        chosen = {"start_from": "prior" if kind == "prior+gan" else "identity", **({"adversary": adversary} if adversary else {})}
        settings = FinetuneSettings(**{**chosen, **overrides})  # validated, unlike fields set afterwards
        look = finetune(refs, [Image.fromarray(x) for x in inputs], settings, prior=prior)
    return [np.asarray(look.apply(Image.fromarray(x))) for x in inputs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--looks", default="", help="comma-separated look stems (default: all)")
    parser.add_argument("--methods", default="identity,mkl,prior,gan,prior+gan")
    parser.add_argument("--sheets", default=str(ROOT / "bench" / "out" / "feedbench"), help="contact sheet folder")
    parser.add_argument("--prior", default="", help="prior weights (default: the shipped ones); may hold {fold}")
    parser.add_argument("--folds", type=int, default=0,
                        help="with --prior PATH_{fold}: each look uses the prior of its family's fold (pretrain.family_fold)")
    parser.add_argument("--library", default="", help="score the looks of this .npz look library instead of ../shared/data/looks")
    parser.add_argument("--fold", default="", help="K/N: score only the looks whose family is in fold K of N")
    parser.add_argument("--ref-jpeg", type=int, default=0, metavar="Q",
                        help="re-encode the styled references as JPEG of quality Q (1-95) before any method sees them")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a FinetuneSettings field")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (the table's seconds are for 2)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if not SHARED.exists():
        sys.exit("feedbench needs ../shared/data beside the project")
    photos = sorted(find_images([SHARED / "photos"]))
    looks = load_looks([Path(args.library)] if args.library else sorted((SHARED / "looks").glob("*.cube")))
    looks = [(name, lut) for name, lut in looks if not args.looks or name in args.looks.split(",")]
    if args.fold:
        k, n = parse_fold(args.fold)
        looks = [(name, lut) for name, lut in looks if family_fold(name, n) == k]
    methods = args.methods.split(",")
    timed = [m for m in methods if m not in ("identity", "mkl")]
    overrides = settings_overrides(args.set)
    sheets = Path(args.sheets)
    sheets.mkdir(parents=True, exist_ok=True)

    def prior_for(name: str) -> LookPrior | None:
        if not args.prior:
            return load_prior()
        return load_prior(args.prior.format(fold=family_fold(name, args.folds) if args.folds else 0))

    width = max([15] + [len(m) + 2 for m in methods])  # a column per method, wide enough for its name
    swidth = width + 2
    header = f"{'look':28s}" + "".join(f"{m:>{width}s}" for m in methods) + "".join(f"{'s:' + m:>{swidth}s}" for m in timed)
    print(header, flush=True)
    table = {m: [] for m in methods}
    seconds = {m: [] for m in methods}
    for name, lut in looks:
        references, inputs, truths = make_task(name, lut, photos, args.ref_jpeg)
        prior = prior_for(name)
        scores = {}
        for method in methods:
            began = time.perf_counter()
            outputs = run_method(method, references, inputs, prior, overrides)
            seconds[method].append(time.perf_counter() - began)
            if method == methods[-1]:
                contact_sheet(references, inputs, outputs, truths, sheets / f"{name}.png")
            scores[method] = np.mean([ciede2000(o / 255.0, t) for o, t in zip(outputs, truths)])
            table[method].append(scores[method])
        line = f"{name:28s}" + "".join(f"{scores[m]:{width}.2f}" for m in methods)
        print(line + "".join(f"{seconds[m][-1]:{swidth}.1f}" for m in timed), flush=True)
    print("-" * len(header))
    print(f"{'mean':28s}" + "".join(f"{np.mean(table[m]):{width}.2f}" for m in methods)
          + "".join(f"{np.mean(seconds[m]):{swidth}.1f}" for m in timed))
    print(f"{'median':28s}" + "".join(f"{np.median(table[m]):{width}.2f}" for m in methods))
    if "identity" in table:
        print(f"{'worst minus identity':28s}" + "".join(
            f"{max(np.array(table[m]) - np.array(table['identity'])):+{width}.2f}" for m in methods))


if __name__ == "__main__":
    main()
