"""What a look is and how it is applied: the colour LUT, finishing (grain, vignette), the ``Look`` that carries
them, and the ``.cube`` / Hald CLUT formats. NumPy and Pillow only: rendering a look never imports torch."""
from .cube import CubeError, load_cube, save_cube
from .finishing import Finish
from .hald import HaldError, load_hald, save_hald
from .look import Look, LookError

__all__ = ["CubeError", "Finish", "HaldError", "Look", "LookError", "load_cube", "load_hald", "save_cube", "save_hald"]
