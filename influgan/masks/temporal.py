"""A clip's masks, smoothed over time so their edges do not flicker from frame to frame.

Frames are stylized by several threads at once, but each frame's masks are blended with the previous frame's
smoothed masks in frame order: the expensive part (network, skin model) runs in parallel, the blend (cheap) waits
its turn. The blend follows change quickly and holds still where little changed:

    smoothed = prev + α · (raw − prev),   α = MIN_FOLLOW + (1 − MIN_FOLLOW) · |raw − prev|

so a person who moves is followed within a frame or two, while the network's frame-to-frame jitter of a few
percent is averaged over several frames. New masks are made for every ``every``-th frame (default 2); the frames
between reuse the last smoothed ones with their own luma as the edges' guide (at 30 fps a person moves a pixel or
two in between, and the guided filter puts the edge where the frame has it). NumPy only.
"""
from __future__ import annotations

import threading

import numpy as np
from PIL import Image

from .subject import PERSON_AREA, SubjectMasks, _work_image, subject_masks, work_guide

MIN_FOLLOW = 0.3  # share of a small change taken at once (0.3: jitter averaged over ~3 frames)
TURN_TIMEOUT = 30.0  # seconds a frame waits for the previous one before going on unsmoothed (a frame that failed)


def _follow(previous: np.ndarray, raw: np.ndarray) -> np.ndarray:
    change = raw - previous
    return previous + (MIN_FOLLOW + (1 - MIN_FOLLOW) * np.abs(change)) * change


class MaskSmoother:
    """Smoothed ``SubjectMasks`` for the frames of one clip; ``masks(frame, index)`` from several threads, each
    index once, frames handed out in order (indices from 0, e.g. a first-in first-out pool): a frame waits only for
    the one before it, which has then started. ``saw_person``: whether any frame so far had a person."""

    def __init__(self, every: int = 2) -> None:
        self.every = max(1, int(every))
        self._turn = threading.Condition()
        self._next = 0
        self._previous: SubjectMasks | None = None
        self.saw_person = False

    def masks(self, frame: Image.Image, index: int) -> SubjectMasks:
        fresh = index % self.every == 0
        raw = guide = None
        try:  # the expensive part, in parallel with other frames
            if fresh:
                raw = subject_masks(frame)
            else:
                guide = work_guide(_work_image(frame))
        finally:  # even a frame that failed hands the turn on, so later frames never wait for it in vain
            with self._turn:
                in_turn = self._turn.wait_for(lambda: self._next >= index, timeout=TURN_TIMEOUT)
                self._next = max(self._next, index + 1)
                self._turn.notify_all()
                previous = self._previous
                if raw is None and guide is None:  # this frame failed: its error goes on up
                    smoothed = None
                elif guide is not None and in_turn and previous is not None and previous.size == frame.size:
                    # an in-between frame: the last masks, with this frame's own edges
                    smoothed = SubjectMasks(previous.person, previous.skin, frame.size, previous.has_person, guide)
                else:
                    smoothed = self._smooth(raw) if raw is not None and in_turn else raw
                if smoothed is not None and in_turn:
                    self._previous = smoothed
                    self.saw_person |= smoothed.has_person
        if smoothed is None:  # an in-between frame with nothing before it (that frame failed): its own masks
            smoothed = subject_masks(frame)
        return smoothed

    def _smooth(self, raw: SubjectMasks) -> SubjectMasks:
        previous = self._previous
        if previous is None or previous.person.shape != raw.person.shape:
            return raw
        person = _follow(previous.person, raw.person)
        skin = np.minimum(_follow(previous.skin, raw.skin), person)
        has_person = float((person > 0.5).mean()) >= PERSON_AREA
        return SubjectMasks(person, skin, raw.size, has_person, raw.guide)
