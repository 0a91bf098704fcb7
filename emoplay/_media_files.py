"""Opening media files with OpenCV safely: any file name, and no image too large to decode.

OpenCV takes file names as UTF-8 strings; a name that is not valid UTF-8 (on Linux, any byte
sequence is a valid name) crashes the interpreter inside ``cv2.VideoCapture`` and ``cv2.imread``.
Images are therefore read as bytes and decoded with ``cv2.imdecode``; a video whose name OpenCV
cannot take is opened through a symbolic link with a plain name in a private temporary folder,
removed as soon as the file is open.

An image's width and height are read from its header before it is decoded, and an image of more
than :data:`MAX_IMAGE_PIXELS` is refused: a small compressed file can declare a picture that needs
gigabytes once decoded.
"""

from __future__ import annotations

import os
import shutil
import stat
import struct
import tempfile
from pathlib import Path

import numpy as np

from ._errors import EmoplayError

MAX_IMAGE_PIXELS = 8192 * 8192  # 67 megapixels: an 8K frame fits, a decompression bomb does not
MAX_IMAGE_FILE_BYTES = 256 * 1024 * 1024  # no image file emoplay reads is this large
IMAGE_FORMATS = "PNG, JPEG, BMP, TIFF, WebP, GIF or PNM"


def opencv_name(path: Path) -> str | None:
    """``path`` as the string OpenCV is given, or None when OpenCV cannot take it (not valid UTF-8)."""
    text = str(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes of the name, kept by Python as lone surrogates
        return None
    return text


def open_video_capture(path: Path, error: type[EmoplayError]):
    """``cv2.VideoCapture`` of ``path``, whatever its name; ``error`` when a name OpenCV cannot take cannot be aliased.

    The capture keeps the file open, so the alias is removed before this returns.
    """
    import cv2

    name = opencv_name(path)
    if name is not None:
        return cv2.VideoCapture(name)
    folder = tempfile.mkdtemp(prefix="emoplay-video-")  # mode 0700: nobody else can swap the link
    try:
        suffix = path.suffix if opencv_name(Path(path.suffix)) is not None else ""
        alias = os.path.join(folder, "video" + suffix)
        try:
            os.symlink(os.path.abspath(path), alias)
        except OSError as e:
            raise error(f"cannot open {os.fsencode(path)!r}: its name is not valid UTF-8, which OpenCV cannot take, "
                        f"and no link to it could be made ({e.strerror or e}); rename the file") from None
        return cv2.VideoCapture(alias)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def printable_name(path: Path) -> str:
    """The file name for a message: as is when it is valid UTF-8, else with its odd bytes escaped."""
    return str(path) if opencv_name(path) is not None else repr(os.fsencode(path))[2:-1]


def read_image_file(path: Path, flags: int, error: type[EmoplayError]) -> np.ndarray | None:
    """Decode the image in ``path`` with ``cv2.imdecode(…, flags)``; None when OpenCV cannot decode it.

    Raises ``error`` when the file cannot be read, is not a regular file, is larger than
    :data:`MAX_IMAGE_FILE_BYTES`, or its header declares more than :data:`MAX_IMAGE_PIXELS`.
    """
    import cv2

    data = _read_regular_file(path, MAX_IMAGE_FILE_BYTES, error)
    size = image_size(data)
    if size is None:
        return None  # not a format whose size can be checked first: not decoded
    width, height = size
    if width * height > MAX_IMAGE_PIXELS:
        raise error(f"{printable_name(path)} is {width}x{height} pixels, more than the {MAX_IMAGE_PIXELS // 2**20} "
                    "megapixels emoplay decodes; scale it down")
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    except cv2.error:
        return None
    return image if image is not None and image.size else None


def _read_regular_file(path: Path, limit: int, error: type[EmoplayError]) -> bytes:
    try:
        with open(path, "rb") as f:
            info = os.fstat(f.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise error(f"{printable_name(path)} is not a regular file; give an image file")
            if info.st_size > limit:
                raise error(f"{printable_name(path)} is {info.st_size} bytes, larger than any image emoplay reads "
                            f"({limit // 2**20} MiB); scale it down")
            return f.read(limit + 1)[:limit]
    except OSError as e:
        raise error(f"cannot read image {printable_name(path)}: {e.strerror or e}; check its permissions") from None


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the header of a PNG, JPEG, BMP, TIFF, WebP, GIF or PNM image; None for anything else."""
    try:
        if data.startswith(b"\x89PNG\r\n\x1a\n"):
            return struct.unpack(">II", data[16:24])
        if data.startswith(b"\xff\xd8"):
            return _jpeg_size(data)
        if data.startswith(b"BM"):
            if struct.unpack("<I", data[14:18])[0] == 12:  # OS/2 BITMAPCOREHEADER: 16-bit sizes
                return struct.unpack("<HH", data[18:22])
            width, height = struct.unpack("<ii", data[18:26])
            return abs(width), abs(height)
        if data[:4] in (b"II*\x00", b"MM\x00*"):
            return _tiff_size(data)
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            return _webp_size(data)
        if data[:6] in (b"GIF87a", b"GIF89a"):
            return struct.unpack("<HH", data[6:10])
        if data[:1] == b"P" and data[1:2] in b"123456" and len(data) > 2:
            fields = data[2:256].split(maxsplit=2)
            return int(fields[0]), int(fields[1])
    except (struct.error, ValueError, IndexError):
        return None
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0x01, *range(0xD0, 0xDA)):  # markers without a length
            i += 2
            continue
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
            height, width = struct.unpack(">HH", data[i + 5:i + 9])
            return width, height
        i += 2 + length
    return None


def _tiff_size(data: bytes) -> tuple[int, int] | None:
    order = "<" if data[:2] == b"II" else ">"
    offset = struct.unpack(order + "I", data[4:8])[0]
    count = struct.unpack(order + "H", data[offset:offset + 2])[0]
    found = {}
    for k in range(count):
        entry = data[offset + 2 + 12 * k:offset + 14 + 12 * k]
        tag, kind = struct.unpack(order + "HH", entry[:4])
        if tag in (256, 257):
            found[tag] = struct.unpack(order + ("H" if kind == 3 else "I"), entry[8:10 if kind == 3 else 12])[0]
    return (found[256], found[257]) if len(found) == 2 else None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8 ":
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L":
        bits = struct.unpack("<I", data[21:25])[0]
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    return None
