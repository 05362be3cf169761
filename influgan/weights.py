"""Where base weights come from: ``weights/`` in the checkout, or a Hugging Face Hub repo when configured.

Set ``INFLUGAN_WEIGHTS_REPO=owner/name`` (optionally ``INFLUGAN_WEIGHTS_REVISION``) to fetch the files with
``huggingface_hub`` instead of reading the shipped ones; the files keep their names (e.g. ``prior.safetensors``).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from typing import TYPE_CHECKING

from safetensors import safe_open

if TYPE_CHECKING:  # torch is imported by the functions that need it: reading WEIGHTS_DIR must not pull it in
    import torch

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
REPO_VARIABLE = "INFLUGAN_WEIGHTS_REPO"


def weights_path(filename: str) -> Path:
    """The local path of a base-weights file: downloaded from the Hub repo when one is set, else in ``weights/``."""
    repo = os.environ.get(REPO_VARIABLE, "").strip()
    if not repo:
        return WEIGHTS_DIR / filename
    from huggingface_hub import hf_hub_download  # only needed for Hub weights

    revision = os.environ.get("INFLUGAN_WEIGHTS_REVISION") or None
    return Path(hf_hub_download(repo_id=repo, filename=filename, revision=revision))


def save_weights(path: str | os.PathLike, tensors: dict[str, "torch.Tensor"], config: dict, metadata: dict | None = None) -> None:
    """Write network weights as safetensors, with the network's ``config`` (JSON) and ``metadata`` in the header.

    Floating-point tensors are stored as float16 (half the file; predictions move by ~0.01 ΔE at most); loading
    casts them back to the network's float32.
    """
    from safetensors.torch import save_file

    header = {"config": json.dumps(config), **{k: str(v) for k, v in (metadata or {}).items()}}
    stored = {k: (v.half() if v.is_floating_point() else v).detach().contiguous() for k, v in tensors.items()}
    save_file(stored, str(path), metadata=header)


def load_network(cls, path: str | os.PathLike, features: int, what: str, buffers: tuple[str, ...] = ()):
    """A network of class ``cls`` rebuilt from a file written by ``save_weights`` (safetensors: no code runs).

    ``features``: the input size the caller's code computes, checked against the file's; ``buffers``: state the
    network rebuilds itself and the file leaves out. Raises ValueError naming ``what`` for any other file.
    """
    with safe_open(str(path), framework="pt") as file:
        config = json.loads((file.metadata() or {}).get("config", "{}"))
        tensors = {key: file.get_tensor(key) for key in file.keys()}
    if config.pop("features", None) != features:
        raise ValueError(f"{path}: {what} for another feature set; retrain it with python -m influgan.training.pretrain")
    try:
        network = cls(**config)
    except TypeError as error:
        raise ValueError(f"{path}: not {what} ({error})") from None
    missing, unexpected = network.load_state_dict(tensors, strict=False)
    if unexpected or set(missing) - set(buffers):
        raise ValueError(f"{path}: not {what} (missing {missing}, unexpected {unexpected})")
    return network.eval()
