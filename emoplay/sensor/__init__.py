"""The Sensor and what feeds it: frame sources (camera, video, images, memory), the worker, the event queue the host drains, callbacks, and a clean interpreter exit."""
