"""Learning a look from a feed (torch): the prior's instant look, the fine-tune, its losses, the finish reading.

Names are imported on first use, so ``influgan.learning.fingerprint`` (NumPy only) does not pull in torch. The
fine-tune's plain call is ``influgan.finetune``: here ``finetune`` is its module.
"""
import importlib

_PUBLIC = {  # name → the module of this folder that defines it
    "FinetuneCancelled": "finetune",
    "FinetuneSettings": "finetune",
    "StepReport": "finetune",
    "finetune_steps": "finetune",
    "read_feed": "finetune",
    "read_references": "references",
    "instant_look": "prior",
    "estimate_finish": "finish_estimate",
    "render_fingerprint": "fingerprint",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)
