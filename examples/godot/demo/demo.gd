extends Control
# A tiny demo: the camera indicator (its drawing is the heartbeat the bridge needs for a camera), the
# primary face's emotion, and a colour that follows valence. Run `emoplay serve --token-file ~/.emoplay-token`
# first, then set EMOPLAY_TOKEN_FILE=~/.emoplay-token (or Emoplay.token_file) and run this scene.

onready var _indicator = $Indicator
onready var _emotion = $Emotion
onready var _status = $Status


func _ready():
	Emoplay.connect("connected", self, "_on_connected")
	Emoplay.connect("disconnected", self, "_on_disconnected")
	Emoplay.connect("pairing_refused", self, "_on_refused")
	Emoplay.connect("emotion_changed", self, "_on_emotion_changed")
	Emoplay.connect("valence_arousal", self, "_on_valence_arousal")
	Emoplay.connect("camera_state_changed", self, "_on_camera_state_changed")
	_status.text = "connecting to " + Emoplay.url


func _process(_delta):
	if _indicator.visible:
		Emoplay.indicator_drawn()


func _on_connected(welcome):
	_status.text = "paired; camera " + welcome["camera_state"]
	_on_camera_state_changed(welcome["camera_state"], "")


func _on_disconnected(code, reason):
	_status.text = "disconnected (%d %s); retrying" % [code, reason]


func _on_refused(reason):
	_status.text = "pairing refused: " + reason


func _on_emotion_changed(track_id, emotion, confidence):
	_emotion.text = "face %d: %s (%d %%)" % [track_id, emotion, int(confidence * 100)]


func _on_valence_arousal(_track_id, valence, _arousal):
	_emotion.modulate = Color(1.0 - max(valence, 0.0), 1.0 + min(valence, 0.0) * 0.5 + 0.5 * max(valence, 0.0), 1.0)


func _on_camera_state_changed(state, _reason):
	_indicator.text = "CAMERA " + state.to_upper()
	_indicator.modulate = Color(0.92, 0.12, 0.16) if state == "capturing" else Color(0.6, 0.6, 0.6)
