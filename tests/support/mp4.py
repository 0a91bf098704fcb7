"""Make real videos corrupt in the middle: move the index (moov) before the frames, then cut or damage them."""

from __future__ import annotations

import struct
from pathlib import Path

_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"udta"}


def _boxes(data: bytes, start: int, end: int):
    i = start
    while i + 8 <= end:
        size, kind = struct.unpack(">I4s", data[i:i + 8])
        header = 8
        if size == 1:
            size, header = struct.unpack(">Q", data[i + 8:i + 16])[0], 16
        elif size == 0:
            size = end - i
        yield kind, i, header, size
        i += size



def _walk(buf: bytearray, start: int, end: int, shift: int) -> None:
    for kind, at, header, size in _boxes(bytes(buf), start, end):
        if kind in _CONTAINERS:
            _walk(buf, at + header, at + size, shift)
        elif kind in (b"stco", b"co64"):
            count = struct.unpack(">I", buf[at + 12:at + 16])[0]
            width, fmt = (4, ">I") if kind == b"stco" else (8, ">Q")
            for n in range(count):
                p = at + 16 + n * width
                buf[p:p + width] = struct.pack(fmt, struct.unpack(fmt, buf[p:p + width])[0] + shift)


def index_first(path: Path) -> bytes:
    """The bytes of ``path`` (an MP4/MOV with its index at the end) with the index moved to the front."""
    data = path.read_bytes()
    boxes = {kind: (at, size) for kind, at, _, size in _boxes(data, 0, len(data))}
    moov_at, moov_size = boxes[b"moov"]
    moov = bytearray(data[moov_at:moov_at + moov_size])
    if moov_at + moov_size != len(data):
        raise ValueError(f"{path}: expected the index at the end")
    _walk(moov, 8, len(moov), moov_size)
    mdat_at, _ = boxes[b"mdat"]
    return data[:mdat_at] + bytes(moov) + data[mdat_at:moov_at]
