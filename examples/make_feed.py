"""Build the example reference feed: the built-in "Golden hour" look applied to crops of the content photos.

    python examples/make_feed.py        # writes examples/feed/*.jpg (run from the repository root)

chelsea.jpg is left out of the feed on purpose: the app's example stylizes it, so the look is shown on a
photo it has not seen.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, no install needed

from influgan import load_image, save_image
from influgan.images import thumbnail
from influgan.looks.look import Look

ROOT = Path(__file__).resolve().parent
# (source photo, crop box as fractions of width/height: left, top, right, bottom)
CROPS = [
    ("astronaut.jpg", (0.0, 0.0, 1.0, 1.0)),
    ("astronaut.jpg", (0.45, 0.0, 1.0, 0.7)),
    ("coffee.jpg", (0.0, 0.0, 1.0, 1.0)),
    ("coffee.jpg", (0.3, 0.0, 0.8, 0.8)),
    ("rocket.jpg", (0.0, 0.0, 1.0, 1.0)),
    ("rocket.jpg", (0.3, 0.2, 0.8, 1.0)),
    ("grace_hopper.jpg", (0.0, 0.0, 1.0, 1.0)),
    ("grace_hopper.jpg", (0.0, 0.2, 0.6, 0.9)),
]


def main() -> None:
    look = Look.load(ROOT.parent / "weights" / "looks" / "golden_hour.look")
    out = ROOT / "feed"
    out.mkdir(exist_ok=True)
    for index, (name, (left, top, right, bottom)) in enumerate(CROPS, 1):
        photo = load_image(ROOT / "content" / name)
        width, height = photo.size
        crop = photo.crop((int(left * width), int(top * height), int(right * width), int(bottom * height)))
        path = out / f"feed_{index:02d}_{Path(name).stem}.jpg"
        save_image(look.apply(thumbnail(crop, 640)), path)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
