/**
 * The viewer page served at `/view`: live video over WebRTC (`POST /api/webrtc/offer`), the stream's
 * statistics (browser and daemon side) and the settings the signed-in user may change, kept live with
 * the daemon's event feed. Plain HTML and script, no framework, no external resources.
 */
export const VIEWER_PAGE = /* html */ `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>camd viewer</title>
<style>
  :root { color-scheme: light dark; font: 14px/1.4 system-ui, sans-serif; }
  body { margin: 0; display: grid; grid-template-columns: minmax(0, 1fr) 22rem; gap: 1rem; padding: 1rem; }
  header { grid-column: 1 / -1; display: flex; gap: .75rem; align-items: center; }
  h1 { font-size: 1.1rem; margin: 0 1rem 0 0; }
  video { width: 100%; background: #000; aspect-ratio: 16 / 9; }
  section { border: 1px solid #8884; border-radius: 6px; padding: .5rem .75rem; margin-bottom: 1rem; }
  h2 { font-size: .95rem; margin: .25rem 0 .5rem; }
  table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
  td { padding: 2px 4px; vertical-align: top; } td:first-child { color: #888; white-space: nowrap; }
  input, select, button { font: inherit; }
  input[type=text], input[type=number] { width: 9rem; }
  .err { color: #d33; } .ok { color: #2a2; }
  @media (max-width: 800px) { body { grid-template-columns: 1fr; } }
</style>
</head>
<body>
<header>
  <h1>camd</h1>
  <label>Stream <select id="stream"></select></label>
  <button id="play">Play</button>
  <button id="stop" disabled>Stop</button>
  <span id="status">idle</span>
  <span id="codec" title="the codec this browser plays"></span>
</header>
<main><video id="video" autoplay muted playsinline></video></main>
<aside>
  <section><h2>Statistics</h2><table id="stats"></table></section>
  <section><h2>Settings</h2><table id="settings"></table><div id="settingsMsg"></div></section>
</aside>
<script>
'use strict';
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const state = { pc: null, session: null, keys: [], stream: null, streams: [], frames: [] };
window.camd = state;

async function api(path, opts = {}) {
  const res = await fetch(path, opts);
  const body = res.status === 204 ? null : await res.json().catch(() => null);
  if (!res.ok) throw new Error((body && body.message) || res.status + ' ' + res.statusText);
  return body;
}
function setStatus(text, cls) { $('status').textContent = text; $('status').className = cls || ''; }

/** State keys of a stream: the primary uses plain names, others are prefixed with the stream name. */
function streamKey(key) {
  const primary = state.streams[0] && state.streams[0].name;
  return state.stream === primary ? key : state.stream + '.' + key;
}

async function play() {
  state.wanted = true;
  stop();
  setStatus('connecting…');
  const started = performance.now();
  const ice = await api('/api/state/webrtcIceServers').then((r) => r.value).catch(() => []);
  const pc = new RTCPeerConnection({ iceServers: ice });
  state.pc = pc;
  state.startedAt = started;
  pc.addTransceiver('video', { direction: 'recvonly' });
  pc.ontrack = (event) => { $('video').srcObject = event.streams[0]; };
  pc.onconnectionstatechange = () => {
    setStatus(pc.connectionState, pc.connectionState === 'connected' ? 'ok' : pc.connectionState === 'failed' ? 'err' : '');
    // The daemon closes a peer whose stream changed to a codec or profile it did not negotiate: offer again.
    if (state.pc === pc && (pc.connectionState === 'failed' || pc.connectionState === 'closed')) replay('the connection ended');
  };
  // The documented browser client code (README, WebRTC), as written:
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  const response = await fetch('/api/webrtc/offer?stream=' + encodeURIComponent(state.stream), { method: 'POST', body: JSON.stringify(offer) });
  if (!response.ok) {
    const err = await response.json().catch(() => ({}));
    setStatus(err.message || 'offer refused (' + response.status + ')', 'err');
    pc.close();
    state.pc = null;
    return;
  }
  state.session = response.headers.get('Location');
  const answer = await response.json();
  await pc.setRemoteDescription(answer);
  $('codec').textContent = codecOf(answer.sdp);
  $('play').disabled = true;
  $('stop').disabled = false;
}

/**
 * Offers again (once things settle) while the user wants to watch: after the stream's codec or
 * profile changed, or the daemon ended the peer. A refusal (the browser cannot take the new codec)
 * stays on the page as the status, and the next change tries again.
 */
function replay(why) {
  if (!state.wanted) return;
  clearTimeout(state.replayTimer);
  setStatus(why + '; negotiating again…');
  state.replayTimer = setTimeout(() => play().catch((e) => setStatus(e.message, 'err')), 1500);
}

/** The codec the answer names for the video (the only format it keeps), as people name it. */
function codecOf(sdp) {
  const m = /^m=video \\d+ \\S+ (\\d+)/m.exec(sdp);
  if (!m) return '';
  const name = ((new RegExp('^a=rtpmap:' + m[1] + ' ([^/]+)/', 'm').exec(sdp) || [])[1] || '?').toUpperCase();
  const label = { H264: 'H.264', H265: 'H.265' }[name] || name;
  // Not the stream's own codec: the daemon encodes the pictures once more for browsers without it.
  return name === 'H264' || name === 'H265' ? label : label + ' (extra encoding for this browser)';
}

function stop() {
  if (state.session) fetch(state.session, { method: 'DELETE' }).catch(() => {});
  if (state.pc) state.pc.close();
  state.pc = null;
  state.session = null;
  $('video').srcObject = null;
  $('codec').textContent = '';
  $('play').disabled = false;
  $('stop').disabled = true;
  setStatus('idle');
}

function row(table, label, value) {
  const tr = table.insertRow();
  tr.insertCell().textContent = label;
  const td = tr.insertCell();
  if (value instanceof Node) td.append(value); else td.textContent = value;
  return td;
}

async function refreshStats() {
  const table = $('stats');
  const rows = [];
  if (state.pc) {
    const report = await state.pc.getStats();
    report.forEach((s) => {
      if (s.type !== 'inbound-rtp' || s.kind !== 'video') return;
      const prev = state.lastInbound;
      const fps = prev ? ((s.framesDecoded - prev.framesDecoded) * 1000) / (s.timestamp - prev.timestamp) : 0;
      state.lastInbound = s;
      rows.push(['resolution', (s.frameWidth || '?') + 'x' + (s.frameHeight || '?')]);
      rows.push(['decoded fps', fps.toFixed(1)]);
      rows.push(['frames decoded', s.framesDecoded]);
      rows.push(['packets lost', s.packetsLost]);
      rows.push(['jitter buffer', s.jitterBufferEmittedCount ? ((s.jitterBufferDelay / s.jitterBufferEmittedCount) * 1000).toFixed(0) + ' ms' : '–']);
      rows.push(['received', (s.bytesReceived / 1e6).toFixed(1) + ' MB']);
    });
  }
  try {
    const stats = await api('/api/stats');
    const st = stats[state.stream] || (stats.streams && stats.streams[state.stream]);
    if (st) {
      for (const k of ['fps', 'currentBitrate', 'clientCount', 'droppedFrames', 'uptime']) if (st[k] !== undefined) rows.push(['daemon ' + k, typeof st[k] === 'number' ? Math.round(st[k] * 10) / 10 : String(st[k])]);
      if (st.webrtc) rows.push(['webrtc viewers', st.webrtc.viewers]);
    }
  } catch (e) { rows.push(['daemon', e.message]); }
  table.replaceChildren();
  for (const [k, v] of rows) row(table, k, String(v));
}

/** The settings a viewer page offers (when the plugins that own them are loaded and the user may read them). */
const SETTINGS = ['streamResolution', 'streamFramerate', 'streamBitrate', 'videoEncoder', 'encoderProfile', 'encoderPreset', 'streamLatencyMode', 'timestampEnabled', 'timestampFormat', 'timestampPosition', 'timestampSize', 'timecodeEnabled', 'pipEnabled', 'pipLayout', 'abrEnabled', 'webrtcEnabled'];
const PER_STREAM = new Set(['streamResolution', 'streamFramerate', 'streamBitrate', 'videoEncoder', 'encoderProfile', 'encoderPreset']);

/** An input for a value: checkbox, number, a choice for "one of a|b|c", JSON for objects, else text. */
function inputFor(entry) {
  const value = entry.value;
  let input;
  const choice = /^one of (.+)$/.exec(entry.type || '');
  if (typeof value === 'boolean') { input = document.createElement('input'); input.type = 'checkbox'; }
  else if (choice) { input = document.createElement('select'); for (const c of choice[1].split('|')) input.add(new Option(c, c)); }
  else { input = document.createElement('input'); input.type = typeof value === 'number' ? 'number' : 'text'; }
  if (typeof value === 'object' && value !== null) input.dataset.json = '1';
  setInput(input, value);
  return input;
}

function setInput(input, value) {
  if (input.type === 'checkbox') input.checked = value;
  else input.value = input.dataset.json ? JSON.stringify(value) : value;
}

function readInput(input) {
  if (input.type === 'checkbox') return input.checked;
  if (input.type === 'number') return Number(input.value);
  if (input.dataset.json) return JSON.parse(input.value);
  return input.value;
}

function renderSettings() {
  const table = $('settings');
  table.replaceChildren();
  const byKey = new Map(state.keys.map((k) => [k.key, k]));
  for (const name of SETTINGS) {
    const entry = byKey.get(PER_STREAM.has(name) ? streamKey(name) : name);
    if (!entry) continue;
    let input;
    if (!entry.writable) input = document.createTextNode(JSON.stringify(entry.value));
    else {
      input = inputFor(entry);
      input.dataset.key = entry.key;
      input.title = entry.description || '';
      input.addEventListener('change', () => save(entry, input));
    }
    row(table, entry.key, input);
  }
}

async function save(entry, input) {
  try {
    const value = readInput(input);
    await api('/api/state/' + encodeURIComponent(entry.key), { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ value }) });
    $('settingsMsg').textContent = entry.key + ' = ' + JSON.stringify(value);
    $('settingsMsg').className = 'ok';
  } catch (e) {
    $('settingsMsg').textContent = entry.key + ': ' + e.message;
    $('settingsMsg').className = 'err';
  }
}

function showValue(key, value) {
  const entry = state.keys.find((k) => k.key === key);
  if (entry) entry.value = value;
  const input = document.querySelector('[data-key="' + CSS.escape(key) + '"]');
  if (input && document.activeElement !== input) setInput(input, value);
}

function watchSettings() {
  const events = new EventSource('/api/events');
  // The feed starts with a snapshot of every readable value (also after a reconnect), then changes.
  events.addEventListener('snapshot', (e) => {
    for (const [key, value] of Object.entries(JSON.parse(e.data))) showValue(key, value);
    state.eventsOpen = true;
  });
  events.addEventListener('state', (e) => {
    const change = JSON.parse(e.data);
    showValue(change.key, change.value);
    if (change.key === streamKey('videoEncoder') || change.key === streamKey('encoderProfile')) replay(change.key + ' is now ' + change.value);
  });
}

async function main() {
  state.streams = (await api('/api/streams')).streams || [];
  for (const s of state.streams) $('stream').add(new Option(s.name + ' (' + s.width + 'x' + s.height + '@' + s.fps + ')', s.name));
  state.stream = params.get('stream') || (state.streams[0] && state.streams[0].name);
  $('stream').value = state.stream;
  $('stream').onchange = () => { state.stream = $('stream').value; renderSettings(); if (state.pc) play(); };
  $('play').onclick = () => play().catch((e) => setStatus(e.message, 'err'));
  $('stop').onclick = () => { state.wanted = false; clearTimeout(state.replayTimer); stop(); };
  state.keys = (await api('/api/state')).keys;
  renderSettings();
  watchSettings();
  setInterval(() => refreshStats().catch(() => {}), 1000);
  if (params.get('autoplay') !== '0') await play().catch((e) => setStatus(e.message, 'err'));
}
window.addEventListener('pagehide', () => { state.wanted = false; clearTimeout(state.replayTimer); stop(); });
main().catch((e) => setStatus(e.message, 'err'));
</script>
</body>
</html>
`;
