"""Command line: ``python -m influgan {finetune,stylize,export-cube,import-cube,export-hald,import-hald,info} ...``.

Bad input gives a one-line ``error: ...`` on stderr and exit code 2; nothing already written is lost. Every output
path is checked before any work starts (``outputs.py``): no output replaces an input of the run, two outputs never
share a name (the second ``x.jpg`` of a run is written as ``x-2.jpg``), and files are written atomically. Only
``finetune`` imports torch (and only when it is the command): stylizing and converting looks need none.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .looks.cube import MAX_CUBE_SIZE, MIN_CUBE_SIZE, CubeError
from .looks.hald import DEFAULT_LEVEL, HALD_LEVELS
from .learning.certainty import Certainty, small_feed_warning  # NumPy only: info stays torch-free
from .images import IMAGE_SUFFIXES, ImageError, find_images, load_training_images
from .looks.look import Look, LookError
from .looks.lut import MAX_STRENGTH
from .masks import APPLY_TO, NO_PERSON, MaskSmoother
from .media.outputs import OutputError, check_output_file, check_output_folder, plan_outputs, write_atomically
from .media.stylize import iter_stylize, same_format_name
from .media.video import VideoError, find_media, is_video, mp4_name, stylize_video

USER_ERRORS = (ImageError, LookError, CubeError, OutputError, ValueError, FileNotFoundError)


class UserError(Exception):
    """A problem with what the user asked for; printed as one line, exit code 2."""


def _progress(report) -> None:
    """A one-line progress bar on stderr."""
    if sys.stderr.isatty() or report.step == report.steps or report.step % max(1, report.steps // 20) == 0:
        done = report.step / report.steps
        bar = "#" * int(30 * done)
        end = "\n" if report.step == report.steps else "\r"
        sys.stderr.write(f"\rfine-tune [{bar:<30s}] {report.step}/{report.steps}  {report.elapsed:5.1f}s  loss {report.losses['total']:.3f}{end}")
        sys.stderr.flush()


def cmd_finetune(args: argparse.Namespace) -> None:
    from .learning.finetune import MAX_REFERENCES, MIN_REFERENCES, FinetuneSettings, finetune
    from .learning.references import read_references

    files = find_images(args.refs)
    if len(files) > MAX_REFERENCES:  # refused before loading: which 50 show the look best is the user's choice
        raise UserError(f"{len(files)} reference photos given; a look learns from at most {MAX_REFERENCES}: choose the ones that show it best")
    content_files = find_images(args.content) if args.content else []
    if Path(args.out).suffix.lower() in (*IMAGE_SUFFIXES, ".cube"):
        raise UserError(f"--out {args.out}: a look is written as a .look file (export-cube makes a .cube from it)")
    out = check_output_file(args.out, [*files, *content_files])  # before the fine-tune, not after it
    settings = FinetuneSettings(steps=args.steps, seed=args.seed, adversary=args.adversary, start_from=args.start,
                                learn_brushwork=not args.no_brushwork, brushwork_loss=args.brushwork_loss)
    read = read_references(files)  # each read once, at the sizes learning needs: as the app and the Python API do
    for problem in read.problems:
        print(f"warning: skipped reference {problem}", file=sys.stderr)
    if not 1 <= len(read.readings) <= MAX_REFERENCES:  # 1–2: paintings (read_feed checks their size)
        raise UserError(f"need {MIN_REFERENCES} to {MAX_REFERENCES} readable reference photos (or 1–{MIN_REFERENCES - 1} paintings), got {len(read.readings)}")
    warning = small_feed_warning(len(read.readings)) if len(read.readings) >= MIN_REFERENCES else None
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    content = None
    if args.content:  # the usable ones, as paths: finetune reads them as it reads the Python API's
        checked = load_training_images(content_files, settings.thumb_size)
        for problem in checked.problems:
            print(f"warning: skipped content photo {problem}", file=sys.stderr)
        content = [str(path) for path in checked.paths]
    name = args.name or out.stem
    look = finetune(read.readings, content, settings, callback=_progress, name=name)
    write_atomically(out, look.save)
    print(f"wrote {out} ({len(read.readings)} references, {look.metadata['seconds']:.1f}s)")
    certainty = Certainty.from_metadata(look.metadata)
    if certainty is not None:
        print(f"certainty: {certainty.summary()}")


def cmd_stylize(args: argparse.Namespace) -> None:
    if not 0.0 <= args.strength <= MAX_STRENGTH:
        raise UserError(f"--strength must be within 0..{MAX_STRENGTH}, got {args.strength}")
    if not 0.0 <= args.brushwork <= MAX_STRENGTH:
        raise UserError(f"--brushwork must be within 0..{MAX_STRENGTH}, got {args.brushwork}")
    if args.protect_skin is not None and not 0.0 <= args.protect_skin <= 1.0:  # NaN fails too
        raise UserError(f"--protect-skin must be within 0..1, got {args.protect_skin}")
    look = Look.load(args.look)
    media = find_media(args.photos)
    photos, clips = [p for p in media if not is_video(p)], [p for p in media if is_video(p)]
    out_dir = check_output_folder(args.out)
    clip_targets = plan_outputs(clips, out_dir, mp4_name, inputs=[args.look, *photos])  # before any work starts
    failures = 0
    for done in iter_stylize(look, photos, out_dir, args.strength, inputs=[args.look, *clips],
                             protect_skin=args.protect_skin, apply_to=args.apply_to, brushwork=args.brushwork):
        if done.error:
            failures += 1
            print(f"error: {done.error}", file=sys.stderr)
            continue
        if done.note:
            print(f"note: {done.source.name}: {done.note}", file=sys.stderr)
        if done.target.name != "".join(same_format_name(done.source)):
            print(f"note: {done.source} → {done.target.name}: {done.source.stem}{done.source.suffix.lower()} is an input or another result of this run", file=sys.stderr)
        print(f"wrote {done.target} ({done.size[0]}×{done.size[1]}, {done.seconds:.2f}s)")
    failures += sum(_stylize_video(look, clip, target, args.strength, args.protect_skin, args.apply_to, args.brushwork)
                    for clip, target in zip(clips, clip_targets))
    if failures:
        raise SystemExit(2)


def _stylize_video(look: Look, clip: Path, target: Path, strength: float, protect_skin: float | None = None,
                   apply_to: str = "whole", brushwork: float = 1.0) -> int:
    """Render one clip to ``target`` (.mp4) with a progress bar on stderr; returns 1 if it failed (reported), else 0."""
    started = time.perf_counter()

    def progress(done: int, total: int) -> None:
        if sys.stderr.isatty() or done == total or done % max(1, total // 20) == 0:
            bar = "#" * int(30 * done / max(total, 1))
            end = "\n" if done == total else "\r"
            sys.stderr.write(f"\r{clip.name} [{bar:<30s}] {done}/{total} frames  {time.perf_counter() - started:5.1f}s{end}")
            sys.stderr.flush()

    if target.name != "".join(mp4_name(clip)):
        print(f"note: {clip} → {target.name}: {''.join(mp4_name(clip))} is an input or another result of this run", file=sys.stderr)
    try:
        smoother = MaskSmoother()
        info = stylize_video(look, clip, target, strength, progress=progress, protect_skin=protect_skin,
                             apply_to=apply_to, smoother=smoother, brushwork=brushwork)
    except (VideoError, OutputError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if apply_to != "whole" and not smoother.saw_person:
        print(f"note: {clip.name}: {NO_PERSON}", file=sys.stderr)
    width, height = info.output_size
    print(f"wrote {target} ({width}×{height}, {info.frames} frames at {float(info.fps):g} fps, {time.perf_counter() - started:.1f}s)")
    return 0


def _check_strength(strength: float) -> None:
    if not 0.0 <= strength <= MAX_STRENGTH:  # NaN fails too
        raise UserError(f"--strength must be within 0..{MAX_STRENGTH}, got {strength}")


def _check_size(size: int | None) -> None:
    if size is not None and not MIN_CUBE_SIZE <= size <= MAX_CUBE_SIZE:
        raise UserError(f"--size must be within {MIN_CUBE_SIZE}..{MAX_CUBE_SIZE}, got {size}")


def cmd_export_cube(args: argparse.Namespace) -> None:
    _check_size(args.size)
    _check_strength(args.strength)
    look = Look.load(args.look)
    out = check_output_file(args.out, [args.look])
    write_atomically(out, lambda path: look.to_cube(path, args.size, args.strength))
    size = args.size or look.lut.shape[0]
    print(f"wrote {out} ({size}³ LUT, strength {args.strength:g}; colour only: grain, vignette and brushwork are not in a .cube)")


def cmd_export_hald(args: argparse.Namespace) -> None:
    if args.level not in HALD_LEVELS:
        raise UserError(f"--level must be within {HALD_LEVELS.start}..{HALD_LEVELS.stop - 1}, got {args.level}")
    _check_strength(args.strength)
    look = Look.load(args.look)
    out = check_output_file(args.out, [args.look])
    write_atomically(out, lambda path: look.to_hald(path, args.level, args.strength))
    side = args.level**3
    print(f"wrote {out} (Hald CLUT level {args.level}, {side}×{side} px, strength {args.strength:g}; colour only: grain, vignette and brushwork are not in a Hald)")


def _import_look(args: argparse.Namespace, source: str, read) -> None:
    _check_size(args.size)
    out = check_output_file(args.out, [source])
    look = read(source, args.size)
    if args.name:
        look.name = args.name
    write_atomically(out, look.save)
    print(f"wrote {out} ({look.lut.shape[0]}³ LUT)")


def cmd_import_cube(args: argparse.Namespace) -> None:
    _import_look(args, args.cube, Look.from_cube)


def cmd_import_hald(args: argparse.Namespace) -> None:
    _import_look(args, args.hald, Look.from_hald)


def cmd_info(args: argparse.Namespace) -> None:
    look = Look.load(args.look)
    print(f"name:       {look.name}")
    for key in ("created", "version", "references", "content_photos", "seconds"):
        if key in look.metadata:
            print(f"{key + ':':12s}{look.metadata[key]}")
    print(f"LUT:        {look.lut.shape[0]}³")
    certainty = Certainty.from_metadata(look.metadata)
    if certainty is not None:
        print(f"certainty:  {certainty.words()}, expected colour error {certainty.expected_error:.1f} ΔE (CIEDE2000)")
        print(f"advice:     {certainty.advice}")
    for key, value in look.finish.to_dict().items():
        print(f"{key + ':':17s}{value:g}")
    if look.brushwork is not None:
        params = ", ".join(f"{key} {value:g}" for key, value in look.brushwork.params.items())
        print(f"brushwork:       {look.brushwork.style} ({look.brushwork.order} the colour): {params}")


def _add_finetune_arguments(p: argparse.ArgumentParser) -> None:
    from .learning.finetune import ADVERSARIES, BRUSHWORK_LOSSES, STARTS, FinetuneSettings  # imports torch: only when finetune is the command

    p.add_argument("--refs", nargs="+", required=True, metavar="PATH", help="reference photos (files or folders): 3–50 posts, or 1–2 large paintings (their palette and brushwork)")
    p.add_argument("--content", nargs="+", metavar="PATH", help="plain photos to learn the mapping from (default: the shipped examples)")
    p.add_argument("--out", required=True, help="look file to write (.look)")
    p.add_argument("--steps", type=int, default=FinetuneSettings.steps, help="optimisation steps (default %(default)s)")
    p.add_argument("--seed", type=int, default=FinetuneSettings.seed, help="random seed (default %(default)s)")
    p.add_argument("--adversary", choices=ADVERSARIES, default=FinetuneSettings.adversary, help="none: grain and vignette read from the feed directly; texture: learned by texture discriminators (default %(default)s)")
    p.add_argument("--start", choices=STARTS, default=FinetuneSettings.start_from, help="start from the look prior's instant look or from identity (default %(default)s)")
    p.add_argument("--name", help="name of the look (default: the output file's stem)")
    p.add_argument("--brushwork-loss", choices=BRUSHWORK_LOSSES, default=FinetuneSettings.brushwork_loss, help="how a painterly stage is judged while it is fitted: stats (texture statistics), gan (a patch discriminator) or both (default %(default)s)")
    p.add_argument("--no-brushwork", action="store_true", help="learn colour and finishing only, never a painterly stage")


def build_parser(training: bool = True) -> argparse.ArgumentParser:
    """The argument parser; ``training=False`` leaves out finetune's arguments, whose defaults come from torch code."""
    parser = argparse.ArgumentParser(prog="python -m influgan", description="Learn a photo look from a feed and apply it.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    looks = "a .look, a .cube LUT or a Hald CLUT .png"
    colour_only = "A .cube or a Hald CLUT carries colour only: the look's grain, vignette and brushwork are not in it."

    p = commands.add_parser("finetune", help="learn a look from reference photos", description="Learn a look from 3–50 reference photos of a feed.")
    if training:
        _add_finetune_arguments(p)
    p.set_defaults(run=cmd_finetune)

    p = commands.add_parser("stylize", help="apply a look to photos and clips", description="Apply a look to photos at full resolution, and to clips (.mp4, .mov, .m4v, .webm, .mkv → .mp4).")
    p.add_argument("--look", required=True, help=looks)
    p.add_argument("--strength", type=float, default=1.0, help=f"style strength 0..{MAX_STRENGTH} (default %(default)s)")
    p.add_argument("--brushwork", type=float, default=1.0, help=f"amount of the look's painterly stage (oil, watercolour, ink, …), if it has one: 0 colour only, 1 as learned, up to {MAX_STRENGTH} (default %(default)s)")
    p.add_argument("--out", required=True, help="output folder (created if needed); each result is OUT/<input stem>.<same extension>, or <stem>-2.<ext> when an input or another result of the run holds that name")
    p.add_argument("--protect-skin", type=float, default=None, metavar="0..1", help="how much skin keeps its original colour: 0 none, 1 all (default: the look's own, else 0)")
    p.add_argument("--apply-to", choices=APPLY_TO, default="whole", help="where the look goes: the whole photo, the subject (people) or the background (default %(default)s); without a person, the whole photo")
    p.add_argument("photos", nargs="+", metavar="PHOTO", help="photos and clips (files or folders); a clip's result is OUT/<stem>.mp4")
    p.set_defaults(run=cmd_stylize)

    p = commands.add_parser("export-cube", help="write a look's colour as a .cube LUT", description=f"Export a look's colour as a .cube LUT. {colour_only}")
    p.add_argument("--look", required=True, help=looks)
    p.add_argument("--out", required=True, help=".cube file to write")
    p.add_argument("--size", type=int, help="points per axis, 2..65 (default: the look's own, 33 for looks InfluGAN makes); 17, 33 or 65 travel best")
    p.add_argument("--strength", type=float, default=1.0, help=f"style strength baked into the LUT, 0..{MAX_STRENGTH} (default %(default)s)")
    p.set_defaults(run=cmd_export_cube)

    p = commands.add_parser("export-hald", help="write a look's colour as a Hald CLUT PNG", description=f"Export a look's colour as a Hald CLUT PNG (darktable, RawTherapee, G'MIC). {colour_only}")
    p.add_argument("--look", required=True, help=looks)
    p.add_argument("--out", required=True, help=".png file to write")
    p.add_argument("--level", type=int, default=DEFAULT_LEVEL, help="Hald level: 8 is 512×512 px (64³), 12 is 1728×1728 (144³) (default %(default)s)")
    p.add_argument("--strength", type=float, default=1.0, help=f"style strength baked into the CLUT, 0..{MAX_STRENGTH} (default %(default)s)")
    p.set_defaults(run=cmd_export_hald)

    p = commands.add_parser("import-cube", help="make a look from a .cube LUT", description="Make a look file from a .cube LUT (its own size unless --size).")
    p.add_argument("--cube", required=True, help="a .cube file")
    p.add_argument("--out", required=True, help="look file to write (.look)")
    p.add_argument("--name", help="name of the look (default: the .cube's TITLE)")
    p.add_argument("--size", type=int, help="resample to this many points per axis, 2..65 (default: keep the file's own)")
    p.set_defaults(run=cmd_import_cube)

    p = commands.add_parser("import-hald", help="make a look from a Hald CLUT PNG", description="Make a look file from a Hald CLUT PNG (levels 2..16; above level 8 resampled to 65³).")
    p.add_argument("--hald", required=True, help="a Hald CLUT .png file")
    p.add_argument("--out", required=True, help="look file to write (.look)")
    p.add_argument("--name", help="name of the look (default: the file's stem)")
    p.add_argument("--size", type=int, help="resample to this many points per axis, 2..65 (default: the Hald's own, at most 65)")
    p.set_defaults(run=cmd_import_hald)

    p = commands.add_parser("info", help="describe a look file", description="Print a look's name, metadata and parameters.")
    p.add_argument("look", help=looks)
    p.set_defaults(run=cmd_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(training=bool(argv) and argv[0] == "finetune")
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
