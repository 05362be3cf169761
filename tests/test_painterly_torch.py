"""The torch twins of the painterly renderers: the same render as the NumPy product path, differentiable."""
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from influgan.learning.painterly_torch import render_brushwork_torch
from influgan.looks.painterly import STYLES, Brushwork, render_brushwork

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "content" / "chelsea.jpg"


@pytest.fixture(scope="module")
def photos() -> np.ndarray:
    with Image.open(EXAMPLE) as image:
        image = image.convert("RGB")
        return np.stack([np.asarray(image.resize((160, 120), box=box)) for box in ((0, 0, 400, 300), (51, 0, 451, 300))])


@pytest.mark.parametrize("style", list(STYLES))
def test_twin_matches_the_numpy_render(style, photos):
    brushwork = Brushwork(style, {"colour": 0.7} if style == "ink" else {})
    images = torch.from_numpy(photos).permute(0, 3, 1, 2).float() / 255.0
    out = render_brushwork_torch(images, style, {k: torch.tensor(v) for k, v in brushwork.params.items()}, seed=2)
    assert out.shape == images.shape and 0.0 <= float(out.min()) and float(out.max()) <= 1.0
    for index, photo in enumerate(photos):
        expected = render_brushwork(photo, brushwork, seed=2).astype(np.float32)
        got = out[index].permute(1, 2, 0).numpy() * 255.0
        assert np.abs(got - expected).max() <= 1.5  # float32 in both; the NumPy render rounds to 8 bits
        assert np.abs(got - expected).mean() < 0.3


@pytest.mark.parametrize("style, name", [("oil", "brush"), ("oil", "impasto"), ("watercolour", "edge_darkening"),
                                         ("ink", "line_width"), ("ink", "hatching"), ("cartoon", "levels"), ("halftone", "dot_size")])
def test_gradients_reach_the_parameters(style, name, photos):
    images = torch.from_numpy(photos[:1]).permute(0, 3, 1, 2).float() / 255.0
    start = STYLES[style].params[name].default
    if name == "line_width":  # lines are at least a pixel wide: a photo where the line width is more than that
        images, start = torch.nn.functional.interpolate(images, scale_factor=2.0, mode="bilinear"), 0.005
    images.requires_grad_(True)
    parameter = torch.tensor(start, requires_grad=True)
    target = torch.rand_like(images, generator=torch.Generator().manual_seed(0))
    loss = ((render_brushwork_torch(images, style, {name: parameter}) - target) ** 2).mean()
    loss.backward()
    assert parameter.grad is not None and torch.isfinite(parameter.grad) and float(parameter.grad) != 0.0
    assert torch.isfinite(images.grad).all() and float(images.grad.abs().sum()) > 0


def test_bad_input_is_a_one_line_value_error():
    with pytest.raises(ValueError, match="unknown brushwork style 'gouache'"):
        render_brushwork_torch(torch.rand(1, 3, 8, 8), "gouache", {})
    with pytest.raises(ValueError, match=r"needs images \(B, 3, H, W\)"):
        render_brushwork_torch(torch.rand(3, 8, 8), "oil", {})
    with pytest.raises(ValueError, match="oil brushwork has no parameter 'levels'"):
        render_brushwork_torch(torch.rand(1, 3, 8, 8), "oil", {"levels": torch.tensor(3.0)})
