extends Node
## emoplay bridge client for Godot 4 (WebSocketPeer, polled in _process). Not run in an engine: see
## ../../README.md. Protocol: docs/bridge/PROTOCOL.md.
##
## Configure before or after the autoload starts (or with the environment variables in brackets):
##   Emoplay.url = "ws://127.0.0.1:8765/ws"      [EMOPLAY_URL]
##   Emoplay.token_file = "/path/to/token"       [EMOPLAY_TOKEN_FILE] read at each attempt
##   Emoplay.token = "..."                       [EMOPLAY_TOKEN] instead of a file
## Call Emoplay.indicator_drawn() each frame your camera indicator is visible: with a camera source,
## capture pauses when no client has shown the indicator for a second.
##
## To start the bundled server with the game instead (the emoplay-serve executable), call
##   Emoplay.start_server("/path/to/emoplay-serve", ["--source", "camera", "--yes"])
## or set server_path [EMOPLAY_SERVER] and server_args [EMOPLAY_SERVER_ARGS, split on spaces]
## before the autoload starts. It runs on a free port with a token file in user://, and stops by
## itself when the game ends, however it ends (--parent-pid). Pass --yes only after the player
## consented to the camera.

signal connected(welcome: Dictionary)  ## paired; welcome holds the current state
signal disconnected(code: int, reason: String)  ## closed (a retry follows unless refused)
signal pairing_refused(reason: String)  ## wrong token: no retry until connect_to_bridge()
signal reconnecting(delay_s: float)  ## the next attempt is in delay_s seconds (back-off)
signal emotion_changed(track_id: int, emotion: String, confidence: float)
signal valence_arousal(track_id: int, valence: float, arousal: float)  ## approximate
signal face_found(track_id: int, is_primary: bool)
signal face_lost(track_id: int)
signal primary_face_changed(track_id: int)  ## -1: no primary face
signal camera_state_changed(state: String, reason: String)
signal probabilities(track_id: int, values: Dictionary)  ## only with probabilities_hz > 0
signal message_received(message: Dictionary)  ## every message, also types this script does not know

const CLOSE_UNAUTHORIZED := 4001
const CLOSE_ABNORMAL := 1006
const FIRST_RETRY_S := 0.25
const MAX_RETRY_S := 8.0
const INDICATOR_EVERY_S := 0.25

var url := "ws://127.0.0.1:8765/ws"
var token := ""
var token_file := ""
var client_name := "godot4"
var probabilities_hz := 0.0
var auto_connect := true
var server_path := ""
var server_args: PackedStringArray = []
var server_pid := -1  ## the server start_server() started; -1: none

var _socket: WebSocketPeer = null
var _was_open := false
var _paired := false
var _retry_in := -1.0  # seconds until the next attempt; < 0: none scheduled
var _backoff := FIRST_RETRY_S
var _indicator_due := false
var _since_indicator := 0.0
var _stopped := false  # disconnect_from_bridge() was called (in a handler: no retry after it)


func _ready() -> void:
	url = _env_or("EMOPLAY_URL", url)
	token = _env_or("EMOPLAY_TOKEN", token)
	token_file = _env_or("EMOPLAY_TOKEN_FILE", token_file)
	server_path = _env_or("EMOPLAY_SERVER", server_path)
	if OS.get_environment("EMOPLAY_SERVER_ARGS") != "":
		server_args = OS.get_environment("EMOPLAY_SERVER_ARGS").split(" ", false)
	if server_path != "":
		start_server(server_path, server_args)
	elif auto_connect:
		connect_to_bridge()


func _process(delta: float) -> void:
	if _retry_in >= 0.0:
		_retry_in -= delta
		if _retry_in < 0.0:
			_open()
	if _socket != null:
		_poll_socket()
	_since_indicator += delta
	if _paired and _indicator_due and _since_indicator >= INDICATOR_EVERY_S:
		send_message({"type": "indicator"})
		_since_indicator = 0.0
		_indicator_due = false


## Connect now, and keep reconnecting with back-off until paired or refused.
func connect_to_bridge() -> void:
	_backoff = FIRST_RETRY_S
	_open()


func disconnect_from_bridge() -> void:
	_stopped = true
	_retry_in = -1.0
	if _socket != null:
		_socket.close(1000, "bye")
	_socket = null
	_paired = false


func is_paired() -> bool:
	return _paired


## Call each frame your camera indicator is visible.
func indicator_drawn() -> void:
	_indicator_due = true


## Send a client message, e.g. {"type": "pause"}; false if not paired.
func send_message(message: Dictionary) -> bool:
	if not _paired:
		return false
	return _socket.send_text(JSON.stringify(message)) == OK


## Seconds until the next connection attempt (< 0: none scheduled).
func retry_delay() -> float:
	return _retry_in


## Start `path ARGS --port P --token-file user://emoplay-token --parent-pid THIS_GAME` and connect.
## Returns the server's process id, or -1 (no free port, or the program could not be started).
func start_server(path: String, args: PackedStringArray = []) -> int:
	var port := _free_port()
	if port < 0:
		return -1
	var secret_file := ProjectSettings.globalize_path("user://emoplay-token")
	var full_args := args.duplicate()
	full_args.append_array(
		["--port", str(port), "--token-file", secret_file, "--parent-pid", str(OS.get_process_id())]
	)
	server_pid = OS.create_process(path, full_args)
	if server_pid <= 0:
		server_pid = -1
		return -1
	url = "ws://127.0.0.1:%d/ws" % port
	token = ""
	token_file = secret_file
	connect_to_bridge()  # the back-off waits for the server to be up
	return server_pid


## Kill the server start_server() started (when the game ends, the server stops by itself).
func stop_server() -> void:
	disconnect_from_bridge()
	if server_pid > 0:
		OS.kill(server_pid)
	server_pid = -1


func _free_port() -> int:
	var probe := TCPServer.new()
	if probe.listen(0, "127.0.0.1") != OK:
		return -1
	var port := probe.get_local_port()
	probe.stop()
	return port


func _open() -> void:
	_stopped = false
	_retry_in = -1.0
	_paired = false
	_was_open = false
	_socket = WebSocketPeer.new()
	if _socket.connect_to_url(url) != OK:
		_socket = null
		_schedule_retry()


func _poll_socket() -> void:
	var socket := _socket
	socket.poll()
	var state := socket.get_ready_state()
	if state == WebSocketPeer.STATE_OPEN:
		if not _was_open:
			_was_open = true
			_send_hello()
		# A handler may call disconnect_from_bridge(): stop reading this socket then.
		while _socket == socket and socket.get_available_packet_count() > 0:
			var parsed = JSON.parse_string(socket.get_packet().get_string_from_utf8())
			if parsed is Dictionary:
				_dispatch(parsed)
	elif state == WebSocketPeer.STATE_CLOSED and _socket == socket:
		var code := socket.get_close_code()  # -1: closed without a close frame
		_ended(code if code > 0 else CLOSE_ABNORMAL, socket.get_close_reason())


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
			_indicator_due = false  # asked for before this connection: the indicator may be gone
			connected.emit(m)
		"EmotionChanged":
			var track := int(m["track_id"])
			emotion_changed.emit(track, m["current"], float(m["confidence"]))
			valence_arousal.emit(track, float(m.get("valence", 0.0)), float(m.get("arousal", 0.0)))
		"FaceFound":
			face_found.emit(int(m["track_id"]), bool(m.get("is_primary", false)))
		"FaceLost":
			face_lost.emit(int(m["track_id"]))
		"PrimaryFaceChanged":
			var current = m.get("current")
			primary_face_changed.emit(-1 if current == null else int(current))
		"CameraStateChanged":
			camera_state_changed.emit(m["current"], m.get("reason", ""))
		"probabilities":
			probabilities.emit(int(m["track_id"]), m["probabilities"])
	message_received.emit(m)


func _ended(code: int, reason: String) -> void:
	var was_paired := _paired
	_socket = null
	_paired = false
	if was_paired or code != CLOSE_ABNORMAL:
		disconnected.emit(code, reason)
		if _stopped or _socket != null:
			return  # the handler disconnected for good, or connected again itself
	if code == CLOSE_UNAUTHORIZED:
		pairing_refused.emit(reason)
		return
	_schedule_retry()


func _schedule_retry() -> void:
	_retry_in = _backoff
	_backoff = minf(_backoff * 2.0, MAX_RETRY_S)
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
