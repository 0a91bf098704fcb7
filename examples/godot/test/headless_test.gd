extends Node
# Headless check of the addon (tests/bridge/test_bridge_godot.py runs it with godot3-server): prints one
# "EMOPLAY_TEST ..." line per signal, and quits after the server closes a paired connection, or on timeout.
# With EMOPLAY_SERVER set, the addon starts the server itself; with EMOPLAY_TEST_QUIT_AFTER_EMOTION set, the
# game quits at the first emotion change (the server must then stop by itself).

const TIMEOUT_S = 60.0

var _elapsed = 0.0
var _emotions = 0
var _retries = 0


func _ready():
	Emoplay.client_name = "godot-headless-test"
	Emoplay.connect("connected", self, "_on_connected")
	Emoplay.connect("disconnected", self, "_on_disconnected")
	Emoplay.connect("pairing_refused", self, "_on_refused")
	Emoplay.connect("reconnecting", self, "_on_reconnecting")
	Emoplay.connect("emotion_changed", self, "_on_emotion_changed")
	Emoplay.connect("valence_arousal", self, "_on_valence_arousal")
	Emoplay.connect("face_found", self, "_on_face_found")
	Emoplay.connect("face_lost", self, "_on_face_lost")
	Emoplay.connect("camera_state_changed", self, "_on_camera_state_changed")
	if Emoplay.server_pid > 0:
		_say("launched pid=%d %s" % [Emoplay.server_pid, Emoplay.url])
	_say("started " + Emoplay.url)


func _process(delta):
	_elapsed += delta
	if _elapsed > TIMEOUT_S:
		_say("timeout")
		get_tree().quit(3)


func _say(text):
	print("EMOPLAY_TEST " + text)


func _on_connected(welcome):
	_say("connected protocol=%d camera=%s retries=%d" % [welcome["protocol"], welcome["camera_state"], _retries])


func _on_disconnected(code, reason):
	_say("disconnected %d %s" % [code, reason])
	_say("summary emotions=%d" % _emotions)
	get_tree().quit(0 if _emotions > 0 else 4)


func _on_reconnecting(delay_s):
	_retries += 1
	_say("reconnecting %.2f" % delay_s)


func _on_refused(reason):
	_say("refused " + reason)
	get_tree().quit(5)


func _on_emotion_changed(track_id, emotion, confidence):
	_emotions += 1
	_say("emotion_changed %d %s %.3f" % [track_id, emotion, confidence])
	if OS.get_environment("EMOPLAY_TEST_QUIT_AFTER_EMOTION") != "":
		_say("quitting")
		get_tree().quit(0)


func _on_valence_arousal(track_id, valence, arousal):
	_say("valence_arousal %d %.3f %.3f" % [track_id, valence, arousal])


func _on_face_found(track_id, is_primary):
	_say("face_found %d %s" % [track_id, str(is_primary)])


func _on_face_lost(track_id):
	_say("face_lost %d" % track_id)


func _on_camera_state_changed(state, reason):
	_say("camera_state_changed %s %s" % [state, reason])
