"""Applying a look needs a table lookup, finishing and the painterly renderers, not torch: a fresh process that stylizes photos through the
command line, loads looks of every kind and applies them never imports it; the training entry points are still
there, imported on first use."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import synthetic_photo
from influgan.looks.finishing import Finish
from influgan.looks.look import Look
from influgan.looks.lut import identity_lut
from influgan.looks.painterly import Brushwork

ROOT = Path(__file__).resolve().parent.parent

STYLIZE_WITHOUT_TORCH = """
import sys
import influgan
from influgan.cli import main
folder = sys.argv[1]
codes = [
    main(["stylize", "--look", folder + "/warm.look", "--strength", "0.8", "--out", folder + "/out", folder + "/me.jpg", folder + "/me.png"]),
    main(["export-cube", "--look", folder + "/warm.look", "--out", folder + "/warm.cube", "--strength", "0.5"]),
    main(["export-hald", "--look", folder + "/warm.look", "--out", folder + "/warm_hald.png"]),
    main(["info", folder + "/warm.cube"]),
    main(["stylize", "--look", folder + "/painted.look", "--brushwork", "0.7", "--out", folder + "/painted", folder + "/me.jpg"]),
]
for name in ("warm.look", "warm.cube", "warm_hald.png", "painted.look"):
    look = influgan.Look.load(folder + "/" + name)
    look.apply(influgan.load_image(folder + "/me.jpg"), strength=1.2, seed=3)
loaded = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
loaded += sorted(m for m in sys.modules if "painterly_torch" in m)
print("codes", codes, "torch modules", len(loaded), loaded[:3])
"""


def test_stylize_and_look_files_never_import_torch(tmp_path):
    Look(lut=identity_lut() ** 1.2, finish=Finish(grain_amount=0.03, vignette_amount=0.3), name="Warm").save(tmp_path / "warm.look")
    painted = Brushwork("oil", order="before")
    Look(lut=identity_lut() ** 1.2, finish=Finish(grain_amount=3.0), name="Painted", brushwork=painted).save(tmp_path / "painted.look")
    synthetic_photo(1, (300, 200)).save(tmp_path / "me.jpg", quality=90)
    synthetic_photo(2, (120, 80)).save(tmp_path / "me.png")
    result = subprocess.run(
        [sys.executable, "-c", STYLIZE_WITHOUT_TORCH, str(tmp_path)], capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "codes [0, 0, 0, 0, 0] torch modules 0 []"
    assert (tmp_path / "out" / "me.jpg").exists() and (tmp_path / "out" / "me.png").exists()


def test_training_entry_points_load_on_first_use():
    probe = (
        "import sys, influgan; before = 'torch' in sys.modules; "
        "from influgan.learning.finetune import MAX_REFERENCES; "  # importing the module must not hide the function influgan.finetune
        "print(before, callable(influgan.finetune), influgan.finetune.__module__, influgan.instant_look.__module__, "
        "influgan.FinetuneSettings().steps > 0)"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True", "influgan.learning.finetune", "influgan.learning.prior", "True"]


def test_the_app_serves_stylize_without_torch(tmp_path):
    """Importing the app and using the Stylize tab (photos, preview, full size, look files) never imports torch:
    only learning a look does."""
    code = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
import app
from influgan.images import save_image
from PIL import Image
photo = {str(tmp_path / "photo.jpg")!r}
Image.new("RGB", (300, 200), (120, 90, 60)).save(photo)
session = app.sessions().create()
app.add_references([photo, photo, photo], session)
app.add_photos([photo], "Faded film", 100, 30, 30, session)
app.render_preview("Faded film", 80, 30, 30, session)
app.render_preview("Oil paint", 80, 0, 0, session, brushwork_amount=70)
app.export_photos("Faded film", 80, 30, 30, session)
app.export_photos("Watercolour", 100, 0, 0, session, brushwork_amount=100)
app.download_look("Faded film", 80, 30, 30, session)
print(sorted(m for m in sys.modules if m.split(".")[0] == "torch"))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr[-800:]
    assert result.stdout.strip().splitlines()[-1] == "[]"
