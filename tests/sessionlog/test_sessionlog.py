"""Encrypted session logs: format vectors, round trips, crash recovery, fuzzing."""

from __future__ import annotations

import importlib.util
import json
import os
import stat
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emoplay import _errors
from emoplay._clock import ManualClock
from emoplay._errors import LogAuthenticationError, LogError, LogFormatError, LogTruncatedError
from emoplay._events import EMOTIONS, CameraState, CameraStateChanged, EmotionChanged, FaceFound, FaceLost
from emoplay.sessionlog._format import HEADER_SIZE
from emoplay.sessionlog import (
    LogKey,
    SessionLogWriter,
    generate_key_file,
    read_log_header,
    read_session_log,
    verify_session_log,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "sessionlog"
MANIFEST = json.loads((VECTORS / "vectors.json").read_text())
CHEAP = {"scrypt_log2_n": 10}  # tests use cheap scrypt; the format records the parameters


def _vector_key(spec: dict) -> LogKey:
    if "passphrase" in spec:
        return LogKey.from_passphrase(spec["passphrase"], **CHEAP)
    if "key_file" in spec:
        return LogKey.from_file(VECTORS / spec["key_file"])
    return LogKey.from_bytes(bytes.fromhex(spec["key_hex"]))


def _events() -> list:
    probs = {"happy": 0.75, "sad": 0.25}
    return [
        FaceFound(track_id=3, box=(1, 2, 30, 40), timestamp=10.0, is_primary=True),
        EmotionChanged(track_id=3, previous="unknown", current="happy", confidence=0.75,
                       probabilities=probs, timestamp=10.5),
        CameraStateChanged(CameraState.CAPTURING, CameraState.PAUSED, "indicator not drawn", 11.0),
        EmotionChanged(track_id=3, previous="happy", current="sad", confidence=0.5,
                       probabilities={"happy": 0.5, "sad": 0.5}, timestamp=12.25),
        FaceLost(track_id=3, timestamp=13.0),
    ]


@pytest.fixture(scope="module")
def key() -> LogKey:
    return LogKey.from_bytes(bytes(range(32)))


# --- test vectors ----------------------------------------------------------------------------


@pytest.mark.parametrize("vector", MANIFEST["vectors"], ids=lambda v: v["name"])
def test_vector(vector: dict) -> None:
    key = _vector_key(vector["key"])
    path = VECTORS / vector["file"]
    expect = vector["expect"]
    if expect == "ok":
        log = read_session_log(path, key)
        assert log.complete
        assert log.header.started_at == MANIFEST["started_at"]
        assert log.ended_at == MANIFEST["ended_at"]
        assert log.header.file_id.hex() == MANIFEST["file_id_hex"]
        assert log.header.include_probabilities == vector["include_probabilities"]
        expected = vector.get("expected_records", MANIFEST["records_with_probabilities"])
        if not vector["include_probabilities"]:
            expected = [{k: v for k, v in r.items() if k != "probabilities"} for r in expected]
        assert [r.to_dict() for r in log.records] == expected
        assert verify_session_log(path, key) == vector["records"]
        return
    error = getattr(_errors, expect)
    with pytest.raises(error) as info:
        read_session_log(path, key)
    assert type(info.value) is error
    if error is LogTruncatedError:
        assert "cut short" in str(info.value)
        assert len(info.value.records) == vector["records"]
        assert [r.index for r in info.value.records] == list(range(vector["records"]))
        assert info.value.lost_bytes == vector.get("lost_bytes", info.value.lost_bytes)
    else:
        assert not hasattr(info.value, "records")  # no partial plaintext escapes
    if "recover" in vector:  # a damaged tail: the records before it come back on request
        log = read_session_log(path, key, allow_truncated=True)
        assert not log.complete and log.damage
        assert [r.index for r in log.records] == list(range(vector["recover"]))
        assert log.lost_bytes == vector["lost_bytes"]


def test_truncated_vector_is_readable_when_allowed() -> None:
    key = LogKey.from_file(VECTORS / "keyfile.key")
    log = read_session_log(VECTORS / "truncated_inside_record.emolog", key, allow_truncated=True)
    assert not log.complete and log.ended_at is None
    assert [r.type for r in log.records] == ["FaceFound", "EmotionChanged"]


def test_vectors_are_reproducible() -> None:
    """The generator is deterministic; a diff here means the format changed."""
    spec = importlib.util.spec_from_file_location("make_vectors", VECTORS.parent / "make_sessionlog_vectors.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    files, _ = module.build_vectors()
    stored = {p.name for p in VECTORS.iterdir()}
    assert stored == set(files)
    for name, data in files.items():
        assert (VECTORS / name).read_bytes() == data, name


# --- round trips -----------------------------------------------------------------------------


@pytest.mark.parametrize("include_probabilities", [False, True])
def test_round_trip_with_injected_clock(tmp_path: Path, key: LogKey, include_probabilities: bool) -> None:
    clock = ManualClock(1_700_000_000.0)
    path = tmp_path / "session.emolog"
    with SessionLogWriter(path, key, include_probabilities=include_probabilities, clock=clock) as writer:
        written = [writer.write(e) for e in _events()]
        clock.advance(42.5)
    assert written == [True, True, False, True, True]  # the camera event is not logged
    log = read_session_log(path, key)
    assert log.complete
    assert log.header.started_at == 1_700_000_000.0
    assert log.ended_at == 1_700_000_042.5
    assert log.header.include_probabilities is include_probabilities
    assert [r.index for r in log.records] == [0, 1, 2, 3]
    assert [(r.type, r.timestamp, r.track_id) for r in log.records] == [
        ("FaceFound", 10.0, 3), ("EmotionChanged", 10.5, 3), ("EmotionChanged", 12.25, 3), ("FaceLost", 13.0, 3)
    ]
    changed = log.records[2]
    assert (changed.emotion, changed.previous, changed.confidence) == ("sad", "happy", 0.5)
    assert changed.probabilities == ({"happy": 0.5, "sad": 0.5} if include_probabilities else None)
    assert log.records[0].emotion is None


def test_a_log_in_a_folder_that_does_not_exist_yet_creates_it_private(tmp_path: Path, key: LogKey) -> None:
    path = tmp_path / "study" / "logs" / "P001.emolog"
    with SessionLogWriter(path, key, clock=ManualClock(5.0)) as writer:
        writer.write(_events()[0])
    assert read_session_log(path, key).complete
    for folder in (tmp_path / "study", tmp_path / "study" / "logs"):
        assert stat.S_IMODE(folder.stat().st_mode) & 0o077 == 0


def test_new_log_folders_are_synced_into_their_parents(tmp_path: Path, key: LogKey, monkeypatch) -> None:
    """Each folder the writer creates is fsynced into its parent, so a power cut cannot take it (and the log) away."""
    synced, real_fsync = [], os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    path = tmp_path / "study" / "logs" / "P001.emolog"
    with SessionLogWriter(path, key, clock=ManualClock(5.0)) as writer:
        writer.write(_events()[0])
    assert str(tmp_path) in synced and str(tmp_path / "study") in synced


def test_passphrase_round_trip_uses_a_fresh_salt_per_file(tmp_path: Path) -> None:
    key = LogKey.from_passphrase("hunter2 but longer", **CHEAP)
    paths = [tmp_path / "a.emolog", tmp_path / "b.emolog"]
    for path in paths:
        with SessionLogWriter(path, key, clock=ManualClock(5.0)) as writer:
            writer.write(FaceLost(track_id=1, timestamp=1.0))
    a, b = (p.read_bytes() for p in paths)
    assert a[16:48] != b[16:48]  # file id and salt differ
    assert a[80:] != b[80:]
    again = LogKey.from_passphrase("hunter2 but longer")  # write-side parameters do not matter for reading
    header = read_log_header(paths[0], again)
    assert (header.kdf, header.scrypt_log2_n, header.scrypt_r, header.scrypt_p) == ("passphrase", 10, 8, 1)
    assert read_session_log(paths[1], again).records[0].type == "FaceLost"


def test_log_holds_no_plaintext(tmp_path: Path, key: LogKey) -> None:
    path = tmp_path / "s.emolog"
    with SessionLogWriter(path, key, include_probabilities=True) as writer:
        for event in _events():
            writer.write(event)
    data = path.read_bytes()
    for word in (b"happy", b"sad", b"EmotionChanged", b"track", b"0.75"):
        assert word not in data


@pytest.mark.parametrize("include_probabilities", [False, True])
def test_record_sizes_do_not_reveal_events(tmp_path: Path, key: LogKey, include_probabilities: bool) -> None:
    """Padding: every record has the same size, whatever its type or emotion name."""
    path = tmp_path / "s.emolog"
    with SessionLogWriter(path, key, include_probabilities=include_probabilities) as writer:
        writer.write(FaceFound(track_id=1, box=(0, 0, 1, 1), timestamp=1.0))
        for name in ("sad", "surprise", "neutral"):
            writer.write(EmotionChanged(1, "unknown", name, 0.123456789012345, {n: 1 / 7 for n in EMOTIONS}, 2.0))
        writer.write(FaceLost(track_id=123456, timestamp=3.0))
    data = path.read_bytes()
    pos, sizes = HEADER_SIZE, []
    while pos < len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        sizes.append(size)
        pos += 4 + size
    assert len(sizes) == 6 and len(set(sizes)) == 1


def test_close_is_idempotent_and_write_after_close_fails(tmp_path: Path, key: LogKey) -> None:
    writer = SessionLogWriter(tmp_path / "s.emolog", key)
    writer.write(FaceLost(track_id=1, timestamp=1.0))
    writer.close()
    size = (tmp_path / "s.emolog").stat().st_size
    writer.close()
    assert writer.closed and (tmp_path / "s.emolog").stat().st_size == size
    with pytest.raises(ValueError, match="closed"):
        writer.write(FaceLost(track_id=1, timestamp=2.0))


def test_writer_refuses_to_overwrite(tmp_path: Path, key: LogKey) -> None:
    path = tmp_path / "s.emolog"
    path.write_bytes(b"precious")
    with pytest.raises(LogError, match="never overwritten"):
        SessionLogWriter(path, key)
    assert path.read_bytes() == b"precious"


def test_writer_creates_owner_only_file(tmp_path: Path, key: LogKey) -> None:
    with SessionLogWriter(tmp_path / "s.emolog", key):
        pass
    if os.name == "posix":
        assert stat.S_IMODE((tmp_path / "s.emolog").stat().st_mode) & 0o077 == 0


@pytest.mark.slow
def test_crash_loses_only_the_record_being_written(tmp_path: Path, key: LogKey) -> None:
    """Every write reaches the file before write() returns; a cut file keeps every complete record."""
    path = tmp_path / "s.emolog"
    writer = SessionLogWriter(path, key)
    sizes = [path.stat().st_size]
    for i in range(5):
        writer.write(FaceLost(track_id=i, timestamp=float(i)))
        sizes.append(path.stat().st_size)  # visible on disk without close()
    assert sizes[0] == HEADER_SIZE and sizes == sorted(set(sizes))
    data = path.read_bytes()
    writer.close()
    for cut in range(HEADER_SIZE, len(data) + 1):
        crashed = tmp_path / f"cut{cut}.emolog"
        crashed.write_bytes(data[:cut])
        with pytest.raises(LogTruncatedError) as info:
            read_session_log(crashed, key)
        complete = sum(1 for s in sizes[1:] if s <= cut)
        assert [r.track_id for r in info.value.records] == list(range(complete))


def test_wrong_key_is_one_authentication_error(tmp_path: Path, key: LogKey) -> None:
    path = tmp_path / "s.emolog"
    with SessionLogWriter(path, key) as writer:
        writer.write(FaceLost(track_id=1, timestamp=1.0))
    with pytest.raises(LogAuthenticationError, match="wrong key"):
        read_session_log(path, LogKey.from_bytes(bytes(32)))
    with pytest.raises(LogAuthenticationError, match="key file, not a passphrase"):
        read_session_log(path, LogKey.from_passphrase("x", **CHEAP))


def test_key_file(tmp_path: Path) -> None:
    path = generate_key_file(tmp_path / "log.key")
    assert len(path.read_bytes()) == 32
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    before = path.read_bytes()
    with pytest.raises(LogError, match="never overwrites"):
        generate_key_file(path)
    assert path.read_bytes() == before
    assert LogKey.from_file(path).kind == "key-file"
    (tmp_path / "bad.key").write_bytes(before + b"\n")
    with pytest.raises(LogFormatError, match="more than 32 bytes"):
        LogKey.from_file(tmp_path / "bad.key")
    with pytest.raises(LogError, match="cannot read key file"):
        LogKey.from_file(tmp_path / "missing.key")


def test_key_repr_hides_secret() -> None:
    assert "s3cret" not in repr(LogKey.from_passphrase("s3cret", **CHEAP))
    assert "\\x" not in repr(LogKey.from_bytes(b"\xff" * 32))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"passphrase": ""}, "empty"),
        ({"passphrase": "x", "scrypt_log2_n": 9}, "scrypt_log2_n"),
        ({"passphrase": "x", "scrypt_log2_n": 21}, "scrypt_log2_n"),
        ({"passphrase": "x", "scrypt_r": 0}, "scrypt r"),
        ({"passphrase": "x", "scrypt_p": 5}, "scrypt p"),
        ({"passphrase": "x", "scrypt_log2_n": 20, "scrypt_r": 16}, "MiB"),
    ],
)
def test_passphrase_key_rejects_bad_parameters(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LogKey.from_passphrase(**kwargs)


def test_non_finite_values_are_refused(tmp_path: Path, key: LogKey) -> None:
    with SessionLogWriter(tmp_path / "s.emolog", key) as writer:
        with pytest.raises(ValueError, match="finite"):
            writer.write(FaceLost(track_id=1, timestamp=float("nan")))
    assert read_session_log(tmp_path / "s.emolog", key).records == []


def test_missing_file_is_a_log_error(tmp_path: Path, key: LogKey) -> None:
    with pytest.raises(LogError, match="cannot read"):
        read_session_log(tmp_path / "nope.emolog", key)


@pytest.mark.slow
def test_sessionlog_module_imports_no_crypto() -> None:
    import subprocess

    code = "import emoplay.sessionlog, sys; print('cryptography' in sys.modules)"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "False"


# --- fuzzing: the reader only ever raises its own errors ----------------------------------------

_VALID = (VECTORS / "valid_keyfile.emolog").read_bytes()
_FUZZ_KEY = LogKey.from_file(VECTORS / "keyfile.key")


@st.composite
def _mutated_logs(draw) -> bytes:
    data = bytearray(_VALID)
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["flip", "cut", "insert", "delete", "set"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if action == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif action == "cut":
            del data[pos:]
        elif action == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif action == "delete":
            del data[pos : pos + draw(st.integers(1, 8))]
        elif action == "set" and data:
            data[pos] = draw(st.integers(0, 255))
    return bytes(data)


@pytest.mark.slow
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(st.binary(max_size=300), _mutated_logs()))
def test_reader_only_raises_log_errors(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "fuzz.emolog"
    path.write_bytes(data)
    try:
        log = read_session_log(path, _FUZZ_KEY)
    except LogTruncatedError as exc:
        assert all(r.index == i for i, r in enumerate(exc.records))
    except LogError:
        pass
    else:
        assert data == _VALID  # a change that still reads as complete would be a forgery
        assert log.complete


def test_a_broken_link_where_the_log_folder_goes_is_not_reported_as_an_existing_log(tmp_path: Path, key: LogKey) -> None:
    (tmp_path / "logs").symlink_to(tmp_path / "nowhere")
    with pytest.raises(LogError, match="cannot create session log .*a broken link"):
        SessionLogWriter(tmp_path / "logs" / "P001.emolog", key, clock=ManualClock(5.0))
