"""Encrypted, opt-in session logs: events only, never pixels.

A session log is one new file per session. It holds a short, authenticated
header and then one AEAD-sealed record per event (``EmotionChanged``,
``FaceFound``, ``FaceLost``), ending with an explicit final record. The byte
layout is specified in ``privacy/LOG_FORMAT.md``; in short:

- keys come from a passphrase (scrypt with a fresh salt per file, parameters
  stored in the header and capped when read) or from a 32-byte key file;
- HKDF-SHA256 with the file's random 16-byte id as salt splits that secret
  into a header key and a payload key (like age v1);
- each record is ChaCha20-Poly1305 with the record index as nonce and
  ``file_id || index || final flag`` as associated data, so truncation,
  reordering, splicing and appending are detected;
- the writer flushes and fsyncs every record, so a crash loses at most the
  record being written; the reader then returns every complete record inside
  :class:`~emoplay.LogTruncatedError`.

``cryptography`` is imported only when a key is used, not when emoplay is.
"""

from __future__ import annotations

import json
import math
import os
import struct
import threading
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

from ._errors import LogAuthenticationError, LogError, LogFormatError, LogTruncatedError
from ._events import EmotionChanged, FaceFound, FaceLost

__all__ = [
    "LogKey",
    "LogHeader",
    "LogRecord",
    "SessionLog",
    "SessionLogWriter",
    "generate_key_file",
    "read_log_header",
    "read_session_log",
    "verify_session_log",
    "is_session_log",
]

# --- format constants (privacy/LOG_FORMAT.md) --------------------------------------------

MAGIC = b"\x89EMOLOG\n"
VERSION = 1
KDF_KEY_FILE = 1
KDF_SCRYPT = 2
KEY_SIZE = 32
FILE_ID_SIZE = 16
SALT_SIZE = 16
TAG_SIZE = 16
HEADER_PREFIX_SIZE = 48  # magic .. salt: the associated data of the sealed header info
HEADER_INFO_SIZE = 16  # f64 started_at, u8 flags, 7 reserved bytes
HEADER_SIZE = HEADER_PREFIX_SIZE + HEADER_INFO_SIZE + TAG_SIZE  # 80
LENGTH_SIZE = 4
MAX_PAYLOAD = 65536  # a record's plaintext; real records are a few hundred bytes
# Plaintexts are padded with spaces to a multiple of this, so that record sizes do not tell
# the event type or the emotion's name length to someone without the key.
PAD_BLOCK = 256
PAD_BLOCK_WITH_PROBABILITIES = 512
FLAG_PROBABILITIES = 0x01

HKDF_INFO_HEADER = b"emoplay-log/v1 header"
HKDF_INFO_PAYLOAD = b"emoplay-log/v1 payload"

# scrypt work factors: what a new file uses by default, and the most a reader accepts.
# n = 2**17, r = 8 costs 128 MiB and about 0.25 s on one laptop core (measured on the dev
# machine); age uses 2**18. Readers refuse more than 2**20 / 1 GiB so a file cannot stall them.
DEFAULT_SCRYPT_LOG2_N = 17
DEFAULT_SCRYPT_R = 8
DEFAULT_SCRYPT_P = 1
MIN_WRITE_SCRYPT_LOG2_N = 10
MAX_SCRYPT_LOG2_N = 20
MAX_SCRYPT_R = 16
MAX_SCRYPT_P = 4
MAX_SCRYPT_MEMORY = 1 << 30  # 128 * r * n bytes

_HEADER_PREFIX = struct.Struct(">8sBBBBB3s16s16s")
_HEADER_INFO = struct.Struct(">dB7s")
_LENGTH = struct.Struct(">I")
_RECORD_AD = struct.Struct(">16sQB")

EVENT_TYPES = ("EmotionChanged", "FaceFound", "FaceLost")
_END_TYPE = "end"


# --- keys ----------------------------------------------------------------------------------


def _check_scrypt_params(log2_n: int, r: int, p: int) -> str | None:
    """Why these scrypt parameters are refused, or None when they are acceptable to read."""
    if not 1 <= log2_n <= MAX_SCRYPT_LOG2_N:
        return f"scrypt n = 2**{log2_n} is outside 2**1..2**{MAX_SCRYPT_LOG2_N}"
    if not 1 <= r <= MAX_SCRYPT_R:
        return f"scrypt r = {r} is outside 1..{MAX_SCRYPT_R}"
    if not 1 <= p <= MAX_SCRYPT_P:
        return f"scrypt p = {p} is outside 1..{MAX_SCRYPT_P}"
    if 128 * r * (1 << log2_n) > MAX_SCRYPT_MEMORY:
        return f"scrypt n = 2**{log2_n}, r = {r} needs more than {MAX_SCRYPT_MEMORY >> 20} MiB"
    return None


class LogKey:
    """The secret that opens session logs: a passphrase or a 32-byte key file.

    A passphrase key derives a fresh key for every file, using the salt and
    scrypt parameters in that file's header; a key-file key is used as is.
    ``repr()`` never shows the secret.
    """

    __slots__ = ("_kind", "_secret", "_log2_n", "_r", "_p")

    def __init__(self, kind: int, secret: bytes, log2_n: int = 0, r: int = 0, p: int = 0) -> None:
        # Use from_passphrase(), from_file() or from_bytes(); this signature is private.
        self._kind = kind
        self._secret = secret
        self._log2_n = log2_n
        self._r = r
        self._p = p

    @classmethod
    def from_passphrase(
        cls,
        passphrase: str,
        *,
        scrypt_log2_n: int = DEFAULT_SCRYPT_LOG2_N,
        scrypt_r: int = DEFAULT_SCRYPT_R,
        scrypt_p: int = DEFAULT_SCRYPT_P,
    ) -> LogKey:
        """A passphrase key. The scrypt parameters apply to files this key writes;
        reading uses the parameters stored in each file (within the caps)."""
        if not isinstance(passphrase, str):
            raise TypeError(f"passphrase must be a str, not {type(passphrase).__name__}")
        if not passphrase:
            raise ValueError("passphrase is empty; choose a non-empty passphrase or use a key file")
        if not MIN_WRITE_SCRYPT_LOG2_N <= scrypt_log2_n <= MAX_SCRYPT_LOG2_N:
            raise ValueError(
                f"scrypt_log2_n must be in {MIN_WRITE_SCRYPT_LOG2_N}..{MAX_SCRYPT_LOG2_N}, got {scrypt_log2_n}"
            )
        problem = _check_scrypt_params(scrypt_log2_n, scrypt_r, scrypt_p)
        if problem:
            raise ValueError(problem)
        # NFC so the same passphrase typed on different systems gives the same bytes.
        secret = unicodedata.normalize("NFC", passphrase).encode("utf-8")
        return cls(KDF_SCRYPT, secret, scrypt_log2_n, scrypt_r, scrypt_p)

    @classmethod
    def from_bytes(cls, key: bytes) -> LogKey:
        """A key from 32 raw bytes (what a key file holds)."""
        if not isinstance(key, (bytes, bytearray)):
            raise TypeError(f"key must be bytes, not {type(key).__name__}")
        if len(key) != KEY_SIZE:
            raise ValueError(f"a log key is exactly {KEY_SIZE} bytes, got {len(key)}")
        return cls(KDF_KEY_FILE, bytes(key))

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> LogKey:
        """Read a key file made by :func:`generate_key_file` (exactly 32 bytes)."""
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise LogError(f"cannot read key file {os.fspath(path)}: {exc.strerror or exc}") from exc
        if len(data) != KEY_SIZE:
            raise LogFormatError(
                f"{os.fspath(path)} is not an emoplay key file: it holds {len(data)} bytes, "
                f"a key file holds exactly {KEY_SIZE} (make one with `emoplay log keygen`)"
            )
        return cls(KDF_KEY_FILE, data)

    @property
    def kind(self) -> str:
        return "passphrase" if self._kind == KDF_SCRYPT else "key-file"

    def __repr__(self) -> str:
        if self._kind == KDF_SCRYPT:
            return f"LogKey(passphrase, scrypt n=2**{self._log2_n} r={self._r} p={self._p})"
        return "LogKey(key-file)"

    def _master_key(self, kdf: int, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
        """The per-file master secret for a header's KDF fields (already checked)."""
        if kdf != self._kind:
            written = "a passphrase" if kdf == KDF_SCRYPT else "a key file"
            given = "a passphrase" if self._kind == KDF_SCRYPT else "a key file"
            raise LogAuthenticationError(f"wrong key: this log was encrypted with {written}, not {given}")
        if kdf == KDF_KEY_FILE:
            return self._secret
        from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

        return Scrypt(salt=salt, length=KEY_SIZE, n=1 << log2_n, r=r, p=p).derive(self._secret)


def generate_key_file(path: str | os.PathLike) -> Path:
    """Write 32 random bytes to a new file readable only by its owner (0600).

    Refuses to overwrite an existing file: losing a key loses every log it opened.
    """
    path = Path(path)
    key = os.urandom(KEY_SIZE)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    except FileExistsError as exc:
        raise LogError(f"{path} already exists; emoplay never overwrites a key file") from exc
    except OSError as exc:
        raise LogError(f"cannot create key file {path}: {exc.strerror or exc}") from exc
    with os.fdopen(fd, "wb") as f:
        f.write(key)
        f.flush()
        os.fsync(f.fileno())
    return path


def _hkdf(master: bytes, file_id: bytes, info: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=KEY_SIZE, salt=file_id, info=info).derive(master)


def _record_nonce(index: int) -> bytes:
    return b"\x00\x00\x00\x00" + index.to_bytes(8, "big")


def _record_ad(file_id: bytes, index: int, final: bool) -> bytes:
    return _RECORD_AD.pack(file_id, index, 1 if final else 0)


# --- data types ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LogHeader:
    """What a log's authenticated header says."""

    version: int
    kdf: str  # "passphrase" or "key-file"
    file_id: bytes
    started_at: float  # Unix seconds (wall clock) when the writer opened the file
    include_probabilities: bool
    scrypt_log2_n: int = 0
    scrypt_r: int = 0
    scrypt_p: int = 0


@dataclass(frozen=True)
class LogRecord:
    """One logged event. ``timestamp`` is the event's monotonic timestamp in seconds.

    ``type`` is ``"EmotionChanged"``, ``"FaceFound"`` or ``"FaceLost"``; ``emotion``,
    ``previous`` and ``confidence`` are set for ``EmotionChanged`` only, and
    ``probabilities`` only when the writer was asked to include them.
    """

    index: int
    type: str
    timestamp: float
    track_id: int
    emotion: str | None = None
    previous: str | None = None
    confidence: float | None = None
    probabilities: Mapping[str, float] | None = None

    def to_dict(self) -> dict:
        out: dict = {"index": self.index, "type": self.type, "timestamp": self.timestamp, "track_id": self.track_id}
        if self.type == "EmotionChanged":
            out.update(emotion=self.emotion, previous=self.previous, confidence=self.confidence)
            if self.probabilities is not None:
                out["probabilities"] = dict(self.probabilities)
        return out


@dataclass(frozen=True)
class SessionLog:
    """A decrypted session log. ``complete`` is False when the file was cut short."""

    path: Path
    header: LogHeader
    records: list[LogRecord]
    complete: bool
    ended_at: float | None  # Unix seconds from the final record; None when cut short

    @property
    def started_at(self) -> float:
        return self.header.started_at


# --- payload encoding ----------------------------------------------------------------------


def _finite(value: float, what: str) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, got {value!r}")
    return value


def _event_payload(event: object, include_probabilities: bool) -> dict | None:
    """The JSON object logged for an event, or None for event types that are not logged."""
    if isinstance(event, EmotionChanged):
        payload = {
            "type": "EmotionChanged",
            "t": _finite(event.timestamp, "timestamp"),
            "track": int(event.track_id),
            "emotion": str(event.current),
            "previous": str(event.previous),
            "confidence": _finite(event.confidence, "confidence"),
        }
        if include_probabilities:
            payload["probabilities"] = {
                str(k): _finite(v, f"probability of {k}") for k, v in dict(event.probabilities).items()
            }
        return payload
    if isinstance(event, (FaceFound, FaceLost)):
        # The face box is left out on purpose: time and track are enough for a timeline.
        return {"type": type(event).__name__, "t": _finite(event.timestamp, "timestamp"), "track": int(event.track_id)}
    return None


def _encode_json(payload: dict, pad_block: int) -> bytes:
    """Compact UTF-8 JSON, padded with spaces (JSON whitespace) to a multiple of ``pad_block``."""
    data = json.dumps(payload, separators=(",", ":"), sort_keys=True, allow_nan=False).encode("utf-8")
    data += b" " * (-len(data) % pad_block)
    if len(data) > MAX_PAYLOAD:
        raise ValueError(f"a log record may hold at most {MAX_PAYLOAD} bytes, this one needs {len(data)}")
    return data


def _pad_block(include_probabilities: bool) -> int:
    return PAD_BLOCK_WITH_PROBABILITIES if include_probabilities else PAD_BLOCK


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _decode_payload(index: int, plaintext: bytes) -> dict:
    """Parse an authenticated record; a malformed one can only come from a key holder or a bug."""
    try:
        payload = json.loads(plaintext.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise LogFormatError(f"record {index} is authentic but is not valid JSON") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
        raise LogFormatError(f"record {index} is authentic but has no event type")
    return payload


def _record_from_payload(index: int, payload: dict) -> LogRecord:
    kind = payload["type"]
    t, track = payload.get("t"), payload.get("track")
    if kind not in EVENT_TYPES or not _is_number(t) or not isinstance(track, int) or isinstance(track, bool):
        raise LogFormatError(f"record {index} is authentic but is not a logged event")
    if kind != "EmotionChanged":
        return LogRecord(index=index, type=kind, timestamp=float(t), track_id=track)
    emotion, previous, confidence = payload.get("emotion"), payload.get("previous"), payload.get("confidence")
    probabilities = payload.get("probabilities")
    if not (isinstance(emotion, str) and isinstance(previous, str) and _is_number(confidence)):
        raise LogFormatError(f"record {index} is authentic but its emotion fields are malformed")
    if probabilities is not None:
        if not isinstance(probabilities, dict) or not all(
            isinstance(k, str) and _is_number(v) for k, v in probabilities.items()
        ):
            raise LogFormatError(f"record {index} is authentic but its probabilities are malformed")
        probabilities = {k: float(v) for k, v in probabilities.items()}
    return LogRecord(
        index=index,
        type=kind,
        timestamp=float(t),
        track_id=track,
        emotion=emotion,
        previous=previous,
        confidence=float(confidence),
        probabilities=probabilities,
    )


# --- low-level building blocks (also used by tests/vectors/make_sessionlog_vectors.py) ------


@dataclass(frozen=True)
class _Keys:
    header: bytes
    payload: bytes


def _derive_keys(key: LogKey, kdf: int, file_id: bytes, salt: bytes, log2_n: int, r: int, p: int) -> _Keys:
    master = key._master_key(kdf, salt, log2_n, r, p)
    return _Keys(_hkdf(master, file_id, HKDF_INFO_HEADER), _hkdf(master, file_id, HKDF_INFO_PAYLOAD))


def _aead(key: bytes):
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

    return ChaCha20Poly1305(key)


def _build_header(
    key: LogKey, file_id: bytes, salt: bytes, started_at: float, include_probabilities: bool
) -> tuple[bytes, _Keys]:
    """The 80 header bytes for a new file, and the keys derived for it."""
    if key._kind == KDF_SCRYPT:
        kdf, log2_n, r, p = KDF_SCRYPT, key._log2_n, key._r, key._p
    else:
        kdf, log2_n, r, p, salt = KDF_KEY_FILE, 0, 0, 0, bytes(SALT_SIZE)
    keys = _derive_keys(key, kdf, file_id, salt, log2_n, r, p)
    prefix = _HEADER_PREFIX.pack(MAGIC, VERSION, kdf, log2_n, r, p, bytes(3), file_id, salt)
    info = _HEADER_INFO.pack(
        _finite(started_at, "started_at"), FLAG_PROBABILITIES if include_probabilities else 0, bytes(7)
    )
    sealed = _aead(keys.header).encrypt(bytes(12), info, prefix)
    return prefix + sealed, keys


def _build_record(keys: _Keys, file_id: bytes, index: int, payload: dict, final: bool, pad_block: int) -> bytes:
    """One framed record: u32 length, then ciphertext and tag."""
    plaintext = _encode_json(payload, pad_block)
    sealed = _aead(keys.payload).encrypt(_record_nonce(index), plaintext, _record_ad(file_id, index, final))
    return _LENGTH.pack(len(sealed)) + sealed


# --- writer --------------------------------------------------------------------------------


class SessionLogWriter:
    """Write one new encrypted session log; refuses to touch an existing file.

    ``write(event)`` logs ``EmotionChanged``, ``FaceFound`` and ``FaceLost`` and
    skips every other event type; each record is flushed and fsynced before
    ``write`` returns. ``close()`` writes the final record; it is idempotent and
    ``with`` calls it. ``clock`` gives wall-clock Unix seconds for the session's
    start (header) and end (final record); inject one for tests and replays.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        key: LogKey,
        *,
        include_probabilities: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(key, LogKey):
            raise TypeError(f"key must be a LogKey, not {type(key).__name__}")
        self.path = Path(path)
        self.include_probabilities = bool(include_probabilities)
        self._pad_block = _pad_block(self.include_probabilities)
        self._clock = clock
        self._lock = threading.Lock()
        self._count = 0
        self._file_id = os.urandom(FILE_ID_SIZE)
        # Derive keys (scrypt can take a moment) before creating the file, so a failure leaves nothing behind.
        header, self._keys = _build_header(
            key, self._file_id, os.urandom(SALT_SIZE), clock(), self.include_probabilities
        )
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
        except FileExistsError as exc:
            raise LogError(
                f"{self.path} already exists; session logs are never overwritten or appended to, "
                "choose a new file name for each session"
            ) from exc
        except OSError as exc:
            raise LogError(f"cannot create session log {self.path}: {exc.strerror or exc}") from exc
        self._file = os.fdopen(fd, "wb")
        try:
            self._append(header)
        except BaseException:
            self._file.close()
            raise

    @property
    def closed(self) -> bool:
        return self._file is None

    @property
    def records_written(self) -> int:
        """Event records written so far (the final record not counted)."""
        return self._count

    def _append(self, data: bytes) -> None:
        try:
            self._file.write(data)
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as exc:
            raise LogError(f"cannot write session log {self.path}: {exc.strerror or exc}") from exc

    def write(self, event: object) -> bool:
        """Log an event; returns False (and writes nothing) for event types that are not logged."""
        payload = _event_payload(event, self.include_probabilities)
        if payload is None:
            return False
        with self._lock:
            if self._file is None:
                raise ValueError(f"session log {self.path} is closed; open a new SessionLogWriter")
            self._append(_build_record(self._keys, self._file_id, self._count, payload, False, self._pad_block))
            self._count += 1
        return True

    def close(self) -> None:
        """Write the final record and close the file. Calling it again does nothing."""
        with self._lock:
            if self._file is None:
                return
            try:
                end = {"type": _END_TYPE, "ended_at": _finite(self._clock(), "ended_at"), "records": self._count}
                self._append(_build_record(self._keys, self._file_id, self._count, end, True, self._pad_block))
            finally:
                self._file.close()
                self._file = None

    def __enter__(self) -> SessionLogWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._file is None else f"{self._count} records"
        return f"SessionLogWriter({os.fspath(self.path)!r}, {state})"


# --- reader --------------------------------------------------------------------------------


def _parse_header(data: bytes, key: LogKey) -> tuple[LogHeader, _Keys]:
    """Check, then authenticate, a file's first bytes. Lengths and caps come before any crypto."""
    if not data:
        raise LogFormatError("not an emoplay session log: the file is empty")
    if len(data) < len(MAGIC):
        if MAGIC.startswith(data):
            raise LogTruncatedError("file was cut short inside its header; no records to recover", [])
        raise LogFormatError("not an emoplay session log (unknown magic bytes)")
    if data[: len(MAGIC)] != MAGIC:
        raise LogFormatError("not an emoplay session log (unknown magic bytes)")
    if len(data) < HEADER_SIZE:
        raise LogTruncatedError("file was cut short inside its header; no records to recover", [])
    prefix = data[:HEADER_PREFIX_SIZE]
    _, version, kdf, log2_n, r, p, reserved, file_id, salt = _HEADER_PREFIX.unpack(prefix)
    if version != VERSION:
        raise LogFormatError(f"unsupported session log version {version}; this emoplay reads version {VERSION}")
    if reserved != bytes(3):
        raise LogFormatError("malformed session log header (reserved bytes are not zero)")
    if kdf == KDF_KEY_FILE:
        if (log2_n, r, p) != (0, 0, 0) or salt != bytes(SALT_SIZE):
            raise LogFormatError("malformed session log header (key-file log with scrypt parameters)")
    elif kdf == KDF_SCRYPT:
        problem = _check_scrypt_params(log2_n, r, p)
        if problem:
            raise LogFormatError(f"refusing to open this log: {problem} (limit set by emoplay)")
    else:
        raise LogFormatError(f"unsupported key derivation {kdf} in session log header")
    keys = _derive_keys(key, kdf, file_id, salt, log2_n, r, p)
    from cryptography.exceptions import InvalidTag

    try:
        info = _aead(keys.header).decrypt(bytes(12), data[HEADER_PREFIX_SIZE:HEADER_SIZE], prefix)
    except InvalidTag:
        raise LogAuthenticationError("wrong key or passphrase, or the log header was modified") from None
    started_at, flags, info_reserved = _HEADER_INFO.unpack(info)
    if flags & ~FLAG_PROBABILITIES or info_reserved != bytes(7) or not math.isfinite(started_at):
        raise LogFormatError("session log header is authentic but malformed")
    header = LogHeader(
        version=version,
        kdf="passphrase" if kdf == KDF_SCRYPT else "key-file",
        file_id=file_id,
        started_at=started_at,
        include_probabilities=bool(flags & FLAG_PROBABILITIES),
        scrypt_log2_n=log2_n,
        scrypt_r=r,
        scrypt_p=p,
    )
    return header, keys


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise LogError(f"cannot read session log {path}: {exc.strerror or exc}") from exc


def is_session_log(path: str | os.PathLike) -> bool:
    """True when the file starts with the session-log magic bytes (nothing is authenticated)."""
    try:
        with open(path, "rb") as f:
            return f.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def read_log_header(path: str | os.PathLike, key: LogKey) -> LogHeader:
    """Authenticate and return a log's header only (records are not read)."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            data = f.read(HEADER_SIZE)
    except OSError as exc:
        raise LogError(f"cannot read session log {path}: {exc.strerror or exc}") from exc
    return _parse_header(data, key)[0]


def _decode(data: bytes, key: LogKey) -> tuple[LogHeader, list[LogRecord], bool, float | None]:
    header, keys = _parse_header(data, key)
    from cryptography.exceptions import InvalidTag

    aead = _aead(keys.payload)
    file_id = header.file_id
    records: list[LogRecord] = []
    pos, size, index = HEADER_SIZE, len(data), 0
    while pos < size:
        if size - pos < LENGTH_SIZE:
            break  # cut inside a length prefix
        (length,) = _LENGTH.unpack_from(data, pos)
        if not TAG_SIZE <= length <= TAG_SIZE + MAX_PAYLOAD:
            raise LogFormatError(f"record {index} has an impossible length {length}; the file is corrupt")
        end = pos + LENGTH_SIZE + length
        if end > size:
            break  # cut inside a record
        sealed = data[pos + LENGTH_SIZE : end]
        at_eof = end == size
        # The last record of a complete file carries the final flag; try that first at the end.
        final = at_eof
        try:
            plaintext = aead.decrypt(_record_nonce(index), sealed, _record_ad(file_id, index, final))
        except InvalidTag:
            final = not final
            try:
                plaintext = aead.decrypt(_record_nonce(index), sealed, _record_ad(file_id, index, final))
            except InvalidTag:
                raise LogAuthenticationError(
                    f"record {index} failed authentication: the log was modified or reordered"
                ) from None
        if final and not at_eof:
            raise LogAuthenticationError("the log has data after its final record: it was modified")
        payload = _decode_payload(index, plaintext)
        if final:
            ended_at = payload.get("ended_at")
            if payload["type"] != _END_TYPE or payload.get("records") != index or not _is_number(ended_at):
                raise LogFormatError(f"record {index} is marked final but is not a valid end record")
            return header, records, True, float(ended_at)
        records.append(_record_from_payload(index, payload))
        index += 1
        pos = end
    return header, records, False, None


def read_session_log(path: str | os.PathLike, key: LogKey, *, allow_truncated: bool = False) -> SessionLog:
    """Authenticate and decrypt a whole session log.

    Raises :class:`LogAuthenticationError` for a wrong key or any modification
    (no plaintext is returned), :class:`LogFormatError` for files that are not
    version-1 emoplay logs, and :class:`LogTruncatedError` (carrying every
    complete record) for a file without its final record, unless
    ``allow_truncated`` is true, in which case the log is returned with
    ``complete=False``.
    """
    path = Path(path)
    header, records, complete, ended_at = _decode(_read_bytes(path), key)
    if not complete and not allow_truncated:
        raise LogTruncatedError(
            f"{path}: file was cut short (no final record); {len(records)} complete records recovered", records
        )
    return SessionLog(path=path, header=header, records=records, complete=complete, ended_at=ended_at)


def verify_session_log(path: str | os.PathLike, key: LogKey) -> int:
    """Check every byte of a log; returns its number of event records or raises a :class:`LogError`."""
    return len(read_session_log(path, key).records)
