"""The session-log writer: one new encrypted file per session, records sealed on the caller's thread,
scrypt and batched fsync on the writer's own thread."""

from __future__ import annotations

import math
import os
import threading
import time
from pathlib import Path
from typing import Callable

from .._errors import LogError
from ._append_only_file import AppendOnlyFile
from ._format import (
    _END_TYPE,
    FILE_ID_SIZE,
    SALT_SIZE,
    _build_header,
    _build_record,
    _encode_json,
    _finite,
    _pad_block,
    _seal_record,
)
from ._keys import KDF_SCRYPT, LogKey, _Keys
from ._records import _event_payload
from ._study_records import study_payload

__all__ = ["SessionLogWriter"]

# The writer's thread fsyncs at most once per this many seconds (and at once when idle), so a power
# cut loses at most about this much of the session; sync() and close() make everything durable.
DEFAULT_SYNC_INTERVAL_S = 0.25


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
