"""The Sensor and what feeds it: frame sources (camera, video, images, memory), the worker, the state it shares with the host, the event queue the host drains, callbacks, event sinks (a session log is one), and a clean interpreter exit."""

from ._sensor import Sensor, SensorOptions
from ._sink import EventSink
from ._sources import CameraSource, EndOfStream, FrameSource, ImageFolderSource, MemorySource, VideoFileSource

__all__ = ["CameraSource", "EndOfStream", "EventSink", "FrameSource", "ImageFolderSource", "MemorySource", "Sensor",
           "SensorOptions", "VideoFileSource"]
