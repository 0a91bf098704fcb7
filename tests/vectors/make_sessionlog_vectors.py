"""Regenerate the session-log test vectors in tests/vectors/sessionlog/.

    python tests/vectors/make_sessionlog_vectors.py

Deterministic: fixed file ids, salts, keys and clock, so the output is byte
for byte the same on every run (tests/sessionlog/test_sessionlog.py checks this, which
catches any unintended change to the format). scrypt uses n = 2**10 so the
vectors are cheap to read; the format records the parameters.
"""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "sessionlog"
sys.path.insert(0, str(HERE.parents[1]))

from emoplay.sessionlog import _format as log_format  # noqa: E402
from emoplay.sessionlog import _keys as log_keys  # noqa: E402
from emoplay.sessionlog import _records as log_records  # noqa: E402
from emoplay.sessionlog import _study_records as study_schema  # noqa: E402
from emoplay._events import EmotionChanged, EventsDropped, FaceFound, FaceLost  # noqa: E402

PASSPHRASE = "correct horse battery staple"
KEY_BYTES = bytes(range(0x40, 0x60))  # 32 bytes; written to keyfile.key
FILE_ID = bytes.fromhex("00112233445566778899aabbccddeeff")
OTHER_FILE_ID = bytes.fromhex("ffeeddccbbaa99887766554433221100")
SALT = bytes.fromhex("5a17" * 8)
STARTED_AT = 1767225600.0  # 2026-01-01T00:00:00Z
ENDED_AT = 1767225612.5

EVENTS = [
    FaceFound(track_id=1, box=(10, 20, 80, 80), timestamp=100.0, is_primary=True),
    EmotionChanged(
        track_id=1,
        previous="unknown",
        current="happy",
        confidence=0.875,
        probabilities={"angry": 0.0, "disgust": 0.0, "fear": 0.0, "happy": 0.875, "sad": 0.025,
                       "surprise": 0.05, "neutral": 0.05},
        timestamp=100.5,
    ),
    EmotionChanged(
        track_id=1,
        previous="happy",
        current="surprise",
        confidence=0.625,
        probabilities={"angry": 0.0, "disgust": 0.0, "fear": 0.125, "happy": 0.125, "sad": 0.0,
                       "surprise": 0.625, "neutral": 0.125},
        timestamp=104.25,
    ),
    FaceLost(track_id=1, timestamp=110.0),
]
# Version 2 adds the EventsDropped record: the sensor's queue overflowed before these reached the log.
EVENTS_WITH_DROPS = EVENTS[:2] + [EventsDropped(count=17, timestamp=102.0)] + EVENTS[2:]
GARBAGE = bytes((i * 73 + 41) % 251 for i in range(700))  # deterministic bytes that are not a record


def _build(
    key: log_keys.LogKey, file_id: bytes, include_probabilities: bool, events: list = EVENTS, version: int = log_format.VERSION
) -> tuple[bytes, list[bytes], log_keys._Keys]:
    """Header and framed records (final record last) of one log."""
    header, keys = log_format._build_header(key, file_id, SALT, STARTED_AT, include_probabilities, version=version)
    pad = log_format._pad_block(include_probabilities)
    records = [
        log_format._build_record(keys, file_id, i, log_records._event_payload(e, include_probabilities), False, pad)
        for i, e in enumerate(events)
    ]
    end = {"type": "end", "ended_at": ENDED_AT, "records": len(events)}
    records.append(log_format._build_record(keys, file_id, len(events), end, True, pad))
    return header, records, keys


def _records(events: list, include_probabilities: bool) -> list[dict]:
    return [log_records._record_from_payload(i, log_records._event_payload(e, include_probabilities)).to_dict()
            for i, e in enumerate(events)]


def _flip(data: bytes, offset: int) -> bytes:
    return data[:offset] + bytes([data[offset] ^ 0x01]) + data[offset + 1 :]


# --- study records (privacy/LOG_FORMAT.md, "Study records"; written by `emoplay study run`) ---------
STUDY_PROBABILITIES = {"angry": 0.01, "disgust": 0.02, "fear": 0.03, "happy": 0.8, "sad": 0.04, "surprise": 0.05,
                       "neutral": 0.05}
STUDY_RECORDS = [
    ("StudyStarted", 100.0, {"study": "clips", "title": "Clips", "fingerprint": "0123456789abcdef",
                             "participant": "P017", "group": "18-29", "order": ["cats", "storm"], "seed": 42,
                             "calibration": "off", "emoplay": "0.1.0", "model": "emotion_cnn.onnx"}),
    ("StimulusStarted", 100.25, {"stimulus": "cats", "title": "Cats", "position": 1, "duration": 2.5}),
    ("FrameProbabilities", 100.3, {"stimulus": "cats", "media_time": 0.05, "face": False, "track": None,
                                   "probabilities": None}),
    ("FrameProbabilities", 100.35, {"stimulus": "cats", "media_time": 0.1, "face": True, "track": 1,
                                    "probabilities": STUDY_PROBABILITIES}),
    ("StudyPaused", 101.0, {"stimulus": "cats", "media_time": 0.75}),
    ("StudyResumed", 104.0, {"stimulus": "cats", "media_time": 0.75}),
    ("StimulusEnded", 105.75, {"stimulus": "cats", "media_time": 2.5, "reason": "finished"}),
]


def build_study_vectors(key: log_keys.LogKey) -> tuple[dict[str, bytes], list[dict], list[dict]]:
    """Study-record vectors: files, their manifest entries, and the records the valid one decodes to."""
    pad = log_format._pad_block(True)
    payloads = [study_schema.study_payload(kind, t, fields) for kind, t, fields in STUDY_RECORDS]
    payloads.insert(3, log_records._event_payload(EVENTS[0], True))  # ordinary events sit between study records

    def log(flag: bool, records: list[dict]) -> bytes:
        header, keys = log_format._build_header(key, FILE_ID, SALT, STARTED_AT, True, study_records=flag)
        framed = [log_format._build_record(keys, FILE_ID, i, r, False, pad) for i, r in enumerate(records)]
        end = {"type": "end", "ended_at": ENDED_AT, "records": len(records)}
        return header + b"".join(framed) + log_format._build_record(keys, FILE_ID, len(records), end, True, pad)

    malformed = [dict(r) for r in payloads]
    malformed[4] = {**malformed[4], "probabilities": None}  # a face without probabilities
    files = {
        "study_valid.emolog": log(True, payloads),
        "study_records_without_flag.emolog": log(False, payloads),
        "study_record_malformed.emolog": log(True, malformed),
    }
    kf = {"key_file": "keyfile.key"}
    vectors = [
        {"name": "study log", "file": "study_valid.emolog", "key": kf, "expect": "ok", "records": len(payloads)},
        {"name": "study records in a log without the study flag", "file": "study_records_without_flag.emolog",
         "key": kf, "expect": "LogFormatError"},
        {"name": "malformed study record", "file": "study_record_malformed.emolog", "key": kf,
         "expect": "LogFormatError"},
    ]
    expected = [log_records._study_record_from_payload(i, r).to_dict() if r["type"] in study_schema.STUDY_RECORD_TYPES
                else log_records._record_from_payload(i, r).to_dict() for i, r in enumerate(payloads)]
    return files, vectors, expected


def build_vectors() -> tuple[dict[str, bytes], list[dict]]:
    """Return {file name: bytes} and the manifest (list of vector descriptions)."""
    pw_key = log_keys.LogKey.from_passphrase(PASSPHRASE, scrypt_log2_n=10, scrypt_r=8, scrypt_p=1)
    file_key = log_keys.LogKey.from_bytes(KEY_BYTES)
    pw_header, pw_records, _ = _build(pw_key, FILE_ID, include_probabilities=True)
    kf_header, kf_records, kf_keys = _build(file_key, FILE_ID, include_probabilities=False)
    _, other_records, _ = _build(file_key, OTHER_FILE_ID, include_probabilities=False)
    v1_header, v1_records, _ = _build(file_key, FILE_ID, include_probabilities=False, version=1)
    v1_drops_header, v1_drops_records, _ = _build(file_key, FILE_ID, False, EVENTS_WITH_DROPS, version=1)
    drops_header, drops_records, _ = _build(file_key, FILE_ID, include_probabilities=False, events=EVENTS_WITH_DROPS)
    valid_pw = pw_header + b"".join(pw_records)
    valid_kf = kf_header + b"".join(kf_records)
    n = len(EVENTS)
    rec1_start = len(kf_header) + len(kf_records[0])

    files = {
        "keyfile.key": KEY_BYTES,
        "valid_passphrase.emolog": valid_pw,
        "valid_keyfile.emolog": valid_kf,
        "empty.emolog": b"",
        "not_a_log.emolog": b"GIF89a this is some other file entirely" + bytes(60),
        "version_3.emolog": valid_kf[:8] + b"\x03" + valid_kf[9:],
        "valid_version_1.emolog": v1_header + b"".join(v1_records),
        "version_1_with_events_dropped.emolog": v1_drops_header + b"".join(v1_drops_records),
        "valid_events_dropped.emolog": drops_header + b"".join(drops_records),
        "scrypt_too_costly.emolog": valid_pw[:10] + b"\x15" + valid_pw[11:],  # n = 2**21
        "header_file_id_flipped.emolog": _flip(valid_kf, 20),
        "header_sealed_info_flipped.emolog": _flip(valid_kf, 60),
        "header_scrypt_r_changed.emolog": valid_pw[:11] + b"\x04" + valid_pw[12:],
        "record_flipped.emolog": _flip(valid_kf, rec1_start + 4 + 3),
        "record_tag_flipped.emolog": _flip(valid_kf, rec1_start + len(kf_records[1]) - 1),
        "records_reordered.emolog": kf_header + kf_records[1] + kf_records[0] + b"".join(kf_records[2:]),
        "record_dropped.emolog": kf_header + kf_records[0] + b"".join(kf_records[2:]),
        "record_spliced_from_other_file.emolog": kf_header + kf_records[0] + other_records[1]
        + b"".join(kf_records[2:]),
        "extended_after_final.emolog": valid_kf
        + log_format._build_record(kf_keys, FILE_ID, n + 1, log_records._event_payload(EVENTS[0], False), False, log_format.PAD_BLOCK),
        "record_length_impossible.emolog": valid_kf[:rec1_start] + struct.pack(">I", 0xFFFFFFF0)
        + valid_kf[rec1_start + 4 :],
        "truncated_before_final.emolog": kf_header + b"".join(kf_records[:n]),
        "truncated_inside_record.emolog": kf_header + b"".join(kf_records[:2]) + kf_records[2][:9],
        "truncated_inside_length.emolog": kf_header + kf_records[0] + kf_records[1][:2],
        "header_only.emolog": kf_header,
        # Damaged tails: what crashes (zero-filled blocks, torn writes) and disk faults leave after good records.
        "zero_filled_tail.emolog": kf_header + b"".join(kf_records[:n]) + bytes(4096),
        "torn_record.emolog": kf_header + b"".join(kf_records[:2]) + kf_records[2][:100]
        + bytes(len(kf_records[2]) - 100) + bytes(2000),
        "garbage_tail.emolog": kf_header + b"".join(kf_records[:2]) + GARBAGE,
        "garbage_then_zeros.emolog": kf_header + b"".join(kf_records[:3]) + GARBAGE[:37] + bytes(1000),
        "unauthentic_tail.emolog": kf_header + b"".join(kf_records[:3]) + struct.pack(">I", 272) + GARBAGE[:272],
        "truncated_inside_header.emolog": kf_header[:40],
    }

    pw = {"passphrase": PASSPHRASE}
    kf = {"key_file": "keyfile.key"}
    vectors = [
        {"name": "valid passphrase log", "file": "valid_passphrase.emolog", "key": pw, "expect": "ok",
         "records": n, "include_probabilities": True},
        {"name": "valid key-file log", "file": "valid_keyfile.emolog", "key": kf, "expect": "ok",
         "records": n, "include_probabilities": False},
        {"name": "wrong passphrase", "file": "valid_passphrase.emolog", "key": {"passphrase": "wrong horse"},
         "expect": "LogAuthenticationError"},
        {"name": "wrong key file", "file": "valid_keyfile.emolog", "key": {"key_hex": "00" * 32},
         "expect": "LogAuthenticationError"},
        {"name": "key file for a passphrase log", "file": "valid_passphrase.emolog", "key": kf,
         "expect": "LogAuthenticationError"},
        {"name": "passphrase for a key-file log", "file": "valid_keyfile.emolog", "key": pw,
         "expect": "LogAuthenticationError"},
        {"name": "empty file", "file": "empty.emolog", "key": kf, "expect": "LogFormatError"},
        {"name": "not a log", "file": "not_a_log.emolog", "key": kf, "expect": "LogFormatError"},
        {"name": "unsupported version", "file": "version_3.emolog", "key": kf, "expect": "LogFormatError"},
        {"name": "version 1 log is still read", "file": "valid_version_1.emolog", "key": kf, "expect": "ok",
         "records": n, "include_probabilities": False},
        {"name": "version 2 log with an EventsDropped record", "file": "valid_events_dropped.emolog", "key": kf,
         "expect": "ok", "records": n + 1, "include_probabilities": False,
         "expected_records": _records(EVENTS_WITH_DROPS, False)},
        {"name": "EventsDropped record in a version 1 log", "file": "version_1_with_events_dropped.emolog",
         "key": kf, "expect": "LogFormatError"},
        {"name": "scrypt work factor above the cap", "file": "scrypt_too_costly.emolog", "key": pw,
         "expect": "LogFormatError"},
        {"name": "flipped byte in header file id", "file": "header_file_id_flipped.emolog", "key": kf,
         "expect": "LogAuthenticationError"},
        {"name": "flipped byte in sealed header info", "file": "header_sealed_info_flipped.emolog", "key": kf,
         "expect": "LogAuthenticationError"},
        {"name": "changed scrypt parameter in header", "file": "header_scrypt_r_changed.emolog", "key": pw,
         "expect": "LogAuthenticationError"},
        {"name": "flipped byte in a record", "file": "record_flipped.emolog", "key": kf,
         "expect": "LogAuthenticationError"},
        {"name": "flipped byte in a record tag", "file": "record_tag_flipped.emolog", "key": kf,
         "expect": "LogAuthenticationError"},
        {"name": "records reordered", "file": "records_reordered.emolog", "key": kf,
         "expect": "LogAuthenticationError"},
        {"name": "record dropped from the middle", "file": "record_dropped.emolog", "key": kf,
         "expect": "LogAuthenticationError"},
        {"name": "record spliced from another file", "file": "record_spliced_from_other_file.emolog", "key": kf,
         "expect": "LogAuthenticationError"},
        {"name": "record appended after the final record", "file": "extended_after_final.emolog", "key": kf,
         "expect": "LogAuthenticationError"},
        {"name": "impossible record length", "file": "record_length_impossible.emolog", "key": kf,
         "expect": "LogFormatError"},
        {"name": "cut before the final record", "file": "truncated_before_final.emolog", "key": kf,
         "expect": "LogTruncatedError", "records": n},
        {"name": "cut inside a record", "file": "truncated_inside_record.emolog", "key": kf,
         "expect": "LogTruncatedError", "records": 2},
        {"name": "cut inside a length prefix", "file": "truncated_inside_length.emolog", "key": kf,
         "expect": "LogTruncatedError", "records": 1},
        {"name": "header only (crash before the first record)", "file": "header_only.emolog", "key": kf,
         "expect": "LogTruncatedError", "records": 0},
        {"name": "zero-filled tail after the records (crash)", "file": "zero_filled_tail.emolog", "key": kf,
         "expect": "LogTruncatedError", "records": n, "lost_bytes": 4096},
        {"name": "torn record: its end and what follows are zero bytes (crash)", "file": "torn_record.emolog",
         "key": kf, "expect": "LogTruncatedError", "records": 2, "lost_bytes": len(kf_records[2]) + 2000},
        {"name": "garbage tail: recoverable only with allow_truncated", "file": "garbage_tail.emolog", "key": kf,
         "expect": "LogFormatError", "recover": 2, "lost_bytes": len(GARBAGE)},
        {"name": "garbage then zero bytes: recoverable only with allow_truncated", "file": "garbage_then_zeros.emolog",
         "key": kf, "expect": "LogFormatError", "recover": 3, "lost_bytes": 1037},
        {"name": "a last record that fails authentication: recoverable only with allow_truncated",
         "file": "unauthentic_tail.emolog", "key": kf, "expect": "LogAuthenticationError", "recover": 3,
         "lost_bytes": 276},
        {"name": "cut inside the header", "file": "truncated_inside_header.emolog", "key": kf,
         "expect": "LogTruncatedError", "records": 0},
    ]
    expected_records = _records(EVENTS, True)
    study_files, study_vectors, study_records = build_study_vectors(file_key)
    files.update(study_files)
    manifest = {
        "comment": "Generated by tests/vectors/make_sessionlog_vectors.py; see privacy/LOG_FORMAT.md.",
        "started_at": STARTED_AT,
        "ended_at": ENDED_AT,
        "file_id_hex": FILE_ID.hex(),
        "records_with_probabilities": expected_records,
        "vectors": vectors,
        "study_vectors": study_vectors,
        "study_records": study_records,
    }
    files["vectors.json"] = (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode("utf-8")
    return files, vectors


def main() -> None:
    files, _ = build_vectors()
    OUT.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (OUT / name).write_bytes(data)
    print(f"wrote {len(files)} files to {OUT}")


if __name__ == "__main__":
    main()
