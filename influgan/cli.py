"""Command line: ``python -m influgan {finetune,stylize,export-cube,import-cube,info} ...``.

Bad input gives a one-line ``error: ...`` on stderr and exit code 2; nothing already written is lost.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .cube import CubeError, MAX_CUBE_SIZE, MIN_CUBE_SIZE
from .finetune import ADVERSARIES, MAX_REFERENCES, MIN_REFERENCES, STARTS, FinetuneSettings, StepReport, finetune
from .images import ImageError, find_images, load_image, load_training_image, save_image
from .look import Look, LookError
from .lut import MAX_STRENGTH

USER_ERRORS = (ImageError, LookError, CubeError, ValueError, FileNotFoundError)


class UserError(Exception):
    """A problem with what the user asked for; printed as one line, exit code 2."""


def _progress(report: StepReport) -> None:
    """A one-line progress bar on stderr."""
    if sys.stderr.isatty() or report.step == report.steps or report.step % max(1, report.steps // 20) == 0:
        done = report.step / report.steps
        bar = "#" * int(30 * done)
        end = "\n" if report.step == report.steps else "\r"
        sys.stderr.write(f"\rfine-tune [{bar:<30s}] {report.step}/{report.steps}  {report.elapsed:5.1f}s  loss {report.losses['total']:.3f}{end}")
        sys.stderr.flush()


def _load_many(files: list[Path], what: str) -> list:
    """Load every usable training photo in ``files``; unreadable, tiny or strip-thin ones are reported and skipped."""
    images = []
    for path in files:
        try:
            images.append(load_training_image(path, 512))
        except ImageError as error:
            print(f"warning: skipped {what} {error}", file=sys.stderr)
    return images


def cmd_finetune(args: argparse.Namespace) -> None:
    files = find_images(args.refs)
    if len(files) > MAX_REFERENCES:  # refused before loading: which 50 show the look best is the user's choice
        raise UserError(f"{len(files)} reference photos given; a look learns from at most {MAX_REFERENCES}: choose the ones that show it best")
    references = _load_many(files, "reference")
    if not MIN_REFERENCES <= len(references) <= MAX_REFERENCES:
        raise UserError(f"need {MIN_REFERENCES} to {MAX_REFERENCES} readable reference photos, got {len(references)}")
    content = _load_many(find_images(args.content), "content photo") if args.content else None
    settings = FinetuneSettings(steps=args.steps, seed=args.seed, adversary=args.adversary, start_from=args.start)
    name = args.name or Path(args.out).stem
    look = finetune(references, content, settings, callback=_progress, name=name)
    look.save(args.out)
    print(f"wrote {args.out} ({len(references)} references, {look.metadata['seconds']:.1f}s)")


def _output_path(out_dir: Path, photo: Path) -> Path:
    return out_dir / f"{photo.stem}{photo.suffix.lower() or '.png'}"


def cmd_stylize(args: argparse.Namespace) -> None:
    look = Look.load(args.look)
    if not 0.0 <= args.strength <= MAX_STRENGTH:
        raise UserError(f"--strength must be within 0..{MAX_STRENGTH}, got {args.strength}")
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    failures = 0
    for photo in find_images(args.photos):
        started = time.perf_counter()
        try:
            image = load_image(photo, keep_alpha=True)
            target = _output_path(out_dir, photo)
            if target.resolve() == photo.resolve():
                raise UserError(f"{photo.name}: the output would overwrite the input; choose another --out folder")
            save_image(look.apply(image, args.strength), target)
        except (ImageError, UserError, OSError) as error:
            failures += 1
            print(f"error: {error}", file=sys.stderr)
            continue
        print(f"wrote {target} ({image.width}×{image.height}, {time.perf_counter() - started:.2f}s)")
    if failures:
        raise SystemExit(2)


def cmd_export_cube(args: argparse.Namespace) -> None:
    look = Look.load(args.look)
    if not MIN_CUBE_SIZE <= args.size <= MAX_CUBE_SIZE:
        raise UserError(f"--size must be within {MIN_CUBE_SIZE}..{MAX_CUBE_SIZE}, got {args.size}")
    look.to_cube(args.out, args.size)
    print(f"wrote {args.out} ({args.size}³ LUT)")


def cmd_import_cube(args: argparse.Namespace) -> None:
    look = Look.from_cube(args.cube)
    if args.name:
        look.name = args.name
    look.save(args.out)
    print(f"wrote {args.out}")


def cmd_info(args: argparse.Namespace) -> None:
    look = Look.load(args.look)
    print(f"name:       {look.name}")
    for key in ("created", "version", "references", "content_photos", "seconds"):
        if key in look.metadata:
            print(f"{key + ':':12s}{look.metadata[key]}")
    print(f"LUT:        {look.lut.shape[0]}³")
    for key, value in look.finish.to_dict().items():
        print(f"{key + ':':17s}{value:g}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m influgan", description="Learn a photo look from a feed and apply it.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = commands.add_parser("finetune", help="learn a look from reference photos", description="Learn a look from 3–50 reference photos of a feed.")
    p.add_argument("--refs", nargs="+", required=True, metavar="PATH", help="reference photos (files or folders)")
    p.add_argument("--content", nargs="+", metavar="PATH", help="plain photos to learn the mapping from (default: the shipped examples)")
    p.add_argument("--out", required=True, help="look file to write (.look)")
    p.add_argument("--steps", type=int, default=FinetuneSettings.steps, help="optimisation steps (default %(default)s)")
    p.add_argument("--seed", type=int, default=FinetuneSettings.seed, help="random seed (default %(default)s)")
    p.add_argument("--adversary", choices=ADVERSARIES, default=FinetuneSettings.adversary, help="adversarial term (default %(default)s)")
    p.add_argument("--start", choices=STARTS, default=FinetuneSettings.start_from, help="start from the look prior's instant look or from identity (default %(default)s)")
    p.add_argument("--name", help="name of the look (default: the output file's stem)")
    p.set_defaults(run=cmd_finetune)

    p = commands.add_parser("stylize", help="apply a look to photos", description="Apply a look to photos at full resolution.")
    p.add_argument("--look", required=True, help="a .look or .cube file")
    p.add_argument("--strength", type=float, default=1.0, help=f"style strength 0..{MAX_STRENGTH} (default %(default)s)")
    p.add_argument("--out", required=True, help="output folder; each result is OUT/<input stem>.<same extension>")
    p.add_argument("photos", nargs="+", metavar="PHOTO", help="photos (files or folders)")
    p.set_defaults(run=cmd_stylize)

    p = commands.add_parser("export-cube", help="write a look as a .cube LUT", description="Export a look's colour LUT as .cube.")
    p.add_argument("--look", required=True, help="a .look file")
    p.add_argument("--out", required=True, help=".cube file to write")
    p.add_argument("--size", type=int, default=33, help="points per axis, 17, 33 or 65 travel best (default %(default)s)")
    p.set_defaults(run=cmd_export_cube)

    p = commands.add_parser("import-cube", help="make a look from a .cube LUT", description="Make a look file from a .cube LUT.")
    p.add_argument("--cube", required=True, help="a .cube file")
    p.add_argument("--out", required=True, help="look file to write (.look)")
    p.add_argument("--name", help="name of the look (default: the .cube's TITLE)")
    p.set_defaults(run=cmd_import_cube)

    p = commands.add_parser("info", help="describe a look file", description="Print a look's name, metadata and parameters.")
    p.add_argument("look", help="a .look or .cube file")
    p.set_defaults(run=cmd_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.run(args)
    except (UserError, *USER_ERRORS) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    return 0
