extends Node
## emoplay bridge client for Godot 4 (WebSocketPeer). NOT RUN: see ../../README.md. The Godot 3 addon in
## examples/godot is the tested one; this is the same logic on Godot 4's API.
## Protocol: docs/bridge/PROTOCOL.md. Configure url / token_file (or EMOPLAY_URL / EMOPLAY_TOKEN_FILE /
## EMOPLAY_TOKEN) and call indicator_drawn() each frame your camera indicator is visible.

signal connected(welcome: Dictionary)
signal disconnected(code: int, reason: String)
signal reconnecting(delay_s: float)
signal pairing_refused(reason: String)
signal emotion_changed(track_id: int, emotion: String, confidence: float)
signal valence_arousal(track_id: int, valence: float, arousal: float)
signal face_found(track_id: int, is_primary: bool)
signal face_lost(track_id: int)
signal camera_state_changed(state: String, reason: String)
signal probabilities(track_id: int, values: Dictionary)
signal message_received(message: Dictionary)

const CLOSE_UNAUTHORIZED := 4001
const FIRST_RETRY_S := 0.25
const MAX_RETRY_S := 8.0
const INDICATOR_EVERY_S := 0.25

var url := "ws://127.0.0.1:8765/ws"
var token := ""
var token_file := ""
var client_name := "godot4"
var probabilities_hz := 0.0
var auto_connect := true

var _socket: WebSocketPeer = null
var _was_open := false
var _paired := false
var _retry_in := -1.0
var _backoff := FIRST_RETRY_S
var _indicator_due := false
var _since_indicator := 0.0


func _ready() -> void:
	url = _env_or("EMOPLAY_URL", url)
	token = _env_or("EMOPLAY_TOKEN", token)
	token_file = _env_or("EMOPLAY_TOKEN_FILE", token_file)
	if auto_connect:
		connect_to_bridge()


func connect_to_bridge() -> void:
	_backoff = FIRST_RETRY_S
	_open()


func disconnect_from_bridge() -> void:
	_retry_in = -1.0
	if _socket != null:
		_socket.close(1000, "bye")
	_socket = null
	_paired = false


func is_paired() -> bool:
	return _paired


func indicator_drawn() -> void:
	_indicator_due = true


func send_message(message: Dictionary) -> bool:
	if not _paired:
		return false
	return _socket.send_text(JSON.stringify(message)) == OK


func retry_delay() -> float:
	return _retry_in


func _open() -> void:
	_retry_in = -1.0
	_paired = false
	_was_open = false
	_socket = WebSocketPeer.new()
	if _socket.connect_to_url(url) != OK:
		_socket = null
		_schedule_retry()


func _process(delta: float) -> void:
	if _retry_in >= 0.0:
		_retry_in -= delta
		if _retry_in < 0.0:
			_open()
	if _socket != null:
		_socket.poll()
		match _socket.get_ready_state():
			WebSocketPeer.STATE_OPEN:
				if not _was_open:
					_was_open = true
					_send_hello()
				while _socket.get_available_packet_count() > 0:
					var parsed = JSON.parse_string(_socket.get_packet().get_string_from_utf8())
					if parsed is Dictionary:
						_dispatch(parsed)
			WebSocketPeer.STATE_CLOSED:
				_ended(_socket.get_close_code(), _socket.get_close_reason())
	_since_indicator += delta
	if _paired and _indicator_due and _since_indicator >= INDICATOR_EVERY_S:
		send_message({"type": "indicator"})
		_since_indicator = 0.0
		_indicator_due = false


func _send_hello() -> void:
	var hello := {"type": "hello", "token": _read_token(), "client": client_name}
	if probabilities_hz > 0:
		hello["probabilities_hz"] = probabilities_hz
	_socket.send_text(JSON.stringify(hello))


func _dispatch(m: Dictionary) -> void:
	var kind: String = m.get("type", "")
	match kind:
		"welcome":
			_paired = true
			_backoff = FIRST_RETRY_S
			connected.emit(m)
		"EmotionChanged":
			emotion_changed.emit(int(m["track_id"]), m["current"], float(m["confidence"]))
			valence_arousal.emit(int(m["track_id"]), float(m.get("valence", 0.0)), float(m.get("arousal", 0.0)))
		"FaceFound":
			face_found.emit(int(m["track_id"]), bool(m.get("is_primary", false)))
		"FaceLost":
			face_lost.emit(int(m["track_id"]))
		"CameraStateChanged":
			camera_state_changed.emit(m["current"], m.get("reason", ""))
		"probabilities":
			probabilities.emit(int(m["track_id"]), m["probabilities"])
	message_received.emit(m)


func _ended(code: int, reason: String) -> void:
	var was_open := _was_open
	_socket = null
	_paired = false
	if was_open:
		disconnected.emit(code, reason)
	if code == CLOSE_UNAUTHORIZED:
		pairing_refused.emit(reason)
		return
	_schedule_retry()


func _schedule_retry() -> void:
	_retry_in = _backoff
	_backoff = min(_backoff * 2.0, MAX_RETRY_S)
	reconnecting.emit(_retry_in)


func _read_token() -> String:
	if token != "" or token_file == "":
		return token
	var f := FileAccess.open(token_file, FileAccess.READ)
	if f == null:
		return ""
	return f.get_as_text().strip_edges()


func _env_or(name: String, fallback: String) -> String:
	var value := OS.get_environment(name)
	return value if value != "" else fallback
