"""Photos and clips in and out: batch stylize into a folder, clips through PyAV, safe output paths. Never torch."""
from .outputs import OutputError, plan_outputs, write_atomically
from .stylize import iter_stylize
from .video import VideoCancelled, VideoError, probe_video, stylize_video

__all__ = ["OutputError", "VideoCancelled", "VideoError", "iter_stylize", "plan_outputs", "probe_video", "stylize_video", "write_atomically"]
