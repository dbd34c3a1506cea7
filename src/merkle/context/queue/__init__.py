"""The frame generation queue: the only path to providers (lifecycle only)."""

from merkle.context.queue.request import FrameRequest, Priority

__all__ = ["FrameRequest", "Priority"]
