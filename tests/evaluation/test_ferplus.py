"""FER+ crowd votes read into emoplay's seven classes: a hand-made CSV and the shared votes file."""

from __future__ import annotations

import numpy as np
import pytest
from tests.support import FER, require_shared

from emoplay import DataError
from emoplay.evaluation.ferplus import read_ferplus_votes

HEADER = "id,ferplus_name,pixel_mae,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF\n"


def test_votes_map_to_emoplay_classes_and_majority_rules(tmp_path):
    csv = tmp_path / "votes.csv"
    csv.write_text(HEADER
                   + "a,x.png,1.0,1,0,0,6,1,0,0,1,1,0\n"  # sad majority; contempt/unknown votes dropped
                   + "b,x.png,1.0,4,4,0,0,0,0,0,0,2,0\n"  # tie: no majority
                   + "c,x.png,1.0,0,0,0,0,0,0,0,7,3,0\n"  # contempt majority: no label, no 7-class votes
                   + "d,x.png,1.0,2,0,0,0,0,0,0,0,0,8\n")  # not a face
    votes = read_ferplus_votes(csv, ["a", "b", "c", "d", "missing"])
    names = votes.class_names
    assert votes.majority.tolist() == [names.index("sad"), -1, -1, -1, -1]
    assert votes.has_votes.tolist() == [True, True, False, True, False]
    soft = votes.soft
    assert soft[0, names.index("sad")] == pytest.approx(6 / 8)
    assert soft[0, names.index("angry")] == pytest.approx(1 / 8)
    assert soft[1, names.index("happy")] == pytest.approx(0.5)
    assert soft[2].sum() == 0 and soft[3, names.index("neutral")] == 1


def test_bad_votes_files_say_what_to_pass(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_ferplus_votes(tmp_path / "none.csv", ["a"])
    (tmp_path / "bad.csv").write_text("id,neutral\na,1\n")
    with pytest.raises(DataError, match="not a FER\\+ votes CSV"):
        read_ferplus_votes(tmp_path / "bad.csv", ["a"])
    (tmp_path / "other.csv").write_text(HEADER + "z,x.png,1.0,1,0,0,0,0,0,0,0,0,0\n")
    with pytest.raises(DataError, match="none of the 1 images"):
        read_ferplus_votes(tmp_path / "other.csv", ["a"])


def test_shared_votes_pair_with_val_ids():
    votes_csv = require_shared(FER / "ferplus_votes.csv")
    with np.load(require_shared(FER / "val_original.npz")) as d:
        ids = [str(i) for i in d["ids"]]
    votes = read_ferplus_votes(votes_csv, ids)
    assert votes.has_votes.sum() == 3579  # ten of the 3,589 val faces are unpaired: no votes
    assert (votes.majority >= 0).sum() == 3370
