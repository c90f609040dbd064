// roadlog driver's station. No framework, no network beyond this daemon: the page
// listens to /api/ws for status and posts start, stop and mark to /api/*.
'use strict';

const $ = (s) => document.querySelector(s);
const PRESS_GUARD_MS = 1200;   // a second press this soon after one is ignored (debounce)
const CONFIRM_ARM_MS = 400;    // the confirm button takes no press this soon after it appears
const LOST_AFTER_MS = 3000;    // no status this long: say the connection is lost

let status = null;
let busy = false;
let lastPress = 0;
let lastMessage = 0;
let confirmShownAt = 0;
const cams = new Map(); // index -> {fig, canvas, img, version, loading}

function connect() {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(proto + '//' + location.host + '/api/ws');
  ws.onmessage = (e) => {
    lastMessage = Date.now();
    status = JSON.parse(e.data);
    render(status);
  };
  ws.onclose = () => setTimeout(connect, 1000);
}

setInterval(() => {
  if (lastMessage && Date.now() - lastMessage > LOST_AFTER_MS) {
    const s = $('#state');
    s.textContent = 'NO CONNECTION';
    s.className = 'pill lost';
    $('#startstop').disabled = true;
  }
}, 1000);

async function post(path, body) {
  const r = await fetch(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  let j = {};
  try { j = await r.json(); } catch (_) { /* empty body */ }
  if (!r.ok) throw new Error(j.error || (r.status + ' ' + r.statusText));
  return j;
}

// guard lets one press through and ignores presses for PRESS_GUARD_MS after it.
function guard() {
  const now = Date.now();
  if (busy || now - lastPress < PRESS_GUARD_MS) return false;
  lastPress = now;
  return true;
}

function toast(text, error) {
  const t = $('#toast');
  t.textContent = text;
  t.className = error ? 'error' : '';
}

$('#startstop').addEventListener('click', async () => {
  if (!status || !guard()) return;
  if (status.state === 'recording') {
    openConfirm();
    return;
  }
  if (status.state !== 'idle') return;
  busy = true;
  $('#startstop').disabled = true;
  try {
    const j = await post('/api/start', { input: 'web' });
    toast('Recording ' + j.drive);
  } catch (e) {
    toast('Could not start: ' + e.message, true);
  } finally {
    busy = false;
  }
});

function openConfirm() {
  confirmShownAt = Date.now();
  $('#confirm').hidden = false;
}

function closeConfirm() {
  $('#confirm').hidden = true;
}

$('#confirm-cancel').addEventListener('click', closeConfirm);
$('#confirm-stop').addEventListener('click', async () => {
  if (Date.now() - confirmShownAt < CONFIRM_ARM_MS || busy) return;
  busy = true;
  closeConfirm();
  $('#startstop').disabled = true;
  try {
    const j = await post('/api/stop', { input: 'web' });
    toast('Stopped: ' + j.drive + ' (' + j.segments + ' segments, ' + mb(j.bytes) + ')');
  } catch (e) {
    toast('Could not stop: ' + e.message, true);
  } finally {
    busy = false;
    lastPress = Date.now();
  }
});

let markButtons = '';
function renderMarks(st) {
  const key = st.categories.join(',');
  if (key !== markButtons) {
    markButtons = key;
    const box = $('#marks');
    box.textContent = '';
    for (const c of st.categories) {
      const b = document.createElement('button');
      b.className = 'mark';
      b.dataset.category = c;
      b.textContent = c.replace(/_/g, ' ').toUpperCase();
      b.addEventListener('click', () => mark(c));
      box.appendChild(b);
    }
  }
  // marking needs a drive, except in ring capture, where a mark keeps a window
  const can = st.state === 'recording' || st.mode === 'ring';
  for (const b of document.querySelectorAll('.mark')) b.disabled = !can;
}

async function mark(category) {
  if (!guard()) return;
  busy = true;
  const note = $('#note').value.trim();
  try {
    await post('/api/mark', { category, note, input: 'web' });
    toast('Marked: ' + category.replace(/_/g, ' ') + ' at ' + new Date().toLocaleTimeString());
    $('#note').value = '';
  } catch (e) {
    toast('Could not mark: ' + e.message, true);
  } finally {
    busy = false;
  }
}

function hms(s) {
  s = Math.max(0, Math.floor(s));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), x = s % 60;
  return [h, m, x].map((v) => String(v).padStart(2, '0')).join(':');
}

function human(s) {
  if (s < 90) return Math.round(s) + ' s';
  if (s < 3600) return Math.round(s / 60) + ' min';
  const h = Math.floor(s / 3600);
  return h + ' h ' + Math.round((s - h * 3600) / 60) + ' min';
}

function mb(b) {
  if (b >= 1e9) return (b / 1e9).toFixed(1) + ' GB';
  return (b / 1e6).toFixed(1) + ' MB';
}

function text(el, s) {
  if (el.textContent !== s) el.textContent = s;
}

function render(st) {
  const pill = $('#state');
  let label = st.state.toUpperCase();
  let cls = st.state;
  if (st.mode === 'ring' && st.state === 'idle') { label = 'ARMED (RING)'; cls = 'armed'; }
  if (st.mode === 'ring' && st.state === 'recording') label = 'KEEPING WINDOW';
  text(pill, label);
  pill.className = 'pill ' + cls;

  const btn = $('#startstop');
  const rec = st.state === 'recording';
  text(btn, rec ? 'STOP RECORDING' : 'START RECORDING');
  btn.className = rec ? 'stop' : 'start';
  btn.disabled = busy || st.state === 'stopping';
  if (!rec) closeConfirm();

  if (st.drive) {
    text($('#elapsed'), hms(st.drive.elapsed_s));
    text($('#drive-id'), st.drive.id + ' · segment ' + st.drive.segment + ' · ' + mb(st.drive.bytes));
  } else {
    text($('#elapsed'), '--:--:--');
    text($('#drive-id'), st.last ? 'last drive ' + st.last.id : 'no drive');
  }

  const d = st.disk;
  let disk = d.error ? 'Disk: unreadable' : 'Disk: ' + mb(d.free_bytes) + ' free';
  if (d.left_s >= 0) disk += ' · about ' + human(d.left_s) + (rec ? '' : ' at the last rate');
  text($('#disk'), disk);

  const warn = $('#warnings');
  const wkey = JSON.stringify(st.warnings);
  if (warn.dataset.key !== wkey) {
    warn.dataset.key = wkey;
    warn.textContent = '';
    for (const w of st.warnings) {
      const div = document.createElement('div');
      div.className = 'warning ' + w.level;
      div.textContent = (w.level === 'error' ? '⚠ ' : '') + w.text;
      warn.appendChild(div);
    }
  }

  renderMarks(st);
  renderSensors(st);
  renderGNSS(st);
  renderMode(st);
  renderCameras(st);
  renderEvents(st);
}

function renderSensors(st) {
  const body = $('#sensors tbody');
  const rows = st.sensors.map((s) => {
    // a clock's offset is only readable when its device counts from the same epoch;
    // otherwise the bound on its error says how good it is
    let sync = '—';
    if (s.sync_state) {
      const off = s.sync_offset_ms || 0, unc = s.sync_uncertainty_ms || 0;
      sync = s.sync_state.replace(/_/g, ' ') + (Math.abs(off) < 1000 ? ' ' + off.toFixed(2) + ' ms' : ' ±' + unc.toFixed(2) + ' ms');
    }
    const age = s.age_s < 1 ? 'now' : human(s.age_s) + ' ago';
    return { bad: !s.ok, cells: [s.label, s.rate.toFixed(s.rate < 10 ? 1 : 0), age, String(s.drops), sync] };
  });
  while (body.rows.length > rows.length) body.deleteRow(-1);
  rows.forEach((r, i) => {
    let tr = body.rows[i];
    if (!tr) {
      tr = body.insertRow();
      for (let k = 0; k < 5; k++) tr.insertCell().className = k === 1 || k === 3 ? 'num' : '';
      tr.cells[0].className = 'ok';
    }
    tr.className = r.bad ? 'bad' : '';
    r.cells.forEach((c, k) => text(tr.cells[k], c));
  });
}

function renderGNSS(st) {
  const g = st.gnss;
  const el = $('#gnss');
  if (!g) { text(el, 'GNSS: no receiver data'); return; }
  const html = g.has_fix
    ? '<b>GNSS ' + esc(g.receiver) + ':</b> ' + esc(g.quality.replace(/_/g, ' ')) + ' fix, ' + g.sats + ' satellites, HDOP ' +
      (g.hdop || 0).toFixed(1) + '<br>' + g.lat.toFixed(6) + ', ' + g.lon.toFixed(6) + ' · ' + Math.round(g.speed_kmh) + ' km/h'
    : '<b>GNSS ' + esc(g.receiver) + ':</b> <span class="nofix">NO FIX</span> (' + g.sats + ' satellites)';
  if (el.dataset.html !== html) { el.dataset.html = html; el.innerHTML = html; }
}

function renderMode(st) {
  const el = $('#modeinfo');
  const m = st.mode_info;
  if (!m) { el.hidden = true; return; }
  el.hidden = false;
  let s = '<b>Ring capture:</b> keeps ' + m.pre_s + ' s before and ' + m.post_s + ' s after each mark, FCW, AEB or cut-in.<br>' +
    'Buffered ' + m.buffered_s.toFixed(1) + ' s (' + mb(m.buffered_bytes) + ') · ' + m.windows_kept + ' windows kept';
  if (m.window_open) s += '<br>Keeping a window (' + esc(m.trigger) + ')';
  if (el.dataset.html !== s) { el.dataset.html = s; el.innerHTML = s; }
}

function esc(s) {
  return String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]));
}

function renderCameras(st) {
  const box = $('#cameras');
  for (const c of st.cameras) {
    let v = cams.get(c.index);
    if (!v) {
      const fig = document.createElement('figure');
      const canvas = document.createElement('canvas');
      canvas.width = 480; canvas.height = 270;
      const cap = document.createElement('figcaption');
      fig.append(canvas, cap);
      box.appendChild(fig);
      v = { fig, canvas, cap, img: null, version: 0, loading: false, cam: c };
      cams.set(c.index, v);
    }
    v.cam = c;
    let cap = 'Camera ' + c.index + (c.name && c.name !== 'cam' + c.index ? ' · ' + c.name : '');
    if (c.objects.length) cap += ' · ' + c.objects.length + (c.objects.length === 1 ? ' detection' : ' detections');
    if (!c.thumb && c.codec && c.codec !== 'mjpeg') cap += ' · no preview for ' + c.codec;
    text(v.cap, cap);
    if (c.thumb && c.thumb !== v.version && !v.loading) {
      v.loading = true;
      const img = new Image();
      const want = c.thumb;
      img.onload = () => { v.img = img; v.version = want; v.loading = false; draw(v); };
      img.onerror = () => { v.loading = false; };
      img.src = '/api/thumb/' + c.index + '?v=' + want;
    } else {
      draw(v);
    }
  }
}

function draw(v) {
  const c = v.cam, ctx = v.canvas.getContext('2d');
  const W = v.canvas.width, H = v.canvas.height;
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, W, H);
  if (v.img) ctx.drawImage(v.img, 0, 0, W, H);
  const fw = c.width || (v.img && v.img.naturalWidth) || W;
  const fh = c.height || (v.img && v.img.naturalHeight) || H;
  const sx = W / fw, sy = H / fh;
  const boxes = (list, colour, dashed) => {
    ctx.lineWidth = 3;
    ctx.setLineDash(dashed ? [8, 5] : []);
    ctx.font = 'bold 15px sans-serif';
    for (const b of list) {
      const col = b.cut_in ? '#ff00ff' : colour;
      ctx.strokeStyle = col;
      ctx.strokeRect(b.x1 * sx, b.y1 * sy, (b.x2 - b.x1) * sx, (b.y2 - b.y1) * sy);
      let t = b.label || '';
      if (b.distance) t += ' ' + Math.round(b.distance) + ' m';
      if (b.ttc && b.ttc < 10) t += ' TTC ' + b.ttc.toFixed(1) + ' s';
      if (t) {
        const w = ctx.measureText(t).width + 6;
        ctx.fillStyle = col;
        ctx.fillRect(b.x1 * sx, Math.max(0, b.y1 * sy - 18), w, 18);
        ctx.fillStyle = '#000';
        ctx.fillText(t, b.x1 * sx + 3, Math.max(14, b.y1 * sy - 4));
      }
    }
  };
  if (c.truth) boxes(c.truth, '#00e5ff', true);
  boxes(c.objects, '#39ff14', false);
  if (!v.img) {
    ctx.fillStyle = '#fff';
    ctx.font = 'bold 20px sans-serif';
    ctx.fillText('no picture yet', 20, 40);
  }
}

function renderEvents(st) {
  const ol = $('#events');
  const key = st.events.length ? st.events[st.events.length - 1].t + ':' + st.events.length : '';
  if (ol.dataset.key === key) return;
  ol.dataset.key = key;
  ol.textContent = '';
  for (const e of st.events.slice().reverse()) {
    const li = document.createElement('li');
    li.className = e.severity;
    const t = new Date(e.t / 1e6).toLocaleTimeString();
    let s = t + ' ' + e.kind.replace(/_/g, ' ');
    if (e.category) s += ' (' + e.category.replace(/_/g, ' ') + ')';
    if (e.message) s += ': ' + e.message;
    if (e.input) s += ' [' + e.input + ']';
    li.textContent = s;
    ol.appendChild(li);
  }
}

connect();
