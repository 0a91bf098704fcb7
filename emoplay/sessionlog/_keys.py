"""Session-log keys: a passphrase (scrypt, work factors capped when read) or a 32-byte key file,
split per file by HKDF-SHA256 into a header key and a payload key.

``cryptography`` is imported only when a key is used, not when emoplay is.
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from .._errors import LogAuthenticationError, LogError, LogFormatError
from .._private_files import read_regular_file

__all__ = ["LogKey", "generate_key_file"]

KDF_KEY_FILE = 1
KDF_SCRYPT = 2
KEY_SIZE = 32

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
        """Read a key file made by :func:`generate_key_file` (exactly 32 bytes; a longer file is not read to its end)."""
        data = read_regular_file(path, "key file", LogError, limit=KEY_SIZE)
        if len(data) != KEY_SIZE:
            held = f"{len(data)} bytes" if len(data) < KEY_SIZE else f"more than {KEY_SIZE} bytes"
            raise LogFormatError(
                f"{os.fspath(path)} is not an emoplay key file: it holds {held}, "
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


@dataclass(frozen=True)
class _Keys:
    header: bytes
    payload: bytes


def _derive_keys(key: LogKey, kdf: int, file_id: bytes, salt: bytes, log2_n: int, r: int, p: int) -> _Keys:
    master = key._master_key(kdf, salt, log2_n, r, p)
    return _Keys(_hkdf(master, file_id, HKDF_INFO_HEADER), _hkdf(master, file_id, HKDF_INFO_PAYLOAD))

