"""The study-record extension of the session-log format: vectors, round trip, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emoplay import LogFormatError
from emoplay.sessionlog import LogKey, SessionLogWriter, read_session_log

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "sessionlog"
MANIFEST = json.loads((VECTORS / "vectors.json").read_text())
KEY = LogKey.from_file(VECTORS / "keyfile.key")


@pytest.mark.parametrize("vector", MANIFEST["study_vectors"], ids=lambda v: v["name"])
def test_study_vector(vector):
    path = VECTORS / vector["file"]
    if vector["expect"] == "ok":
        log = read_session_log(path, KEY)
        assert log.complete and log.header.study_records and log.header.include_probabilities
        assert [r.to_dict() for r in log.records] == MANIFEST["study_records"]
        assert len(log.records) == vector["records"]
        return
    with pytest.raises(LogFormatError):
        read_session_log(path, KEY)


def test_the_valid_vector_decodes_to_the_documented_records():
    records = MANIFEST["study_records"]
    frame = next(r for r in records if r["type"] == "FrameProbabilities" and r["face"])
    assert frame == {"index": 4, "type": "FrameProbabilities", "timestamp": 100.35, "track_id": 1,
                     "stimulus": "cats", "media_time": 0.1, "face": True,
                     "probabilities": {"angry": 0.01, "disgust": 0.02, "fear": 0.03, "happy": 0.8, "sad": 0.04,
                                       "surprise": 0.05, "neutral": 0.05}}
    assert [r["type"] for r in records] == ["StudyStarted", "StimulusStarted", "FrameProbabilities", "FaceFound",
                                            "FrameProbabilities", "StudyPaused", "StudyResumed", "StimulusEnded"]


def test_writer_round_trip_and_refusals(tmp_path):
    key = LogKey.from_bytes(bytes(range(32)))
    with SessionLogWriter(tmp_path / "plain.emolog", key) as plain:
        with pytest.raises(ValueError, match="study_records=True"):
            plain.write_study_record("StimulusEnded", 1.0, stimulus="a", media_time=1.0, reason="finished")
    with SessionLogWriter(tmp_path / "s.emolog", key, include_probabilities=True, study_records=True) as writer:
        writer.write_study_record("StimulusStarted", 1.0, stimulus="a", title="A", position=1, duration=2.0)
        with pytest.raises(ValueError, match="'media_time'"):
            writer.write_study_record("FrameProbabilities", 1.1, stimulus="a", media_time=float("nan"), face=False,
                                      track=None, probabilities=None)
        with pytest.raises(ValueError, match="unexpected members"):
            writer.write_study_record("StimulusEnded", 1.2, stimulus="a", media_time=1.0, reason="x", pixels=[1])
        with pytest.raises(ValueError, match="'probabilities'"):  # a big array cannot ride in a record
            writer.write_study_record("FrameProbabilities", 1.3, stimulus="a", media_time=0.1, face=True, track=1,
                                      probabilities={str(i): 0.5 for i in range(48 * 48)})
        writer.write_study_record("StimulusEnded", 3.0, stimulus="a", media_time=2.0, reason="finished")
    log = read_session_log(tmp_path / "s.emolog", key)
    assert [(r.type, r.data["stimulus"]) for r in log.records] == [("StimulusStarted", "a"), ("StimulusEnded", "a")]
    assert not read_session_log(tmp_path / "plain.emolog", key).header.study_records
