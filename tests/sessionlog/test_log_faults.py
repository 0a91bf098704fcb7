"""Fault injection on encrypted session logs (privacy/LOG_FORMAT.md, Guarantees).

Real encryption, real files, real system calls. Failures come from the kernel where
it can make them (a file-size limit that gives a short write then EFBIG, a process
killed with SIGKILL) and otherwise from ``os.write`` / ``os.fsync`` replaced for the
log's own file only. Every file a fault leaves is parsed frame by frame: no two
records may open under the same nonce, and what was written must stay readable.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import stat
import struct
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from emoplay._errors import LogAuthenticationError, LogError, LogFormatError, LogTruncatedError
from emoplay._events import EmotionChanged, EventsDropped, FaceFound, FaceLost
from emoplay.sessionlog import LogKey, SessionLogWriter, read_session_log
from emoplay.sessionlog._format import HEADER_SIZE, _parse_header

REPO = Path(__file__).resolve().parents[2]
KEY_BYTES = bytes(range(32))


@pytest.fixture
def key() -> LogKey:
    return LogKey.from_bytes(KEY_BYTES)


def event(i: int):
    """The i-th event of a made-up session: found, changed, changed, ..."""
    if i == 0:
        return FaceFound(track_id=1, box=(1, 2, 30, 40), timestamp=0.0, is_primary=True)
    return EmotionChanged(1, "unknown" if i == 1 else "happy", "sad" if i % 2 else "happy", 0.75,
                          {"happy": 0.25, "sad": 0.75}, float(i))


def opens(aead, file_id: bytes, index: int, sealed: bytes, final: bool) -> bool:
    """Whether ``sealed`` authenticates as record ``index`` (LOG_FORMAT.md: nonce and associated data)."""
    from cryptography.exceptions import InvalidTag

    nonce = bytes(4) + index.to_bytes(8, "big")
    try:
        aead.decrypt(nonce, sealed, file_id + index.to_bytes(8, "big") + bytes([final]))
        return True
    except InvalidTag:
        return False


def frame_nonces(path: Path, key: LogKey) -> list[int | None]:
    """For each length-framed record in the file, the record index (nonce) it authenticates under, or None."""
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

    data = path.read_bytes()
    header, keys = _parse_header(data, key)
    aead = ChaCha20Poly1305(keys.payload)
    out, pos = [], HEADER_SIZE
    while pos + 4 <= len(data):
        (length,) = struct.unpack_from(">I", data, pos)
        end = pos + 4 + length
        if length < 16 or end > len(data):
            break
        sealed = data[pos + 4 : end]
        found = [i for i in range(len(out) + 8) for final in (False, True)
                 if opens(aead, header.file_id, i, sealed, final)]
        out.append(found[0] if found else None)
        pos = end
    return out


def assert_no_nonce_reuse(path: Path, key: LogKey) -> list[int | None]:
    nonces = frame_nonces(path, key)
    opened = [n for n in nonces if n is not None]
    assert len(opened) == len(set(opened)), f"two records share a nonce: {nonces}"
    return nonces


def on_log_file(path: Path, fd: int) -> bool:
    try:
        return os.path.exists(path) and os.fstat(fd).st_ino == os.stat(path).st_ino and stat.S_ISREG(
            os.fstat(fd).st_mode)
    except OSError:
        return False


def fail_fsync_of(path, monkeypatch) -> threading.Event:
    """Make os.fsync of the log at ``path`` raise EIO once the returned event is set."""
    real_fsync = os.fsync
    failing = threading.Event()

    def fsync(fd):
        if failing.is_set() and on_log_file(path, fd):
            raise OSError(errno.EIO, "Input/output error")
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return failing


# --- no nonce reuse after a failed write ----------------------------------------------------------------------


def test_failed_fsync_poisons_the_writer_and_never_reuses_a_nonce(tmp_path, key, monkeypatch):
    """fsync fails after the record's bytes reached the file: the next write and close() write nothing."""
    path = tmp_path / "s.emolog"
    failing = fail_fsync_of(path, monkeypatch)
    writer = SessionLogWriter(path, key)
    for i in range(3):
        writer.write(event(i))
    assert writer.sync(timeout=10)
    failing.set()
    with pytest.raises(LogError, match="fsync failed"):
        writer.write(event(3))  # its bytes reach the file; its fsync fails (on the writer's thread)...
        writer.sync(timeout=10)  # ...and the failure is reported here
    failing.clear()  # the disk recovers: the writer must still refuse, index 3 is spent
    refused = []
    try:
        writer.write(event(4))
    except LogError as exc:
        refused.append(exc)
    writer.close()  # the game's recovery path: the failure was reported, close() just releases the file
    writer.close()
    assert assert_no_nonce_reuse(path, key) == [0, 1, 2, 3]  # no record and no final record reusing index 3
    assert refused and "nothing more is written" in str(refused[0]) and writer.failed
    log = read_session_log(path, key, allow_truncated=True)
    assert not log.complete and [r.index for r in log.records] == [0, 1, 2, 3]


def test_write_that_fails_half_way_never_reuses_a_nonce(tmp_path, key, monkeypatch):
    """A disk that fills up in the middle of a record: ENOSPC after part of it was written."""
    path = tmp_path / "s.emolog"
    real_write = os.write
    budget = {"left": None}

    def write(fd, data):
        if budget["left"] is not None and on_log_file(path, fd):
            if budget["left"] == 0:
                raise OSError(errno.ENOSPC, "No space left on device")
            data = bytes(data)[: budget["left"]]
            budget["left"] -= len(data)
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)
    writer = SessionLogWriter(path, key)
    for i in range(4):
        writer.write(event(i))
    budget["left"] = 100  # the next record gets 100 of its bytes, then the disk is full
    with pytest.raises(LogError, match="No space left on device"):
        writer.write(event(4))
    budget["left"] = None  # space again: the writer must still refuse, its index 4 is spent
    with pytest.raises(LogError):
        writer.write(event(5))
    writer.close()
    assert assert_no_nonce_reuse(path, key) == [0, 1, 2, 3]
    log = read_session_log(path, key, allow_truncated=True)
    assert [r.index for r in log.records] == [0, 1, 2, 3] and log.lost_bytes == 100
    with pytest.raises(LogTruncatedError) as info:
        read_session_log(path, key)
    assert len(info.value.records) == 4 and info.value.lost_bytes == 100


def test_failure_found_by_the_background_thread_is_raised_by_close(tmp_path, key, monkeypatch):
    """An fsync failure nobody has seen yet is not swallowed: close() raises it, once."""
    path = tmp_path / "s.emolog"
    failing = fail_fsync_of(path, monkeypatch)
    writer = SessionLogWriter(path, key)
    writer.write(event(0))
    assert writer.sync(timeout=10)
    failing.set()
    writer.write(event(1))
    with pytest.raises(LogError, match="fsync failed .Input/output error"):
        writer.close()
    writer.close()  # already reported: quiet
    failing.clear()
    assert assert_no_nonce_reuse(path, key) == [0, 1]


FILL_A_SMALL_DISK = textwrap.dedent("""
    import json, resource, signal, sys
    from emoplay.sessionlog import LogKey, SessionLogWriter
    from emoplay._errors import LogError
    from emoplay._events import FaceLost
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # over the limit: write() returns short, then EFBIG
    limit = int(sys.argv[2])
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    writer = SessionLogWriter(sys.argv[1], LogKey.from_bytes(bytes(range(32))))
    accepted, errors = 0, []
    for i in range(40):
        try:
            writer.write(FaceLost(track_id=i, timestamp=float(i)))
            accepted += 1
        except LogError as exc:
            errors.append(str(exc))
    writer.close()
    print(json.dumps({"accepted": accepted, "errors": errors}))
""")


def test_full_disk_from_the_kernel_keeps_every_written_record(tmp_path, key):
    """RLIMIT_FSIZE makes the kernel cut a write short and then refuse (EFBIG), as a full disk does."""
    path = tmp_path / "s.emolog"
    limit = HEADER_SIZE + 3 * 276 + 150  # room for three records and part of a fourth
    out = subprocess.run([sys.executable, "-c", FILL_A_SMALL_DISK, str(path), str(limit)], capture_output=True,
                         text=True, timeout=60, cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["accepted"] == 3 and len(result["errors"]) == 37
    assert "File too large" in result["errors"][0] and "nothing more is written" in result["errors"][1]
    assert path.stat().st_size == limit
    assert assert_no_nonce_reuse(path, key) == [0, 1, 2]
    log = read_session_log(path, key, allow_truncated=True)
    assert [r.track_id for r in log.records] == [0, 1, 2] and log.lost_bytes == 150


@pytest.mark.slow
def test_keygen_on_a_full_disk_says_so_and_leaves_no_partial_key(tmp_path):
    """The kernel refuses the key's bytes (RLIMIT_FSIZE of 10 bytes, as a full disk would): a clear message, and no
    10-byte file that would block the retry ("already exists") and never open a log."""
    import resource

    def small_disk():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (10, 10))

    path = tmp_path / "session.key"
    command = [sys.executable, "-m", "emoplay.cli", "log", "keygen", str(path)]
    out = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=REPO, preexec_fn=small_disk,
                         env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert "cannot write key file" in out.stderr and "run keygen again" in out.stderr
    assert not path.exists()
    retry = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=REPO,
                           env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert retry.returncode == 0 and path.stat().st_size == 32


# --- a damaged tail does not lose the log ----------------------------------------------------------------------


def five_records(tmp_path: Path, key: LogKey) -> bytes:
    """The bytes of a log with five records and no final record (as a crash leaves it)."""
    path = tmp_path / "five.emolog"
    writer = SessionLogWriter(path, key)
    for i in range(5):
        writer.write(event(i))
    data = path.read_bytes()
    writer.close()
    return data


def garbage(n: int, seed: int) -> bytes:
    import random

    return random.Random(seed).randbytes(n)


@pytest.mark.parametrize("tail, crash_like", [
    pytest.param(bytes(4096), True, id="4096 zero bytes"),
    pytest.param(bytes(1), True, id="1 zero byte"),
    pytest.param(bytes(3), True, id="3 zero bytes"),
    pytest.param(bytes(300), True, id="300 zero bytes"),
    pytest.param(b"\x00\x00\x01\x10" + bytes(100), True, id="partial record"),
    pytest.param(b"\x00\x00\x01\x10" + garbage(40, 1) + bytes(232) + bytes(2000), True, id="torn record then zeros"),
    pytest.param(garbage(1, 2), True, id="1 garbage byte"),
    pytest.param(garbage(700, 3), False, id="700 garbage bytes"),
    pytest.param(garbage(4096, 4), False, id="4096 garbage bytes"),
    pytest.param(b"\x00\x00\x01\x10" + garbage(272, 5), False, id="a record that fails authentication"),
    pytest.param(garbage(37, 6) + bytes(4000), False, id="garbage then zeros"),
])
def test_damaged_tail_recovers_every_good_record_and_counts_the_loss(tmp_path, key, tail, crash_like):
    path = tmp_path / "damaged.emolog"
    path.write_bytes(five_records(tmp_path, key) + tail)
    log = read_session_log(path, key, allow_truncated=True)
    assert [r.index for r in log.records] == [0, 1, 2, 3, 4]
    assert log.records[0].type == "FaceFound" and log.records[4].emotion == "happy"
    assert not log.complete and log.lost_bytes == len(tail) and log.damage
    if crash_like:  # what a crash leaves: a strict read says "cut short" and still hands over the records
        with pytest.raises(LogTruncatedError) as info:
            read_session_log(path, key)
        assert len(info.value.records) == 5 and info.value.lost_bytes == len(tail)
        assert f"{len(tail)} bytes after them lost" in str(info.value)
    else:  # not what a crash leaves: a strict read refuses, names the recovery, and returns no plaintext
        with pytest.raises((LogAuthenticationError, LogFormatError), match="allow_truncated=True") as info:
            read_session_log(path, key)
        assert not hasattr(info.value, "records")


def test_damage_followed_by_authentic_records_is_a_modification(tmp_path, key):
    """Recovery covers tails only: flipped bytes with authentic records after them still raise, without plaintext."""
    path = tmp_path / "s.emolog"
    with SessionLogWriter(path, key) as writer:
        for i in range(5):
            writer.write(event(i))
    data = bytearray(path.read_bytes())
    data[HEADER_SIZE + 276 + 50] ^= 0x01  # inside record 1
    path.write_bytes(bytes(data))
    for allow in (False, True):
        with pytest.raises(LogAuthenticationError, match="record 1 failed authentication") as info:
            read_session_log(path, key, allow_truncated=allow)
        assert not hasattr(info.value, "records")


def test_a_length_field_changed_to_run_past_the_end_is_a_modification_not_a_cut(tmp_path, key):
    """A file cut inside a record and one whose record length was raised past the end look alike at that record;
    the authentic records within the false length's reach tell them apart (LOG_FORMAT.md, step 8)."""
    path = tmp_path / "s.emolog"
    with SessionLogWriter(path, key) as writer:
        for i in range(5):
            writer.write(event(i))
    data = bytearray(path.read_bytes())
    struct.pack_into(">I", data, HEADER_SIZE + 276, 60_000)  # record 1's length, now beyond the end of the file
    path.write_bytes(bytes(data))
    for allow in (False, True):
        with pytest.raises(LogAuthenticationError, match="record 1's length runs past the end.*modified") as info:
            read_session_log(path, key, allow_truncated=allow)
        assert not hasattr(info.value, "records")
    path.write_bytes(bytes(data[: HEADER_SIZE + 276 + 100]))  # a real cut inside record 1: still crash-like
    with pytest.raises(LogTruncatedError, match="1 complete records recovered"):
        read_session_log(path, key)


def test_zero_filled_hole_before_authentic_records_keeps_the_records_before_it(tmp_path, key):
    """A crash can persist a later block but not an earlier one: the records before the zero hole come back."""
    path = tmp_path / "s.emolog"
    with SessionLogWriter(path, key) as writer:
        for i in range(6):
            writer.write(event(i))
    data = bytearray(path.read_bytes())
    start = HEADER_SIZE + 3 * 276
    data[start : start + 276] = bytes(276)  # record 3 never reached the disk
    path.write_bytes(bytes(data))
    log = read_session_log(path, key, allow_truncated=True)
    assert [r.index for r in log.records] == [0, 1, 2] and not log.complete
    assert log.lost_bytes == len(data) - start and "zero bytes" in log.damage


def test_writer_fsyncs_the_folder_after_creating_the_file(tmp_path, key, monkeypatch):
    real_fsync = os.fsync
    synced_folders = []

    def fsync(fd):
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            synced_folders.append(st.st_ino)
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    writer = SessionLogWriter(tmp_path / "s.emolog", key)
    assert writer.sync(timeout=10)
    assert tmp_path.stat().st_ino in synced_folders
    writer.close()


KILLED_WRITER = textwrap.dedent("""
    import sys
    from emoplay.sessionlog import LogKey, SessionLogWriter
    from emoplay._events import FaceLost
    key = (LogKey.from_passphrase("pass phrase", scrypt_log2_n=10) if sys.argv[2] == "passphrase"
           else LogKey.from_bytes(bytes(range(32))))
    writer = SessionLogWriter(sys.argv[1], key)
    i = 0
    while True:
        writer.write(FaceLost(track_id=i, timestamp=float(i)))
        if i == 0:
            writer.sync()  # a passphrase key is derived on the writer's thread: wait for the header once
        print(i, flush=True)  # write() has returned: this record must survive the kill
        i += 1
""")


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["key-file", "passphrase"])
def test_killed_writer_loses_no_record_whose_write_returned(tmp_path, kind):
    """SIGKILL a real writer process mid-session; every acknowledged record is in what it left."""
    path = tmp_path / "killed.emolog"
    acknowledged = -1
    with subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(path), kind], stdout=subprocess.PIPE,
                          text=True, cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO))) as child:
        try:
            for line in child.stdout:
                acknowledged = int(line)
                if acknowledged == 300:
                    break
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL and acknowledged == 300
    key = LogKey.from_passphrase("pass phrase", scrypt_log2_n=10) if kind == "passphrase" else LogKey.from_bytes(
        KEY_BYTES)
    log = read_session_log(path, key, allow_truncated=True)
    assert not log.complete
    assert len(log.records) > acknowledged  # records 0..300 were acknowledged; the child ran on a little
    assert [r.track_id for r in log.records] == list(range(len(log.records)))
    assert all(r.timestamp == r.track_id and r.type == "FaceLost" for r in log.records)
    assert_no_nonce_reuse(path, key)


# --- neither scrypt nor fsync runs on the caller's (game) thread -----------------------------------------------------


def test_a_sync_waiting_on_another_thread_wakes_when_close_has_synced_everything(tmp_path, key):
    """The interleaving is forced: thread A's sync() has computed its target when close() (main thread) stops the
    writer's thread, which leaves the last record to close()'s own fsync; A must wake when close() is done."""
    writer = SessionLogWriter(tmp_path / "s.emolog", key, sync_interval_s=5.0)
    writer.write(event(0))
    deadline = time.monotonic() + 10
    while writer.records_synced < 1 and time.monotonic() < deadline:  # the thread's first fsync, unhurried
        time.sleep(0.01)
    writer.write(event(1))  # not synced yet: the thread waits out its 5 s interval
    thread, wake, target_known = writer._thread, writer._wake, threading.Event()

    class WakeAfterTheThreadEnded:  # what sync() calls right after it computed its target
        def __getattr__(self, name):
            return getattr(wake, name)

        def set(self):
            if threading.current_thread().name == "A":
                target_known.set()
                thread.join()  # the writer's thread ends (close() stopped it) before A starts waiting
            wake.set()

    class JoinThenPause:  # close() takes a moment between stopping the thread and its final fsync
        def __getattr__(self, name):
            return getattr(thread, name)

        def join(self, *args):
            thread.join(*args)
            time.sleep(0.3)

    writer._wake, writer._thread = WakeAfterTheThreadEnded(), JoinThenPause()
    synced = []
    waiter = threading.Thread(target=lambda: synced.append(writer.sync(timeout=None)), name="A", daemon=True)
    waiter.start()
    assert target_known.wait(10)
    writer.close()
    waiter.join(10)  # a deadline, not a timing: without the wake-up, A waits forever
    assert not waiter.is_alive() and synced == [True] and writer.records_synced == 2


def test_write_never_fsyncs_on_the_calling_thread_and_fsyncs_in_batches(tmp_path, key, monkeypatch):
    path = tmp_path / "s.emolog"
    real_fsync = os.fsync
    calls = []
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append(threading.current_thread()), real_fsync(fd))[1])
    writer = SessionLogWriter(path, key, sync_interval_s=5.0)  # one batch for the whole burst
    for i in range(200):
        writer.write(event(i))
    assert writer.sync(timeout=10) and writer.records_synced == 200
    assert threading.main_thread() not in calls  # every fsync so far ran on the writer's thread
    assert len(calls) <= 6  # 200 records: a few batched fsyncs (header + folder, then one per batch), not 200
    writer.close()
    assert len(read_session_log(path, key).records) == 200


def test_records_reach_the_disk_without_sync_or_close(tmp_path, key):
    """Liveness of the background fsync: records_synced catches up on its own."""
    writer = SessionLogWriter(tmp_path / "s.emolog", key, sync_interval_s=0.05)
    for i in range(3):
        writer.write(event(i))
    deadline = time.monotonic() + 10  # a liveness bound, not a speed target (that is sync_interval_s)
    while writer.records_synced < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert writer.records_synced == 3
    writer.close()


def test_scrypt_runs_on_the_writer_thread_and_early_events_wait_for_it(tmp_path, monkeypatch):
    derived_on = []
    real = LogKey._master_key

    def master_key(self, *args):
        derived_on.append(threading.current_thread())
        return real(self, *args)

    monkeypatch.setattr(LogKey, "_master_key", master_key)
    key = LogKey.from_passphrase("a long pass phrase", scrypt_log2_n=14)
    path = tmp_path / "s.emolog"
    writer = SessionLogWriter(path, key)
    for i in range(5):  # written while scrypt may still run: they wait in memory, in order
        writer.write(event(i))
    writer.close()
    assert derived_on and threading.main_thread() not in derived_on
    monkeypatch.setattr(LogKey, "_master_key", real)
    log = read_session_log(path, key)
    assert log.complete and [r.index for r in log.records] == [0, 1, 2, 3, 4]


def test_sync_interval_must_be_a_finite_non_negative_number(tmp_path, key):
    for bad in (float("nan"), -1.0, float("inf")):
        with pytest.raises(ValueError, match="sync_interval_s"):
            SessionLogWriter(tmp_path / "s.emolog", key, sync_interval_s=bad)
    assert not (tmp_path / "s.emolog").exists()


# --- events dropped by the sensor's queue are counted in the log -----------------------------------------------------


def test_events_dropped_are_logged_with_their_count(tmp_path, key):
    path = tmp_path / "s.emolog"
    with SessionLogWriter(path, key) as writer:
        writer.write(event(0))
        assert writer.write(EventsDropped(count=42, timestamp=3.5))
        writer.write(FaceLost(track_id=1, timestamp=4.0))
    log = read_session_log(path, key)
    assert [(r.type, r.count) for r in log.records] == [("FaceFound", None), ("EventsDropped", 42), ("FaceLost", None)]
    assert log.records[1].to_dict() == {"index": 1, "type": "EventsDropped", "timestamp": 3.5, "count": 42}
    assert log.header.version == 2
