"""The Godot 4 addon (examples/godot4), checked without an engine: gdtoolkit 4's GDScript parser and linter, no
Godot 3 API left, and the Godot 3 addon's public signals and functions all present. No Godot 4 engine runs here;
the tested client is the Godot 3 addon (test_bridge_godot.py), whose logic this one follows."""

from __future__ import annotations

from tests.support import REPO, require_module

GODOT4 = REPO / "examples" / "godot4" / "addons" / "emoplay"
GODOT3 = REPO / "examples" / "godot" / "addons" / "emoplay"
# Godot 3 names that Godot 4 removed or renamed (WebSocketClient -> WebSocketPeer, File -> FileAccess, …).
GODOT3_ONLY = {"WebSocketClient", "File", "PoolStringArray", "TCP_Server", "emit_signal", "get_peer", "set_write_mode",
               "WRITE_MODE_TEXT"}


def _parse(path):
    parser = require_module("gdtoolkit.parser", "gdtoolkit is not installed: pip install -e '.[test]' brings it")
    return parser.parser.parse(path.read_text(), gather_metadata=True)


def _names(tree) -> set[str]:
    from lark import Token

    return {t.value for t in tree.scan_values(lambda v: isinstance(v, Token) and v.type == "NAME")}


def _public_api(tree) -> tuple[set[str], set[str]]:
    """(signal names, public function names) of a parsed script."""
    signals = {str(st.children[0]) for st in tree.iter_subtrees() if st.data == "signal_stmt"}
    functions = {str(st.children[0].children[0]) for st in tree.iter_subtrees() if st.data == "func_def"}
    return signals, {f for f in functions if not f.startswith("_")}


def test_the_godot4_addon_parses_and_lints_cleanly():
    linter = require_module("gdtoolkit.linter", "gdtoolkit is not installed: pip install -e '.[test]' brings it")
    for script in sorted(GODOT4.glob("*.gd")):
        _parse(script)
        problems = linter.lint_code(script.read_text(), linter.DEFAULT_CONFIG)
        assert problems == [], f"{script.name}: {problems}"


def test_the_linter_would_catch_a_problem():
    linter = require_module("gdtoolkit.linter", "gdtoolkit is not installed: pip install -e '.[test]' brings it")
    code = (GODOT4 / "emoplay.gd").read_text() + "\n\nfunc BadName() -> void:\n\tpass\n"
    assert [p.name for p in linter.lint_code(code, linter.DEFAULT_CONFIG)] == ["function-name"]


def test_the_godot4_addon_uses_no_godot3_api_and_has_every_signal_and_function_of_the_godot3_one():
    godot4, godot3 = _parse(GODOT4 / "emoplay.gd"), _parse(GODOT3 / "emoplay.gd")
    assert not _names(godot4) & GODOT3_ONLY, _names(godot4) & GODOT3_ONLY
    assert {"WebSocketClient", "emit_signal", "File"} <= _names(godot3)  # the check sees them where they are
    signals4, functions4 = _public_api(godot4)
    signals3, functions3 = _public_api(godot3)
    assert signals3 <= signals4, signals3 - signals4
    assert functions3 <= functions4, functions3 - functions4
    assert {"start_server", "stop_server", "indicator_drawn", "connect_to_bridge"} <= functions4
