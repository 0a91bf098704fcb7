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
- the writer never reuses a (key, nonce) pair: a record's index is taken
  before its bytes are written, and after any failed write the writer writes
  nothing more with that key;
- ``write`` hands each record to the operating system before it returns (a
  killed process loses nothing already written); a background thread runs
  scrypt and fsyncs in batches, so neither blocks the game thread, and
  :meth:`SessionLogWriter.sync` is an explicit durability point;
- the reader recovers every authentic record before a damaged tail (cut,
  zero-filled or garbage) and says how many bytes were lost.

The guarantees, and the tests that prove them, are listed in LOG_FORMAT.md.

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

from .._errors import LogAuthenticationError, LogError, LogFormatError, LogTruncatedError
from .._events import EmotionChanged, EventsDropped, FaceFound, FaceLost
from ._file import AppendOnlyFile
from ._study_records import FLAG_STUDY_RECORDS, STUDY_RECORD_TYPES, study_payload, study_record_parts

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
VERSION = 2  # what new files are written as; version 2 adds the EventsDropped record
READABLE_VERSIONS = (1, 2)
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
# n = 2**17, r = 8 costs 128 MiB and a fraction of a second of one core; age uses 2**18. Readers refuse more than 2**20 / 1 GiB so a file cannot stall them.
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

EVENT_TYPES = ("EmotionChanged", "FaceFound", "FaceLost", "EventsDropped")
_EVENT_TYPES_BY_VERSION = {1: EVENT_TYPES[:3], 2: EVENT_TYPES}
_END_TYPE = "end"

# The writer's thread fsyncs at most once per this many seconds (and at once when idle), so a power
# cut loses at most about this much of the session; sync() and close() make everything durable.
DEFAULT_SYNC_INTERVAL_S = 0.25


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
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(key)
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:  # a full disk or a failing device: no half-written key is left to be used
        path.unlink(missing_ok=True)
        raise LogError(f"cannot write key file {path}: {exc.strerror or exc}; free some space or choose "
                       "another place, then run keygen again") from exc
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
    study_records: bool = False  # flag bit 1: the file may hold study records (emoplay study)


@dataclass(frozen=True)
class LogRecord:
    """One logged event. ``timestamp`` is the event's monotonic timestamp in seconds.

    ``type`` is ``"EmotionChanged"``, ``"FaceFound"``, ``"FaceLost"`` or (version 2)
    ``"EventsDropped"``; ``emotion``, ``previous`` and ``confidence`` are set for
    ``EmotionChanged`` only, and ``probabilities`` only when the writer was asked to
    include them. An ``EventsDropped`` record has no track (``track_id`` is None) and
    ``count`` says how many events the sensor dropped before they reached the log.
    """

    index: int
    type: str
    timestamp: float
    track_id: int | None
    emotion: str | None = None
    previous: str | None = None
    confidence: float | None = None
    probabilities: Mapping[str, float] | None = None
    data: Mapping[str, object] | None = None  # a study record's other members (LOG_FORMAT.md, Study records)
    count: int | None = None  # EventsDropped only

    def to_dict(self) -> dict:
        if self.type == "EventsDropped":
            return {"index": self.index, "type": self.type, "timestamp": self.timestamp, "count": self.count}
        out: dict = {"index": self.index, "type": self.type, "timestamp": self.timestamp, "track_id": self.track_id}
        if self.data is not None:
            out.update(self.data)
            if self.probabilities is not None:
                out["probabilities"] = dict(self.probabilities)
        if self.type == "EmotionChanged":
            out.update(emotion=self.emotion, previous=self.previous, confidence=self.confidence)
            if self.probabilities is not None:
                out["probabilities"] = dict(self.probabilities)
        return out


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
    if isinstance(event, EventsDropped):
        count = int(event.count)
        if count < 1:
            raise ValueError(f"EventsDropped.count must be at least 1, got {count}")
        return {"type": "EventsDropped", "t": _finite(event.timestamp, "timestamp"), "count": count}
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


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _record_from_payload(index: int, payload: dict, version: int = VERSION) -> LogRecord:
    kind = payload["type"]
    t, track = payload.get("t"), payload.get("track")
    if kind not in _EVENT_TYPES_BY_VERSION[version] or not _is_number(t):
        raise LogFormatError(f"record {index} is authentic but is not a logged event")
    if kind == "EventsDropped":
        count = payload.get("count")
        if not _is_int(count) or count < 1:
            raise LogFormatError(f"record {index} is authentic but its dropped-event count is malformed")
        return LogRecord(index=index, type=kind, timestamp=float(t), track_id=None, count=count)
    if not _is_int(track):
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


def _study_record_from_payload(index: int, payload: dict) -> LogRecord:
    """A study record (header flag bit 1 set); its schema lives in ``_study_records``."""
    t, track, probabilities, data = study_record_parts(index, payload)
    return LogRecord(index=index, type=payload["type"], timestamp=t, track_id=track, probabilities=probabilities,
                     data=data)


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
    key: LogKey, file_id: bytes, salt: bytes, started_at: float, include_probabilities: bool,
    study_records: bool = False, version: int = VERSION,
) -> tuple[bytes, _Keys]:
    """The 80 header bytes for a new file, and the keys derived for it."""
    if key._kind == KDF_SCRYPT:
        kdf, log2_n, r, p = KDF_SCRYPT, key._log2_n, key._r, key._p
    else:
        kdf, log2_n, r, p, salt = KDF_KEY_FILE, 0, 0, 0, bytes(SALT_SIZE)
    keys = _derive_keys(key, kdf, file_id, salt, log2_n, r, p)
    prefix = _HEADER_PREFIX.pack(MAGIC, version, kdf, log2_n, r, p, bytes(3), file_id, salt)
    flags = (FLAG_PROBABILITIES if include_probabilities else 0) | (FLAG_STUDY_RECORDS if study_records else 0)
    info = _HEADER_INFO.pack(_finite(started_at, "started_at"), flags, bytes(7))
    sealed = _aead(keys.header).encrypt(bytes(12), info, prefix)
    return prefix + sealed, keys


def _seal_record(keys: _Keys, file_id: bytes, index: int, plaintext: bytes, final: bool) -> bytes:
    """One framed record from its padded plaintext: u32 length, then ciphertext and tag."""
    sealed = _aead(keys.payload).encrypt(_record_nonce(index), plaintext, _record_ad(file_id, index, final))
    return _LENGTH.pack(len(sealed)) + sealed


def _build_record(keys: _Keys, file_id: bytes, index: int, payload: dict, final: bool, pad_block: int) -> bytes:
    """One framed record: u32 length, then ciphertext and tag."""
    return _seal_record(keys, file_id, index, _encode_json(payload, pad_block), final)


# --- writer --------------------------------------------------------------------------------


class SessionLogWriter:
    """Write one new encrypted session log; refuses to touch an existing file.

    ``write(event)`` logs ``EmotionChanged``, ``FaceFound``, ``FaceLost`` and
    ``EventsDropped`` and skips every other event type. ``close()`` writes the final
    record; it is idempotent and ``with`` calls it. ``clock`` gives wall-clock Unix
    seconds for the session's start (header) and end (final record); inject one for
    tests and replays.

    Guarantees (each one is a test, listed in ``privacy/LOG_FORMAT.md``):

    - **No nonce reuse.** A record's index is taken before its bytes are written and
      is never given back. After any failed write or fsync the writer is *failed*:
      every later ``write`` raises :class:`LogError`, and ``close()`` writes no final
      record, so no two records ever share a (key, nonce) pair.
    - **Nothing slow on the caller's thread.** ``write`` seals the record and hands it
      to the operating system (tens of microseconds); fsync runs on the writer's own
      thread, at most once per ``sync_interval_s``. A passphrase key's scrypt (about
      0.3 s) also runs there: until it is done, records wait in memory, in order.
    - **Crashes.** Once the header is written, a record whose ``write`` returned is in
      the file even if the process is killed; a power cut loses at most the records of
      the last ``sync_interval_s`` (plus one fsync), and :meth:`sync` is an explicit
      durability point. The reader recovers every record before a damaged tail.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        key: LogKey,
        *,
        include_probabilities: bool = False,
        clock: Callable[[], float] = time.time,
        study_records: bool = False,
        sync_interval_s: float = DEFAULT_SYNC_INTERVAL_S,
    ) -> None:
        if not isinstance(key, LogKey):
            raise TypeError(f"key must be a LogKey, not {type(key).__name__}")
        sync_interval_s = float(sync_interval_s)
        if not (math.isfinite(sync_interval_s) and sync_interval_s >= 0):
            raise ValueError(f"sync_interval_s must be a finite number of seconds >= 0, got {sync_interval_s!r}")
        self.path = Path(path)
        self.include_probabilities = bool(include_probabilities)
        self.study_records = bool(study_records)
        self.sync_interval_s = sync_interval_s
        self._pad_block = _pad_block(self.include_probabilities)
        self._clock = clock
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # keys ready, records synced, or failed
        self._next_index = 0  # taken by each record before it is written; never given back
        self._in_file = 0  # event records whose bytes are all in the file
        self._synced = 0  # event records known to be on the storage device
        self._opened = False  # the header and the folder entry naming the file are on the storage device
        self._pending: list[tuple[int, bytes]] | None = []  # (index, plaintext) until the keys exist
        self._keys: _Keys | None = None
        self._failure: LogError | None = None
        self._failure_reported = False
        self._closed = False
        self._wake = threading.Event()  # a record was written, a sync was asked for, or close() began
        self._hurry = threading.Event()  # sync() or close() is waiting: skip the batching pause
        self._stopping = threading.Event()
        self._file_id = os.urandom(FILE_ID_SIZE)
        header_args = (key, self._file_id, os.urandom(SALT_SIZE), _finite(clock(), "started_at"),
                       self.include_probabilities, self.study_records)
        header = None
        if key._kind != KDF_SCRYPT:  # HKDF only: microseconds, so the header is written before returning
            header, self._keys = _build_header(*header_args)
            self._pending = None
        try:
            self._file = AppendOnlyFile(self.path)
        except FileExistsError as exc:
            raise LogError(
                f"{self.path} already exists; session logs are never overwritten or appended to, "
                "choose a new file name for each session"
            ) from exc
        except OSError as exc:
            raise LogError(f"cannot create session log {self.path}: {exc.strerror or exc}") from exc
        if header is not None:
            try:
                self._file.append(header)
            except OSError as exc:
                self._file.discard()
                raise LogError(f"cannot write session log {self.path}: {exc.strerror or exc}") from exc
        self._thread = threading.Thread(
            target=self._run, args=(None if header is not None else header_args,),
            name=f"emoplay-log-{self.path.name}", daemon=True,
        )
        self._thread.start()

    # -- state ---------------------------------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def failed(self) -> bool:
        """True once a write or fsync failed: the writer writes nothing more (see :attr:`error`)."""
        return self._failure is not None

    @property
    def error(self) -> LogError | None:
        """Why the writer failed, or None."""
        return self._failure

    @property
    def records_written(self) -> int:
        """Event records in the file (or, for a passphrase key still being derived, waiting for it), final not counted."""
        with self._lock:
            return self._in_file + len(self._pending or ())

    @property
    def records_synced(self) -> int:
        """Event records known to be on the storage device (fsynced)."""
        return self._synced

    def _fail(self, exc: BaseException, doing: str) -> None:
        """Record the first failure (call with the lock held): from now on the writer writes nothing."""
        if self._failure is None:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
            self._failure = LogError(
                f"session log {self.path} stopped: {doing} failed ({reason}); nothing more is written to it, "
                f"its {self._in_file} records before the failure read as a cut-short log; "
                "start a new log to keep logging"
            )
            self._failure.__cause__ = exc
        self._changed.notify_all()

    def _raise_failure(self) -> None:
        self._failure_reported = True
        raise self._failure

    # -- the writer's thread: scrypt, then batched fsync ------------------------------------------------------------
    def _run(self, header_args: tuple | None) -> None:
        try:
            if header_args is not None:
                header, keys = _build_header(*header_args)  # scrypt, off the caller's thread
                with self._lock:
                    if self._failure is not None:
                        return
                    try:
                        self._file.append(header)
                        for index, plaintext in self._pending:
                            self._file.append(_seal_record(keys, self._file_id, index, plaintext, False))
                            self._in_file += 1
                    except OSError as exc:
                        self._fail(exc, "writing")
                        return
                    self._keys, self._pending = keys, None
                    self._changed.notify_all()
            self._sync_to_disk(folder=True)  # the header, and the folder entry that names the new file
            while not self._stopping.is_set() and self._failure is None:
                self._wake.wait()
                self._wake.clear()
                self._sync_to_disk()
                self._hurry.wait(self.sync_interval_s)  # batch: at most one fsync per interval, unless hurried
                self._hurry.clear()
        except BaseException as exc:  # noqa: BLE001 - scrypt's MemoryError, or a bug: the log must say it stopped
            with self._lock:
                self._fail(exc, "deriving the key" if self._keys is None else "syncing")
                if self._keys is None and self._file.size == 0:
                    self._file.discard()

    def _sync_to_disk(self, folder: bool = False) -> None:
        with self._lock:
            if self._failure is not None or self._keys is None:
                return
            target = self._in_file
        doing = "fsync"
        try:
            self._file.sync()  # outside the lock: the caller keeps writing meanwhile
            if folder:
                doing = "fsync of the folder"
                self._file.sync_folder()
        except OSError as exc:
            with self._lock:
                self._fail(exc, doing)
            return
        with self._lock:
            self._synced = max(self._synced, target)
            self._opened = self._opened or folder
            self._changed.notify_all()

    # -- the caller's side -----------------------------------------------------------------------------------------
    def write(self, event: object) -> bool:
        """Log an event; returns False (and writes nothing) for event types that are not logged.

        Raises :class:`LogError` when an earlier write or fsync failed (nothing more is written).
        """
        payload = _event_payload(event, self.include_probabilities)
        if payload is None:
            return False
        self._write_payload(payload)
        return True

    def _write_payload(self, payload: dict) -> None:
        """Seal and append one record (events and study records alike)."""
        plaintext = _encode_json(payload, self._pad_block)  # a ValueError here takes no index
        with self._lock:
            if self._closed:
                raise ValueError(f"session log {self.path} is closed; open a new SessionLogWriter")
            if self._failure is not None:
                self._raise_failure()
            index, self._next_index = self._next_index, self._next_index + 1  # taken for good, even if writing fails
            if self._keys is None:
                self._pending.append((index, plaintext))
                return
            try:
                self._file.append(_seal_record(self._keys, self._file_id, index, plaintext, False))
            except OSError as exc:
                self._fail(exc, "writing")
                self._raise_failure()
            self._in_file += 1
        self._wake.set()

    def write_study_record(self, kind: str, t: float, **fields: object) -> None:
        """Log a study record (``StimulusStarted``, ``FrameProbabilities``...; LOG_FORMAT.md, Study records).

        Needs a writer opened with ``study_records=True``; ``ValueError`` names a member that does not fit.
        """
        if not self.study_records:
            raise ValueError("this session log was not opened with study_records=True; it cannot hold study records")
        self._write_payload(study_payload(kind, _finite(t, "t"), dict(fields)))

    def sync(self, timeout: float | None = None) -> bool:
        """Block until every record written so far is on the storage device (waiting for scrypt if needed).

        Returns False if ``timeout`` seconds passed first; raises :class:`LogError` if the writer failed.
        """
        with self._lock:
            if self._closed:
                return True  # close() synced everything
            target = self._in_file + len(self._pending or ())
        self._wake.set()
        self._hurry.set()
        with self._lock:
            done = self._changed.wait_for(
                lambda: self._failure is not None or (self._opened and self._synced >= target), timeout)
            if self._failure is not None:
                self._raise_failure()
            return done

    def close(self) -> None:
        """Write the final record, fsync and close the file. Calling it again does nothing.

        Blocks for that one fsync, and for a passphrase key's scrypt if it is still running.

        After a failure the file is closed without a final record (it reads as cut short);
        the failure is raised here only if no earlier ``write``/``sync`` raised it.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True  # no more writes; the thread finishes scrypt and the pending records
        self._stopping.set()
        self._hurry.set()
        self._wake.set()
        self._thread.join()
        with self._lock:
            try:
                if self._failure is None:
                    index, self._next_index = self._next_index, self._next_index + 1
                    end = {"type": _END_TYPE, "ended_at": _finite(self._clock(), "ended_at"), "records": index}
                    try:
                        self._file.append(_build_record(self._keys, self._file_id, index, end, True, self._pad_block))
                        self._file.sync()
                        self._synced = self._in_file
                    except OSError as exc:
                        self._fail(exc, "writing the final record")
            finally:
                self._file.close()
                self._changed.notify_all()  # a sync() waiting on another thread: everything is synced (or failed)
            if self._failure is not None and not self._failure_reported:
                self._raise_failure()

    def __enter__(self) -> SessionLogWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "failed" if self._failure is not None else f"{self._in_file} records"
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
    if version not in READABLE_VERSIONS:
        raise LogFormatError(
            f"unsupported session log version {version}; this emoplay reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))} (a newer emoplay may read it)"
        )
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
    known_flags = FLAG_PROBABILITIES | (FLAG_STUDY_RECORDS if version >= 2 else 0)  # version 1 knew bit 0 only
    if flags & ~known_flags or info_reserved != bytes(7) or not math.isfinite(started_at):
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
        study_records=bool(flags & FLAG_STUDY_RECORDS),
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
