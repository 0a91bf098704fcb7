"""Open cameras and videos without OpenCV or FFmpeg printing on stderr.

A missing camera makes OpenCV print blocks of ``[ WARN] cap_v4l ...`` lines, and a broken video
makes FFmpeg print ``moov atom not found``, before emoplay raises its own error, which already
says what failed and what to do. :func:`quiet_opencv` silences OpenCV's log for the duration of
the open (process-wide, so it puts back the level it found; overlapping calls share one
silencing) and sets ``OPENCV_FFMPEG_LOGLEVEL`` to quiet before the first video is opened, unless
the host set it: FFmpeg's log level is read once, when OpenCV loads it.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

from ._cv_threads import SharedOverride

FFMPEG_LOG_ENV = "OPENCV_FFMPEG_LOGLEVEL"
AV_LOG_QUIET = "-8"  # libavutil/log.h

_log_level = SharedOverride()


@contextmanager
def quiet_opencv():
    os.environ.setdefault(FFMPEG_LOG_ENV, AV_LOG_QUIET)
    import cv2

    logging = cv2.utils.logging
    with _log_level.applied(logging.getLogLevel, logging.setLogLevel, logging.LOG_LEVEL_SILENT):
        yield
