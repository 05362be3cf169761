"""InfluGAN: learn a creator's photo look from a handful of posts, and put it on any photo.

    import influgan
    feed = ["feed/1.jpg", "feed/2.jpg", "feed/3.jpg"]
    first = influgan.instant_look([influgan.load_image(p) for p in feed])   # the learned prior, < 1 s
    look = influgan.finetune(feed, content=["me.jpg"])
    look.apply(influgan.load_image("me.jpg"), strength=0.8).save("me_styled.jpg")
    look.save("my.look"); influgan.save_cube("my.cube", look.lut, look.name)
"""
__version__ = "0.1.0"

from .cube import CubeError, load_cube, save_cube
from .finetune import FinetuneCancelled, FinetuneSettings, StepReport, finetune, finetune_steps
from .finishing import Finish
from .images import ImageError, load_image, save_image
from .look import Look, LookError
from .prior import instant_look

__all__ = [
    "CubeError",
    "Finish",
    "FinetuneCancelled",
    "FinetuneSettings",
    "ImageError",
    "Look",
    "LookError",
    "StepReport",
    "finetune",
    "finetune_steps",
    "instant_look",
    "load_cube",
    "load_image",
    "save_cube",
    "save_image",
]
