extends Node
# emoplay bridge client (Godot 3.2+): connects to `emoplay serve`, pairs with the token, reconnects with
# backoff, and turns the protocol's JSON messages into signals. Protocol: docs/bridge/PROTOCOL.md.
#
# Configure before or after the autoload starts (or with the environment variables in brackets):
#   Emoplay.url = "ws://127.0.0.1:8765/ws"            [EMOPLAY_URL]
#   Emoplay.token_file = "/path/to/token"             [EMOPLAY_TOKEN_FILE] read at each connection attempt
#   Emoplay.token = "..."                             [EMOPLAY_TOKEN] instead of a file
# If your game shows the camera indicator, call Emoplay.indicator_drawn() each frame it is visible: with a
# camera source, capture pauses when no client has shown the indicator for a second.
#
# To start the bundled server with the game instead (the emoplay-serve executable), call
#   Emoplay.start_server("/path/to/emoplay-serve", ["--source", "camera", "--yes"])
# or set Emoplay.server_path [EMOPLAY_SERVER] (and server_args [EMOPLAY_SERVER_ARGS, split on spaces]) before
# the autoload starts. It runs on a free port with a token file in user://, and stops by itself when the game
# ends, however it ends (--parent-pid). Pass --yes only after your game asked the player for camera consent.

signal connected(welcome)                          # paired; welcome holds the current state
signal disconnected(code, reason)                  # the connection closed (a retry follows unless refused)
signal pairing_refused(reason)                     # wrong token: no more retries until connect_to_bridge()
signal reconnecting(delay_s)                       # the next attempt is in delay_s seconds (backoff)
signal emotion_changed(track_id, emotion, confidence)
signal valence_arousal(track_id, valence, arousal) # approximate circumplex coordinates of each change
signal face_found(track_id, is_primary)
signal face_lost(track_id)
signal camera_state_changed(state, reason)
signal probabilities(track_id, values)             # only with probabilities_hz > 0
signal message_received(message)                   # every message, also types this script does not know

const CLOSE_UNAUTHORIZED = 4001
const FIRST_RETRY_S = 0.25
const MAX_RETRY_S = 8.0
const INDICATOR_EVERY_S = 0.25

var url = "ws://127.0.0.1:8765/ws"
var token = ""
var token_file = ""
var client_name = "godot"
var probabilities_hz = 0.0
var auto_connect = true
var server_path = ""
var server_args = []
var server_pid = -1         # the server start_server() started; -1: none

var _client = null
var _paired = false
var _retry_in = -1.0        # seconds until the next attempt; < 0: none scheduled
var _backoff = FIRST_RETRY_S
var _indicator_due = false
var _since_indicator = 0.0
var _close_code = 1006
var _close_reason = ""
var _client_done = false   # the connection ended inside poll(): drop the client after poll() returns


func _ready():
	url = _env_or("EMOPLAY_URL", url)
	token = _env_or("EMOPLAY_TOKEN", token)
	token_file = _env_or("EMOPLAY_TOKEN_FILE", token_file)
	server_path = _env_or("EMOPLAY_SERVER", server_path)
	if OS.get_environment("EMOPLAY_SERVER_ARGS") != "":
		server_args = Array(OS.get_environment("EMOPLAY_SERVER_ARGS").split(" ", false))
	if server_path != "":
		start_server(server_path, server_args)
	elif auto_connect:
		connect_to_bridge()


func start_server(path, args = []):
	# Start `path ARGS --port P --token-file user://emoplay-token --parent-pid THIS_GAME` and connect to it.
	# Returns the server's process id, or -1 (no free port, or the program could not be started).
	var port = _free_port()
	if port < 0:
		return -1
	var secret_file = ProjectSettings.globalize_path("user://emoplay-token")
	var full_args = PoolStringArray(args)
	for arg in ["--port", str(port), "--token-file", secret_file, "--parent-pid", str(OS.get_process_id())]:
		full_args.append(arg)
	server_pid = OS.execute(path, full_args, false)
	if server_pid <= 0:
		server_pid = -1
		return -1
	url = "ws://127.0.0.1:%d/ws" % port
	token = ""
	token_file = secret_file
	connect_to_bridge()  # the back-off waits for the server to be up
	return server_pid


func stop_server():
	# Kill the server start_server() started (when the game itself ends, the server stops by itself).
	disconnect_from_bridge()
	if server_pid > 0:
		OS.kill(server_pid)
	server_pid = -1


func _free_port():
	randomize()
	var probe = TCP_Server.new()
	for _attempt in range(32):
		var port = 49152 + randi() % 16000
		if probe.listen(port, "127.0.0.1") == OK:
			probe.stop()
			return port
	return -1


func connect_to_bridge():
	# Connect now (and keep reconnecting with backoff until paired or refused).
	_backoff = FIRST_RETRY_S
	_open()


func disconnect_from_bridge():
	_retry_in = -1.0
	if _client != null:
		_client.disconnect_from_host(1000, "bye")
	_client = null
	_paired = false


func is_paired():
	return _paired


func indicator_drawn():
	# Call each frame your camera indicator is visible.
	_indicator_due = true


func send_message(message):
	# Send a client message, e.g. {"type": "pause"} or {"type": "resume"}. False if not paired.
	if not _paired:
		return false
	_client.get_peer(1).put_packet(JSON.print(message).to_utf8())
	return true


func _open():
	_retry_in = -1.0
	_paired = false
	_client_done = false
	_close_code = 1006
	_close_reason = ""
	_client = WebSocketClient.new()
	_client.connect("connection_established", self, "_on_open")
	_client.connect("connection_closed", self, "_on_closed")
	_client.connect("connection_error", self, "_on_error")
	_client.connect("server_close_request", self, "_on_close_request")
	_client.connect("data_received", self, "_on_data")
	var err = _client.connect_to_url(url)
	if err != OK:
		_schedule_retry()


func _process(delta):
	if _client != null:
		_client.poll()
		if _client_done:
			_client = null
			_client_done = false
	if _retry_in >= 0.0:
		_retry_in -= delta
		if _retry_in < 0.0:
			_open()
	_since_indicator += delta
	if _paired and _indicator_due and _since_indicator >= INDICATOR_EVERY_S:
		send_message({"type": "indicator"})
		_since_indicator = 0.0
		_indicator_due = false


func _on_open(_protocol):
	var secret = _read_token()
	var peer = _client.get_peer(1)
	peer.set_write_mode(WebSocketPeer.WRITE_MODE_TEXT)
	var hello = {"type": "hello", "token": secret, "client": client_name}
	if probabilities_hz > 0:
		hello["probabilities_hz"] = probabilities_hz
	peer.put_packet(JSON.print(hello).to_utf8())


func _on_data():
	var peer = _client.get_peer(1)
	while peer.get_available_packet_count() > 0:
		var parsed = JSON.parse(peer.get_packet().get_string_from_utf8())
		if parsed.error != OK or typeof(parsed.result) != TYPE_DICTIONARY:
			continue
		_dispatch(parsed.result)


func _dispatch(m):
	var kind = m.get("type", "")
	if kind == "welcome":
		_paired = true
		_backoff = FIRST_RETRY_S
		_indicator_due = false  # asked for before this connection: the indicator may be gone since
		emit_signal("connected", m)
	elif kind == "EmotionChanged":
		emit_signal("emotion_changed", int(m["track_id"]), m["current"], float(m["confidence"]))
		emit_signal("valence_arousal", int(m["track_id"]), float(m.get("valence", 0.0)), float(m.get("arousal", 0.0)))
	elif kind == "FaceFound":
		emit_signal("face_found", int(m["track_id"]), bool(m.get("is_primary", false)))
	elif kind == "FaceLost":
		emit_signal("face_lost", int(m["track_id"]))
	elif kind == "CameraStateChanged":
		emit_signal("camera_state_changed", m["current"], m.get("reason", ""))
	elif kind == "probabilities":
		emit_signal("probabilities", int(m["track_id"]), m["probabilities"])
	emit_signal("message_received", m)


func _on_close_request(code, reason):
	_close_code = code
	_close_reason = reason


func _on_closed(_was_clean):
	_ended()


func _on_error():
	_ended()


func _ended():
	var was_paired = _paired
	_paired = false
	_client_done = true
	if was_paired or _close_code != 1006:
		emit_signal("disconnected", _close_code, _close_reason)
		if _client == null:
			return  # the handler called disconnect_from_bridge(): no retry
	if _close_code == CLOSE_UNAUTHORIZED:
		emit_signal("pairing_refused", _close_reason)
		return
	_schedule_retry()


func _schedule_retry():
	_retry_in = _backoff
	_backoff = min(_backoff * 2.0, MAX_RETRY_S)
	emit_signal("reconnecting", _retry_in)


func retry_delay():
	# Seconds until the next connection attempt (< 0: none scheduled).
	return _retry_in


func _read_token():
	if token != "" or token_file == "":
		return token
	var f = File.new()
	if f.open(token_file, File.READ) != OK:
		return ""
	var text = f.get_as_text().strip_edges()
	f.close()
	return text


func _env_or(name, fallback):
	var value = OS.get_environment(name)
	return value if value != "" else fallback
