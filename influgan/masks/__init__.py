"""Person and skin masks for subject-aware looks (protect skin; apply a look to the subject or the background).

NumPy and Pillow only, never torch: the render path stays torch-free.
"""
from .subject import APPLY_TO, NO_PERSON, SubjectMasks, check_controls, subject_masks
from .temporal import MaskSmoother

__all__ = ["APPLY_TO", "NO_PERSON", "MaskSmoother", "SubjectMasks", "check_controls", "subject_masks"]
