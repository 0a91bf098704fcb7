"""The session-log reader: authenticate and decrypt a log, and recover every authentic record before a
damaged tail (cut, zero-filled or garbage), saying how many bytes were lost."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .._errors import LogAuthenticationError, LogError, LogFormatError, LogTruncatedError
from .._private_files import read_regular_file
from ._format import (
    _END_TYPE,
    _LENGTH,
    HEADER_SIZE,
    LENGTH_SIZE,
    MAGIC,
    MAX_PAYLOAD,
    PAD_BLOCK,
    PAD_BLOCK_WITH_PROBABILITIES,
    TAG_SIZE,
    LogHeader,
    _aead,
    _parse_header,
    _record_ad,
    _record_nonce,
)
from ._keys import LogKey
from ._records import LogRecord, _decode_payload, _is_number, _record_from_payload, _study_record_from_payload
from ._study_records import STUDY_RECORD_TYPES

__all__ = ["SessionLog", "read_session_log", "verify_session_log", "read_log_header", "is_session_log"]

@dataclass(frozen=True)
class SessionLog:
    """A decrypted session log. ``complete`` is False when the file was cut short or its tail is damaged.

    ``lost_bytes`` counts the bytes after the last authentic record that could not be read
    (0 for a complete file or a clean cut between records), and ``damage`` says what they
    were (``None`` when nothing was lost).
    """

    path: Path
    header: LogHeader
    records: list[LogRecord]
    complete: bool
    ended_at: float | None  # Unix seconds from the final record; None when cut short
    lost_bytes: int = 0
    damage: str | None = None

    @property
    def started_at(self) -> float:
        return self.header.started_at


def _read_bytes(path: Path) -> bytes:
    return read_regular_file(path, "session log", LogError)


def is_session_log(path: str | os.PathLike) -> bool:
    """True when the file starts with the session-log magic bytes (nothing is authenticated)."""
    try:
        with open(path, "rb") as f:
            return f.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def read_log_header(path: str | os.PathLike, key: LogKey) -> LogHeader:
    """Authenticate and return a log's header only (records are not read)."""
    data = read_regular_file(path, "session log", LogError, limit=HEADER_SIZE)[:HEADER_SIZE]
    return _parse_header(data, key)[0]


class _Unreadable(Exception):
    """The record at ``pos`` cannot be read: ``cut`` (the file ends inside it), or ``error`` says why."""

    def __init__(self, what: str, cut: bool, error: LogError | None = None, end: int | None = None) -> None:
        super().__init__(what)
        self.what, self.cut, self.error = what, cut, error
        self.end = end  # where the record would end, when its length field is plausible


def _try_open(aead, file_id: bytes, index: int, sealed: bytes, final: bool) -> bytes | None:
    from cryptography.exceptions import InvalidTag

    try:
        return aead.decrypt(_record_nonce(index), sealed, _record_ad(file_id, index, final))
    except InvalidTag:
        return None


def _open_record(aead, file_id: bytes, data: bytes, pos: int, index: int) -> tuple[bytes, bool, int]:
    """(plaintext, final flag, end offset) of the record at ``pos``, or :class:`_Unreadable`."""
    size = len(data)
    if size - pos < LENGTH_SIZE:
        raise _Unreadable(f"cut inside the length of record {index}", cut=True)
    (length,) = _LENGTH.unpack_from(data, pos)
    if not TAG_SIZE <= length <= TAG_SIZE + MAX_PAYLOAD:
        raise _Unreadable(f"record {index} has an impossible length {length}", cut=False, error=LogFormatError(
            f"record {index} has an impossible length {length}; the file is corrupt"))
    end = pos + LENGTH_SIZE + length
    if end > size:
        raise _Unreadable(f"cut inside record {index}", cut=True)
    sealed = data[pos + LENGTH_SIZE : end]
    # The last record of a complete file carries the final flag; try that first at the end.
    for final in (end == size, end != size):
        plaintext = _try_open(aead, file_id, index, sealed, final)
        if plaintext is not None:
            return plaintext, final, end
    raise _Unreadable(f"record {index} failed authentication", cut=False, end=end, error=LogAuthenticationError(
        f"record {index} failed authentication: the log was modified or reordered"))


_MAX_PROBES = 4096  # decryptions spent looking for authentic records after damage (a few ms)


def _authentic_offset_after(aead, file_id: bytes, data: bytes, pos: int, index: int, lengths: set[int]) -> int | None:
    """Offset of an authentic record at or after ``pos`` (other than record ``index`` at ``pos``), or None.

    One there means the damage is not a tail: the file was modified (or records reordered,
    dropped or spliced) rather than cut. Candidates: the frames that follow by their length
    fields, and every offset whose 4 bytes equal a record length seen in this file; each is
    tried with the indices near the one its position implies.
    """
    size, frame = len(data), LENGTH_SIZE + (min(lengths) if lengths else TAG_SIZE + PAD_BLOCK)
    candidates: list[tuple[int, int]] = []
    q, k = pos, 0
    while q + LENGTH_SIZE <= size and len(candidates) < _MAX_PROBES:
        (length,) = _LENGTH.unpack_from(data, q)
        if not TAG_SIZE <= length <= TAG_SIZE + MAX_PAYLOAD or q + LENGTH_SIZE + length > size:
            break
        candidates.append((q, index + k))
        q, k = q + LENGTH_SIZE + length, k + 1
    for length in sorted(lengths | {TAG_SIZE + PAD_BLOCK, TAG_SIZE + PAD_BLOCK_WITH_PROBABILITIES}):
        needle = _LENGTH.pack(length)
        q = data.find(needle, pos + 1)
        while q != -1 and len(candidates) < _MAX_PROBES:
            if q + LENGTH_SIZE + length <= size:
                candidates.append((q, index + (q - pos) // frame))
            q = data.find(needle, q + 1)
    probes = 0
    for q, near in candidates:
        (length,) = _LENGTH.unpack_from(data, q)
        sealed = data[q + LENGTH_SIZE : q + LENGTH_SIZE + length]
        for i in range(max(0, near - 2), near + 3):
            if q == pos and i == index:
                continue
            for final in (False, True):
                probes += 1
                if _try_open(aead, file_id, i, sealed, final) is not None:
                    return q
            if probes >= 2 * _MAX_PROBES:
                return None
    return None


@dataclass(frozen=True)
class _Decoded:
    header: LogHeader
    records: list[LogRecord]
    complete: bool
    ended_at: float | None
    lost_bytes: int = 0
    damage: str | None = None
    crash: bool = True  # the loss looks like what a crash leaves (a cut, or zero bytes)
    error: LogError | None = None  # what a strict read raises when the damage is not crash-like


def _decode(data: bytes, key: LogKey) -> _Decoded:
    header, keys = _parse_header(data, key)
    aead = _aead(keys.payload)
    file_id = header.file_id
    records: list[LogRecord] = []
    lengths: set[int] = set()
    pos, size, index = HEADER_SIZE, len(data), 0
    while pos < size:
        try:
            plaintext, final, end = _open_record(aead, file_id, data, pos, index)
        except _Unreadable as damage:
            return _damaged_tail(header, records, data, pos, index, damage, aead, lengths)
        if final and end != size:
            raise LogAuthenticationError("the log has data after its final record: it was modified")
        payload = _decode_payload(index, plaintext)
        if final:
            ended_at = payload.get("ended_at")
            if payload["type"] != _END_TYPE or payload.get("records") != index or not _is_number(ended_at):
                raise LogFormatError(f"record {index} is marked final but is not a valid end record")
            return _Decoded(header, records, True, float(ended_at))
        if header.study_records and payload["type"] in STUDY_RECORD_TYPES:
            records.append(_study_record_from_payload(index, payload))
        else:
            records.append(_record_from_payload(index, payload, header.version))
        lengths.add(end - pos - LENGTH_SIZE)
        index += 1
        pos = end
    return _Decoded(header, records, False, None)  # cut cleanly between two records


def _damaged_tail(header, records, data, pos, index, damage: _Unreadable, aead, lengths) -> _Decoded:
    """Classify the bytes from the first unreadable record on: a crash tail, a damaged tail, or a modification."""
    lost = len(data) - pos
    later = _authentic_offset_after(aead, header.file_id, data, pos, index, lengths)
    gap = data[pos:later] if later is not None else data[pos:]
    if gap and not gap.strip(b"\0"):  # zero bytes: what a crash leaves on many file systems
        what = f"{len(gap)} zero bytes in place of record {index}" + (
            "; authentic records after them are not returned" if later is not None else "")
        return _Decoded(header, records, False, None, lost, what)
    if later is not None:  # damage with authentic records after it: modified, not cut
        # A length field that runs past the end, with authentic records inside its reach, was changed.
        raise damage.error or LogAuthenticationError(
            f"record {index}'s length runs past the end of the file, yet authentic records follow it: the log "
            "was modified")
    if damage.cut:
        return _Decoded(header, records, False, None, lost, damage.what)
    end = damage.end
    if end is not None and not data[end - TAG_SIZE : end].strip(b"\0") and not data[end:].strip(b"\0"):
        # A record whose tag is zero bytes, then only zero bytes: its write was torn by a crash.
        return _Decoded(header, records, False, None, lost, f"record {index} torn by a crash (it ends in zero bytes)")
    return _Decoded(header, records, False, None, lost, f"{lost} unreadable bytes at the end: {damage.what}",
                    crash=False, error=damage.error)


def read_session_log(path: str | os.PathLike, key: LogKey, *, allow_truncated: bool = False) -> SessionLog:
    """Authenticate and decrypt a whole session log.

    Raises :class:`LogAuthenticationError` for a wrong key or any modification
    (no plaintext is returned), :class:`LogFormatError` for files that are not
    version 1 or 2 emoplay logs, and :class:`LogTruncatedError` (carrying every
    complete record and ``lost_bytes``) for a file without its final record: cut
    short, or ending in the zero bytes a crash can leave.

    With ``allow_truncated`` the log is returned with ``complete=False`` instead,
    and also when its tail is damaged (garbage or a torn record after the last
    authentic record, with nothing authentic after it): ``records`` holds every
    authentic record before the damage, ``lost_bytes`` and ``damage`` say what was
    lost. Damage followed by authentic records is a modification and raises.
    """
    path = Path(path)
    decoded = _decode(_read_bytes(path), key)
    if not decoded.complete and not allow_truncated:
        records = decoded.records
        if not decoded.crash:
            error = type(decoded.error)(
                f"{decoded.error}; the {len(records)} records before it are authentic: read the log with "
                "allow_truncated=True (`emoplay log show`) to recover them"
            )
            raise error
        lost = f", {decoded.lost_bytes} bytes after them lost ({decoded.damage})" if decoded.lost_bytes else ""
        raise LogTruncatedError(
            f"{path}: file was cut short (no final record); {len(records)} complete records recovered{lost}",
            records, decoded.lost_bytes,
        )
    return SessionLog(path=path, header=decoded.header, records=decoded.records, complete=decoded.complete,
                      ended_at=decoded.ended_at, lost_bytes=decoded.lost_bytes, damage=decoded.damage)


def verify_session_log(path: str | os.PathLike, key: LogKey) -> int:
    """Check every byte of a log; returns its number of event records or raises a :class:`LogError`."""
    return len(read_session_log(path, key).records)
