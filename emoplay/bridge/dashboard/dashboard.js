// emoplay dashboard: one WebSocket to the server that served this page, events only (never an image).
// The token comes from the URL fragment (#token=...), which the browser never sends to any server, and is
// then removed from the address bar and the history entry; it is kept in this tab's sessionStorage (never
// synced, gone with the tab) so that a reload still pairs. Without one, the page asks for it.
"use strict";

const HEARTBEAT_MS = 250;        // indicator heartbeat while this page is visible (the server's timeout is 1 s)
const WINDOW_S = 60;             // timeline span
const MAX_LOG = 200;             // event lines kept
const PALETTE = ["#4f9dff", "#ffb454", "#7bd88f", "#ff7ab2", "#c792ea", "#5ccfe6"];
const AXIS_LEFT = 34, AXIS_BOTTOM = 18;  // timeline: room for the scale's labels

const $ = (id) => document.getElementById(id);
let token = new URLSearchParams(location.hash.slice(1)).get("token") || sessionStorage.getItem("emoplay-token") || "";
if (location.hash) history.replaceState(null, "", location.pathname + location.search);
const faces = new Map();         // track_id -> {card, emotion, confidence, probabilities, primary}
const samples = [];              // {t, track, valence, arousal}
let emotions = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"];
let socket = null;
let cameraState = "off";
let isVideo = false;
let backoffMs = 500;
let eventCount = 0;
let primaryTrack = null;         // the primary face's track id: a card made after the message that named it is outlined

function askForToken(message) {
  sessionStorage.removeItem("emoplay-token");
  setConnection(message, "bad");
  $("token-form").hidden = false;
  $("token-input").focus();
}

$("token-form").addEventListener("submit", (e) => {
  e.preventDefault();
  token = $("token-input").value.trim();
  $("token-input").value = "";
  $("token-form").hidden = true;
  connect();
});

function connect() {
  if (!token) {
    askForToken("no token: paste the one in the token file, or open the link emoplay serve printed");
    setCamera("unknown");
    return;
  }
  sessionStorage.setItem("emoplay-token", token);
  socket = new WebSocket(`ws://${location.host}/ws`);
  socket.onopen = () => socket.send(JSON.stringify(
    {type: "hello", token: token, client: "dashboard", probabilities_hz: 10}));
  socket.onmessage = (e) => onMessage(JSON.parse(e.data));
  socket.onclose = (e) => {
    socket = null;
    setButtons();
    setCamera("unknown");  // this page no longer knows what the camera does: it must not say "off"
    if (e.code === 4001) {
      token = "";
      askForToken("wrong token: paste the one in the token file, or open the link emoplay serve printed");
      return;
    }
    setConnection(`disconnected (${e.code}); retrying in ${(backoffMs / 1000).toFixed(1)} s`, "bad");
    setTimeout(connect, backoffMs);
    backoffMs = Math.min(backoffMs * 2, 8000);
  };
}

function send(message) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
}

function onMessage(m) {
  switch (m.type) {
    case "welcome":
      backoffMs = 500;
      emotions = m.emotions || emotions;
      isVideo = !String(m.source || "").startsWith("camera");
      $("source").textContent = String(m.source || "").split(/[\\/]/).pop();  // a file's name, not its path
      setConnection("connected", "ok");
      for (const id of [...faces.keys()]) removeFace(id);
      primaryTrack = m.primary_track_id ?? null;  // it may have no card yet: found, not yet classified
      for (const f of m.faces) {
        updateFace(f.track_id, {emotion: f.emotion, confidence: f.confidence, primary: f.track_id === primaryTrack});
      }
      setCamera(m.camera_state);
      break;
    case "probabilities":
      updateFace(m.track_id, {probabilities: m.probabilities});
      samples.push({t: performance.now() / 1000, track: m.track_id, valence: m.valence, arousal: m.arousal});
      break;
    case "EmotionChanged":
      updateFace(m.track_id, {emotion: m.current, confidence: m.confidence, probabilities: m.probabilities});
      samples.push({t: performance.now() / 1000, track: m.track_id, valence: m.valence, arousal: m.arousal});
      logEvent(m, `face ${m.track_id}: ${m.previous} → ${m.current} (${m.confidence.toFixed(2)})`);
      break;
    case "FaceFound":
      if (m.is_primary) primaryTrack = m.track_id;
      updateFace(m.track_id, {primary: !!m.is_primary});
      logEvent(m, `face ${m.track_id} found${m.is_primary ? " (primary)" : ""}`);
      break;
    case "FaceLost":
      if (m.track_id === primaryTrack) primaryTrack = null;
      removeFace(m.track_id);
      logEvent(m, `face ${m.track_id} lost`);
      break;
    case "PrimaryFaceChanged":   // the outline follows the primary face
      primaryTrack = m.current ?? null;
      if (faces.has(m.previous)) updateFace(m.previous, {primary: false});
      if (primaryTrack !== null) updateFace(primaryTrack, {primary: true});
      logEvent(m, `primary face: ${m.current === null ? "none" : m.current}`);
      break;
    case "CameraStateChanged":
      setCamera(m.current);
      logEvent(m, `${m.previous} → ${m.current}: ${m.reason}`);
      break;
    case "error":
      setConnection(`error: ${m.message}`, "bad");
      break;
    default:
      if (/^[A-Z]/.test(m.type || "")) {   // an event type this page does not know: show its fields
        const {type, timestamp, ...rest} = m;
        logEvent(m, JSON.stringify(rest));
      }
  }
}

function setConnection(text, kind) {
  const el = $("connection");
  el.textContent = text;
  el.className = `connection ${kind}`;
}

function setCamera(state) {
  cameraState = state;
  const el = $("indicator");
  el.className = `indicator state-${state}`;
  $("indicator-label").textContent = state === "unknown" ? "NOT CONNECTED"
    : `${isVideo ? "VIDEO" : "CAMERA"} ${state.toUpperCase()}`;
  setButtons();
}

function setButtons() {
  const open = socket !== null && socket.readyState === WebSocket.OPEN;
  $("pause").disabled = !open || !["capturing", "starting"].includes(cameraState);
  $("resume").disabled = !open || !["paused", "off"].includes(cameraState);
}

function updateFace(id, change) {
  let face = faces.get(id);
  if (!face) {
    face = {emotion: "unknown", confidence: 0, probabilities: {}, primary: id === primaryTrack, card: makeCard(id)};
    faces.set(id, face);
    const box = $("faces");
    box.querySelector(".empty")?.remove();
    box.appendChild(face.card);
  }
  Object.assign(face, change);
  face.card.classList.toggle("primary", face.primary);
  face.card.querySelector(".emotion").textContent = face.emotion;
  face.card.querySelector(".confidence").textContent = `${Math.round(face.confidence * 100)} %`;
  const top = Object.entries(face.probabilities).sort((a, b) => b[1] - a[1])[0];
  for (const name of emotions) {
    const p = face.probabilities[name] || 0;
    const row = face.card.querySelector(`[data-emotion="${name}"]`);
    row.querySelector(".fill").style.width = `${(p * 100).toFixed(1)}%`;
    row.querySelector(".value").textContent = p.toFixed(2);
    row.classList.toggle("top", !!top && top[0] === name);
  }
}

function makeCard(id) {
  const card = document.createElement("div");
  card.className = "face";
  card.dataset.track = id;
  const title = document.createElement("div");
  title.className = "title";
  const name = document.createElement("span");
  name.textContent = `face ${id}`;
  const emotion = document.createElement("span");
  emotion.className = "emotion";
  const confidence = document.createElement("span");
  confidence.className = "confidence";
  const caption = document.createElement("span");
  caption.className = "caption";
  caption.textContent = "debounced";
  title.append(name, caption, emotion, confidence);
  const latest = document.createElement("div");
  latest.className = "latest";
  latest.textContent = "latest frame";
  card.append(title, latest);
  for (const e of emotions) {
    const row = document.createElement("div");
    row.className = "bar";
    row.dataset.emotion = e;
    const label = document.createElement("span");
    label.textContent = e;
    const track = document.createElement("div");
    track.className = "track";
    const fill = document.createElement("div");
    fill.className = "fill";
    track.appendChild(fill);
    const value = document.createElement("span");
    value.className = "value";
    row.append(label, track, value);
    card.appendChild(row);
  }
  return card;
}

function removeFace(id) {
  const face = faces.get(id);
  if (!face) return;
  face.card.remove();
  faces.delete(id);
  if (faces.size === 0) {
    const p = document.createElement("p");
    p.className = "empty";
    p.textContent = "No face in view.";
    $("faces").appendChild(p);
  }
}

function logEvent(m, text) {
  eventCount += 1;
  document.body.dataset.events = String(eventCount);
  const li = document.createElement("li");
  li.dataset.type = m.type;
  li.textContent = `${Number(m.timestamp || 0).toFixed(2).padStart(7)} s  ${m.type.padEnd(18)} ${text}`;
  const list = $("events");
  list.prepend(li);
  while (list.children.length > MAX_LOG) list.lastChild.remove();
}

function drawTimeline() {
  const canvas = $("timeline");
  const ctx = canvas.getContext("2d");
  const now = performance.now() / 1000;
  while (samples.length && samples[0].t < now - WINDOW_S) samples.shift();
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  // The plot's area, right of the value scale and above the time scale.
  const left = AXIS_LEFT, w = canvas.width - AXIS_LEFT - 6, h = canvas.height - AXIS_BOTTOM;
  const xOf = (ago) => left + w - (ago / WINDOW_S) * w, yOf = (v) => h / 2 - (v * h) / 2.2;
  ctx.strokeStyle = "#333843";
  ctx.fillStyle = "#9aa0ad";
  ctx.lineWidth = 1;
  ctx.font = "11px system-ui, sans-serif";
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  for (let s = 0; s <= WINDOW_S; s += 10) {
    const x = xOf(s);
    ctx.beginPath(); ctx.moveTo(x, 0); ctx.lineTo(x, h); ctx.stroke();
    ctx.fillText(s === 0 ? "now" : `-${s} s`, Math.min(x, left + w - 10), h + 4);
  }
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (const v of [1, 0.5, 0, -0.5, -1]) {
    const y = yOf(v);
    ctx.strokeStyle = v === 0 ? "#4a5060" : "#2a2e37";
    ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(left + w, y); ctx.stroke();
    ctx.fillText(v > 0 ? `+${v}` : String(v), left - 6, y);
  }
  const byTrack = new Map();
  for (const s of samples) {
    if (!byTrack.has(s.track)) byTrack.set(s.track, []);
    byTrack.get(s.track).push(s);
  }
  for (const [track, points] of byTrack) {
    ctx.strokeStyle = PALETTE[track % PALETTE.length];
    ctx.lineWidth = 2;
    for (const [key, dash, alpha] of [["valence", [], 1.0], ["arousal", [6, 4], 0.5]]) {
      ctx.setLineDash(dash);
      ctx.globalAlpha = alpha;
      ctx.beginPath();
      points.forEach((p, i) => {
        const x = xOf(now - p.t), y = yOf(p[key]);
        if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
      });
      ctx.stroke();
    }
    ctx.setLineDash([]);
    ctx.globalAlpha = 1.0;
  }
}

// The camera indicator is this page: while it is visible it tells the server so; hidden or closed, it stops,
// and a camera source pauses within the server's indicator timeout.
setInterval(() => {
  if (document.visibilityState === "visible") send({type: "indicator"});
}, HEARTBEAT_MS);
setInterval(drawTimeline, 250);
$("pause").addEventListener("click", () => send({type: "pause"}));
$("resume").addEventListener("click", () => send({type: "resume"}));
connect();
