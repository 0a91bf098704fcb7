"""The shared-data guards of tests/support: a missing dataset or tool skips locally and fails in CI."""

from __future__ import annotations

import pytest

from tests import support
from tests.support import require, require_module, require_shared


@pytest.mark.parametrize("ci", ["true", "1", "yes"])
def test_missing_data_fails_in_ci(monkeypatch, tmp_path, ci):
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.fail.Exception, match="absent.*CI is set"):
        require_shared(tmp_path / "no such data")
    with pytest.raises(pytest.fail.Exception, match="not installed"):
        require_module("emoplay_no_such_module")


@pytest.mark.parametrize("ci", [None, "", "0", "false"])
def test_missing_data_skips_outside_ci(monkeypatch, tmp_path, ci):
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.skip.Exception, match="absent"):
        require_shared(tmp_path / "no such data")
    with pytest.raises(pytest.skip.Exception, match="reason given"):
        require(False, "reason given")


def test_present_data_is_returned(monkeypatch, tmp_path):
    monkeypatch.setenv("CI", "true")
    (tmp_path / "x.npz").write_bytes(b"")
    assert require_shared(tmp_path / "x.npz") == tmp_path / "x.npz"
    monkeypatch.setattr(support, "SHARED", tmp_path)
    assert require_shared("x.npz") == tmp_path / "x.npz"  # relative paths are taken under the shared folder
    assert require_module("json").dumps([]) == "[]"
