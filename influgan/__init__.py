"""InfluGAN: learn a creator's photo look from a handful of posts, and put it on any photo.

    import influgan
    feed = ["feed/1.jpg", "feed/2.jpg", "feed/3.jpg"]
    first = influgan.instant_look([influgan.load_image(p) for p in feed])   # the learned prior, < 1 s
    look = influgan.finetune(feed, content=["me.jpg"])
    look.apply(influgan.load_image("me.jpg"), strength=0.8).save("me_styled.jpg")
    look.apply(influgan.load_image("me.jpg"), protect_skin=0.8, apply_to="subject")   # people-aware (issue 32)
    look.save("my.look"); look.to_cube("my.cube", strength=0.8); look.to_hald("my_hald.png")
    look.brushwork = influgan.Brushwork("watercolour", {"wash": 0.01})          # a painterly stage (oil, ink, …)
    look.apply(influgan.load_image("me.jpg"), brushwork=0.7)                    # 0: colour only … 1.5
    painted = influgan.finetune(["starry_night.jpg"])   # 1–2 paintings: their palette and brushwork, learned

Applying a look (``Look.load``, ``Look.apply``) needs NumPy and Pillow only; the training entry points
(``finetune``, ``instant_look`` and their settings) import torch when first used.
"""
import importlib

from .looks.cube import CubeError, load_cube, save_cube
from .looks.finishing import Finish
from .looks.hald import HaldError, load_hald, save_hald
from .images import ImageError, load_image, save_image
from .looks.look import Look, LookError
from .looks.painterly import STYLES, Brushwork, render_brushwork
from .masks import SubjectMasks, subject_masks
from .version import __version__

_TRAINING = {  # name → the module that defines it; imported (with torch) on first use
    "FinetuneCancelled": "learning.finetune",
    "FinetuneSettings": "learning.finetune",
    "StepReport": "learning.finetune",
    "finetune": "learning.finetune",
    "finetune_steps": "learning.finetune",
    "read_feed": "learning.finetune",
    "read_references": "learning.references",
    "instant_look": "learning.prior",
    "BrushworkFitSettings": "learning.painterly_fit",
    "fit_brushwork": "learning.painterly_fit",
}

__all__ = [
    "STYLES",
    "Brushwork",
    "BrushworkFitSettings",
    "CubeError",
    "Finish",
    "FinetuneCancelled",
    "FinetuneSettings",
    "HaldError",
    "ImageError",
    "Look",
    "LookError",
    "StepReport",
    "SubjectMasks",
    "finetune",
    "finetune_steps",
    "fit_brushwork",
    "instant_look",
    "load_cube",
    "load_hald",
    "load_image",
    "read_feed",
    "read_references",
    "render_brushwork",
    "save_cube",
    "save_hald",
    "save_image",
    "subject_masks",
]


def __getattr__(name: str):
    if name not in _TRAINING:
        raise AttributeError(f"module 'influgan' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_TRAINING[name]}", __name__), name)
    globals()[name] = value
    return value

