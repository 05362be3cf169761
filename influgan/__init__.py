"""InfluGAN: learn a creator's photo look from a handful of posts, and put it on any photo.

    import influgan
    feed = ["feed/1.jpg", "feed/2.jpg", "feed/3.jpg"]
    first = influgan.instant_look([influgan.load_image(p) for p in feed])   # the learned prior, < 1 s
    look = influgan.finetune(feed, content=["me.jpg"])
    look.apply(influgan.load_image("me.jpg"), strength=0.8).save("me_styled.jpg")
    look.save("my.look"); look.to_cube("my.cube", strength=0.8); look.to_hald("my_hald.png")

Applying a look (``Look.load``, ``Look.apply``) needs NumPy and Pillow only; the training entry points
(``finetune``, ``instant_look`` and their settings) import torch when first used.
"""
__version__ = "0.1.0"

import importlib
import sys
import types

from .cube import CubeError, load_cube, save_cube
from .finishing import Finish
from .hald import HaldError, load_hald, save_hald
from .images import ImageError, load_image, save_image
from .look import Look, LookError

_TRAINING = {  # name → the module that defines it; imported (with torch) on first use
    "FinetuneCancelled": "finetune",
    "FinetuneSettings": "finetune",
    "StepReport": "finetune",
    "finetune": "finetune",
    "finetune_steps": "finetune",
    "read_feed": "finetune",
    "read_references": "references",  # reading finish textures: NumPy, but weights.py imports torch for now
    "instant_look": "prior",
}

__all__ = [
    "CubeError",
    "Finish",
    "FinetuneCancelled",
    "FinetuneSettings",
    "HaldError",
    "ImageError",
    "Look",
    "LookError",
    "StepReport",
    "finetune",
    "finetune_steps",
    "instant_look",
    "load_cube",
    "load_hald",
    "load_image",
    "read_feed",
    "read_references",
    "save_cube",
    "save_hald",
    "save_image",
]


def __getattr__(name: str):
    if name not in _TRAINING:
        raise AttributeError(f"module 'influgan' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_TRAINING[name]}", __name__), name)
    globals()[name] = value
    return value


class _Package(types.ModuleType):
    def __setattr__(self, name: str, value) -> None:
        # Importing the submodule influgan.finetune would bind it over the function influgan.finetune.
        if name == "finetune" and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
