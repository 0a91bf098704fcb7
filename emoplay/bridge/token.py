"""The pairing token: a random secret in a file only its owner can read, compared in constant time.

``--token-file F``: if F does not exist it is created (mode 0600, exclusively, so an existing file is never
overwritten) holding a new token; a host reads the same file to pair. Without a file, ``emoplay serve``
makes a token for this run only.
"""

from __future__ import annotations

import hmac
import os
import re
import secrets
import stat
from pathlib import Path

from .._errors import BridgeError

TOKEN_BYTES = 32  # 256 random bits, written as 43 URL-safe base64 characters
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{16,256}")


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def load_or_create_token(path: str | Path) -> str:
    """The token in ``path``, creating the file with a new token (mode 0600) if it does not exist."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read_token(path)
    except OSError as e:
        raise BridgeError(f"cannot create the token file {path}: {e.strerror}; choose a writable path "
                          "with --token-file") from None
    token = new_token()
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(token + "\n")
    return token


def read_token(path: str | Path) -> str:
    """Read and check a token file: a regular file, not readable by others, one token line."""
    path = Path(path)
    try:
        info = path.stat()
    except OSError as e:
        raise BridgeError(f"cannot read the token file {path}: {e.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise BridgeError(f"the token file {path} is not a regular file; pass a file path to --token-file")
    if info.st_mode & 0o077:
        raise BridgeError(f"the token file {path} can be read by other users (mode {info.st_mode & 0o777:o}); "
                          f"run `chmod 600 {path}` or delete it to get a new one")
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        raise BridgeError(f"the token file {path} is not a text file holding a token; delete it to get a new one") \
            from None
    if not _TOKEN_RE.fullmatch(text):
        raise BridgeError(f"the token file {path} does not hold a token (16 to 256 characters of A-Z a-z 0-9 _ -); "
                          "delete it to get a new one")
    return text


def tokens_match(offered: str, expected: str) -> bool:
    """Constant-time comparison (``hmac.compare_digest``), so timing does not reveal the token."""
    return hmac.compare_digest(offered.encode("utf-8", "surrogatepass"), expected.encode("utf-8"))
