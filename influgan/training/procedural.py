"""Procedural looks: small pure functions that grade a LUT, a seeded random mixture of them, and the built-ins.

Every grading function takes a LUT (S, S, S, 3) indexed [b, g, r] with RGB values in 0..1 (start from
``identity_lut()``) and returns a new LUT of the same shape: it maps each entry's *output* colour, so chaining
functions composes the grades in order. All are plain torch ops (differentiable in the LUT) and leave the
input untouched. Parameters at their defaults give back the input.

    lut = split_tone(tone_curve(identity_lut(), contrast=0.3), shadows=(0.0, 0.5, 0.6), highlights=(1.0, 0.6, 0.3))
    lut = build_lut(random_recipe(torch.Generator().manual_seed(7)))   # a random, reproducible look

``python -m influgan.training.procedural --out weights/looks`` writes the built-in looks as ``.look`` files.
"""
from __future__ import annotations

import argparse
import math
import re
from pathlib import Path
from typing import Callable, Sequence

import torch

from ..looks.finishing import Finish
from ..looks.look import Look
from ..looks.lut import LUT_SIZE, check_lut
from ..learning.lut_torch import identity_lut

# Rec. 709 luma weights
LUMA = (0.2126, 0.7152, 0.0722)
Colour = Sequence[float]


def _luma(colours: torch.Tensor) -> torch.Tensor:
    """(..., 3) → (..., 1) Rec. 709 luma."""
    return (colours * colours.new_tensor(LUMA)).sum(-1, keepdim=True)


def _checked(lut: torch.Tensor) -> torch.Tensor:
    check_lut(lut)
    return lut


def _smoothstep(x: torch.Tensor) -> torch.Tensor:
    return x * x * (3.0 - 2.0 * x)


def tone_curve(lut: torch.Tensor, contrast: float = 0.0, fade: float = 0.0, lift: float = 0.0, white: float = 1.0) -> torch.Tensor:
    """A monotone tone curve applied to each channel.

    contrast: -1..1, an S-curve around mid-grey (negative flattens).
    fade: 0..0.4, raises the black point (matte, "faded film" blacks).
    lift: -1..1, brightens (positive) or darkens the shadows and midtones, by a gamma of 2**-lift.
    white: 0.6..1, the output white point (soft, rolled-off highlights below 1).
    """
    if not -1.0 <= contrast <= 1.0:
        raise ValueError(f"contrast must be within -1..1, got {contrast}")
    if not 0.0 <= fade <= 0.4 or not 0.6 <= white <= 1.0:
        raise ValueError(f"fade must be within 0..0.4 and white within 0.6..1, got {fade}, {white}")
    x = _checked(lut).clamp(0.0, 1.0)
    x = x.clamp(min=1e-6) ** (2.0 ** -float(lift))  # clamp: finite gradients at 0
    x = x + contrast * (_smoothstep(x) - x)  # derivative 1 + c·(6x − 6x² − 1) ≥ 0 for |c| ≤ 1: stays monotone
    return fade + x * (white - fade)


def saturation(lut: torch.Tensor, amount: float = 1.0) -> torch.Tensor:
    """Scale colourfulness around each colour's luma: 0 grey, 1 unchanged, up to 2 vivid (clamped to 0..1)."""
    if not 0.0 <= amount <= 2.0:
        raise ValueError(f"saturation amount must be within 0..2, got {amount}")
    luma = _luma(_checked(lut))
    return (luma + amount * (lut - luma)).clamp(0.0, 1.0)


def channel_mixer(lut: torch.Tensor, matrix: torch.Tensor | Sequence[Sequence[float]], offset: Colour = (0.0, 0.0, 0.0)) -> torch.Tensor:
    """out_rgb = matrix (3, 3) @ in_rgb + offset (3,), clamped to 0..1. Row i says how output channel i is mixed."""
    matrix = torch.as_tensor(matrix, dtype=lut.dtype)
    if matrix.shape != (3, 3):
        raise ValueError(f"the channel mixer matrix must be (3, 3), got {tuple(matrix.shape)}")
    return (_checked(lut) @ matrix.T + lut.new_tensor(offset)).clamp(0.0, 1.0)


def white_balance(lut: torch.Tensor, temperature: float = 0.0, tint: float = 0.0) -> torch.Tensor:
    """Warm (temperature > 0) or cool the image, and push it magenta (tint > 0) or green; both -1..1.

    Channel gains normalised to keep mid-grey's luma, so the image gets warmer, not brighter.
    """
    if not -1.0 <= temperature <= 1.0 or not -1.0 <= tint <= 1.0:
        raise ValueError(f"temperature and tint must be within -1..1, got {temperature}, {tint}")
    gains = torch.tensor([1.0 + 0.25 * temperature + 0.1 * tint, 1.0 - 0.2 * tint, 1.0 - 0.25 * temperature + 0.1 * tint])
    gains = gains / (gains * torch.tensor(LUMA)).sum()
    return channel_mixer(lut, torch.diag(gains).tolist())


def hue_rotation_matrix(degrees: float) -> torch.Tensor:
    """(3, 3) rotation of RGB about the grey axis (1, 1, 1)/√3 by ``degrees`` (Rodrigues' formula)."""
    angle = math.radians(degrees)
    cos, sin = math.cos(angle), math.sin(angle)
    k = 1.0 / math.sqrt(3.0)
    cross = torch.tensor([[0.0, -k, k], [k, 0.0, -k], [-k, k, 0.0]])  # [axis]ₓ
    outer = torch.full((3, 3), k * k)
    return cos * torch.eye(3) + sin * cross + (1.0 - cos) * outer


def exposure(lut: torch.Tensor, stops: float = 0.0) -> torch.Tensor:
    """Brighten (stops > 0) or darken the image by ``stops`` (-3..3) in (approximately) linear light; highlights clip."""
    if not -3.0 <= stops <= 3.0:
        raise ValueError(f"stops must be within -3..3, got {stops}")
    return (_checked(lut).clamp(0.0, 1.0) * 2.0 ** (stops / 2.2)).clamp(0.0, 1.0)


def gradient_map(
    lut: torch.Tensor,
    shadows: Colour = (0.5, 0.5, 0.5),
    midtones: Colour = (0.5, 0.5, 0.5),
    highlights: Colour = (0.5, 0.5, 0.5),
    amount: float = 1.0,
) -> torch.Tensor:
    """Replace each colour's chroma by a tint that runs shadows → midtones → highlights along its luma.

    Unlike ``split_tone`` (which adds a tint), the original chroma is given up: at ``amount`` 1 the image is a
    tritone (duotone when two colours agree), as in redscale or sunset grades. Colours are RGB 0..1 (grey: none).
    """
    if not 0.0 <= amount <= 1.0:
        raise ValueError(f"amount must be within 0..1, got {amount}")
    luma = _luma(_checked(lut)).clamp(0.0, 1.0)  # (S, S, S, 1)
    tints = torch.stack([lut.new_tensor(c) - _luma(lut.new_tensor(c)) for c in (shadows, midtones, highlights)])  # (3, 3) chroma
    low = (1.0 - 2.0 * luma).clamp(min=0.0)  # weights of a piecewise-linear gradient over luma
    high = (2.0 * luma - 1.0).clamp(min=0.0)
    tint = low * tints[0] + (1.0 - low - high) * tints[1] + high * tints[2]
    return lut + amount * ((luma + tint).clamp(0.0, 1.0) - lut)


def hue_shift(lut: torch.Tensor, degrees: float = 0.0) -> torch.Tensor:
    """Rotate every hue by ``degrees`` (greys stay grey); e.g. 120 turns red to green."""
    return channel_mixer(lut, hue_rotation_matrix(degrees))


def split_tone(
    lut: torch.Tensor,
    shadows: Colour = (0.5, 0.5, 0.5),
    highlights: Colour = (0.5, 0.5, 0.5),
    amount: float = 0.3,
    balance: float = 0.0,
) -> torch.Tensor:
    """Tint the shadows and the highlights with two colours (RGB 0..1; grey (0.5, 0.5, 0.5) = no tint).

    Only each tint's chroma is added (its luma is removed), so brightness is kept. amount: 0..1.
    balance: -1..1, moves the split point toward the shadows (negative) or highlights (positive).
    """
    if not 0.0 <= amount <= 1.0 or not -1.0 <= balance <= 1.0:
        raise ValueError(f"amount must be within 0..1 and balance within -1..1, got {amount}, {balance}")
    luma = _luma(_checked(lut)).clamp(0.0, 1.0)
    pivot = 0.5 + 0.4 * balance
    shadow_weight = ((pivot - luma) / pivot).clamp(1e-6, 1.0) ** 0.8  # (S, S, S, 1); 1e-6: finite gradients
    highlight_weight = ((luma - pivot) / (1.0 - pivot)).clamp(1e-6, 1.0) ** 0.8
    shadow_chroma = lut.new_tensor(shadows) - _luma(lut.new_tensor(shadows))  # (3,)
    highlight_chroma = lut.new_tensor(highlights) - _luma(lut.new_tensor(highlights))
    return (lut + amount * (shadow_weight * shadow_chroma + highlight_weight * highlight_chroma)).clamp(0.0, 1.0)


def black_and_white(lut: torch.Tensor, filter_colour: Colour = LUMA, toning: Colour = (0.5, 0.5, 0.5), amount: float = 1.0) -> torch.Tensor:
    """Monochrome through a coloured lens filter, optionally toned, blended with the colour input by ``amount``.

    filter_colour: channel weights (normalised to sum 1): LUMA is neutral, (0.6, 0.3, 0.1) a red filter (dark
    skies), (0.2, 0.3, 0.5) a blue one. toning: a colour whose chroma tints the greys (e.g. sepia (0.7, 0.5, 0.3)).
    """
    weights = lut.new_tensor(filter_colour).clamp(min=0.0)
    if weights.shape != (3,) or weights.sum() <= 0:
        raise ValueError(f"filter_colour must be three non-negative weights, got {filter_colour}")
    if not 0.0 <= amount <= 1.0:
        raise ValueError(f"amount must be within 0..1, got {amount}")
    grey = (_checked(lut) * (weights / weights.sum())).sum(-1, keepdim=True)  # (S, S, S, 1)
    tone = lut.new_tensor(toning) - _luma(lut.new_tensor(toning))
    mono = (grey + 4.0 * grey * (1.0 - grey) * tone).clamp(0.0, 1.0)  # toning strongest in the midtones
    return lut + amount * (mono - lut)


def cross_process(lut: torch.Tensor, amount: float = 1.0) -> torch.Tensor:
    """The look of slide film developed as negative: punchy reds and greens, flat yellowish blues, cyan shadows.

    Per-channel curves: red and green get contrast, blue is flattened with lifted blacks. amount: 0..1.
    """
    if not 0.0 <= amount <= 1.0:
        raise ValueError(f"amount must be within 0..1, got {amount}")
    x = _checked(lut).clamp(0.0, 1.0)
    red = x[..., 0] + 0.6 * (_smoothstep(x[..., 0]) - x[..., 0])
    green = x[..., 1] + 0.35 * (_smoothstep(x[..., 1]) - x[..., 1])
    blue = 0.12 + 0.72 * x[..., 2]
    processed = torch.stack([red, green, blue], dim=-1)
    return lut + amount * (processed - lut)


# --- recipes: a look as a list of (function name, keyword arguments), serialisable as JSON ----------------
OPERATIONS: dict[str, Callable[..., torch.Tensor]] = {
    "exposure": exposure,
    "white_balance": white_balance,
    "tone_curve": tone_curve,
    "saturation": saturation,
    "channel_mixer": channel_mixer,
    "hue_shift": hue_shift,
    "split_tone": split_tone,
    "black_and_white": black_and_white,
    "cross_process": cross_process,
    "gradient_map": gradient_map,
}
Recipe = list[tuple[str, dict]]


def build_lut(recipe: Recipe, size: int = LUT_SIZE) -> torch.Tensor:
    """Apply a recipe's operations in order to the identity LUT. Returns (size, size, size, 3)."""
    lut = identity_lut(size)
    for name, kwargs in recipe:
        if name not in OPERATIONS:
            raise ValueError(f"unknown operation {name!r}; known: {', '.join(OPERATIONS)}")
        lut = OPERATIONS[name](lut, **kwargs)
    return lut


def _uniform(generator: torch.Generator, low: float, high: float) -> float:
    return round(low + (high - low) * float(torch.rand((), generator=generator)), 4)


def _colour(generator: torch.Generator, spread: float = 0.5) -> list[float]:
    """A random tint colour: a random hue at saturation ``spread`` around mid-grey."""
    hue = _uniform(generator, 0.0, 360.0)
    rotated = hue_rotation_matrix(hue) @ torch.tensor([0.5 + spread / 2, 0.5 - spread / 4, 0.5 - spread / 4])
    return [round(float(v), 4) for v in rotated.clamp(0.0, 1.0)]


def random_recipe(generator: torch.Generator, intensity: float = 1.0) -> Recipe:
    """A random but plausible mixture of grades, reproducible for a seeded ``generator``.

    Each operation is drawn with its own probability; a black-and-white step excludes the colour steps after it.
    intensity: 0..1 scales how far the parameters may stray from neutral (0 gives near-identity looks).
    Every draw is made whether or not its operation is used, so a recipe's parameters depend only on the seed.
    """
    if not 0.0 <= intensity <= 1.0:
        raise ValueError(f"intensity must be within 0..1, got {intensity}")
    s = intensity

    def chance(p: float) -> bool:
        return float(torch.rand((), generator=generator)) < p

    recipe: Recipe = []
    draws = {
        "white_balance": (chance(0.7), {"temperature": _uniform(generator, -0.6 * s, 0.6 * s), "tint": _uniform(generator, -0.3 * s, 0.3 * s)}),
        "tone_curve": (
            chance(0.9),
            {
                "contrast": _uniform(generator, -0.4 * s, 0.6 * s),
                "fade": _uniform(generator, 0.0, 0.15 * s),
                "lift": _uniform(generator, -0.3 * s, 0.4 * s),
                "white": _uniform(generator, 1.0 - 0.12 * s, 1.0),
            },
        ),
        "channel_mixer": (
            chance(0.25),
            {"matrix": (torch.eye(3) + 0.15 * s * (2 * torch.rand(3, 3, generator=generator) - 1)).round(decimals=4).tolist()},
        ),
        "hue_shift": (chance(0.2), {"degrees": _uniform(generator, -20.0 * s, 20.0 * s)}),
        "split_tone": (
            chance(0.6),
            {
                "shadows": _colour(generator),
                "highlights": _colour(generator),
                "amount": _uniform(generator, 0.0, 0.5 * s),
                "balance": _uniform(generator, -0.3, 0.3),
            },
        ),
        "cross_process": (chance(0.1), {"amount": _uniform(generator, 0.2 * s, 0.8 * s)}),
        "saturation": (chance(0.7), {"amount": _uniform(generator, 1.0 - 0.5 * s, 1.0 + 0.5 * s)}),
        "exposure": (chance(0.3), {"stops": _uniform(generator, -1.6 * s, 1.2 * s)}),
        "gradient_map": (
            chance(0.12),
            {
                "shadows": _colour(generator, spread=_uniform(generator, 0.0, 0.8)),
                "midtones": _colour(generator, spread=_uniform(generator, 0.0, 0.8)),
                "highlights": _colour(generator, spread=_uniform(generator, 0.0, 0.8)),
                "amount": _uniform(generator, 0.3 * s, s),
            },
        ),
        "black_and_white": (
            chance(0.12),
            {
                "filter_colour": [_uniform(generator, 0.1, 1.0) for _ in range(3)],
                "toning": _colour(generator, spread=_uniform(generator, 0.0, 0.3)),
                "amount": 1.0,
            },
        ),
    }
    order = [
        "exposure", "white_balance", "channel_mixer", "hue_shift", "cross_process", "tone_curve", "split_tone",
        "gradient_map", "saturation", "black_and_white",
    ]
    for name in order:
        used, kwargs = draws[name]
        if used:
            recipe.append((name, kwargs))
    return recipe


def random_lut(generator: torch.Generator, size: int = LUT_SIZE, intensity: float = 1.0) -> torch.Tensor:
    """A random procedural look (see ``random_recipe``) as a LUT (size, size, size, 3)."""
    return build_lut(random_recipe(generator, intensity), size)


# --- the built-in looks shipped in weights/looks/ ---------------------------------------------------------
BUILTIN_RECIPES: dict[str, tuple[Recipe, Finish]] = {
    "Golden hour": (
        [
            ("white_balance", {"temperature": 0.55, "tint": 0.08}),
            ("tone_curve", {"contrast": 0.2, "fade": 0.02, "lift": 0.15, "white": 0.98}),
            ("split_tone", {"shadows": (0.55, 0.45, 0.5), "highlights": (1.0, 0.75, 0.35), "amount": 0.35}),
            ("saturation", {"amount": 1.12}),
        ],
        Finish(vignette_amount=0.25, vignette_radius=0.55),
    ),
    "Teal & orange": (
        [
            ("tone_curve", {"contrast": 0.35, "fade": 0.01}),
            ("split_tone", {"shadows": (0.1, 0.55, 0.6), "highlights": (1.0, 0.6, 0.3), "amount": 0.55, "balance": -0.1}),
            ("saturation", {"amount": 1.1}),
        ],
        Finish(vignette_amount=0.15),
    ),
    "Faded film": (
        [
            ("white_balance", {"temperature": 0.12, "tint": -0.1}),
            ("tone_curve", {"contrast": -0.1, "fade": 0.09, "lift": 0.1, "white": 0.93}),
            ("split_tone", {"shadows": (0.35, 0.55, 0.5), "highlights": (0.6, 0.55, 0.42), "amount": 0.3}),
            ("saturation", {"amount": 0.78}),
        ],
        Finish(grain_amount=2.5, grain_size=0.0015, vignette_amount=0.12),  # grain: RMS of L* at mid-grey
    ),
    "Crisp mono": (
        [
            ("black_and_white", {"filter_colour": (0.5, 0.4, 0.1)}),
            ("tone_curve", {"contrast": 0.45, "lift": -0.05}),
        ],
        Finish(grain_amount=3.0, grain_size=0.0012, grain_luma=0.7, vignette_amount=0.2),
    ),
    "Soft pastel": (
        [
            ("tone_curve", {"contrast": -0.25, "fade": 0.06, "lift": 0.3, "white": 0.97}),
            ("split_tone", {"shadows": (0.45, 0.5, 0.65), "highlights": (0.65, 0.5, 0.55), "amount": 0.35, "balance": 0.1}),
            ("saturation", {"amount": 0.85}),
        ],
        Finish(),
    ),
}


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def builtin_looks() -> list[Look]:
    """The built-in looks (built on the fly from ``BUILTIN_RECIPES``)."""
    return [
        Look(lut=build_lut(recipe), finish=finish, name=name, metadata={"source": "influgan.training.procedural", "recipe": recipe})
        for name, (recipe, finish) in BUILTIN_RECIPES.items()
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m influgan.training.procedural", description="Write the built-in procedural looks.")
    parser.add_argument("--out", default="weights/looks", help="folder for the .look files")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for look in builtin_looks():
        path = out / f"{_slug(look.name)}.look"
        look.metadata["created"] = "2026-01-01T00:00:00+00:00"  # fixed, so rebuilding gives identical files
        look.save(path)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
