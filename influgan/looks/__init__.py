"""What a look is and how it is applied: the colour LUT, finishing (grain, vignette), the ``Look`` that carries
them, the painterly ``Brushwork`` stage a look may carry, and the ``.cube`` / Hald CLUT formats. NumPy and Pillow only: rendering a look never imports torch."""
from .cube import CubeError, load_cube, save_cube
from .finishing import Finish
from .hald import HaldError, load_hald, save_hald
from .look import Look, LookError
from .painterly import STYLES, Brushwork, render_brushwork

__all__ = ["STYLES", "Brushwork", "CubeError", "Finish", "HaldError", "Look", "LookError", "load_cube", "load_hald", "render_brushwork",
           "save_cube", "save_hald"]
