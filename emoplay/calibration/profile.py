"""A baseline as a small opaque, versioned profile (bytes) that a host stores for its player.

Layout: ``MAGIC`` (8 bytes), a format version byte, the UTF-8 JSON body, and its CRC-32 (4 bytes,
big-endian) so a damaged profile is refused rather than misread. The body holds the model
version, the class names, the strength, the frame count and the baseline's seven mean
log-probabilities: no pixels, nothing from which a face could be drawn (about 250 bytes).
emoplay never writes a profile to disk; the host keeps the bytes where it keeps its save games.
"""

from __future__ import annotations

import json
import struct
import zlib

from .._errors import CalibrationError
from .baseline import Baseline

MAGIC = b"EMOPCAL\x00"
FORMAT_VERSION = 1
MAX_PROFILE_BYTES = 4096  # a real one is ~250 bytes; anything far larger is not a profile


def export_profile(baseline: Baseline) -> bytes:
    body = json.dumps({
        "model_version": baseline.model_version,
        "class_names": list(baseline.class_names),
        "strength": baseline.strength,
        "frames": baseline.frames,
        "log_probabilities": [round(v, 6) for v in baseline.log_probabilities],
    }, separators=(",", ":")).encode("utf-8")
    data = MAGIC + bytes([FORMAT_VERSION]) + body
    return data + struct.pack(">I", zlib.crc32(data))


def import_profile(profile: bytes, class_names: tuple[str, ...] | None = None,
                   model_version: str | None = None) -> Baseline:
    """The baseline in ``profile``; checked against the model's classes and version when given."""
    if not isinstance(profile, (bytes, bytearray, memoryview)):
        raise TypeError(f"a calibration profile is bytes (from export_calibration()), got {type(profile).__name__}")
    data = bytes(profile)
    if len(data) > MAX_PROFILE_BYTES or len(data) < len(MAGIC) + 5 or not data.startswith(MAGIC):
        raise CalibrationError("this is not an emoplay calibration profile: pass the bytes export_calibration() "
                               "returned, unchanged")
    version = data[len(MAGIC)]
    if version != FORMAT_VERSION:
        raise CalibrationError(f"calibration profile format {version} is not supported (this emoplay reads "
                               f"format {FORMAT_VERSION}): calibrate the player again")
    body, crc = data[len(MAGIC) + 1:-4], struct.unpack(">I", data[-4:])[0]
    if zlib.crc32(data[:-4]) != crc:
        raise CalibrationError("the calibration profile is damaged (checksum mismatch): calibrate the player again")
    try:
        fields = json.loads(body.decode("utf-8"))
        baseline = Baseline(tuple(fields["class_names"]), tuple(float(v) for v in fields["log_probabilities"]),
                            fields["frames"], fields["strength"], fields["model_version"])
    except (ValueError, KeyError, TypeError, RecursionError) as e:  # RecursionError: JSON nested too deep
        raise CalibrationError(f"the calibration profile is damaged ({type(e).__name__}: {e}): calibrate the "
                               "player again") from e
    if class_names is not None and tuple(class_names) != baseline.class_names:
        raise CalibrationError(f"the profile's classes {list(baseline.class_names)} are not the model's "
                               f"{list(class_names)}: calibrate the player again with this model")
    if model_version is not None and model_version != baseline.model_version:
        raise CalibrationError(f"the profile was made with model {baseline.model_version or '(unknown)'}, this "
                               f"sensor runs model {model_version}: calibrate the player again")
    return baseline
