"""Where base weights come from: ``weights/`` in the checkout, or a Hugging Face Hub repo when configured.

Set ``INFLUGAN_WEIGHTS_REPO=owner/name`` (optionally ``INFLUGAN_WEIGHTS_REVISION``) to fetch the files with
``huggingface_hub`` instead of reading the shipped ones; the files keep their names (e.g. ``prior.safetensors``).
"""
from __future__ import annotations

import os
from pathlib import Path

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
