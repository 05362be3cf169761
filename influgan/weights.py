"""Where base weights come from: ``weights/`` in the checkout, or a Hugging Face Hub repo when configured.

Set ``INFLUGAN_WEIGHTS_REPO=owner/name`` (optionally ``INFLUGAN_WEIGHTS_REVISION``) to fetch the files with
``huggingface_hub`` instead of reading the shipped ones; the files keep their names (e.g. ``prior.safetensors``).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

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


def save_weights(path: str | os.PathLike, tensors: dict[str, torch.Tensor], config: dict, metadata: dict | None = None) -> None:
    """Write network weights as safetensors, with the network's ``config`` (JSON) and ``metadata`` in the header."""
    header = {"config": json.dumps(config), **{k: str(v) for k, v in (metadata or {}).items()}}
    save_file({k: v.detach().contiguous() for k, v in tensors.items()}, str(path), metadata=header)


def read_weights(path: str | os.PathLike) -> tuple[dict, dict[str, torch.Tensor]]:
    """(config, tensors) of a file written by ``save_weights``; safetensors, so no code runs."""
    with safe_open(str(path), framework="pt") as file:
        config = json.loads((file.metadata() or {}).get("config", "{}"))
        return config, {key: file.get_tensor(key) for key in file.keys()}
