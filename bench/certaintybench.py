"""The certainty bench: how close is a learned look against feed size, and does its certainty estimate know? (needs ../shared)

For each look and seed: all photos under ../shared/data/photos sorted by path are permuted with
numpy.random.default_rng(look_seed(name) + 1000 * seed) (feedbench's look_seed); the first 50 are the reference
pool, the next 6 test photos; each at a longer side of 512 px, styled and rounded to 8 bits as in feedbench. A feed
of N posts is the pool's first N (feeds of one seed are nested, so a curve is one feed growing). The look is learned
with the default fine-tune (references and the 6 test inputs as content, as feedbench does); its true error is the
mean CIEDE2000 of the test photos against the truth; its estimate is the certainty stored in its metadata
(influgan/certainty.py), recomputed from the stored signals with the module's current constants in the report.

Looks: "dev" are the 24 of ../shared/data/looks (the shipped prior trained on them: optimistic); "heldout" are
library looks (../shared/data/looks-train/film_looks.npz) of families the shipped prior never saw, one per family
(pretrain.look_family; the first name of each family, families in sha256 order) — the honest set.

    python bench/certaintybench.py run --out bench/out/certainty/a.csv [--sets dev,heldout] [--heldout 12]
        [--sizes '3,12,50;6,20,30'] [--seeds 0,1] [--shard K/N] [--threads 1]
    python bench/certaintybench.py report bench/out/certainty/*.csv [--plot docs/certainty.png] [--fit]
    python bench/certaintybench.py time [--threads 2] [--repeats 1]

``run`` appends one CSV row per fine-tune and skips rows already in the file (resumable; shards split the
(look, seed) pairs). ``report`` prints the curve table (true error and estimate per feed size), the rank
correlation, the share of looks called "close" whose true error is over 4 ΔE, the estimate's share of the
fine-tune's time, and draws the plot; ``--fit`` fits the estimate's log-linear weights (certainty.WEIGHTS) and
scores them leave-one-look-out.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from influgan.learning import certainty  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
POOL, TESTS = 50, 6
FIELDS = ["set", "look", "seed", "n", "true", "estimate", "verdict", "seconds", "certainty_seconds",
          "references", "halves", "moved", "spread", "noise", "trust", "strength", "residual", "recovery"]


def dev_looks():
    from influgan.training.pretrain import load_looks

    return load_looks(sorted((SHARED / "looks").glob("*.cube")))


def heldout_looks(count: int):
    """One library look per family the shipped prior never saw (none of the 24 dev looks' families)."""
    import torch

    from influgan.training.pretrain import LOOK_SIZE, look_family
    from influgan.learning.lut_torch import resample_lut

    seen = {look_family(path.stem) for path in (SHARED / "looks").glob("*.cube")}
    with np.load(SHARED / "looks-train" / "film_looks.npz", allow_pickle=False) as library:
        names, luts = [str(n) for n in library["names"]], library["luts"]
        families: dict[str, int] = {}
        for index, name in enumerate(names):
            if look_family(name) not in seen:
                families.setdefault(look_family(name), index)
        order = sorted(families, key=lambda f: hashlib.sha256(f.encode()).hexdigest())[:count]
        return [(names[families[f]], resample_lut(torch.from_numpy(luts[families[f]].astype(np.float32)), LOOK_SIZE)) for f in order]


def make_feed(name: str, lut, photos: list[Path], seed: int):
    """Reference pool (POOL 8-bit styled photos), test inputs (TESTS 8-bit) and their truths (float)."""
    from feedbench import apply_float, load_photo, look_seed, to8

    order = np.random.default_rng(look_seed(name) + 1000 * seed).permutation(len(photos))
    chosen = [load_photo(photos[i]) for i in order[: POOL + TESTS]]
    pool = [to8(apply_float(lut, p)) for p in chosen[:POOL]]
    inputs = [to8(p) for p in chosen[POOL:]]
    return pool, inputs, [apply_float(lut, x / 255.0) for x in inputs]


def run(args: argparse.Namespace) -> None:
    import torch
    from PIL import Image

    from feedbench import ciede2000
    from influgan import FinetuneSettings, finetune
    from influgan.images import find_images
    from influgan.learning.prior import load_prior

    torch.set_num_threads(args.threads)
    if not SHARED.exists():
        sys.exit("certaintybench needs ../shared/data beside the project")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # rows of every CSV beside OUT count as done (shards and earlier runs share a folder)
    done = {(r["set"].removesuffix("-alike"), r["look"], int(r["seed"]), int(r["n"])) for r in read_rows(sorted(out.parent.glob("*.csv")))}
    photos = sorted(find_images([SHARED / "photos"]))
    sets = args.sets.split(",")
    looks = {"dev": dev_looks() if "dev" in sets else [], "heldout": heldout_looks(args.heldout) if "heldout" in sets else []}
    if args.looks:
        looks = {kind: [(n, lut) for n, lut in found if n in args.looks.split(",")] for kind, found in looks.items()}
    # (set, name, lut, seed, sizes): seed-major, then size group, sets interleaved, so a partial run is balanced
    units = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        for group in args.sizes.split(";"):
            sizes = [int(s) for s in group.split(",")]
            for i in range(max(len(v) for v in looks.values())):
                units += [(kind, *looks[kind][i], seed, sizes) for kind in sets if i < len(looks[kind])]
    k, n_shards = (int(v) for v in args.shard.split("/"))
    prior = load_prior()
    with out.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, FIELDS)
        if handle.tell() == 0:
            writer.writeheader()
        for index, (kind, name, lut, seed, sizes) in enumerate(units):
            if index % n_shards != k or all((kind, name, seed, n) in done for n in sizes):
                continue
            pool, inputs, truths = make_feed(name, lut, photos, seed)
            if args.alike:  # the pool sorted by how close each post's mean colour is to the first's: alike scenes first
                means = np.array([p.reshape(-1, 3).mean(0) for p in pool], dtype=np.float64)
                pool = [pool[i] for i in np.argsort(((means - means[0]) ** 2).sum(1), kind="stable")]
            content = [Image.fromarray(x) for x in inputs]
            for n in sizes:
                if (kind, name, seed, n) in done:
                    continue
                look = finetune([Image.fromarray(r) for r in pool[:n]], content, FinetuneSettings(), prior=prior)
                true = float(np.mean([ciede2000(np.asarray(look.apply(x)) / 255.0, t) for x, t in zip(content, truths)]))
                record = look.metadata["certainty"]
                signals = record["signals"]
                row = {"set": kind + ("-alike" if args.alike else ""), "look": name, "seed": seed, "n": n, "true": round(true, 4),
                       "estimate": record["expected_error"], "verdict": record["verdict"],
                       "seconds": look.metadata["seconds"], "certainty_seconds": record["seconds"],
                       **{key: signals.get(key, "") for key in FIELDS[9:]}}
                writer.writerow(row)
                look.save(out.parent / f"{kind}-{name}-{seed}-{n}.look")  # for signals read afterwards
                handle.flush()
                print(" ".join(f"{row[f]}" for f in FIELDS[:9]), flush=True)


def timing(args: argparse.Namespace) -> None:
    """A feed of 50 posts (one dev look, 1080 px JPEG q85 files, read from disk as the CLI reads them) learned with
    the default settings on ``--threads`` threads, with and without the certainty; the load average beside it."""
    import os
    import tempfile
    import time

    import torch
    from PIL import Image

    from feedbench import apply_float, look_seed, to8
    from influgan import FinetuneSettings, finetune
    from influgan.images import find_images

    torch.set_num_threads(args.threads)
    photos = sorted(find_images([SHARED / "photos"]))
    name, lut = dev_looks()[0]
    order = np.random.default_rng(look_seed(name)).permutation(len(photos))
    print(f"| run | posts | threads | seconds | certainty seconds | load average before → after |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for i in order[:POOL]:
            image = Image.open(photos[i]).convert("RGB")
            image.thumbnail((1080, 1080), Image.Resampling.LANCZOS)
            path = Path(folder) / f"{i:03d}.jpg"
            Image.fromarray(to8(apply_float(lut, np.asarray(image, dtype=np.float64) / 255.0))).save(path, quality=85)
            paths.append(str(path))
        for repeat in range(args.repeats):
            for with_certainty in (False, True):
                before = os.getloadavg()[0]
                began = time.perf_counter()
                look = finetune(paths, settings=FinetuneSettings(certainty=with_certainty))
                seconds = time.perf_counter() - began
                extra = look.metadata.get("certainty", {}).get("seconds", 0.0)
                print(f"| {'with' if with_certainty else 'without'} certainty | {len(paths)} | {args.threads} | {seconds:.1f} | "
                      f"{extra:.2f} | {before:.2f} → {os.getloadavg()[0]:.2f} |", flush=True)


def read_rows(paths: list[Path]) -> list[dict]:
    """Every row of the CSVs; a row as long as FIELDS is read by FIELDS (a file begun by an older bench with fewer
    columns keeps its header for its older rows)."""
    rows = []
    for path in paths:
        with Path(path).open(newline="") as handle:
            lines = list(csv.reader(handle))
        if lines:
            rows += [dict(zip(FIELDS if len(values) == len(FIELDS) else lines[0], values)) for values in lines[1:]]
    return rows


CANDIDATE_FLOORS = {"references": 0.0, "halves": 0.25, "moved": 0.25, "spread": 1.0, "strength": 1.0, "residual": 0.25, "recovery": 0.25,
                    "noise": 0.25, "trust": 0.1}


def features(row: dict, keys) -> list[float]:
    return [math.log(float(row[k]) + CANDIDATE_FLOORS[k]) for k in keys]


def fit(rows: list[dict], keys) -> tuple[float, dict]:
    """Least squares of log(true) on the log signals ``keys``: (bias, weights)."""
    x = np.array([[1.0] + features(r, keys) for r in rows])
    y = np.log([float(r["true"]) for r in rows])
    coefficients, *_ = np.linalg.lstsq(x, y, rcond=None)
    return float(coefficients[0]), dict(zip(keys, coefficients[1:].tolist()))


def leave_one_look_out(rows: list[dict], keys) -> list[tuple[float, float]]:
    """(true, estimate) of every row, its estimate fitted on the other looks' rows only."""
    held = []
    for look in sorted({r["look"] for r in rows}):
        bias, weights = fit([r for r in rows if r["look"] != look], keys)
        held += [(float(r["true"]), math.exp(bias + sum(w * f for w, f in zip(weights.values(), features(r, keys)))))
                 for r in rows if r["look"] == look]
    return held


def close_threshold(held: list[tuple[float, float]], share: float = 0.05) -> float:
    """The largest estimate such that, of the rows estimated at most it, at most ``share`` have a true error over 4."""
    best = 0.0
    for _, limit in sorted(held, key=lambda p: p[1]):
        called = [t for t, e in held if e <= limit]
        if sum(t > 4 for t in called) <= share * len(called):
            best = limit
    return best


def spearman(a, b) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def report(args: argparse.Namespace) -> None:
    rows = read_rows(args.csv)
    for r in rows:  # the estimate as the module computes it now, from the stored signals
        signals = {k: float(r[k]) for k in certainty.WEIGHTS}
        r["estimate"] = certainty.expected_error(signals)
        r["verdict"] = certainty.verdict_for(r["estimate"])
    if args.fit:
        candidates = [("references",), ("references", "halves"), ("references", "halves", "moved"),
                      ("references", "halves", "moved", "spread"), ("references", "halves", "moved", "strength"),
                      ("references", "halves", "moved", "spread", "strength"), ("halves", "moved", "strength"),
                      ("references", "moved", "strength"), ("halves", "moved"), ("references", "halves", "moved", "noise"),
                      ("halves", "moved", "noise"), ("references", "halves", "moved", "trust"), ("references", "halves", "moved", "noise", "trust")]
        if all(r.get("residual") for r in rows):
            candidates += [("references", "halves", "moved", "residual"), ("references", "halves", "moved", "noise", "residual")]
        if all(r.get("recovery") for r in rows):
            candidates += [("references", "halves", "moved", "recovery")]
        print("| signals | Spearman, leave one look out | close threshold (≤ 5 % over 4) | called close | fit on all rows |")
        print("|---|---|---|---|---|")
        for keys in candidates:
            held = leave_one_look_out(rows, keys)
            limit = close_threshold(held)
            bias, weights = fit(rows, keys)
            print(f"| {', '.join(keys)} | {spearman(*zip(*held)):.3f} | {limit:.2f} | {sum(e <= limit for _, e in held)} | "
                  f"BIAS = {bias:.3f}, WEIGHTS = {{{', '.join(f'{k!r}: {v:.3f}' for k, v in weights.items())}}} |")
        print()
    sizes = sorted({int(r["n"]) for r in rows})
    sets = sorted({r["set"] for r in rows})
    print(f"rows {len(rows)}: " + ", ".join(f"{s} {len({r['look'] for r in rows if r['set'] == s})} looks × seeds "
                                           f"{sorted({int(r['seed']) for r in rows if r['set'] == s})}" for s in sets))
    print()
    print("| set | posts | runs | true ΔE median | true ΔE mean | estimate median | estimate mean | close / fair / rough | close with true > 4 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for kind in sets + ["all"]:
        for n in sizes:
            part = [r for r in rows if int(r["n"]) == n and (kind == "all" or r["set"] == kind)]
            if not part:
                continue
            t = np.array([float(r["true"]) for r in part])
            e = np.array([r["estimate"] for r in part])
            counts = [sum(r["verdict"] == v for r in part) for v in certainty.VERDICTS]
            wrong = sum(float(r["true"]) > 4 for r in part if r["verdict"] == "close")
            print(f"| {kind} | {n} | {len(part)} | {np.median(t):.2f} | {t.mean():.2f} | {np.median(e):.2f} | {e.mean():.2f} | "
                  f"{' / '.join(map(str, counts))} | {wrong} |")
    complete = complete_looks(rows, sizes)
    if complete:
        print(f"\nThe {len(complete)} looks run at every size (one feed growing), median true error / median estimate:\n")
        print("| posts | " + " | ".join(str(n) for n in sizes) + " |")
        print("|---|" + "---|" * len(sizes))
        for what in ("true", "estimate"):
            print(f"| {what} | " + " | ".join(f"{np.median([float(r[what]) for r in rows if int(r['n']) == n and r['look'] in complete]):.2f}"
                                               for n in sizes) + " |")
    print()
    print("| set | runs | Spearman (estimate, true) | Spearman within a feed size (median) | called close | close with true > 4 ΔE | estimate's time / fine-tune's |")
    print("|---|---|---|---|---|---|---|")
    for kind in sets + ["all"]:
        part = [r for r in rows if kind == "all" or r["set"] == kind]
        t = [float(r["true"]) for r in part]
        e = [r["estimate"] for r in part]
        within = [spearman([float(r["true"]) for r in part if int(r["n"]) == n], [r["estimate"] for r in part if int(r["n"]) == n])
                  for n in sizes if sum(int(r["n"]) == n for r in part) > 2]
        close = [r for r in part if r["verdict"] == "close"]
        wrong = sum(float(r["true"]) > 4 for r in close)
        share = [float(r["certainty_seconds"]) / (float(r["seconds"]) - float(r["certainty_seconds"])) for r in part]
        print(f"| {kind} | {len(part)} | {spearman(t, e):.3f} | {np.median(within):.3f} | {len(close)} | {wrong} "
              f"({100 * wrong / max(len(close), 1):.1f} %) | {100 * np.median(share):.1f} % (max {100 * max(share):.1f} %) |")
    if args.plot:
        plot(rows, sizes, sets, Path(args.plot))


def complete_looks(rows: list[dict], sizes: list[int]) -> set[str]:
    """The looks with a run at every feed size (one feed growing: the curve compares like with like)."""
    have: dict[str, set[int]] = {}
    for r in rows:
        have.setdefault(r["look"], set()).add(int(r["n"]))
    return {look for look, found in have.items() if set(sizes) <= found}


def plot(rows: list[dict], sizes: list[int], sets: list[str], path: Path) -> None:
    """Error against feed size on the looks measured at every size: the true error and the estimate (median,
    quartile band) per set; and the estimate against the true error of every run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from matplotlib.ticker import NullFormatter

    figure, (curve, scatter) = plt.subplots(1, 2, figsize=(11, 4.2))
    colours = {"dev": "tab:blue", "heldout": "tab:red"}
    complete = complete_looks(rows, sizes)
    for kind in sets:
        for what, style in (("true", "-"), ("estimate", "--")):
            values = [[float(r[what]) for r in rows if r["set"] == kind and int(r["n"]) == n and r["look"] in complete] for n in sizes]
            if not all(values):
                continue
            median = [np.median(v) for v in values]
            label = f"{kind} ({len({r['look'] for r in rows if r['set'] == kind and r['look'] in complete})} looks): {'true error' if what == 'true' else 'certainty estimate'}"
            curve.plot(sizes, median, style, marker="o", color=colours.get(kind, "k"), label=label)
            if what == "true":
                curve.fill_between(sizes, [np.percentile(v, 25) for v in values], [np.percentile(v, 75) for v in values],
                                   color=colours.get(kind, "k"), alpha=0.12)
        part = [r for r in rows if r["set"] == kind]
        scatter.scatter([float(r["true"]) for r in part], [r["estimate"] for r in part], s=10, alpha=0.6,
                        color=colours.get(kind, "k"), label=kind)
    curve.set_xscale("log")
    curve.set_xticks(sizes, [str(s) for s in sizes])
    curve.xaxis.set_minor_formatter(NullFormatter())
    curve.set_xlabel("posts in the feed")
    curve.set_ylabel("mean CIEDE2000 on other photos (median over looks)")
    curve.set_title("Error against feed size, looks run at every size (band: quartiles)")
    curve.legend(fontsize=8)
    top = max(max(float(r["true"]) for r in rows), max(r["estimate"] for r in rows)) * 1.05
    scatter.plot([0, top], [0, top], ":", color="grey")
    scatter.axhline(certainty.CLOSE, color="green", lw=0.8)
    scatter.axvline(4.0, color="grey", lw=0.8)
    scatter.set_xlabel("true error (ΔE2000)")
    scatter.set_ylabel("certainty estimate (ΔE2000)")
    scatter.set_title("Estimate against truth, every run (green: 'close' below)")
    scatter.legend(fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    print(f"\nwrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("run")
    p.add_argument("--out", required=True, help="CSV to append to")
    p.add_argument("--sets", default="dev,heldout")
    p.add_argument("--heldout", type=int, default=12, help="held-out library looks (one per family)")
    p.add_argument("--sizes", default="3,12,50;6,20,30", help="feed sizes; ';' splits groups run one after the other")
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--shard", default="0/1", help="K/N: this process runs every N-th (look, seed) from K")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--alike", action="store_true",
                   help="feeds of alike scenes: the pool's posts nearest in mean colour to its first (set name + '-alike')")
    p.add_argument("--looks", default="", help="comma-separated look names (default: all of the sets)")
    p.set_defaults(run=run)
    p = commands.add_parser("time", help="fine-tune time of a 50-post feed, with and without the certainty")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=1)
    p.set_defaults(run=timing)
    p = commands.add_parser("report")
    p.add_argument("csv", nargs="+", type=Path)
    p.add_argument("--plot", default="", help="PNG to draw")
    p.add_argument("--fit", action="store_true", help="fit certainty.WEIGHTS and score them leave-one-look-out")
    p.set_defaults(run=report)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
