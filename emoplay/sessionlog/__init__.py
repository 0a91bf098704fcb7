"""Encrypted, opt-in session logs: the file format, its writer and reader, and study records.

A session log is one new file per session, events only, never pixels. It holds a short,
authenticated header and then one AEAD-sealed record per event (``EmotionChanged``,
``FaceFound``, ``FaceLost``, ``EventsDropped``), ending with an explicit final record. The byte
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

Modules, one concern each: ``_keys`` (passphrase and key-file keys, scrypt, HKDF), ``_format``
(constants, the header, record framing), ``_records`` (what each record holds), ``_writer`` and
``_reader`` (with its damage recovery), ``_append_only_file`` (the file under the writer) and
``_study_records``; the ``emoplay log`` commands are in ``emoplay.cli.log``.

``cryptography`` is imported only when a key is used, not when emoplay is.
"""

from ._format import LogHeader
from ._keys import LogKey, generate_key_file
from ._reader import SessionLog, is_session_log, read_log_header, read_session_log, verify_session_log
from ._records import LogRecord
from ._writer import SessionLogWriter

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
