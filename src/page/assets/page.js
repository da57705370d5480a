// The trace page: a timeline drawn on a canvas, one row per object, only the rows in view drawn
// at each frame, so that ten thousand objects and a hundred thousand changes stay interactive.
(function () {
  'use strict';

  const $ = (id) => document.getElementById(id);
  const config = JSON.parse($('sk-data').textContent);
  const LIVE = config.mode === 'live';
  const OP_NAMES = { c: 'created', u: 'updated', d: 'deleted' };
  const OP_COLOURS = { c: '#15803d', u: '#1d4ed8', d: '#b91c1c' };
  const POD_COLOURS = ['#7c3aed', '#0891b2', '#ca8a04', '#db2777', '#059669', '#ea580c'];
  const LABEL_W = 260;
  const AXIS_H = 22;
  const ROW_H = 18;
  const GROUP_H = 20;
  const LANE_H = 5;
  const MAX_LANES = 3;
  const POLL_MS = 2000;
  const LIVE_LOOKBACK = 3600;

  const timeline = $('timeline');
  const band = $('band');
  const detail = $('detail');
  const status = $('status');

  const state = {
    rows: [],
    byKey: new Map(),
    layout: [], // entries {y, h, row?, group?}
    rowEntries: [], // indexes into layout of rows, in order
    height: 0,
    start: 0,
    end: 1,
    now: null,
    t0: 0,
    t1: 1,
    scrollY: 0,
    filter: { ns: '', kind: '', name: '', label: '' },
    selRow: -1, // index into rowEntries
    selMark: -1,
    window: null, // [start, end] selected on the band for the export
    following: true,
    bandStats: null,
    versions: null,
    gaps: [], // [kind, from, to]: where the trace missed a kind's changes
  };

  // Page figures for the benchmark and the tests.
  const page = {
    errors: [],
    renderMs: null,
    filterMs: null,
    readyAt: null,
    paintedAt: null,
    visibleKeys: () => state.rowEntries.map((i) => state.layout[i].row.key),
    marks: (key) => {
      const row = state.byKey.get(key);
      return row ? row.ts.map((t, i) => [t, row.ops[i]]) : null;
    },
    markPoint,
    selected: () => selectedMark(),
    view: () => [state.t0, state.t1],
    // Scrolls a row into view, as the keys would.
    reveal: (key) => {
      const rowIndex = state.rowEntries.findIndex((i) => state.layout[i].row.key === key);
      if (rowIndex >= 0) select(rowIndex, -1, false);
      drawNow();
      return rowIndex >= 0;
    },
  };
  window.skPage = page;

  // ---- time ----
  function pad(n) { return String(n).padStart(2, '0'); }
  function fmtTime(ts, withDate) {
    const d = new Date(ts * 1000);
    const time = pad(d.getUTCHours()) + ':' + pad(d.getUTCMinutes()) + ':' + pad(d.getUTCSeconds());
    if (!withDate) return time;
    return d.getUTCFullYear() + '-' + pad(d.getUTCMonth() + 1) + '-' + pad(d.getUTCDate()) + ' ' + time;
  }
  function fmtDuration(secs) {
    if (secs < 60) return secs + ' s';
    if (secs < 3600) return Math.floor(secs / 60) + ' min ' + (secs % 60) + ' s';
    return Math.floor(secs / 3600) + ' h ' + Math.floor((secs % 3600) / 60) + ' min';
  }

  // ---- rows ----
  function rowKey(o) { return o.kind + ' ' + o.namespace + '/' + o.name; }
  function compareRows(a, b) {
    return a.kind < b.kind ? -1 : a.kind > b.kind ? 1
      : a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1
        : a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  }
  function makeRow(o, index) {
    const row = {
      key: rowKey(o),
      kind: o.kind,
      shortKind: o.kind.slice(o.kind.lastIndexOf('.') + 1),
      namespace: o.namespace,
      name: o.name,
      labels: o.labels || {},
      aliveAtStart: !!o.alive_at_start,
      ts: o.marks.map((m) => m[0]),
      ops: o.marks.map((m) => m[1]),
      pods: o.pods,
      lanes: null,
      index,
    };
    packLanes(row);
    return row;
  }
  // Pod bars beneath their owner, in up to MAX_LANES lanes; more overlapping pods share the lane
  // that frees up first.
  function packLanes(row) {
    const ends = [];
    row.lanes = row.pods.map((p) => {
      const start = p[1];
      const end = p[2] == null ? Infinity : p[2];
      let lane = ends.findIndex((e) => e <= start);
      if (lane < 0 && ends.length < MAX_LANES) lane = ends.length;
      if (lane < 0) lane = ends.indexOf(Math.min(...ends));
      ends[lane] = end;
      return lane;
    });
    row.laneCount = ends.length;
  }
  function setRows(objects) {
    state.rows = objects.map((o, i) => makeRow(o, i));
    state.rows.sort(compareRows);
    state.byKey = new Map(state.rows.map((r) => [r.key, r]));
  }

  // ---- filters, in the URL ----
  // The fragment as last read or written: one that differs was changed by a navigation, which
  // the hashchange handler applies, and a pending write must not undo it.
  let knownHash = null;
  function readHash() {
    knownHash = location.hash;
    const p = new URLSearchParams(location.hash.slice(1));
    for (const k of ['ns', 'kind', 'name', 'label']) state.filter[k] = p.get(k) || '';
    const from = parseFloat(p.get('from'));
    const to = parseFloat(p.get('to'));
    return { from: isFinite(from) ? from : null, to: isFinite(to) ? to : null };
  }
  function writeHash() {
    if (location.hash !== knownHash) return;
    const p = new URLSearchParams();
    for (const k of ['ns', 'kind', 'name', 'label']) if (state.filter[k]) p.set(k, state.filter[k]);
    p.set('from', Math.floor(state.t0));
    p.set('to', Math.ceil(state.t1));
    const hash = '#' + p.toString();
    if (hash !== location.hash) history.replaceState(null, '', hash);
    knownHash = location.hash;
  }
  let hashTimer = null;
  function writeHashSoon() {
    clearTimeout(hashTimer);
    hashTimer = setTimeout(writeHash, 250);
  }
  function matches(row) {
    const f = state.filter;
    if (f.ns && !row.namespace.toLowerCase().includes(f.ns.toLowerCase())) return false;
    if (f.kind && !row.kind.toLowerCase().includes(f.kind.toLowerCase())) return false;
    if (f.name && !row.name.toLowerCase().includes(f.name.toLowerCase())) return false;
    if (f.label) {
      const eq = f.label.indexOf('=');
      const key = (eq < 0 ? f.label : f.label.slice(0, eq)).trim();
      if (!(key in row.labels)) return false;
      if (eq >= 0 && row.labels[key] !== f.label.slice(eq + 1).trim()) return false;
    }
    return true;
  }

  // Rows grouped by kind and namespace, each group under a header.
  function layOut() {
    const selected = state.selRow >= 0 ? state.layout[state.rowEntries[state.selRow]].row : null;
    const layout = [];
    const rowEntries = [];
    let y = 0;
    let group = null;
    for (const row of state.rows) {
      if (!matches(row)) continue;
      const g = row.kind + '\u0000' + row.namespace;
      if (g !== group) {
        group = g;
        layout.push({ y, h: GROUP_H, group: row.kind + (row.namespace ? '   namespace ' + row.namespace : '   (cluster-scoped)') });
        y += GROUP_H;
      }
      const h = ROW_H + row.laneCount * LANE_H + (row.laneCount ? 3 : 0);
      rowEntries.push(layout.length);
      layout.push({ y, h, row });
      y += h;
    }
    state.layout = layout;
    state.rowEntries = rowEntries;
    state.height = y;
    state.selRow = selected ? rowEntries.findIndex((i) => layout[i].row === selected) : -1;
    if (state.selRow < 0) state.selMark = -1;
    state.bandStats = null;
    clampScroll();
  }

  // ---- geometry ----
  function plotWidth() { return Math.max(10, timeline.clientWidth - LABEL_W); }
  function xOf(ts) { return LABEL_W + ((ts - state.t0) / (state.t1 - state.t0)) * plotWidth(); }
  function tsOf(x) { return state.t0 + ((x - LABEL_W) / plotWidth()) * (state.t1 - state.t0); }
  function viewHeight() { return timeline.clientHeight - AXIS_H; }
  function clampScroll() {
    state.scrollY = Math.max(0, Math.min(state.scrollY, Math.max(0, state.height - viewHeight())));
  }
  function setView(t0, t1) {
    const minSpan = 5;
    const span = Math.max(minSpan, t1 - t0);
    const slack = Math.max(60, (state.end - state.start) * 0.05);
    t0 = Math.max(state.start - slack, Math.min(t0, state.end + slack - span));
    state.t0 = t0;
    state.t1 = t0 + span;
    state.following = LIVE && state.t1 >= state.end - 1;
    writeHashSoon();
  }
  function zoom(factor, atTs) {
    const at = atTs == null ? (state.t0 + state.t1) / 2 : atTs;
    setView(at - (at - state.t0) * factor, at + (state.t1 - at) * factor);
    draw();
  }
  function pan(fraction) {
    const d = (state.t1 - state.t0) * fraction;
    setView(state.t0 + d, state.t1 + d);
    draw();
  }
  function firstEntryAt(y) {
    let lo = 0;
    let hi = state.layout.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const e = state.layout[mid];
      if (e.y + e.h <= y) lo = mid + 1; else hi = mid;
    }
    return lo;
  }
  function lowerBound(arr, v) {
    let lo = 0;
    let hi = arr.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (arr[mid] < v) lo = mid + 1; else hi = mid;
    }
    return lo;
  }

  // ---- drawing ----
  function sizeCanvas(canvas) {
    const dpr = window.devicePixelRatio || 1;
    const w = Math.round(canvas.clientWidth * dpr);
    const h = Math.round(canvas.clientHeight * dpr);
    if (canvas.width !== w || canvas.height !== h) {
      canvas.width = w;
      canvas.height = h;
    }
    const ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    return ctx;
  }
  function tickStep(span, px) {
    const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800];
    const want = span / Math.max(1, px / 110);
    return steps.find((s) => s >= want) || steps[steps.length - 1];
  }
  function drawAxis(ctx, width) {
    ctx.fillStyle = '#f6f8fa';
    ctx.fillRect(0, 0, width, AXIS_H);
    ctx.strokeStyle = '#d5dae1';
    ctx.beginPath();
    ctx.moveTo(0, AXIS_H - 0.5);
    ctx.lineTo(width, AXIS_H - 0.5);
    ctx.stroke();
    const step = tickStep(state.t1 - state.t0, plotWidth());
    ctx.fillStyle = '#374151';
    ctx.font = '11px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    const withDate = step >= 3600 || state.t1 - state.t0 > 86400;
    for (let t = Math.ceil(state.t0 / step) * step; t <= state.t1; t += step) {
      const x = Math.round(xOf(t)) + 0.5;
      ctx.strokeStyle = '#c7ced8';
      ctx.beginPath();
      ctx.moveTo(x, AXIS_H - 5);
      ctx.lineTo(x, AXIS_H);
      ctx.stroke();
      ctx.fillText(fmtTime(t, withDate), x + 3, AXIS_H / 2);
    }
    ctx.fillStyle = '#1d2430';
    ctx.font = '600 11px system-ui, sans-serif';
    ctx.fillText('UTC', 8, AXIS_H / 2);
  }
  function drawMark(ctx, x, y, op, selected) {
    ctx.fillStyle = OP_COLOURS[op];
    if (op === 'c') {
      ctx.beginPath();
      ctx.moveTo(x, y - 5);
      ctx.lineTo(x + 5, y + 4);
      ctx.lineTo(x - 5, y + 4);
      ctx.closePath();
      ctx.fill();
    } else if (op === 'u') {
      ctx.fillRect(x - 1.5, y - 6, 3, 12);
    } else {
      ctx.fillRect(x - 4, y - 4, 8, 8);
    }
    if (selected) {
      ctx.strokeStyle = '#111827';
      ctx.lineWidth = 2;
      ctx.strokeRect(x - 7, y - 8, 14, 16);
      ctx.lineWidth = 1;
    }
  }
  function drawRow(ctx, entry, y, width, rowIndex) {
    const row = entry.row;
    const selectedRow = rowIndex === state.selRow;
    if (selectedRow) {
      ctx.fillStyle = '#dbeafe';
      ctx.fillRect(0, y, width, entry.h);
    } else if (rowIndex % 2) {
      ctx.fillStyle = '#f9fafb';
      ctx.fillRect(0, y, width, entry.h);
    }
    ctx.fillStyle = '#1d2430';
    ctx.font = '12px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    ctx.save();
    ctx.beginPath();
    ctx.rect(0, y, LABEL_W - 6, entry.h);
    ctx.clip();
    ctx.fillText(row.name, 18, y + ROW_H / 2);
    ctx.restore();
    ctx.save();
    ctx.beginPath();
    ctx.rect(LABEL_W, y, width - LABEL_W, entry.h);
    ctx.clip();
    const mid = y + ROW_H / 2;
    // Where the trace missed this kind's changes: what happened in between is not shown.
    for (const g of state.gaps) {
      if (g[0] !== row.kind || g[2] < state.t0 || g[1] > state.t1) continue;
      const x0 = Math.max(LABEL_W, xOf(g[1]));
      ctx.fillStyle = 'rgba(220, 38, 38, 0.12)';
      ctx.fillRect(x0, y, Math.max(2, Math.min(width, xOf(g[2] + 1)) - x0), entry.h);
    }
    // The object's life: a thin line from its creation (or the start) to its deletion.
    ctx.strokeStyle = '#9ca3af';
    let aliveFrom = row.aliveAtStart ? state.start : null;
    const lineTo = (a, b) => {
      ctx.beginPath();
      ctx.moveTo(Math.max(LABEL_W, xOf(a)), mid + 0.5);
      ctx.lineTo(Math.min(width, xOf(b)), mid + 0.5);
      ctx.stroke();
    };
    for (let i = 0; i < row.ts.length; i++) {
      if (row.ops[i] === 'c' && aliveFrom == null) aliveFrom = row.ts[i];
      if (row.ops[i] === 'd' && aliveFrom != null) {
        lineTo(aliveFrom, row.ts[i]);
        aliveFrom = null;
      }
    }
    if (aliveFrom != null) lineTo(aliveFrom, state.end);
    // Pods beneath.
    const podEnd = state.now != null ? state.now : state.end;
    for (let i = 0; i < row.pods.length; i++) {
      const p = row.pods[i];
      const end = p[2] == null ? podEnd : p[2];
      if (end < state.t0 || p[1] > state.t1) continue;
      const x0 = Math.max(LABEL_W, xOf(p[1]));
      const x1 = Math.min(width, Math.max(xOf(end), x0 + 2));
      const py = y + ROW_H + 1 + row.lanes[i] * LANE_H;
      ctx.fillStyle = POD_COLOURS[parseInt(p[0].slice(-4), 16) % POD_COLOURS.length];
      ctx.globalAlpha = p[2] == null ? 0.55 : 0.9;
      ctx.fillRect(x0, py, x1 - x0, LANE_H - 1);
      ctx.globalAlpha = 1;
    }
    // Marks in view: one per pixel column is enough to see.
    let lastX = -1;
    let lastOp = '';
    const from = lowerBound(row.ts, state.t0 - 1);
    for (let i = from; i < row.ts.length && row.ts[i] <= state.t1 + 1; i++) {
      const x = Math.round(xOf(row.ts[i]));
      const selected = selectedRow && i === state.selMark;
      if (x === lastX && row.ops[i] === lastOp && !selected) continue;
      lastX = x;
      lastOp = row.ops[i];
      drawMark(ctx, x, mid, row.ops[i], selected);
    }
    ctx.restore();
  }
  let drawQueued = false;
  function draw() {
    if (drawQueued) return;
    drawQueued = true;
    requestAnimationFrame(() => {
      drawQueued = false;
      drawNow();
    });
  }
  function drawNow() {
    const ctx = sizeCanvas(timeline);
    const width = timeline.clientWidth;
    const height = timeline.clientHeight;
    ctx.clearRect(0, 0, width, height);
    ctx.save();
    ctx.beginPath();
    ctx.rect(0, AXIS_H, width, height - AXIS_H);
    ctx.clip();
    const top = state.scrollY;
    let rowIndex = null;
    for (let i = firstEntryAt(top); i < state.layout.length; i++) {
      const e = state.layout[i];
      const y = AXIS_H + e.y - top;
      if (y > height) break;
      if (e.group) {
        ctx.fillStyle = '#eef2f7';
        ctx.fillRect(0, y, width, e.h);
        ctx.fillStyle = '#111827';
        ctx.font = '600 12px system-ui, sans-serif';
        ctx.textBaseline = 'middle';
        ctx.fillText(e.group, 6, y + e.h / 2);
        continue;
      }
      if (rowIndex == null) rowIndex = lowerBound(state.rowEntries, i);
      drawRow(ctx, e, y, width, rowIndex);
      rowIndex++;
    }
    if (state.layout.length === 0) {
      ctx.fillStyle = '#6b7280';
      ctx.font = '13px system-ui, sans-serif';
      ctx.fillText(state.rows.length ? 'No object matches the filters.' : 'Nothing recorded in this window yet.', 16, AXIS_H + 24);
    }
    if (state.now != null) {
      const x = Math.round(xOf(state.now)) + 0.5;
      if (x > LABEL_W) {
        ctx.strokeStyle = '#0a7a33';
        ctx.setLineDash([4, 3]);
        ctx.beginPath();
        ctx.moveTo(x, AXIS_H);
        ctx.lineTo(x, height);
        ctx.stroke();
        ctx.setLineDash([]);
      }
    }
    ctx.restore();
    ctx.strokeStyle = '#d5dae1';
    ctx.beginPath();
    ctx.moveTo(LABEL_W - 0.5, 0);
    ctx.lineTo(LABEL_W - 0.5, height);
    ctx.stroke();
    drawAxis(ctx, width);
    drawBand();
    updateStatus();
  }

  // The band: changes per minute (bars) and objects alive (line) of the rows the filters keep.
  function computeBandStats() {
    const from = Math.floor(state.start / 60) * 60;
    const minutes = Math.max(1, Math.ceil((Math.max(state.end, state.now || 0) - from) / 60) + 1);
    const events = new Uint32Array(minutes);
    const delta = new Int32Array(minutes + 1);
    for (const i of state.rowEntries) {
      const row = state.layout[i].row;
      if (row.aliveAtStart) delta[0]++;
      for (let j = 0; j < row.ts.length; j++) {
        const m = Math.min(minutes - 1, Math.max(0, Math.floor((row.ts[j] - from) / 60)));
        events[m]++;
        if (row.ops[j] === 'c') delta[m]++;
        else if (row.ops[j] === 'd') delta[m]--;
      }
    }
    const alive = new Int32Array(minutes);
    let n = 0;
    for (let m = 0; m < minutes; m++) {
      n += delta[m];
      alive[m] = n;
    }
    state.bandStats = { from, events, alive };
  }
  function drawBand() {
    if (!state.bandStats) computeBandStats();
    const ctx = sizeCanvas(band);
    const width = band.clientWidth;
    const height = band.clientHeight;
    ctx.clearRect(0, 0, width, height);
    const { from, events, alive } = state.bandStats;
    const m0 = Math.max(0, Math.floor((state.t0 - from) / 60));
    const m1 = Math.min(events.length - 1, Math.ceil((state.t1 - from) / 60));
    let maxE = 1;
    let maxA = 1;
    for (let m = m0; m <= m1; m++) {
      maxE = Math.max(maxE, events[m]);
      maxA = Math.max(maxA, alive[m]);
    }
    const top = 14;
    const h = height - top - 4;
    ctx.fillStyle = '#93c5fd';
    const barW = Math.max(1, (60 / (state.t1 - state.t0)) * plotWidth() - 1);
    for (let m = m0; m <= m1; m++) {
      if (!events[m]) continue;
      const x = xOf(from + m * 60);
      const bh = Math.max(1, (events[m] / maxE) * h);
      ctx.fillRect(Math.max(LABEL_W, x), top + h - bh, Math.min(barW, width - x), bh);
    }
    ctx.strokeStyle = '#c2410c';
    ctx.lineWidth = 2;
    ctx.beginPath();
    for (let m = m0; m <= m1; m++) {
      const x0 = Math.max(LABEL_W, xOf(from + m * 60));
      const x1 = Math.min(width, xOf(from + (m + 1) * 60));
      const y = top + h - (alive[m] / maxA) * h;
      if (m === m0) ctx.moveTo(x0, y); else ctx.lineTo(x0, y);
      ctx.lineTo(x1, y);
    }
    ctx.stroke();
    ctx.lineWidth = 1;
    for (const g of state.gaps) {
      if (g[2] < state.t0 || g[1] > state.t1) continue;
      const x0 = Math.max(LABEL_W, xOf(g[1]));
      ctx.fillStyle = 'rgba(220, 38, 38, 0.25)';
      ctx.fillRect(x0, 0, Math.max(2, Math.min(width, xOf(g[2] + 1)) - x0), height);
    }
    ctx.font = '11px system-ui, sans-serif';
    ctx.textBaseline = 'top';
    ctx.fillStyle = '#1d4ed8';
    ctx.fillText('changes per minute (max ' + maxE + ')', 8, 4);
    ctx.fillStyle = '#c2410c';
    ctx.fillText('objects alive (max ' + maxA + ')', 8, 20);
    ctx.fillStyle = '#6b7280';
    ctx.fillText('drag here to select a window', 8, 36);
    const overlay = $('window');
    if (state.window) {
      const x0 = Math.max(LABEL_W, xOf(state.window[0]));
      const x1 = Math.min(width, xOf(state.window[1]));
      overlay.style.display = x1 > x0 ? 'block' : 'none';
      overlay.style.left = x0 + 'px';
      overlay.style.width = Math.max(0, x1 - x0) + 'px';
    } else {
      overlay.style.display = 'none';
    }
  }

  function updateStatus() {
    const shown = state.rowEntries.length;
    let text = shown + ' of ' + state.rows.length + ' objects';
    text += ' · ' + fmtTime(state.t0, true) + ' to ' + fmtTime(state.t1, true) + ' UTC';
    if (state.window) text += ' · window selected: ' + fmtTime(state.window[0], true) + ' to ' + fmtTime(state.window[1], true);
    if (state.gaps.length) text += ' · ' + state.gaps.length + ' gaps (shaded red: changes not seen one by one, for ' + [...new Set(state.gaps.map((g) => g[0]))].join(', ') + ')';
    if (LIVE && state.now != null) text += state.following ? ' · following' : ' · not following (press 0 to show all)';
    if (status.dataset.note) text += ' · ' + status.dataset.note;
    if (status.textContent !== text) status.textContent = text;
  }
  function note(text) {
    status.dataset.note = text;
    updateStatus();
  }

  // ---- selection and hit testing ----
  function entryAtY(clientY) {
    const y = clientY - timeline.getBoundingClientRect().top - AXIS_H + state.scrollY;
    const i = firstEntryAt(y);
    const e = state.layout[i];
    return e && y >= e.y ? i : -1;
  }
  function nearestMark(row, ts, slackPx) {
    const slack = (slackPx / plotWidth()) * (state.t1 - state.t0);
    let i = lowerBound(row.ts, ts);
    let best = -1;
    let bestD = Infinity;
    for (const j of [i - 1, i, i + 1]) {
      if (j < 0 || j >= row.ts.length) continue;
      const d = Math.abs(row.ts[j] - ts);
      if (d <= slack && d < bestD) {
        best = j;
        bestD = d;
      }
    }
    return best;
  }
  function markPoint(key, ts) {
    const rowIndex = state.rowEntries.findIndex((i) => state.layout[i].row.key === key);
    if (rowIndex < 0) return null;
    const e = state.layout[state.rowEntries[rowIndex]];
    const rect = timeline.getBoundingClientRect();
    return {
      x: Math.round(rect.left + xOf(ts)),
      y: Math.round(rect.top + AXIS_H + e.y - state.scrollY + ROW_H / 2),
    };
  }
  function selectedMark() {
    if (state.selRow < 0 || state.selMark < 0) return null;
    const row = state.layout[state.rowEntries[state.selRow]].row;
    return { key: row.key, ts: row.ts[state.selMark], op: row.ops[state.selMark] };
  }
  function ensureRowVisible() {
    if (state.selRow < 0) return;
    const e = state.layout[state.rowEntries[state.selRow]];
    const vh = viewHeight();
    // Its group header too, when it is the group's first row.
    const top = state.layout[state.rowEntries[state.selRow] - 1]?.group ? e.y - GROUP_H : e.y;
    if (top < state.scrollY) state.scrollY = top;
    else if (e.y + e.h > state.scrollY + vh) state.scrollY = e.y + e.h - vh;
    clampScroll();
  }
  function ensureMarkVisible() {
    const m = selectedMark();
    if (!m) return;
    if (m.ts < state.t0 || m.ts > state.t1) {
      const span = state.t1 - state.t0;
      setView(m.ts - span / 2, m.ts + span / 2);
    }
  }
  function select(rowIndex, markIndex, open) {
    state.selRow = rowIndex;
    state.selMark = markIndex;
    ensureRowVisible();
    ensureMarkVisible();
    draw();
    const m = selectedMark();
    const row = rowIndex >= 0 ? state.layout[state.rowEntries[rowIndex]].row : null;
    if (row) {
      const what = m ? OP_NAMES[m.op] + ' at ' + fmtTime(m.ts, true) : (row.ts.length + ' changes');
      $('timeline').setAttribute('aria-label', row.shortKind + ' ' + (row.namespace ? row.namespace + '/' : '') + row.name + ': ' + what);
    }
    if (open && m) showDetail(row, state.selMark);
  }

  // ---- the detail: the version, what changed, its pods ----
  const differ = window.jsondiffpatch.create({
    // Containers, volumes, env and the like are matched by name, so that an image update reads
    // as one field changed rather than a container replaced.
    objectHash: (o, i) => (o && typeof o === 'object' && 'name' in o ? String(o.name) : '$$index:' + i),
    arrays: { detectMove: false },
  });
  function pathPart(key) {
    return /^[A-Za-z_$][\w$-]*$/.test(key) ? '.' + key : '[' + JSON.stringify(key) + ']';
  }
  function changesOf(delta, path, out) {
    if (Array.isArray(delta)) {
      if (delta.length === 1) out.push({ path, kind: 'added', now: delta[0] });
      else if (delta.length === 2) out.push({ path, kind: 'changed', was: delta[0], now: delta[1] });
      else if (delta[2] === 0) out.push({ path, kind: 'removed', was: delta[0] });
      else if (delta[2] === 2) out.push({ path, kind: 'changed text' });
      return out;
    }
    const isArray = delta._t === 'a';
    for (const key of Object.keys(delta)) {
      if (key === '_t') continue;
      const part = isArray ? '[' + (key[0] === '_' ? key.slice(1) : key) + ']' : pathPart(key);
      changesOf(delta[key], path + part, out);
    }
    return out;
  }
  function short(value) {
    const s = JSON.stringify(value);
    return s.length > 120 ? s.slice(0, 117) + '…' : s;
  }
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    for (const c of children) if (c != null) e.append(c);
    return e;
  }
  async function versionPair(row, markIndex) {
    if (!LIVE) {
      if (!$('sk-versions')) await new Promise((resolve) => document.addEventListener('DOMContentLoaded', resolve, { once: true }));
      if (!state.versions) state.versions = JSON.parse($('sk-versions').textContent);
      const versions = state.versions[row.index] || [];
      let previous = null;
      let previousTs = null;
      for (let j = markIndex - 1; j >= 0; j--) {
        if (versions[j] != null) {
          previous = versions[j];
          previousTs = row.ts[j];
          break;
        }
        if (row.ops[j] === 'd') break;
      }
      return { object: versions[markIndex] ?? null, previous, previous_ts: previousTs };
    }
    const q = new URLSearchParams({ kind: row.kind, namespace: row.namespace, name: row.name, ts: row.ts[markIndex] });
    const r = await fetch('api/version?' + q.toString(), { credentials: 'same-origin' });
    const body = await r.json();
    if (!r.ok) throw new Error(body.error || r.statusText);
    return body;
  }
  let detailToken = 0;
  async function showDetail(row, markIndex) {
    const token = ++detailToken;
    const ts = row.ts[markIndex];
    const op = row.ops[markIndex];
    detail.replaceChildren(
      el('h2', {}, row.shortKind + ' ' + (row.namespace ? row.namespace + '/' : '') + row.name),
      el('p', {}, el('span', { class: 'op-' + op }, OP_NAMES[op]), ' at ' + fmtTime(ts, true) + ' UTC · ' + row.kind),
      el('p', { class: 'hint' }, 'loading…'),
    );
    let pair;
    try {
      pair = await versionPair(row, markIndex);
    } catch (e) {
      if (token === detailToken) detail.lastChild.textContent = 'could not load this version: ' + e.message;
      return;
    }
    if (token !== detailToken) return;
    detail.lastChild.remove();
    const labels = Object.entries(row.labels).map(([k, v]) => k + '=' + v).join(', ');
    if (labels) detail.append(el('p', {}, 'labels: ' + labels));
    detail.append(el('h3', {}, op === 'c' ? 'Created' : op === 'd' ? 'Deleted' : 'Changed fields' + (pair.previous_ts != null ? ' since ' + fmtTime(pair.previous_ts, true) : '')));
    const list = el('ul', { class: 'changes', id: 'changes' });
    if (op === 'u' && pair.previous && pair.object) {
      const delta = differ.diff(pair.previous, pair.object);
      const changes = delta ? changesOf(delta, '', []) : [];
      for (const c of changes) {
        const path = c.path.replace(/^\./, '');
        const li = el('li', {}, el('span', { class: 'path' }, path), ' ');
        if ('was' in c) li.append(el('span', { class: 'old' }, short(c.was)), ' ');
        if ('now' in c) li.append('→ ', el('span', { class: 'new' }, short(c.now)));
        if (c.kind === 'removed') li.append(' (removed)');
        if (c.kind === 'changed text') li.append(' (text changed)');
        list.append(li);
      }
      if (!changes.length) list.append(el('li', {}, 'no field changed (the same version recorded again)'));
    } else if (op === 'u') {
      list.append(el('li', {}, 'the version before is not in this window'));
    }
    if (list.childElementCount) detail.append(list);
    // Its pods: those alive from this change until the next one.
    const next = markIndex + 1 < row.ts.length ? row.ts[markIndex + 1] : Infinity;
    const pods = row.pods.filter((p) => p[1] < next && (p[2] == null || p[2] >= ts));
    detail.append(el('h3', {}, 'Pods (' + pods.length + ') until the next change'));
    if (pods.length) {
      const table = el('table', { class: 'pods' }, el('tr', {}, el('th', {}, 'pod hash'), el('th', {}, 'start'), el('th', {}, 'end'), el('th', {}, 'ran')));
      for (const p of pods.slice(0, 200)) {
        const ran = p[2] == null ? 'running' : fmtDuration(p[2] - p[1]);
        table.append(el('tr', {}, el('td', {}, p[0].slice(-8)), el('td', {}, fmtTime(p[1])), el('td', {}, p[2] == null ? '—' : fmtTime(p[2])), el('td', {}, ran)));
      }
      detail.append(table);
      if (pods.length > 200) detail.append(el('p', { class: 'hint' }, (pods.length - 200) + ' more'));
    }
    const shown = pair.object || pair.previous;
    if (shown) {
      detail.append(el('h3', {}, op === 'd' ? 'Last version' : 'This version'));
      detail.append(el('pre', { class: 'version' }, JSON.stringify(shown, null, 2)));
    }
  }

  // ---- input ----
  let drag = null;
  timeline.addEventListener('pointerdown', (ev) => {
    timeline.focus();
    drag = { x: ev.clientX, y: ev.clientY, t0: state.t0, t1: state.t1, scrollY: state.scrollY, moved: false };
    timeline.setPointerCapture(ev.pointerId);
  });
  timeline.addEventListener('pointermove', (ev) => {
    if (!drag) return;
    const dx = ev.clientX - drag.x;
    const dy = ev.clientY - drag.y;
    if (!drag.moved && Math.abs(dx) + Math.abs(dy) < 4) return;
    drag.moved = true;
    const dt = (dx / plotWidth()) * (drag.t1 - drag.t0);
    setView(drag.t0 - dt, drag.t1 - dt);
    state.scrollY = drag.scrollY - dy;
    clampScroll();
    draw();
  });
  timeline.addEventListener('pointerup', (ev) => {
    const d = drag;
    drag = null;
    if (!d || d.moved) return;
    const i = entryAtY(ev.clientY);
    if (i < 0 || !state.layout[i].row) return;
    const rowIndex = lowerBound(state.rowEntries, i);
    const x = ev.clientX - timeline.getBoundingClientRect().left;
    const mark = x > LABEL_W ? nearestMark(state.layout[i].row, tsOf(x), 8) : -1;
    select(rowIndex, mark, true);
  });
  timeline.addEventListener('wheel', (ev) => {
    ev.preventDefault();
    const x = ev.clientX - timeline.getBoundingClientRect().left;
    if (ev.ctrlKey || ev.metaKey) {
      zoom(Math.exp(ev.deltaY * 0.002), x > LABEL_W ? tsOf(x) : null);
    } else if (ev.shiftKey || Math.abs(ev.deltaX) > Math.abs(ev.deltaY)) {
      pan(((ev.shiftKey ? ev.deltaY : ev.deltaX) / plotWidth()));
    } else {
      state.scrollY += ev.deltaY;
      clampScroll();
      draw();
    }
  }, { passive: false });

  let bandDrag = null;
  band.addEventListener('pointerdown', (ev) => {
    const x = ev.clientX - band.getBoundingClientRect().left;
    if (x < LABEL_W) return;
    bandDrag = { from: tsOf(x) };
    band.setPointerCapture(ev.pointerId);
  });
  band.addEventListener('pointermove', (ev) => {
    if (!bandDrag) return;
    const to = tsOf(ev.clientX - band.getBoundingClientRect().left);
    const a = Math.floor(Math.min(bandDrag.from, to));
    const b = Math.ceil(Math.max(bandDrag.from, to));
    state.window = b > a ? [a, b] : null;
    draw();
  });
  band.addEventListener('pointerup', () => {
    bandDrag = null;
  });

  timeline.addEventListener('keydown', (ev) => {
    const rows = state.rowEntries.length;
    const row = state.selRow >= 0 ? state.layout[state.rowEntries[state.selRow]].row : null;
    const pageRows = Math.max(1, Math.floor(viewHeight() / ROW_H) - 1);
    let handled = true;
    const toRow = (i) => {
      if (!rows) return;
      i = Math.max(0, Math.min(rows - 1, i));
      const r = state.layout[state.rowEntries[i]].row;
      // Keep to the same moment: the change nearest the one chosen before, or the first in view.
      const at = row && state.selMark >= 0 ? row.ts[state.selMark] : state.t0;
      const m = r.ts.length ? Math.min(r.ts.length - 1, lowerBound(r.ts, at)) : -1;
      select(i, m, false);
    };
    switch (ev.key) {
      case 'ArrowDown': toRow(state.selRow + 1); break;
      case 'ArrowUp': toRow(state.selRow < 0 ? 0 : state.selRow - 1); break;
      case 'PageDown': toRow(state.selRow + pageRows); break;
      case 'PageUp': toRow(state.selRow - pageRows); break;
      case 'Home': toRow(0); break;
      case 'End': toRow(rows - 1); break;
      case 'ArrowRight':
      case 'ArrowLeft':
        if (ev.shiftKey) {
          pan(ev.key === 'ArrowRight' ? 0.2 : -0.2);
        } else if (row && row.ts.length) {
          const step = ev.key === 'ArrowRight' ? 1 : -1;
          select(state.selRow, Math.max(0, Math.min(row.ts.length - 1, state.selMark + step)), false);
        } else if (!row) {
          toRow(0);
        }
        break;
      case 'Enter':
      case ' ':
        if (row && state.selMark >= 0) showDetail(row, state.selMark);
        break;
      case '+':
      case '=': zoom(0.5, selectedMark()?.ts); break;
      case '-':
      case '_': zoom(2, selectedMark()?.ts); break;
      case '0': showAll(); break;
      case 'Escape':
        state.window = null;
        draw();
        break;
      case '/': $('f-ns').focus(); break;
      default: handled = false;
    }
    if (handled) ev.preventDefault();
  });

  function applyFilters() {
    const t = performance.now();
    layOut();
    drawNow();
    page.filterMs = performance.now() - t;
    writeHashSoon();
  }
  for (const k of ['ns', 'kind', 'name', 'label']) {
    const input = $('f-' + k);
    input.addEventListener('input', () => {
      state.filter[k] = input.value.trim();
      applyFilters();
    });
  }
  $('filters').addEventListener('submit', (ev) => ev.preventDefault());
  $('help-toggle').addEventListener('click', () => {
    const help = $('help');
    help.hidden = !help.hidden;
    $('help-toggle').setAttribute('aria-expanded', String(!help.hidden));
  });
  window.addEventListener('resize', () => {
    clampScroll();
    draw();
  });
  window.addEventListener('hashchange', () => {
    const { from, to } = readHash();
    for (const k of ['ns', 'kind', 'name', 'label']) $('f-' + k).value = state.filter[k];
    if (from != null && to != null && to > from) setView(from, to);
    layOut();
    draw();
  });

  // The whole span, with a little room at both ends so that the first and last marks show whole.
  function showAll() {
    const end = Math.max(state.end, state.now || 0);
    const pad = Math.max(1, (end - state.start) * 0.02);
    setView(state.start - pad, end + pad);
    draw();
  }

  // ---- export ----
  async function exportWindow() {
    const [start, end] = state.window || [Math.floor(state.t0), Math.ceil(state.t1)];
    const format = $('format').value;
    note('exporting ' + fmtTime(start, true) + ' to ' + fmtTime(end, true) + '…');
    try {
      const r = await fetch('export', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', Accept: 'application/msgpack' },
        body: JSON.stringify({ start_ts: start, end_ts: end, format }),
      });
      if (!r.ok) {
        let message = r.statusText;
        try { message = (await r.json()).error || message; } catch (e) { /* not JSON */ }
        throw new Error(message);
      }
      const blob = await r.blob();
      const a = el('a', { href: URL.createObjectURL(blob), download: 'trace-' + start + '-' + end + '.sktrace' });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 60000);
      note('exported ' + blob.size + ' bytes (' + format + ')');
    } catch (e) {
      note('export failed: ' + e.message);
    }
  }

  // ---- data ----
  async function fetchWindow(params) {
    const objects = [];
    let offset = 0;
    let doc;
    for (;;) {
      const q = new URLSearchParams(params);
      q.set('offset', offset);
      const r = await fetch('api/window?' + q.toString(), { credentials: 'same-origin' });
      doc = await r.json();
      if (!r.ok) throw new Error(doc.error || r.statusText);
      objects.push(...doc.objects);
      if (doc.next_offset == null) break;
      offset = doc.next_offset;
    }
    doc.objects = objects;
    return doc;
  }
  // Changes since the last answer, laid over the rows: a row's marks from `since` on are
  // replaced (so a repeated answer changes nothing), its pods replaced by start.
  function merge(objects, since) {
    let added = false;
    for (const o of objects) {
      const key = rowKey(o);
      const row = state.byKey.get(key);
      if (!row) {
        const r = makeRow(o, -1);
        state.rows.push(r);
        state.byKey.set(key, r);
        added = true;
        continue;
      }
      const keep = lowerBound(row.ts, since);
      const fresh = o.marks.filter((m) => m[0] >= since);
      row.ts = row.ts.slice(0, keep).concat(fresh.map((m) => m[0]));
      row.ops = row.ops.slice(0, keep).concat(fresh.map((m) => m[1]));
      if (fresh.length) row.labels = o.labels;
      const pods = new Map(row.pods.map((p) => [p[0] + '@' + p[1], p]));
      for (const p of o.pods) pods.set(p[0] + '@' + p[1], p);
      row.pods = [...pods.values()].sort((a, b) => a[1] - b[1]);
      packLanes(row);
    }
    if (added) state.rows.sort(compareRows);
  }
  let polling = false;
  async function poll() {
    if (polling) return;
    polling = true;
    try {
      // A little overlap: a change recorded late for its second is still picked up.
      const since = state.now - 10;
      const doc = await fetchWindow({ start: state.start, since });
      merge(doc.objects, since);
      state.gaps = doc.gaps || [];
      const followed = state.following;
      const span = state.t1 - state.t0;
      state.end = doc.end;
      state.now = doc.now;
      if (followed) setView(state.now + 30 - span, state.now + 30);
      layOut();
      draw();
      if (status.dataset.note && status.dataset.note.startsWith('connection')) note('');
    } catch (e) {
      note('connection to the tracer lost: ' + e.message);
    } finally {
      polling = false;
    }
  }

  async function start() {
    const t = performance.now();
    const { from, to } = readHash();
    for (const k of ['ns', 'kind', 'name', 'label']) $('f-' + k).value = state.filter[k];
    let doc = config;
    if (LIVE) {
      $('live').hidden = false;
      $('export').hidden = false;
      $('format').hidden = false;
      $('export').addEventListener('click', exportWindow);
      const params = {};
      if (from != null) params.start = Math.floor(from);
      try {
        doc = await fetchWindow(params);
      } catch (e) {
        note('cannot read the tracer: ' + e.message);
        doc = { start: 0, end: 1, now: null, objects: [], title: 'sk-tracer' };
      }
    }
    $('title').textContent = doc.title || 'sk-tracer';
    state.start = doc.start;
    state.end = doc.end;
    state.now = doc.now ?? null;
    setRows(doc.objects || []);
    state.gaps = doc.gaps || [];
    if (from != null && to != null && to > from) {
      setView(from, to);
    } else if (LIVE) {
      setView(state.start, (state.now ?? state.end) + 30);
    } else {
      showAll();
    }
    layOut();
    drawNow();
    page.renderMs = performance.now() - t;
    page.readyAt = performance.now();
    document.body.dataset.ready = '1';
    requestAnimationFrame(() => requestAnimationFrame(() => { page.paintedAt = performance.now(); }));
    if (LIVE && state.now != null) setInterval(poll, POLL_MS);
  }

  window.addEventListener('error', (e) => page.errors.push(String(e.message)));
  window.addEventListener('unhandledrejection', (e) => page.errors.push(String(e.reason)));
  start();
})();
