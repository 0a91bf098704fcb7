"""The session-log file format (privacy/LOG_FORMAT.md): constants, the authenticated header, record framing.

A file is an 80-byte header (magic, version, key derivation, file id, salt, then the sealed
start time and flags) followed by length-prefixed ChaCha20-Poly1305 records whose nonce is the
record index and whose associated data is ``file_id || index || final flag``.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass

from .._errors import LogAuthenticationError, LogFormatError, LogTruncatedError
from ._keys import KDF_KEY_FILE, KDF_SCRYPT, LogKey, _check_scrypt_params, _derive_keys, _Keys
from ._study_records import FLAG_STUDY_RECORDS

__all__ = ["LogHeader"]

# --- format constants (privacy/LOG_FORMAT.md) --------------------------------------------

MAGIC = b"\x89EMOLOG\n"
VERSION = 2  # what new files are written as; version 2 adds the EventsDropped record
READABLE_VERSIONS = (1, 2)
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


_HEADER_PREFIX = struct.Struct(">8sBBBBB3s16s16s")
_HEADER_INFO = struct.Struct(">dB7s")
_LENGTH = struct.Struct(">I")
_RECORD_AD = struct.Struct(">16sQB")

EVENT_TYPES = ("EmotionChanged", "FaceFound", "FaceLost", "EventsDropped")
_EVENT_TYPES_BY_VERSION = {1: EVENT_TYPES[:3], 2: EVENT_TYPES}
_END_TYPE = "end"


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



def _finite(value: float, what: str) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, got {value!r}")
    return value



def _encode_json(payload: dict, pad_block: int) -> bytes:
    """Compact UTF-8 JSON, padded with spaces (JSON whitespace) to a multiple of ``pad_block``."""
    data = json.dumps(payload, separators=(",", ":"), sort_keys=True, allow_nan=False).encode("utf-8")
    data += b" " * (-len(data) % pad_block)
    if len(data) > MAX_PAYLOAD:
        raise ValueError(f"a log record may hold at most {MAX_PAYLOAD} bytes, this one needs {len(data)}")
    return data


def _pad_block(include_probabilities: bool) -> int:
    return PAD_BLOCK_WITH_PROBABILITIES if include_probabilities else PAD_BLOCK


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

