extends SceneTree
# Unit checks of the addon without a server (tests/bridge/test_bridge_godot.py runs it with
# `godot3-server --path ... -s res://test/addon_unit_test.gd`): one "EMOPLAY_UNIT <check> ok|FAIL" line each.

var addon = null
var _failed = false


func _init():
	addon = load("res://addons/emoplay/emoplay.gd").new()
	_stale_indicator_is_not_sent_after_a_new_welcome()
	_disconnect_from_a_disconnected_handler_stops_the_retries()
	addon.free()
	quit(1 if _failed else 0)


func _check(name, ok):
	print("EMOPLAY_UNIT " + name + (" ok" if ok else " FAIL"))
	if not ok:
		_failed = true


func _stale_indicator_is_not_sent_after_a_new_welcome():
	addon.indicator_drawn()  # drawn while disconnected, then hidden before the connection came back
	addon._dispatch({"type": "welcome"})
	_check("stale_indicator", not addon._indicator_due)


func _on_disconnected(_code, _reason):
	addon.disconnect_from_bridge()


func _disconnect_from_a_disconnected_handler_stops_the_retries():
	addon.connect("disconnected", self, "_on_disconnected")
	addon._client = WebSocketClient.new()
	addon._paired = true
	addon._close_code = 1001
	addon._ended()
	_check("disconnect_in_handler", addon._retry_in < 0.0)
