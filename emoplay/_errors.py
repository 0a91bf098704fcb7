"""The one error tree of emoplay.

Every error the library raises on purpose derives from :class:`EmoplayError`;
caller mistakes (a wrong type, an invalid option value) stay ``TypeError`` /
``ValueError``. Each message says what happened and what to try.

    EmoplayError
    ├── SourceError            a camera, video, folder or frame cannot be read
    │   ├── CameraUnavailableError
    │   └── VideoReadError
    ├── ModelError             a model file is missing, corrupt or not ours
    │   └── ChecksumError
    ├── SensorStateError       an operation the sensor's state does not allow
    │   ├── ConsentRequiredError
    │   └── SensorClosedError
    ├── WorkerError            the capture/inference thread failed (carries the cause)
    ├── DataError              an evaluation data set cannot be read
    ├── MissingExtraError      an optional part needs an extra that is not installed (e.g. emoplay[plot])
    ├── CalibrationError       a calibration profile cannot be read or does not fit the model
    ├── BridgeError            emoplay serve cannot start or a bridge client cannot pair
    ├── LogError               an encrypted session log cannot be written or read
    │   ├── LogAuthenticationError   wrong key, or the file was changed
    │   ├── LogTruncatedError        the file was cut short (complete records stay readable)
    │   └── LogFormatError           not an emoplay log, or an unsupported version
    └── StudyError             a study cannot run or be reported (emoplay study)
        └── StudySpecError     a study file is invalid (the message names the field)
"""

from __future__ import annotations


class EmoplayError(Exception):
    """Base class of every error emoplay raises on purpose."""


class SourceError(EmoplayError):
    """A frame source (camera, video file, image folder, submitted frame) cannot be read."""


class CameraUnavailableError(SourceError):
    """The camera could not be opened: missing, busy, or not permitted."""


class VideoReadError(SourceError):
    """A video file or image cannot be decoded."""


class ModelError(EmoplayError):
    """A model file is missing, malformed, or lacks the metadata emoplay needs."""


class ChecksumError(ModelError):
    """A model file's sha256 differs from the one shipped with emoplay."""


class SensorStateError(EmoplayError):
    """The sensor is in a state that does not allow this operation."""


class ConsentRequiredError(SensorStateError):
    """The camera may not open before the host records the player's consent."""


class SensorClosedError(SensorStateError):
    """The sensor was closed; create a new one."""


class WorkerError(EmoplayError):
    """The capture/inference thread stopped because of an error (see ``__cause__``)."""


class DataError(EmoplayError):
    """An evaluation data set cannot be read."""


class MissingExtraError(EmoplayError):
    """An optional part of emoplay needs a package from an extra that is not installed (the message names it)."""


class CalibrationError(EmoplayError):
    """A calibration profile is not one of ours, is damaged, or was made with another model."""


class BridgeError(EmoplayError):
    """The loopback bridge cannot start (port in use, bad token file) or a client cannot connect or pair."""


class LogError(EmoplayError):
    """An encrypted session log cannot be written or read."""


class LogAuthenticationError(LogError):
    """Wrong key or passphrase, or the log was modified. No plaintext is returned."""


class LogTruncatedError(LogError):
    """The log ends before its final record; ``records`` holds every complete record.

    ``lost_bytes``: bytes after the last complete record that could not be read (a partial
    record, or the zero bytes a crash can leave); 0 when the file was cut between records.
    """

    def __init__(self, message: str, records: list | None = None, lost_bytes: int = 0) -> None:
        super().__init__(message)
        self.records = records or []
        self.lost_bytes = lost_bytes


class LogFormatError(LogError):
    """The file is not an emoplay session log, or uses an unsupported version."""


class StudyError(EmoplayError):
    """A study cannot run, or its logs cannot be reported (``emoplay study``)."""


class StudySpecError(StudyError):
    """A study file is missing, not TOML, or has an invalid field (the message names it)."""
