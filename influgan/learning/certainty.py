"""How sure is a learned look: its expected colour error, read from the feed alone, in ΔE2000 and in words.

No truth is known to the user, so the estimate reads what the feed itself says about how well it pins the look:
- ``halves``: the look prior's look of one half of the feed against the other half's (several random splits),
  mean ΔE76 over ordinary colours: how much the look still hangs on which posts were given;
- ``moved``: how far the fine-tune moved the look from where it started (the prior's reading), mean ΔE76: a feed
  the prior explains stays put, one unlike any look the prior learned moves far, and the fine-tune's
  distribution matching is where unpaired learning guesses most;
- ``spread``: how different the posts' scenes are (RMS distance of each post's mean colour from the feed's, ΔE76):
  a feed of alike scenes cannot tell the look from the scenes, however many posts it has;
- ``references``: the number of usable posts; ``noise``, ``trust``: the fine-tune's own scene-noise reading and
  the anchor's trust in the prior (``finetune.scene_noise``, ``finetune.anchor_trust``).
``expected_error`` maps them to the mean CIEDE2000 a look of such a feed lands from the truth on other photos: a
log-linear fit measured on held-out looks (``bench/certaintybench.py``, docs/certainty.md). The cost is a few
prior readings of half feeds and a few colour lookups: ~1 s beside a 12–15 s fine-tune.

This module's top level needs NumPy only, so that ``python -m influgan info`` reads a look's certainty without
torch; ``read_certainty`` imports torch when called.

    certainty = Certainty.from_metadata(look.metadata)     # None for looks made before it, or by import
    print(certainty.summary())                             # "rough — add posts: expected colour error 5.1 ΔE ..."
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

# Median true error (mean CIEDE2000 on other photos) of a learned look against feed size, measured by
# bench/certaintybench.py (docs/certainty.md). The References step, the fingerprint and the CLI's
# warning quote it; FEED_KNEE is where the curve flattens: more posts beyond it change little.
FEED_CURVE = {3: 4.2, 6: 3.3, 12: 3.0, 20: 3.0, 30: 2.8, 50: 2.7}  # the 9 looks measured at every size, seed 0
FEED_KNEE = 12
# The words: an expected error at most CLOSE reads "close", at most FAIR "fair", above it "rough — add posts".
# CLOSE is chosen on the bench so that looks called close with a true error over 4 ΔE stay within 5 %.
CLOSE, FAIR = 2.6, 4.0
VERDICTS = ("close", "fair", "rough")
VERDICT_WORDS = {"close": "close", "fair": "fair", "rough": "rough — add posts"}
# expected_error = exp(BIAS + Σ weight · log(signal + FLOOR)): fitted on the bench (docs/certainty.md)
WEIGHTS = {"halves": 0.282, "moved": 0.237}
FLOORS = {"halves": 0.25, "moved": 0.25}
BIAS = 0.643
# ΔE76: a feed of 6+ posts whose mean colours lie closer than this shows too few kinds of scene. Random feeds of 12+
# posts on the bench lie above 10.8 (5th percentile); six feeds of 12 alike posts lay at 4.4–9.2 and three of them
# learned looks 2–5 ΔE worse than a random feed of the same look (docs/certainty.md)
ALIKE_SPREAD = 10.0
ALIKE_MIN_POSTS = 6  # fewer posts' spread is mostly chance
HALF_SPLITS, HALF_CROPS, COLOURS = 3, 128, 4096  # random half splits, prior crops per half reading, colours compared
MAX_ADVICE = 300  # characters of advice kept from a look file


@dataclass
class Certainty:
    """How close a learned look is expected to be to the feed's true look.

    expected_error: the mean colour error (CIEDE2000) expected on other photos; verdict: "close", "fair" or
    "rough"; advice: what would make it better, in plain words; references: usable posts it was learned from;
    signals: the readings it was computed from (see the module docstring); seconds: what computing it took.
    """

    expected_error: float
    verdict: str
    advice: str
    references: int
    signals: dict = field(default_factory=dict)
    seconds: float = 0.0
    paintings: bool = False  # learned from 1–2 paintings (references counts them, not their tiles)

    def words(self) -> str:
        """``"close"``, ``"fair"`` or ``"rough — add posts"`` (``"rough — add a painting"`` for a painting)."""
        return "rough — add a painting" if self.paintings and self.verdict == "rough" else VERDICT_WORDS[self.verdict]

    def source(self) -> str:
        """What the look was learned from, counted as the user gave it: "12 posts", "1 painting"."""
        unit = "painting" if self.paintings else "post"
        return f"{self.references} {unit}{'' if self.references == 1 else 's'}"

    def summary(self) -> str:
        """One line: the verdict, the expected error, and the advice."""
        return f"{self.words()}: expected colour error {self.expected_error:.1f} ΔE (CIEDE2000) from {self.source()}. {self.advice}"

    def to_metadata(self) -> dict:
        """The record stored in a ``.look``'s metadata under ``"certainty"`` (JSON types only)."""
        return {
            "expected_error": round(float(self.expected_error), 3),
            "verdict": self.verdict,
            "advice": self.advice,
            "references": int(self.references),
            "signals": {k: round(float(v), 4) for k, v in self.signals.items()},
            "seconds": round(float(self.seconds), 3),
            **({"paintings": True} if self.paintings else {}),
        }

    @classmethod
    def from_metadata(cls, metadata: dict) -> "Certainty | None":
        """The certainty stored in a look's metadata, or None when there is none or it is malformed (a look file
        is a stranger's upload: every field is checked, nothing is trusted)."""
        record = metadata.get("certainty") if isinstance(metadata, dict) else None
        if not isinstance(record, dict):
            return None
        error, verdict, advice, count = (record.get(k) for k in ("expected_error", "verdict", "advice", "references"))
        if not _number(error) or verdict not in VERDICTS or not isinstance(advice, str) or not _number(count):
            return None
        signals = record.get("signals")
        signals = {str(k)[:40]: float(v) for k, v in signals.items() if _number(v)} if isinstance(signals, dict) else {}
        seconds = record.get("seconds")
        advice = "".join(c for c in " ".join(advice.split()) if c.isprintable())[:MAX_ADVICE]  # one line, no escapes
        return cls(float(error), verdict, advice, int(count), signals,
                   float(seconds) if _number(seconds) else 0.0, record.get("paintings") is True)


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and 0 <= value < 1e6


def expected_error(signals: dict) -> float:
    """The expected mean CIEDE2000 of a look from its feed's readings (``signals``: the keys of WEIGHTS)."""
    total = BIAS + sum(w * math.log(max(signals[k], 0.0) + FLOORS[k]) for k, w in WEIGHTS.items())
    return float(math.exp(total))


def verdict_for(error: float) -> str:
    return "close" if error <= CLOSE else "fair" if error <= FAIR else "rough"


def curve_error(posts: int) -> float:
    """The bench's median error for a feed of ``posts`` posts (interpolated in log posts; clamped at the ends)."""
    sizes = sorted(FEED_CURVE)
    return float(np.interp(math.log(max(posts, 1)), [math.log(s) for s in sizes], [FEED_CURVE[s] for s in sizes]))


def feed_advice(posts: int, spread: float | None = None) -> str:
    """What would make a look of this feed better, in plain words, before or after it is learned: more posts
    below FEED_KNEE, posts of other scenes when the feed's are alike, else that more would change little."""
    parts = []
    if posts < FEED_KNEE:
        parts.append(f"Add posts: {FEED_KNEE} or more give a closer look (typically {curve_error(FEED_KNEE):.1f} ΔE "
                     f"against {curve_error(posts):.1f} with {posts}).")
    if spread is not None and spread < ALIKE_SPREAD and posts >= ALIKE_MIN_POSTS:
        parts.append("The posts' scenes are much alike: posts of other scenes and light tell the look apart from the scenes.")
    if not parts:
        parts.append(f"More posts would change little (typically {curve_error(max(posts, 50)):.1f} ΔE with 50).")
    return " ".join(parts)


def painting_advice(paintings: int) -> str:
    """What would make a look learned from paintings surer: the posts' curve does not apply to a painting's tiles."""
    one = paintings == 1
    return (f"Learned from {'one painting' if one else 'two paintings'} (each read in four quarters for its colours): "
            f"{'a second painting in the same style' if one else 'more paintings'}, or {FEED_KNEE} or more posts in that style, "
            f"give a surer look.")


def feed_guidance() -> str:
    """How many posts give how close a look, in plain words, from the bench's curve (the References step)."""
    points = ", ".join(f"{n} posts ≈ {FEED_CURVE[n]:.1f}" for n in sorted(FEED_CURVE))
    return (f"More posts, closer look. Typical colour error on other photos (ΔE; under 2 is hard to see, over 5 is "
            f"plain): {points}. Past about {FEED_KNEE} posts it flattens; posts of different scenes help most.")


def small_feed_warning(posts: int) -> str | None:
    """A one-line warning for a feed below FEED_KNEE posts, else None."""
    if posts >= FEED_KNEE:
        return None
    return (f"only {posts} reference photo{'s' if posts != 1 else ''}: looks learned from under {FEED_KNEE} posts are "
            f"typically {curve_error(posts):.1f} ΔE off (against {curve_error(FEED_KNEE):.1f} from {FEED_KNEE}); add posts for a closer look")


def scene_spread(photos: Sequence) -> float:
    """How different the posts' scenes are: RMS distance (ΔE76) of each photo's mean CIELAB colour from the feed's.

    photos: Pillow images, (3, h, w) tensors in 0..1, or pixel arrays (P, 3) in 0..1 (one per photo)."""
    means = np.array([_mean_lab(_rgb_pixels(p)) for p in photos])  # (n, 3)
    return float(np.sqrt(((means - means.mean(0)) ** 2).sum(1).mean()))


def _rgb_pixels(photo) -> np.ndarray:
    """A Pillow image, a (3, h, w) tensor or (P, 3) pixels → its pixels (N, 3) in 0..1."""
    if hasattr(photo, "convert"):
        return np.asarray(photo.convert("RGB"), dtype=np.float64).reshape(-1, 3) / 255.0
    array = np.asarray(photo, dtype=np.float64)
    return array if array.ndim == 2 else array.reshape(3, -1).T


def _mean_lab(rgb: np.ndarray) -> np.ndarray:
    """The mean CIELAB colour (3,) of sRGB pixels (N, 3) in 0..1 (D65, as ``losses.rgb_to_lab``)."""
    rgb = np.clip(rgb, 0.0, 1.0)
    linear = np.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    xyz = linear @ np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]).T
    xyz = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 216 / 24389, np.cbrt(xyz), (24389 / 27 * xyz + 16) / 116)
    lab = np.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], 1)
    return lab.mean(0)


def read_certainty(look_lut, start_lut, ref_photos: Sequence, prior=None, noise: float | None = None,
                   trust: float | None = None, residual: float | None = None, seed: int = 0,
                   content_photos: Sequence = (), paintings: int = 0) -> Certainty:
    """The certainty of a learned look.

    look_lut, start_lut: the learned LUT and the one the fine-tune started from, torch (S, S, S, 3) in 0..1
    (start_lut None: started from identity); ref_photos: the references as (3, h, w) tensors in 0..1 at the
    prior's reading size; prior: a LookPrior (None: the halves are not read and count as large); noise, trust:
    the fine-tune's readings when it made them; residual: its last step's feed distance (ΔE); content_photos:
    plain photos (3, h, w) in 0..1 for the prior's reading of the learned look itself (``recovery``); paintings:
    how many paintings ``ref_photos`` are the tiles of (0: they are posts).
    """
    import torch

    from .losses import rgb_to_lab
    from .lut_torch import apply_lut_colours, identity_lut
    from .natural import load_histogram, sample_colours

    started = time.perf_counter()
    generator = torch.Generator().manual_seed(seed)
    histogram = load_histogram()
    colours = sample_colours(histogram, COLOURS, generator) if histogram is not None else torch.rand(COLOURS, 3, generator=generator)

    def difference(first: torch.Tensor, second: torch.Tensor) -> float:  # mean ΔE76 of ordinary colours between two LUTs
        return float((rgb_to_lab(apply_lut_colours(colours, first)) - rgb_to_lab(apply_lut_colours(colours, second))).norm(dim=-1).mean())

    count = len(ref_photos)
    start = start_lut if start_lut is not None else identity_lut(look_lut.shape[0])
    signals = {"references": float(count), "moved": difference(look_lut, start), "spread": scene_spread(ref_photos),
               "strength": difference(look_lut, identity_lut(look_lut.shape[0]))}
    if prior is not None:
        splits = []
        for _ in range(HALF_SPLITS):
            order = torch.randperm(count, generator=generator).tolist()
            first, second = ([ref_photos[i] for i in part] for part in (order[: count // 2], order[count // 2 :]))
            luts = [torch.from_numpy(prior.predict(part, crops=HALF_CROPS).lut) for part in (first, second)]
            splits.append(difference(*luts))
        signals["halves"] = float(np.mean(splits))
        if content_photos:  # a feed made with the learned look: does the prior read that look back?
            from .lut_torch import apply_lut

            scenes = [crop for photo in content_photos for crop in (photo, photo[..., : photo.shape[-1] // 2], photo[..., photo.shape[-1] // 2 :])]
            styled = [apply_lut(scene.unsqueeze(0), look_lut)[0].clamp(0.0, 1.0) for scene in scenes]
            signals["recovery"] = difference(torch.from_numpy(prior.predict(styled, crops=2 * HALF_CROPS).lut), look_lut)
    else:
        signals["halves"] = 10.0  # no prior to read halves with: count the look as unsettled
    if noise is not None:
        signals["noise"] = math.sqrt(max(noise, 0.0))
    if trust is not None:
        signals["trust"] = trust
    if residual is not None:
        signals["residual"] = residual
    error = expected_error(signals)
    verdict = verdict_for(error)
    advice = feed_advice(count, signals["spread"])
    if verdict == "rough" and count >= FEED_KNEE and signals["spread"] >= ALIKE_SPREAD:
        advice = "The feed's look is unlike the looks the prior knows; more posts of varied scenes help it most."
    if paintings:
        return Certainty(error, verdict, painting_advice(paintings), paintings, signals, time.perf_counter() - started, True)
    return Certainty(error, verdict, advice, count, signals, time.perf_counter() - started)
