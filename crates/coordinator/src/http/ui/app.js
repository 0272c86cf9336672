'use strict';
/*
 * aide web UI — plain ES2020, no dependencies, no build step.
 *
 * Everything shown here comes from runs (LLM-written code, program output,
 * review text, event payloads) and is untrusted. The DOM is therefore only
 * ever built with createElement + textContent (see `h` / `s`); nothing in
 * this file assigns HTML strings.
 *
 * Sections:
 *   1. Formatting helpers        8. Tree layout & drawing
 *   2. DOM helpers               9. Metric chart
 *   3. API & error banner       10. Event summaries
 *   4. Router & session         11. Node page
 *   5. Login page               12. Python highlighter
 *   6. Runs list                13. Line diff
 *   7. Run page                 14. Sweeps   15. Runners   16. Start
 */

// ───────────────────────── 1. Formatting helpers ─────────────────────────

const RUN_STATUSES = ['queued', 'running', 'completed', 'failed', 'cancelled'];
const TERMINAL = new Set(['completed', 'failed', 'cancelled']);
const KNOWN_STATUS = new Set([...RUN_STATUSES, 'stopped', 'grading', 'graded',
  'finished', 'abandoned', 'superseded', 'pending']);

/** CSS class for a status badge; unknown (untrusted) values get a fixed class. */
function statusClass(s) {
  return 'status status-' + (KNOWN_STATUS.has(s) ? s : 'unknown');
}

function isNum(x) { return typeof x === 'number' && Number.isFinite(x); }
function str(v) {
  if (v == null) return '';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

/** A metric with 4 significant digits, "—" when missing. */
function fmtSig(x) {
  if (!isNum(x)) return '—';
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 1e4 && a < 1e12) return String(Number(x.toPrecision(4)));
  if (a < 1e-3 || a >= 1e12) return x.toExponential(3);
  return x.toPrecision(4);
}

function fmtMoney(x) { return isNum(x) ? '$' + x.toFixed(4) : '—'; }
function fmtInt(x) { return isNum(x) ? Math.round(x).toLocaleString('en-US') : '—'; }
function fmtPct(frac) { return isNum(frac) ? Math.round(frac * 100) + '%' : '—'; }

/** Compact age of an RFC 3339 time: "12s", "5m", "3h", "2d". */
function fmtAge(iso, now = Date.now()) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '—';
  const s = Math.max(0, Math.floor((now - t) / 1000));
  if (s < 60) return s + 's';
  if (s < 3600) return Math.floor(s / 60) + 'm';
  if (s < 86400) return Math.floor(s / 3600) + 'h';
  return Math.floor(s / 86400) + 'd';
}

/** A duration in seconds: "4.2s", "5m 3s", "1h 2m", "2d 3h". */
function fmtDuration(secs) {
  if (!isNum(secs)) return '—';
  const s = Math.max(0, secs);
  if (s < 60) return (s < 10 ? s.toFixed(1) : Math.round(s)) + 's';
  const t = Math.round(s);
  if (t < 3600) return `${Math.floor(t / 60)}m ${t % 60}s`;
  if (t < 86400) return `${Math.floor(t / 3600)}h ${Math.floor(t % 3600 / 60)}m`;
  return `${Math.floor(t / 86400)}d ${Math.floor(t % 86400 / 3600)}h`;
}

function fmtBytes(b) {
  if (!isNum(b)) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = b, u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return (u === 0 ? String(v) : v.toFixed(v < 10 ? 1 : 0)) + ' ' + units[u];
}

const pad2 = (n) => String(n).padStart(2, '0');
function fmtClock(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}
function fmtDateTime(iso) {
  const d = new Date(iso);
  if (iso == null || Number.isNaN(d.getTime())) return '—';
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${fmtClock(iso)}`;
}

/** Ids are long; the tail is the distinctive part (time-ordered ids share a prefix). */
function shortId(id) {
  const s = str(id);
  return s.length > 12 ? '…' + s.slice(-8) : s;
}

function oneLine(text, max) {
  const t = str(text).replace(/\s+/g, ' ').trim();
  return t.length > max ? t.slice(0, max - 1) + '…' : t;
}

// ───────────────────────── 2. DOM helpers ─────────────────────────

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Only our own routes and API links may become an href. */
function safeHref(v) {
  const s = String(v);
  return s.startsWith('#/') || s.startsWith('/api/v1/') ? s : '#/runs';
}

function setAttrs(el, attrs) {
  if (!attrs) return;
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k.startsWith('on')) { if (typeof v === 'function') el.addEventListener(k.slice(2), v); }
    else if (k === 'href') el.setAttribute(k, safeHref(v));
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

function appendAll(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : String(c)); // strings become text nodes
  }
}

/** h('a', {href: '#/runs'}, 'text', child, [more]) — HTML element. */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  appendAll(el, children);
  return el;
}

/** Same for SVG elements. */
function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  appendAll(el, children);
  return el;
}

const $ = (sel) => document.querySelector(sel);
const routeHref = (kind, id) => `#/${kind}/${encodeURIComponent(id)}`;

/** A small horizontal progress bar; `frac` is clamped to 0..1 (over 1 is flagged). */
function bar(frac, cls) {
  const f = isNum(frac) ? Math.max(0, Math.min(1, frac)) : 0;
  const fill = h('span', { class: 'bar-fill' });
  fill.style.width = (f * 100).toFixed(1) + '%';
  return h('span', { class: ['bar', cls, isNum(frac) && frac > 1 ? 'over' : ''].filter(Boolean).join(' ') }, fill);
}

function statusBadge(status, title) {
  return h('span', { class: statusClass(status), title }, str(status));
}

function table(attrs, headers, rows, foot) {
  return h('table', attrs,
    h('thead', null, h('tr', null, headers.map((t) => h('th', null, t)))),
    h('tbody', null, rows),
    foot ? h('tfoot', null, foot) : null);
}

function emptyRow(cols, text) {
  return h('tr', { class: 'empty' }, h('td', { colspan: cols }, text));
}

function card(title, ...content) {
  return h('section', { class: 'card' }, h('h2', null, title), content);
}

// ───────────────────────── 3. API & error banner ─────────────────────────

class ApiError extends Error {
  constructor(status, problem) {
    super(str(problem.detail) || str(problem.title) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

/** JSON call to /api/v1; throws ApiError (problem+json) on failure; a 401 goes to login. */
async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin' };
  if (method !== 'GET') {
    headers['Content-Type'] = 'application/json';
    if (body !== undefined) init.body = JSON.stringify(body);
    else if (method === 'POST') init.body = '{}';
  }
  let res;
  try {
    res = await fetch('/api/v1' + path, init);
  } catch (e) {
    throw new ApiError(0, { title: 'Network error', detail: 'Could not reach the server: ' + e.message });
  }
  if (res.status === 204) return null;
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
  if (!res.ok) {
    const problem = data && typeof data === 'object' ? data : { title: res.statusText || `HTTP ${res.status}` };
    if (res.status === 401) onUnauthorized();
    throw new ApiError(res.status, problem);
  }
  return data;
}

function showError(message) {
  const el = $('#error');
  el.textContent = message;
  el.hidden = false;
  $('#error-banner').hidden = false;
}

function hideError() {
  $('#error-banner').hidden = true;
  $('#error').hidden = true;
  $('#error').textContent = '';
}

/** Show a failed action in the banner (401s already redirected to login). */
function reportError(e) {
  if (e && e.status === 401) return;
  if (!(e instanceof ApiError)) console.error(e);
  showError(e && e.message ? e.message : String(e));
}

/**
 * Re-run `fn` every `ms` while the page is shown (next run starts after the
 * previous one finished). `fn(fresh)` may return false to stop polling;
 * `fresh()` tells whether its result is still wanted. Returns "refresh now".
 */
function poll(ctx, ms, fn) {
  let timer = null, gen = 0;
  const run = async () => {
    clearTimeout(timer);
    const my = ++gen;
    const fresh = () => ctx.alive && my === gen;
    let again = true;
    try {
      again = (await fn(fresh)) !== false;
    } catch (e) {
      if (fresh()) reportError(e);
      again = !(e && (e.status === 403 || e.status === 404)); // retrying will not help
    }
    if (fresh() && again) timer = setTimeout(run, ms);
  };
  ctx.onLeave(() => clearTimeout(timer));
  run();
  return run;
}

// ───────────────────────── 4. Router & session ─────────────────────────

let session = null;   // Session from GET/POST /api/v1/session
let current = null;   // context of the page being shown
let routedHash = null;

const ROUTES = [
  [/^\/login$/, pageLogin],
  [/^\/runs$/, pageRuns],
  [/^\/runs\/([^/]+)$/, pageRun],
  [/^\/nodes\/([^/]+)$/, pageNode],
  [/^\/sweeps$/, pageSweeps],
  [/^\/sweeps\/([^/]+)$/, pageSweep],
  [/^\/runners$/, pageRunners],
];

function currentPath() {
  const p = location.hash.replace(/^#/, '');
  return !p || p === '/' ? '/runs' : p;
}

/** Page lifetime: `alive` turns false and cleanups run when the page is left. */
function newCtx() {
  const cleanups = [];
  return {
    alive: true,
    onLeave(fn) { cleanups.push(fn); },
    leave() {
      this.alive = false;
      for (const fn of cleanups.splice(0)) {
        try { fn(); } catch (e) { console.error(e); }
      }
    },
  };
}

function route() {
  if (current && location.hash === routedHash) return; // already showing it
  routedHash = location.hash;
  if (current) current.leave();
  const ctx = current = newCtx();
  hideError();
  const path = currentPath();
  updateHeader(path);
  document.title = 'aide';
  const root = $('#app');
  root.replaceChildren();
  for (const [re, page] of ROUTES) {
    const m = re.exec(path);
    if (!m) continue;
    let args;
    try { args = m.slice(1).map(decodeURIComponent); } catch (_) { break; }
    page(ctx, root, ...args);
    return;
  }
  root.append(h('div', { class: 'card' }, h('h1', null, 'Not found'),
    h('p', null, 'No page here. '), h('a', { href: '#/runs' }, 'Go to runs')));
}

function updateHeader(path) {
  $('#topbar').hidden = path === '/login';
  const section = path.startsWith('/sweeps') ? 'sweeps' : path.startsWith('/runners') ? 'runners' : 'runs';
  for (const name of ['runs', 'sweeps', 'runners']) {
    $('#nav-' + name).classList.toggle('active', name === section);
  }
}

function setSession(sess) {
  session = sess;
  const who = $('#whoami');
  who.textContent = sess ? `${str(sess.project)} · ${str(sess.role)}` : '';
  who.title = sess && sess.label ? 'token: ' + str(sess.label) : '';
}

function onUnauthorized() {
  setSession(null);
  if (currentPath() !== '/login') location.hash = '#/login';
}

async function logout() {
  try { await api('DELETE', '/session'); } catch (e) { reportError(e); }
  setSession(null);
  location.hash = '#/login';
}

// ───────────────────────── 5. Login page ─────────────────────────

function pageLogin(ctx, root) {
  const token = h('input', { id: 'token', type: 'password', autocomplete: 'off', placeholder: 'aide_…' });
  const error = h('p', { id: 'login-error', class: 'login-error', role: 'alert' });
  const button = h('button', { id: 'login', type: 'submit', class: 'primary' }, 'Log in');
  const form = h('form', { class: 'card login-card' },
    h('h1', null, 'aide'),
    h('label', { for: 'token' }, 'API token'), token, button, error);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.textContent = '';
    const value = token.value.trim();
    if (!value) { error.textContent = 'Enter an API token.'; return; }
    button.disabled = true;
    try {
      setSession(await api('POST', '/session', { token: value }));
      location.hash = '#/runs';
    } catch (ex) {
      if (ctx.alive) error.textContent = ex.message || 'Login failed';
    } finally {
      button.disabled = false;
    }
  });
  root.append(form);
  token.focus();
}

// ───────────────────────── 6. Runs list ─────────────────────────

const runsFilter = { name: '', status: '' }; // kept while navigating

function pageRuns(ctx, root) {
  const name = h('input', { id: 'filter-name', type: 'search', placeholder: 'Filter by name', value: runsFilter.name });
  const status = h('select', { id: 'filter-status', 'aria-label': 'Status' },
    ['', ...RUN_STATUSES].map((v) => h('option', { value: v }, v || 'all statuses')));
  status.value = runsFilter.status;
  const project = h('span', { id: 'filter-project', class: 'chip', title: 'A token sees one project' },
    session ? str(session.project) : '');
  const tbody = h('tbody');
  root.append(
    h('div', { class: 'page-head' }, h('h1', null, 'Runs')),
    h('div', { class: 'filters' }, name, status, h('span', { class: 'chip-label' }, 'project'), project),
    h('div', { class: 'table-wrap' },
      h('table', { id: 'runs', class: 'grid' },
        h('thead', null, h('tr', null, ['Name', 'Status', 'Progress', 'Best', 'Cost', 'Age'].map((t) => h('th', null, t)))),
        tbody)));

  const refresh = poll(ctx, 2000, async (fresh) => {
    const q = new URLSearchParams();
    if (runsFilter.status) q.set('status', runsFilter.status);
    if (runsFilter.name) q.set('name', runsFilter.name);
    const qs = q.toString();
    const data = await api('GET', '/runs' + (qs ? '?' + qs : ''));
    if (!fresh()) return;
    const runs = (data && Array.isArray(data.runs)) ? data.runs : [];
    if (!project.textContent && runs.length) project.textContent = str(runs[0].project);
    tbody.replaceChildren(...(runs.length ? runs.map(runRow) : [emptyRow(6, 'No runs.')]));
  });

  let debounce = null;
  name.addEventListener('input', () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => { runsFilter.name = name.value.trim(); refresh(); }, 250);
  });
  ctx.onLeave(() => clearTimeout(debounce));
  status.addEventListener('change', () => { runsFilter.status = status.value; refresh(); });
}

function runRow(r) {
  const frac = r.steps > 0 ? r.reviewed / r.steps : 0;
  return h('tr', { class: 'run-row', 'data-run-id': r.id },
    h('td', { class: 'run-name' },
      h('a', { href: routeHref('runs', r.id), title: r.task_name ? 'task: ' + str(r.task_name) : null }, str(r.name || r.id))),
    h('td', { class: 'run-status' },
      statusBadge(r.status, r.cancel_requested && !TERMINAL.has(r.status) ? 'cancel requested' : null)),
    h('td', { class: 'run-progress' }, h('span', { class: 'num' }, `${str(r.reviewed)}/${str(r.steps)}`), bar(frac)),
    h('td', { class: 'run-best num' }, fmtSig(r.best_metric)),
    h('td', { class: 'run-cost num' }, fmtMoney(r.cost_usd)),
    h('td', { class: 'run-age', title: fmtDateTime(r.created_at) }, fmtAge(r.created_at)));
}

// ───────────────────────── 7. Run page ─────────────────────────

const EXPORTS = [['journal', 'journal'], ['best_solution', 'best solution'], ['submission', 'submission'],
  ['tree_html', 'tree (HTML)'], ['report', 'report']];
const OUTCOMES = new Set(['pending', 'good', 'buggy']);
const LOG_ITEMS_PER_FRAME = 300;

function pageRun(ctx, root, runId) {
  // Client-side model of the run, fed by the tree snapshot and then by events.
  const st = {
    run: null,
    nodes: new Map(),   // id -> {id, parent, step, action, outcome, metric}
    list: [],           // same nodes in creation order (layout input)
    bestId: null,
    bestPath: new Set(),
    lastSeq: 0,
    logBuf: [],         // events waiting for the next frame
    dirty: false,       // the tree or the best path changed since the last drawing
    zoom: 1, size: [0, 0],
    raf: 0, cancelling: false,
  };
  const enc = encodeURIComponent(runId);

  // ── skeleton
  const title = h('h1', { id: 'run-name' }, shortId(runId));
  const statusEl = h('span', { id: 'run-status', class: 'status' });
  const cancelBtn = h('button', { id: 'cancel-run', type: 'button', class: 'danger', hidden: true }, 'Cancel run');
  const meta = h('div', { class: 'meta' });
  const budgets = h('div', { id: 'budgets', class: 'budgets' });
  const exportsEl = h('div', { class: 'exports' }, h('span', { class: 'muted' }, 'Export:'),
    EXPORTS.map(([fmt, label]) =>
      h('a', { class: 'export', 'data-format': fmt, href: `/api/v1/runs/${enc}/export/${fmt}`, download: '' }, label)));
  const treeSvg = s('svg', { id: 'tree', class: 'tree', role: 'img', 'aria-label': 'Solution tree' });
  const treeWrap = h('div', { class: 'tree-wrap' }, treeSvg);
  const zoomBy = (f) => { st.zoom = Math.min(4, Math.max(0.05, st.zoom * f)); applyZoom(); };
  const zoomBar = h('div', { class: 'zoom' },
    h('button', { type: 'button', title: 'Zoom out', onclick: () => zoomBy(1 / 1.25) }, '−'),
    h('button', { type: 'button', title: 'Zoom in', onclick: () => zoomBy(1.25) }, '+'),
    h('button', { type: 'button', title: 'Fit width', onclick: () => { st.zoom = Math.min(1, (treeWrap.clientWidth - 4) / (st.size[0] || 1)); applyZoom(); } }, 'fit'),
    h('button', { type: 'button', title: 'Actual size', onclick: () => { st.zoom = 1; applyZoom(); } }, '1:1'));
  const legend = h('div', { class: 'legend' },
    [['good', 'good'], ['buggy', 'buggy'], ['pending', 'pending'], ['best', 'best node'], ['path', 'best path']]
      .map(([k, label]) => h('span', { class: 'legend-item' }, h('span', { class: 'swatch swatch-' + k }), label)));
  const chartSvg = s('svg', { id: 'metric-chart', class: 'chart', viewBox: `0 0 ${CHART_W} ${CHART_H}`, role: 'img', 'aria-label': 'Metric by step' });
  const chartCaption = h('p', { class: 'muted chart-caption' });
  const events = h('ol', { id: 'events', class: 'events' });
  const eventsWrap = h('div', { class: 'events-wrap' }, events);
  const streamState = h('span', { id: 'stream-status', class: 'stream' }, 'connecting…');

  root.append(
    h('div', { class: 'crumbs' }, h('a', { href: '#/runs' }, '← Runs')),
    h('div', { class: 'page-head' }, title, statusEl, h('span', { class: 'spacer' }), cancelBtn),
    meta, budgets, exportsEl,
    h('section', { class: 'card' }, h('div', { class: 'card-head' }, h('h2', null, 'Tree'), legend, zoomBar), treeWrap),
    h('div', { class: 'two-col' },
      h('section', { class: 'card' }, h('h2', null, 'Metric'), chartSvg, chartCaption),
      h('section', { class: 'card' }, h('div', { class: 'card-head' }, h('h2', null, 'Events'), streamState), eventsWrap)));

  const goNode = (e) => {
    const g = e.target.closest('[data-node-id]');
    if (g) location.hash = routeHref('nodes', g.getAttribute('data-node-id'));
  };
  treeSvg.addEventListener('click', goNode);
  chartSvg.addEventListener('click', goNode);

  // ── header, budgets
  function renderHead() {
    const r = st.run;
    title.textContent = str(r.name || r.id);
    document.title = `${str(r.name || r.id)} · aide`;
    statusEl.textContent = str(r.status);
    statusEl.className = statusClass(r.status);
    cancelBtn.hidden = TERMINAL.has(r.status);
    cancelBtn.disabled = st.cancelling || !!r.cancel_requested;
    cancelBtn.textContent = r.cancel_requested ? 'Cancel requested' : 'Cancel run';
    const item = (k, v) => v == null || v === '' ? null : h('span', { class: 'meta-item' }, h('span', { class: 'k' }, k), ' ', h('span', { class: 'v' }, v));
    meta.replaceChildren(...[
      item('task', str(r.task_name)),
      item('direction', r.direction === 'minimize' ? 'minimize ↓' : r.direction === 'maximize' ? 'maximize ↑' : null),
      item('owner', r.owner == null ? null : str(r.owner)),
      item('created', fmtDateTime(r.created_at)),
      item('stop reason', r.stop_reason == null ? null : str(r.stop_reason)),
      r.sweep_id ? h('span', { class: 'meta-item' }, h('a', { href: routeHref('sweeps', r.sweep_id) }, 'sweep ' + shortId(r.sweep_id))) : null,
    ].filter(Boolean));
    renderBudgets();
  }

  function renderBudgets() {
    const r = st.run;
    const budget = (key, label, value, frac, sub) => h('div', { class: 'budget', 'data-budget': key },
      h('span', { class: 'budget-label' }, label), h('span', { class: 'budget-value' }, value),
      frac == null ? null : bar(frac), sub ? h('span', { class: 'budget-sub muted' }, sub) : null);
    const end = r.finished_at ? Date.parse(r.finished_at) : Date.now();
    const elapsed = Math.max(0, (end - Date.parse(r.created_at)) / 1000);
    budgets.replaceChildren(
      budget('steps', 'Steps', `${str(r.reviewed)}/${str(r.steps)}`, r.steps > 0 ? r.reviewed / r.steps : 0,
        `${str(r.nodes)} nodes · ${str(r.buggy)} buggy`),
      budget('time', 'Elapsed', fmtDuration(elapsed) + (r.max_run_secs ? ' / ' + fmtDuration(r.max_run_secs) : ''),
        r.max_run_secs ? elapsed / r.max_run_secs : null),
      budget('cost', 'Cost', fmtMoney(r.cost_usd) + (isNum(r.max_cost_usd) ? ' / ' + fmtMoney(r.max_cost_usd) : ''),
        isNum(r.max_cost_usd) && r.max_cost_usd > 0 ? r.cost_usd / r.max_cost_usd : null));
  }
  const ticker = setInterval(() => { if (st.run && !TERMINAL.has(st.run.status)) renderBudgets(); }, 1000);
  ctx.onLeave(() => clearInterval(ticker));

  cancelBtn.addEventListener('click', async () => {
    st.cancelling = true;
    cancelBtn.disabled = true;
    try {
      const r = await api('POST', `/runs/${enc}/cancel`);
      if (ctx.alive && r) st.run = r;
    } catch (e) {
      if (ctx.alive) reportError(e);
    } finally {
      st.cancelling = false;
      if (ctx.alive && st.run) renderHead();
    }
  });

  // ── summary refresh, throttled to one request per second
  // A refresh asked for while one is pending runs after it: the pending one may answer
  // with the run as it was before the event that asked (a run_finished, say).
  let lastSummary = 0, summaryTimer = null, summaryAgain = false;
  function refreshSummarySoon() {
    if (summaryTimer) { summaryAgain = true; return; }
    summaryAgain = false;
    summaryTimer = setTimeout(async () => {
      lastSummary = Date.now();
      try {
        const r = await api('GET', `/runs/${enc}`);
        if (!ctx.alive || !r) return;
        st.run = r; // the best node itself follows best_changed events
        renderHead();
        scheduleDraw();
      } catch (e) {
        if (ctx.alive) reportError(e);
      } finally {
        summaryTimer = null;
        if (summaryAgain && ctx.alive) refreshSummarySoon();
      }
    }, Math.max(0, lastSummary + 1000 - Date.now()));
  }
  ctx.onLeave(() => clearTimeout(summaryTimer));

  // ── model updates
  function addNode(id, parent, step, action, outcome, metric) {
    if (id == null || st.nodes.has(str(id))) return;
    st.dirty = true;
    const n = { id: str(id), parent: parent == null ? null : str(parent), step, action: str(action),
      outcome: OUTCOMES.has(outcome) ? outcome : 'pending', metric: isNum(metric) ? metric : null };
    st.nodes.set(n.id, n);
    st.list.push(n);
  }

  function setBest(id) {
    const best = id == null ? null : str(id);
    if (best === st.bestId && st.bestPath) return;
    st.dirty = true;
    st.bestId = best;
    st.bestPath = new Set();
    let n = st.nodes.get(st.bestId);
    while (n && !st.bestPath.has(n.id)) { // guard against cycles in untrusted data
      st.bestPath.add(n.id);
      n = n.parent == null ? null : st.nodes.get(n.parent);
    }
  }

  function onEvent(ev) {
    if (isNum(ev.seq)) {
      if (ev.seq <= st.lastSeq) return; // duplicate after a reconnect
      st.lastSeq = ev.seq;
    }
    st.logBuf.push(ev);
    const p = ev.payload && typeof ev.payload === 'object' ? ev.payload : {};
    switch (ev.kind) {
      case 'node_created':
        addNode(p.node_id, p.parent, p.step, p.action, 'pending', null);
        break;
      case 'node_reviewed': {
        const n = st.nodes.get(str(p.node_id));
        const outcome = p.buggy ? 'buggy' : 'good';
        const metric = isNum(p.metric) ? p.metric : null;
        if (n && (n.outcome !== outcome || n.metric !== metric)) {
          n.outcome = outcome;
          n.metric = metric;
          st.dirty = true;
        }
        break;
      }
      case 'best_changed':
        setBest(p.node_id);
        break;
      case 'run_finished':
        if (st.run) {
          st.run.status = str(p.status);
          if (p.reason != null) st.run.stop_reason = str(p.reason);
          renderHead();
        }
        break;
    }
    scheduleDraw();
    refreshSummarySoon();
  }

  // ── drawing, batched: a burst of events costs one redraw
  function scheduleDraw() {
    if (st.raf) return;
    st.raf = requestAnimationFrame(() => {
      st.raf = 0;
      if (!ctx.alive) return;
      flushLog();
      // Replaying history the snapshot already holds changes nothing: no redraw.
      if (!st.dirty) return;
      st.dirty = false;
      st.size = drawTree(treeSvg, st.list, st.bestId, st.bestPath);
      applyZoom();
      const dir = st.run && st.run.direction === 'minimize' ? 'minimize' : 'maximize';
      drawChart(chartSvg, st.list, dir, st.bestId);
      chartCaption.textContent = `dots: metric of good nodes · line: best so far (${dir === 'minimize' ? 'lower' : 'higher'} is better)`;
    });
  }
  ctx.onLeave(() => cancelAnimationFrame(st.raf));

  function applyZoom() {
    const [w, hgt] = st.size;
    treeSvg.setAttribute('width', Math.max(1, Math.round(w * st.zoom)));
    treeSvg.setAttribute('height', Math.max(1, Math.round(hgt * st.zoom)));
  }

  function flushLog() {
    if (!st.logBuf.length) return;
    const follow = eventsWrap.scrollTop + eventsWrap.clientHeight >= eventsWrap.scrollHeight - 8;
    const frag = document.createDocumentFragment();
    // A few hundred items a frame, so a long history never holds the page up.
    for (const ev of st.logBuf.splice(0, LOG_ITEMS_PER_FRAME)) frag.append(eventItem(ev));
    events.append(frag);
    if (follow) eventsWrap.scrollTop = eventsWrap.scrollHeight;
    if (st.logBuf.length) scheduleDraw();
  }

  // ── load: snapshot first, then the live event stream
  (async () => {
    let tree;
    try {
      tree = await api('GET', `/runs/${enc}/tree`);
    } catch (e) {
      if (ctx.alive) { reportError(e); title.textContent = 'Run not available'; }
      return;
    }
    if (!ctx.alive) return;
    st.run = tree.run;
    const nodes = (Array.isArray(tree.nodes) ? tree.nodes : []).slice()
      .sort((a, b) => (a.step ?? 0) - (b.step ?? 0));
    for (const n of nodes) addNode(n.id, n.parent_id, n.step, n.action, n.outcome, n.metric);
    const path = Array.isArray(tree.best_path) ? tree.best_path : [];
    setBest(path.length ? path[path.length - 1] : st.run.best_node_id);
    renderHead();
    scheduleDraw();
    openStream();
  })();

  function openStream() {
    const es = new EventSource(`/api/v1/runs/${enc}/events/stream?after=0`);
    ctx.onLeave(() => es.close());
    es.onopen = () => { streamState.textContent = 'live'; streamState.className = 'stream live'; };
    es.onmessage = (m) => {
      let ev;
      try { ev = JSON.parse(m.data); } catch (_) { return; }
      if (ev && typeof ev === 'object') onEvent(ev);
    };
    es.addEventListener('end', () => {
      es.close();
      streamState.textContent = 'ended';
      streamState.className = 'stream';
      refreshSummarySoon();
    });
    es.onerror = () => {
      if (!ctx.alive) return;
      if (es.readyState === EventSource.CLOSED) {
        streamState.textContent = 'disconnected';
        api('GET', '/session').catch(reportError); // a 401 here sends us to login
      } else {
        streamState.textContent = 'reconnecting…';
      }
      streamState.className = 'stream down';
    };
  }
}

function eventItem(ev) {
  return h('li', { class: 'event', 'data-seq': str(ev.seq), 'data-kind': str(ev.kind) },
    h('span', { class: 'ev-seq' }, '#' + str(ev.seq)),
    h('span', { class: 'ev-time', title: str(ev.at) }, fmtClock(ev.at)),
    h('span', { class: 'ev-kind' }, str(ev.kind)),
    h('span', { class: 'ev-summary' }, summarizeEvent(ev)));
}

// ───────────────────────── 8. Tree layout & drawing ─────────────────────────

/**
 * Layered tidy layout in O(n). `list` holds {id, parent} in creation order.
 * Roots (drafts, hanging under a virtual root) sit on row 0; leaves take
 * consecutive x slots in depth-first order and a parent sits at the mean x of
 * its children. Unknown parents make a node a root; cycles are broken.
 * Returns typed arrays indexed like `list`: x (slot units), depth, parent index (-1 = root).
 */
function layoutTree(list) {
  const n = list.length;
  const index = new Map();
  for (let i = 0; i < n; i++) index.set(list[i].id, i);
  const kids = Array.from({ length: n }, () => []);
  const roots = [];
  for (let i = 0; i < n; i++) {
    const p = list[i].parent == null ? undefined : index.get(list[i].parent);
    if (p === undefined || p === i) roots.push(i); else kids[p].push(i);
  }
  const x = new Float64Array(n), depth = new Int32Array(n), parent = new Int32Array(n).fill(-1);
  const seen = new Uint8Array(n), next = new Int32Array(n), sum = new Float64Array(n), cnt = new Int32Array(n);
  let slot = 0, maxDepth = 0;
  const stack = [];
  const visit = (r) => {
    seen[r] = 1; depth[r] = 0; stack.push(r);
    while (stack.length) {
      const v = stack[stack.length - 1];
      const ks = kids[v];
      if (next[v] < ks.length) {
        const c = ks[next[v]++];
        if (seen[c]) continue;
        seen[c] = 1; parent[c] = v; depth[c] = depth[v] + 1;
        if (depth[c] > maxDepth) maxDepth = depth[c];
        stack.push(c);
      } else {
        stack.pop();
        x[v] = cnt[v] ? sum[v] / cnt[v] : slot++;
        if (parent[v] >= 0) { sum[parent[v]] += x[v]; cnt[parent[v]]++; }
      }
    }
  };
  for (const r of roots) visit(r);
  for (let i = 0; i < n; i++) if (!seen[i]) visit(i); // nodes caught in a parent cycle
  return { x, depth, parent, slots: slot, maxDepth };
}

const TREE_DX = 22, TREE_DY = 46, TREE_R = 7, TREE_PAD = 16;
const OUTCOME_FILL = { good: '#16a34a', buggy: '#dc2626', pending: '#9ca3af' };

/** Redraw the whole tree into `svg` with one fragment; returns its natural [width, height]. */
function drawTree(svg, list, bestId, bestPath) {
  if (!list.length) {
    svg.setAttribute('viewBox', '0 0 240 40');
    svg.replaceChildren(s('text', { x: 8, y: 24, class: 'empty-note' }, 'No nodes yet'));
    return [240, 40];
  }
  const L = layoutTree(list);
  const w = Math.max(1, L.slots) * TREE_DX + 2 * TREE_PAD;
  const hgt = L.maxDepth * TREE_DY + 2 * (TREE_PAD + TREE_R);
  const X = (i) => TREE_PAD + (L.x[i] + 0.5) * TREE_DX;
  const Y = (i) => TREE_PAD + TREE_R + L.depth[i] * TREE_DY;
  const edges = s('g', { class: 'edges' }), bestEdges = s('g', { class: 'edges' }), nodes = s('g', { class: 'nodes' });
  for (let i = 0; i < list.length; i++) {
    const p = L.parent[i];
    if (p < 0) continue;
    const best = bestPath.has(list[i].id) && bestPath.has(list[p].id);
    const x1 = X(p), y1 = Y(p), x2 = X(i), y2 = Y(i), ym = (y1 + y2) / 2;
    (best ? bestEdges : edges).append(s('path', {
      class: best ? 'edge best-path' : 'edge',
      d: `M${x1} ${y1}C${x1} ${ym} ${x2} ${ym} ${x2} ${y2}`,
    }));
  }
  for (let i = 0; i < list.length; i++) {
    const nd = list[i];
    const outcome = OUTCOMES.has(nd.outcome) ? nd.outcome : 'pending';
    nodes.append(s('g', {
      class: nd.id === bestId ? 'node best' : 'node',
      'data-node-id': nd.id, 'data-outcome': outcome,
      transform: `translate(${X(i)},${Y(i)})`,
    },
    s('circle', { r: TREE_R, fill: OUTCOME_FILL[outcome] }),
    s('title', null, `step ${str(nd.step)} · ${nd.action} · ${fmtSig(nd.metric)}`)));
  }
  const frag = document.createDocumentFragment();
  frag.append(edges, bestEdges, nodes);
  svg.setAttribute('viewBox', `0 0 ${w} ${hgt}`);
  svg.replaceChildren(frag);
  return [w, hgt];
}

// ───────────────────────── 9. Metric chart ─────────────────────────

const CHART_W = 640, CHART_H = 260;
const CM = { l: 56, r: 14, t: 12, b: 36 };

/** Round axis: extends [lo, hi] to multiples of a 1/2/5 step and lists the ticks. */
function niceScale(lo, hi, count) {
  if (!(hi > lo)) { const d = Math.abs(lo) * 0.1 || 1; lo -= d; hi += d; }
  const raw = (hi - lo) / Math.max(1, count);
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const norm = raw / mag;
  const step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
  const a = Math.floor(lo / step + 1e-9) * step, b = Math.ceil(hi / step - 1e-9) * step;
  const ticks = [];
  for (let v = a; v <= b + step / 2; v += step) ticks.push(Number(v.toPrecision(12)));
  return { lo: a, hi: b, ticks };
}

function drawChart(svg, list, direction, bestId) {
  const pts = list.filter((n) => n.outcome === 'good' && isNum(n.metric) && isNum(n.step))
    .sort((a, b) => a.step - b.step);
  if (!pts.length) {
    svg.replaceChildren(s('text', { x: CHART_W / 2, y: CHART_H / 2, 'text-anchor': 'middle', class: 'empty-note' }, 'No metrics yet'));
    return;
  }
  let maxStep = 1, lo = Infinity, hi = -Infinity;
  for (const n of list) if (isNum(n.step) && n.step > maxStep) maxStep = n.step;
  for (const p of pts) { lo = Math.min(lo, p.metric); hi = Math.max(hi, p.metric); }
  const ys = niceScale(lo, hi, 5);
  const xs = niceScale(0, maxStep, 8);
  const xsTicks = xs.ticks.filter((t) => Number.isInteger(t) && t <= xs.hi);
  const X = (step) => CM.l + (step - xs.lo) / (xs.hi - xs.lo) * (CHART_W - CM.l - CM.r);
  const Y = (m) => CHART_H - CM.b - (m - ys.lo) / (ys.hi - ys.lo) * (CHART_H - CM.t - CM.b);
  const tick = (v) => String(Number(v.toPrecision(4)));
  const frag = document.createDocumentFragment();

  const axes = s('g', { class: 'axes' });
  for (const t of ys.ticks) {
    axes.append(s('line', { class: 'grid', x1: CM.l, x2: CHART_W - CM.r, y1: Y(t), y2: Y(t) }),
      s('text', { x: CM.l - 6, y: Y(t) + 4, 'text-anchor': 'end' }, tick(t)));
  }
  for (const t of xsTicks) {
    axes.append(s('text', { x: X(t), y: CHART_H - CM.b + 16, 'text-anchor': 'middle' }, tick(t)));
  }
  axes.append(
    s('line', { class: 'axis', x1: CM.l, x2: CHART_W - CM.r, y1: CHART_H - CM.b, y2: CHART_H - CM.b }),
    s('line', { class: 'axis', x1: CM.l, x2: CM.l, y1: CM.t, y2: CHART_H - CM.b }),
    s('text', { x: (CM.l + CHART_W - CM.r) / 2, y: CHART_H - 4, 'text-anchor': 'middle', class: 'axis-label' }, 'step'),
    s('text', { x: 12, y: (CM.t + CHART_H - CM.b) / 2, 'text-anchor': 'middle', class: 'axis-label',
      transform: `rotate(-90 12 ${(CM.t + CHART_H - CM.b) / 2})` }, direction === 'minimize' ? 'metric ↓' : 'metric ↑'));
  frag.append(axes);

  // best-so-far as a step line, extended to the latest step
  const better = direction === 'minimize' ? (a, b) => a < b : (a, b) => a > b;
  let best = pts[0].metric;
  let d = `M${X(pts[0].step)} ${Y(best)}`;
  for (const p of pts) {
    if (better(p.metric, best)) { best = p.metric; d += `H${X(p.step)}V${Y(best)}`; }
  }
  d += `H${X(maxStep)}`;
  frag.append(s('path', { class: 'best-line', d }));

  const dots = s('g', { class: 'dots' });
  for (const p of pts) {
    dots.append(s('circle', {
      class: p.id === bestId ? 'metric-dot best' : 'metric-dot', 'data-node-id': p.id,
      cx: X(p.step), cy: Y(p.metric), r: p.id === bestId ? 5 : 3.5,
    }, s('title', null, `step ${p.step} · ${p.action} · ${fmtSig(p.metric)}`)));
  }
  frag.append(dots);
  svg.replaceChildren(frag);
}

// ───────────────────────── 10. Event summaries ─────────────────────────

/** A one-line human summary of an Event payload (plain text). */
function summarizeEvent(ev) {
  const p = ev && ev.payload && typeof ev.payload === 'object' ? ev.payload : {};
  const who = (b) => (b && typeof b === 'object' ? `${str(b.role)} ${shortId(b.token_id)}`.trim() : str(b)) || 'unknown';
  let t;
  switch (ev && ev.kind) {
    case 'run_created': t = `run created by ${who(p.by)}`; break;
    case 'cancel_requested': t = `cancel requested by ${who(p.by)}`; break;
    case 'run_started':
    case 'run_resumed':
      t = `${ev.kind === 'run_started' ? 'started' : 'resumed'} · epoch ${str(p.epoch)} · owner ${str(p.owner)}` +
        ` · ${str(p.nodes)} nodes, ${str(p.unfinished)} unfinished`;
      break;
    case 'node_created':
      t = `step ${str(p.step)} ${str(p.action)} ${shortId(p.node_id)}` +
        (p.parent != null ? ` from ${shortId(p.parent)}` : ' (draft)') +
        (isNum(p.debug_depth) && p.debug_depth > 0 ? ` · debug depth ${p.debug_depth}` : '') +
        (p.pin != null ? ' · pinned' : '');
      break;
    case 'node_reviewed': {
      const reasons = Array.isArray(p.bug_reasons) ? p.bug_reasons.map(str) : [];
      t = `step ${str(p.step)} ${str(p.action)} reviewed: ` +
        (p.buggy ? 'buggy' + (reasons.length ? ' — ' + reasons.join('; ') : '') : 'metric ' + fmtSig(p.metric));
      break;
    }
    case 'best_changed': t = `new best: step ${str(p.step)} · metric ${fmtSig(p.metric)}`; break;
    case 'infra_retry':
      t = `infra retry ${str(p.retry)} (${str(p.what)}) at step ${str(p.step)}: ${str(p.error)} · waiting ${str(p.wait_ms)} ms`;
      break;
    case 'report_failed': t = `report failed after ${str(p.attempts)} attempts: ${str(p.error)}`; break;
    case 'run_finished': t = `finished: ${str(p.status)}` + (p.reason != null ? ` (${str(p.reason)})` : ''); break;
    case 'run_exported': t = `exported ${str(p.format)} by ${who(p.by)}`; break;
    case 'steered': t = `${steeredSummary(p)} by ${who(p.by)}`; break;
    case 'forked': t = `forked from ${shortId(p.node)} into run ${shortId(p.run)} by ${who(p.by)}`; break;
    default: t = JSON.stringify(p);
  }
  return oneLine(t, 240);
}

/** What a `steered` event asked, in words. */
function steeredSummary(p) {
  switch (p.directive) {
    case 'pin': return `pinned ${shortId(p.node)}`;
    case 'prune': return `pruned the subtree of ${shortId(p.node)}`;
    case 'note': return `note "${oneLine(str(p.text), 120)}"`;
    case 'budget': {
      const parts = [];
      if (p.steps != null) parts.push(`${str(p.steps)} steps`);
      if (p.max_run_secs != null) parts.push(fmtDuration(p.max_run_secs));
      return `budget set to ${parts.join(' and ')}`;
    }
    default: return `directive ${str(p.directive)}`;
  }
}

// ───────────────────────── 11. Node page ─────────────────────────

function pageNode(ctx, root, nodeId) {
  root.append(h('p', { class: 'muted' }, 'Loading node…'));
  api('GET', '/nodes/' + encodeURIComponent(nodeId)).then((d) => {
    if (!ctx.alive) return;
    root.replaceChildren(...renderNode(d, renderSteering(ctx, d)));
    const exc = root.querySelector('#node-code .exc-line');
    if (exc) requestAnimationFrame(() => { exc.parentNode.parentNode.scrollTop = Math.max(0, exc.offsetTop - 80); });
  }).catch((e) => {
    if (!ctx.alive) return;
    reportError(e);
    root.replaceChildren(h('p', { class: 'muted' }, 'Node not available.'));
  });
}

/** The node page's sections; `steering` goes right below the header. */
function renderNode(d, steering) {
  document.title = `step ${str(d.step)} · aide`;
  const outcome = OUTCOMES.has(d.outcome) ? d.outcome : 'pending';
  const kv = (k, v) => h('span', { class: 'meta-item' }, h('span', { class: 'k' }, k), ' ', h('span', { class: 'v' }, v));
  const children = Array.isArray(d.children) ? d.children : [];

  const head = [
    h('div', { class: 'crumbs' }, h('a', { id: 'node-run', href: routeHref('runs', d.run_id) }, '← Run ' + shortId(d.run_id))),
    h('div', { class: 'page-head' },
      h('h1', { id: 'node-title' }, `Step ${str(d.step)} · ${str(d.action)}`),
      h('span', { id: 'node-outcome', class: 'outcome outcome-' + outcome }, outcome),
      d.is_best ? h('span', { class: 'badge-best' }, 'best') : null),
    h('div', { class: 'meta' },
      kv('metric', h('span', { id: 'node-metric' }, fmtSig(d.metric))),
      kv('stage', str(d.stage)),
      kv('debug depth', str(d.debug_depth)),
      kv('exit code', d.exit_code == null ? '—' : str(d.exit_code)),
      kv('exec time', fmtDuration(d.exec_time_secs)),
      d.timed_out ? h('span', { class: 'meta-item warn' }, 'timed out') : null,
      kv('created', fmtDateTime(d.created_at))),
    h('nav', { class: 'node-nav' },
      h('span', { class: 'k' }, 'parent'),
      d.parent_id ? h('a', { id: 'node-parent', href: routeHref('nodes', d.parent_id) }, shortId(d.parent_id)) : h('span', { class: 'muted' }, 'none (draft)'),
      d.partner_id ? h('span', { class: 'k' }, 'merged with') : null,
      d.partner_id ? h('a', { id: 'node-partner', href: routeHref('nodes', d.partner_id) }, shortId(d.partner_id)) : null,
      h('span', { class: 'k' }, 'children'),
      h('ul', { id: 'node-children', class: 'inline-list' },
        children.length ? children.map((c) => h('li', null, h('a', { href: routeHref('nodes', c) }, shortId(c)))) : h('li', { class: 'muted' }, 'none'))),
  ];

  return [
    ...head,
    steering,
    renderReview(d.review),
    card('Plan', h('div', { id: 'node-plan', class: 'prewrap' }, d.plan == null ? '—' : str(d.plan))),
    card('Code', renderCode(d.code, d.exception ? d.exception.line : null)),
    d.exception ? renderException(d.exception) : null,
    card('Output', d.output_bytes != null ? h('p', { class: 'muted' }, fmtBytes(d.output_bytes) + ' of output') : null,
      renderOutput(d.output, d.output_cut)),
    card('Diff vs parent', renderDiff(d)),
    card('LLM calls', renderLlmCalls(d.llm_calls)),
    card('Executions', renderExecutions(d.executions)),
  ].filter(Boolean);
}

/**
 * The node's steering card: pin it (the next node expands it), prune its subtree, fork a
 * new run from its code, and, for its run, add a note to the search's memory or change the
 * step budget. A finished run keeps only Fork. Every action is one POST; refusals show in
 * the banner with the server's reason.
 */
function renderSteering(ctx, d) {
  const run = encodeURIComponent(str(d.run_id));
  const done = h('p', { id: 'steer-done', class: 'muted', role: 'status' });
  const pin = h('button', { id: 'steer-pin', type: 'button', class: 'primary', disabled: d.outcome === 'pending' || null }, 'Pin: expand next');
  const prune = h('button', { id: 'steer-prune', type: 'button', class: 'danger' }, 'Prune subtree');
  const fork = h('button', { id: 'steer-fork', type: 'button' }, 'Fork new run');
  const noteText = h('input', { id: 'steer-note-text', type: 'text', maxlength: 2000, placeholder: 'A note for every later prompt' });
  const note = h('button', { id: 'steer-note', type: 'button' }, 'Add note');
  const steps = h('input', { id: 'steer-steps', type: 'number', min: 1, step: 1, placeholder: 'steps' });
  const budget = h('button', { id: 'steer-budget', type: 'button' }, 'Set step budget');
  const live = h('div', { class: 'steer-live' },
    h('div', { class: 'steer-row' }, pin, prune),
    h('div', { class: 'steer-row' }, noteText, note),
    h('div', { class: 'steer-row' }, steps, budget));
  const box = h('section', { id: 'node-steering', class: 'card' },
    h('h2', null, 'Steer'), live, h('div', { class: 'steer-row' }, fork), done);

  async function send(btn, directive, said) {
    btn.disabled = true;
    try {
      const r = await api('POST', `/runs/${run}/steer`, directive);
      if (ctx.alive) done.textContent = `${said} (event ${str(r.seq)}).`;
      return true;
    } catch (e) {
      if (ctx.alive) reportError(e);
      return false;
    } finally {
      if (ctx.alive) btn.disabled = false;
    }
  }
  pin.addEventListener('click', () => send(pin, { pin: { node_id: d.id } }, 'Pinned: the next node expands this one'));
  prune.addEventListener('click', () => send(prune, { prune: { node_id: d.id } }, 'Pruned: this subtree is never expanded again'));
  note.addEventListener('click', async () => {
    const text = noteText.value.trim();
    if (!text) { showError('Write the note first.'); return; }
    if (await send(note, { note: { text } }, 'Note added to the search\'s memory')) noteText.value = '';
  });
  budget.addEventListener('click', () => {
    const n = Number(steps.value);
    if (!Number.isInteger(n) || n < 1) { showError('The step budget is a whole number of at least 1.'); return; }
    send(budget, { budget: { steps: n } }, `Step budget set to ${n}`);
  });
  fork.addEventListener('click', async () => {
    fork.disabled = true;
    try {
      const r = await api('POST', `/runs/${run}/fork`, { node_id: d.id });
      if (ctx.alive && r) location.hash = routeHref('runs', r.id);
    } catch (e) {
      if (ctx.alive) reportError(e);
    } finally {
      if (ctx.alive) fork.disabled = false;
    }
  });
  api('GET', '/runs/' + run).then((r) => {
    if (!ctx.alive || !r || !TERMINAL.has(r.status)) return;
    live.hidden = true;
    done.textContent = `The run is ${str(r.status)}: it can no longer be steered, but a new run can start from this node.`;
  }).catch(() => {});
  return box;
}

function renderReview(r) {
  const box = h('div', { id: 'node-review' });
  if (!r) box.append(h('p', { class: 'muted' }, 'Not reviewed yet.'));
  else {
    const reasons = Array.isArray(r.bug_reasons) ? r.bug_reasons : [];
    box.append(
      h('p', null, h('span', { class: r.is_buggy ? 'outcome outcome-buggy' : 'outcome outcome-good' }, r.is_buggy ? 'buggy' : 'not buggy'),
        ' metric ', fmtSig(r.metric)),
      reasons.length ? h('ul', { class: 'bug-reasons' }, reasons.map((x) => h('li', null, str(x)))) : null,
      h('p', { class: 'prewrap' }, str(r.summary)));
  }
  return card('Review', box);
}

/** Highlighted code with line numbers (CSS, from data-line); `excLine` is 1-based. */
function renderCode(code, excLine) {
  const codeEl = h('code');
  const pre = h('pre', { id: 'node-code', class: 'code' }, codeEl);
  if (code == null || code === '') { codeEl.append('(no code)'); pre.classList.add('empty'); return pre; }
  const lines = highlightLines(code);
  const trailing = code.endsWith('\n');
  if (trailing) lines.pop();
  const frag = document.createDocumentFragment();
  lines.forEach((toks, i) => {
    const line = h('span', { class: i + 1 === excLine ? 'line exc-line' : 'line', 'data-line': i + 1 });
    for (const [cls, text] of toks) line.append(cls ? h('span', { class: 'tok-' + cls }, text) : text);
    if (i < lines.length - 1 || trailing) line.append('\n');
    frag.append(line);
  });
  codeEl.append(frag);
  return pre;
}

function renderException(x) {
  return h('section', { id: 'node-exception', class: 'card exception' },
    h('h2', null, 'Exception'),
    h('p', null, h('strong', { class: 'exc-type' }, str(x.type)), ': ', h('span', { class: 'exc-message' }, str(x.message))),
    x.line != null ? h('p', { class: 'exc-where' }, 'line ' + str(x.line)) : null,
    x.traceback ? h('pre', { class: 'traceback' }, str(x.traceback)) : null);
}

/**
 * Locates the cut marker line (0-based `cut.line`) in `output`.
 * Returns {before, marker, after} with before+marker+after === output, or null.
 */
function splitOutputCut(output, cut) {
  if (!cut || !Number.isInteger(cut.line) || cut.line < 0) return null;
  let start = 0;
  for (let k = 0; k < cut.line; k++) {
    const nl = output.indexOf('\n', start);
    if (nl < 0) return null;
    start = nl + 1;
  }
  let end = output.indexOf('\n', start);
  if (end < 0) end = output.length;
  return { before: output.slice(0, start), marker: output.slice(start, end), after: output.slice(end) };
}

function renderOutput(output, cut) {
  const pre = h('pre', { id: 'node-output', class: 'output' });
  if (output == null || output === '') { pre.append('(no output)'); pre.classList.add('empty'); return pre; }
  const text = str(output);
  const parts = splitOutputCut(text, cut);
  if (!parts) { pre.append(text); return pre; }
  pre.append(parts.before,
    h('span', { id: 'node-output-cut', class: 'output-cut', title: `${str(cut.omitted_bytes)} bytes omitted` }, parts.marker),
    parts.after);
  return pre;
}

const DIFF_MAX_LINES = 5000, DIFF_CONTEXT = 3;

function renderDiff(d) {
  const box = h('div', { id: 'node-diff' });
  if (d.parent_id == null) { box.append(h('p', { class: 'muted' }, 'no parent — this node is a draft')); return box; }
  if (d.code == null || d.parent_code == null) { box.append(h('p', { class: 'muted' }, 'no code to compare')); return box; }
  const a = splitLines(str(d.parent_code)), b = splitLines(str(d.code));
  const ops = a.length > DIFF_MAX_LINES || b.length > DIFF_MAX_LINES ? null : diffLines(a, b);
  if (!ops) { box.append(h('p', { class: 'muted' }, 'too large to diff')); return box; }
  const adds = ops.filter((o) => o.op === '+').length, dels = ops.filter((o) => o.op === '-').length;
  if (!adds && !dels) { box.append(h('p', { class: 'muted' }, 'identical to the parent')); return box; }
  const pre = h('pre', { class: 'diff' });
  const cls = { '+': 'diff-add', '-': 'diff-del', ' ': 'diff-ctx' };
  const line = (o) => h('span', { class: 'diff-line ' + cls[o.op] }, o.op + o.text + '\n');
  // Long unchanged stretches collapse to DIFF_CONTEXT lines around each change.
  for (let i = 0; i < ops.length;) {
    if (ops[i].op !== ' ') { pre.append(line(ops[i++])); continue; }
    let j = i;
    while (j < ops.length && ops[j].op === ' ') j++;
    const head = i === 0 ? 0 : DIFF_CONTEXT, tail = j === ops.length ? 0 : DIFF_CONTEXT;
    if (j - i > head + tail + 1) {
      for (let k = i; k < i + head; k++) pre.append(line(ops[k]));
      pre.append(h('span', { class: 'diff-line diff-skip' }, `⋯ ${j - i - head - tail} unchanged lines\n`));
      for (let k = j - tail; k < j; k++) pre.append(line(ops[k]));
    } else {
      for (let k = i; k < j; k++) pre.append(line(ops[k]));
    }
    i = j;
  }
  box.append(h('p', { class: 'diff-stat' }, h('span', { class: 'diff-add' }, `+${adds}`), ' ', h('span', { class: 'diff-del' }, `−${dels}`)), pre);
  return box;
}

function renderLlmCalls(calls) {
  const list = Array.isArray(calls) ? calls : [];
  const n = (v) => (isNum(v) ? v : 0);
  const tot = list.reduce((t, c) => ({
    p: t.p + n(c.prompt_tokens), c: t.c + n(c.completion_tokens), k: t.k + n(c.cached_tokens),
    usd: t.usd + n(c.cost_usd), ms: t.ms + n(c.latency_ms),
  }), { p: 0, c: 0, k: 0, usd: 0, ms: 0 });
  const rows = list.map((c) => h('tr', { title: fmtDateTime(c.at) },
    h('td', null, str(c.purpose)),
    h('td', null, [c.provider, c.model].filter((x) => x != null).map(str).join(' / ')),
    h('td', { class: 'num' }, fmtInt(c.prompt_tokens)),
    h('td', { class: 'num' }, fmtInt(c.completion_tokens)),
    h('td', { class: 'num' }, fmtInt(c.cached_tokens), c.cached ? h('span', { class: 'tag' }, 'cache hit') : null),
    h('td', { class: 'num' }, fmtMoney(c.cost_usd)),
    h('td', { class: 'num' }, isNum(c.latency_ms) ? fmtInt(c.latency_ms) + ' ms' : '—')));
  const total = h('tr', { class: 'total' }, h('td', null, 'total'), h('td', null, `${list.length} calls`),
    h('td', { class: 'num' }, fmtInt(tot.p)), h('td', { class: 'num' }, fmtInt(tot.c)), h('td', { class: 'num' }, fmtInt(tot.k)),
    h('td', { class: 'num' }, fmtMoney(tot.usd)), h('td', { class: 'num' }, fmtInt(tot.ms) + ' ms'));
  return table({ id: 'node-llm-calls', class: 'grid' },
    ['Purpose', 'Model', 'Prompt tok', 'Completion tok', 'Cached tok', 'Cost', 'Latency'],
    rows.length ? rows : emptyRow(7, 'No LLM calls.'), total);
}

function renderExecutions(execs) {
  const list = Array.isArray(execs) ? execs : [];
  const rows = list.map((x) => h('tr', null,
    h('td', { class: 'num' }, str(x.attempt)),
    h('td', null, statusBadge(x.status)),
    h('td', null, x.runner_id == null ? '—' : str(x.runner_id)),
    h('td', null, fmtDateTime(x.started_at)),
    h('td', { class: 'num' }, fmtDuration(x.wall_secs)),
    h('td', { class: 'num' }, fmtDuration(x.cpu_secs)),
    h('td', { class: 'num' }, fmtBytes(x.peak_memory_bytes)),
    h('td', { class: 'num' }, x.exit_code == null ? '—' : str(x.exit_code)),
    h('td', null, x.abandon_reason == null ? '' : str(x.abandon_reason))));
  return table({ id: 'node-executions', class: 'grid' },
    ['Attempt', 'Status', 'Runner', 'Started', 'Wall', 'CPU', 'Peak memory', 'Exit', 'Abandon reason'],
    rows.length ? rows : emptyRow(9, 'Not executed yet.'));
}

// ───────────────────────── 12. Python highlighter ─────────────────────────

const PY_KEYWORDS = new Set(('False None True and as assert async await break class continue def del elif else ' +
  'except finally for from global if import in is lambda nonlocal not or pass raise return try while with yield').split(' '));
const PY_STRING_START = /(?:[rRbBuUfF]{1,2})?("""|'''|"|')/y;
const PY_NUMBER = /0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?[jJ]?/y;
const PY_IDENT = /[A-Za-z_\u00C0-\uFFFF][\w\u00C0-\uFFFF]*/y;

/**
 * Splits Python source into [class|null, text] tokens whose texts concatenate
 * to the input. Classes: kw, str, com, num, fn (called or defined names, decorators).
 */
function tokenizePython(src) {
  const out = [];
  let plainFrom = 0, i = 0, afterDef = false;
  const n = src.length;
  const emit = (cls, from, to) => {
    if (from > plainFrom) out.push([null, src.slice(plainFrom, from)]);
    out.push([cls, src.slice(from, to)]);
    plainFrom = to;
  };
  const match = (re) => { re.lastIndex = i; const m = re.exec(src); return m ? m[0].length : 0; };
  while (i < n) {
    const c = src[i];
    if (c === '#') {
      let end = src.indexOf('\n', i);
      if (end < 0) end = n;
      emit('com', i, end); i = end; afterDef = false;
      continue;
    }
    PY_STRING_START.lastIndex = i;
    const sm = /[A-Za-z"']/.test(c) ? PY_STRING_START.exec(src) : null;
    if (sm) {
      const q = sm[1];
      let j = i + sm[0].length;
      while (j < n) {
        const ch = src[j];
        if (ch === '\\') { j += 2; continue; }
        if (q.length === 3 ? src.startsWith(q, j) : ch === q) { j += q.length; break; }
        if (q.length === 1 && ch === '\n') break; // unterminated single-line string
        j++;
      }
      j = Math.min(j, n);
      emit('str', i, j); i = j; afterDef = false;
      continue;
    }
    if ((c >= '0' && c <= '9') || (c === '.' && /[0-9]/.test(src[i + 1] || ''))) {
      const len = match(PY_NUMBER) || 1;
      emit('num', i, i + len); i += len; afterDef = false;
      continue;
    }
    const idLen = /[A-Za-z_\u00C0-\uFFFF]/.test(c) ? match(PY_IDENT) : 0;
    if (idLen) {
      const word = src.slice(i, i + idLen);
      let cls = null;
      if (PY_KEYWORDS.has(word)) cls = 'kw';
      else if (afterDef) cls = 'fn';
      else {
        let j = i + idLen;
        while (src[j] === ' ' || src[j] === '\t') j++;
        if (src[j] === '(' || (i > 0 && src[i - 1] === '@')) cls = 'fn';
      }
      if (cls) emit(cls, i, i + idLen);
      afterDef = word === 'def' || word === 'class';
      i += idLen;
      continue;
    }
    if (c !== ' ' && c !== '\t') afterDef = false;
    i++;
  }
  if (plainFrom < n) out.push([null, src.slice(plainFrom)]);
  return out;
}

/** Tokens grouped per line (newlines removed); always code.split('\n').length lines. */
function highlightLines(code) {
  const lines = [[]];
  for (const [cls, text] of tokenizePython(code)) {
    const parts = text.split('\n');
    parts.forEach((part, k) => {
      if (k > 0) lines.push([]);
      if (part) lines[lines.length - 1].push([cls, part]);
    });
  }
  return lines;
}

// ───────────────────────── 13. Line diff ─────────────────────────

function splitLines(text) {
  const lines = text.split('\n');
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/**
 * Myers O(ND) line diff of `a` (old) → `b` (new). Returns [{op: ' '|'-'|'+', text}]
 * or null when more than `maxD` edits are needed (too costly to show).
 */
function diffLines(a, b, maxD = 2000) {
  let pre = 0;
  while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
  let ea = a.length, eb = b.length;
  while (ea > pre && eb > pre && a[ea - 1] === b[eb - 1]) { ea--; eb--; }
  const A = a.slice(pre, ea), B = b.slice(pre, eb);
  const N = A.length, M = B.length, max = N + M, off = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace = []; // trace[d] = v over diagonals -d-1..d+1 before round d
  let done = N === 0 && M === 0;
  for (let d = 0; d <= max && !done; d++) {
    if (d > maxD) return null;
    trace.push(v.slice(off - d - 1, off + d + 2));
    for (let k = -d; k <= d; k += 2) {
      let x = (k === -d || (k !== d && v[off + k - 1] < v[off + k + 1])) ? v[off + k + 1] : v[off + k - 1] + 1;
      let y = x - k;
      while (x < N && y < M && A[x] === B[y]) { x++; y++; }
      v[off + k] = x;
      if (x >= N && y >= M) { done = true; break; }
    }
  }
  // Walk back from (N, M) through the saved rounds.
  const rev = [];
  let x = N, y = M;
  for (let d = trace.length - 1; d >= 0 && (x > 0 || y > 0); d--) {
    const t = trace[d], at = (k) => t[k + d + 1];
    const k = x - y;
    const pk = (k === -d || (k !== d && at(k - 1) < at(k + 1))) ? k + 1 : k - 1;
    const px = d === 0 ? 0 : at(pk), py = d === 0 ? 0 : px - pk;
    while (x > px && y > py) { rev.push({ op: ' ', text: A[x - 1] }); x--; y--; }
    if (d > 0) {
      if (x === px) rev.push({ op: '+', text: B[py] }); else rev.push({ op: '-', text: A[px] });
      x = px; y = py;
    }
  }
  const ctx = (lines) => lines.map((text) => ({ op: ' ', text }));
  return [...ctx(a.slice(0, pre)), ...rev.reverse(), ...ctx(a.slice(ea))];
}

// ───────────────────────── 14. Sweeps ─────────────────────────

const SWEEP_COUNTS = ['graded', 'failed', 'running', 'grading', 'queued', 'cancelled'];
const MEDALS = new Set(['gold', 'silver', 'bronze']);

function sweepFinished(c) {
  return (c ? (c.graded || 0) + (c.failed || 0) + (c.cancelled || 0) : 0);
}

function pageSweeps(ctx, root) {
  const tbody = h('tbody');
  root.append(h('div', { class: 'page-head' }, h('h1', null, 'Sweeps')),
    h('div', { class: 'table-wrap' }, h('table', { id: 'sweeps', class: 'grid' },
      h('thead', null, h('tr', null, ['Name', 'Status', 'Progress', 'Cost', 'Created'].map((t) => h('th', null, t)))), tbody)));
  poll(ctx, 3000, async (fresh) => {
    const data = await api('GET', '/sweeps');
    if (!fresh()) return;
    const list = data && Array.isArray(data.sweeps) ? data.sweeps : [];
    tbody.replaceChildren(...(list.length ? list.map((sw) => {
      const total = sw.cells ? sw.cells.total : 0, done = sweepFinished(sw.cells);
      return h('tr', { class: 'sweep-row', 'data-sweep-id': sw.id },
        h('td', { class: 'sweep-name' }, h('a', { href: routeHref('sweeps', sw.id) }, str(sw.name || sw.id))),
        h('td', { class: 'sweep-status' }, statusBadge(sw.status)),
        h('td', { class: 'sweep-progress' }, h('span', { class: 'num' }, `${done}/${str(total)}`), bar(total ? done / total : 0)),
        h('td', { class: 'sweep-cost num' }, fmtMoney(sw.cost_usd)),
        h('td', { class: 'sweep-created', title: fmtAge(sw.created_at) + ' ago' }, fmtDateTime(sw.created_at)));
    }) : [emptyRow(5, 'No sweeps.')]));
  });
}

function pageSweep(ctx, root, sweepId) {
  const body = h('div', null, h('p', { class: 'muted' }, 'Loading sweep…'));
  root.append(h('div', { class: 'crumbs' }, h('a', { href: '#/sweeps' }, '← Sweeps')), body);
  poll(ctx, 3000, async (fresh) => {
    const d = await api('GET', '/sweeps/' + encodeURIComponent(sweepId));
    if (!fresh()) return false;
    body.replaceChildren(...renderSweep(d));
    return d.sweep && d.sweep.status === 'running';
  });
}

function renderSweep(d) {
  const sw = d.sweep || {};
  document.title = `${str(sw.name)} · aide`;
  const c = sw.cells || {};
  const total = c.total || 0;
  const stack = h('div', { class: 'stackbar' });
  for (const k of SWEEP_COUNTS) {
    if (!c[k]) continue;
    const seg = h('span', { class: 'seg seg-' + k, title: `${k}: ${c[k]}` });
    seg.style.width = (100 * c[k] / (total || 1)).toFixed(2) + '%';
    stack.append(seg);
  }
  const progress = h('div', { id: 'sweep-progress', class: 'card' },
    h('div', { class: 'counts' },
      h('span', { class: 'count' }, h('strong', null, `${sweepFinished(c)}/${total}`), ' finished'),
      SWEEP_COUNTS.map((k) => h('span', { class: 'count count-' + k, 'data-count': k }, h('span', { class: 'swatch seg-' + k }), `${k} ${str(c[k] || 0)}`))),
    stack);
  return [
    h('div', { class: 'page-head' }, h('h1', { id: 'sweep-name' }, str(sw.name || sw.id)), statusBadge(sw.status)),
    h('div', { class: 'meta' },
      h('span', { class: 'meta-item' }, `${str(sw.tasks)} tasks × ${str(sw.arms)} arms × ${str(sw.seeds)} seeds`),
      h('span', { class: 'meta-item' }, 'cost ' + fmtMoney(sw.cost_usd)),
      h('span', { class: 'meta-item' }, 'created ' + fmtDateTime(sw.created_at)),
      sw.stop_reason ? h('span', { class: 'meta-item' }, 'stop reason: ' + str(sw.stop_reason)) : null),
    progress,
    card('Matrix', h('div', { class: 'table-wrap' }, renderMatrix(d))),
    card('Per arm', h('div', { class: 'table-wrap' }, renderAggregates(d.report))),
  ];
}

function renderMatrix(d) {
  const tasks = Array.isArray(d.task_names) ? d.task_names : [];
  const arms = Array.isArray(d.arm_names) ? d.arm_names : [];
  const seeds = Array.isArray(d.seeds) ? d.seeds : [];
  const key = (t, a, sd) => JSON.stringify([str(t), str(a), str(sd)]);
  const cells = new Map();
  for (const c of Array.isArray(d.cells) ? d.cells : []) cells.set(key(c.task, c.arm, c.seed), c);
  const tableEl = h('table', { id: 'sweep-matrix', class: 'grid matrix' },
    h('thead', null, h('tr', null, h('th', null, 'task'), seeds.map((sd) => h('th', null, 'seed ' + str(sd))))));
  for (const arm of arms) {
    const block = h('tbody', { class: 'arm-block', 'data-arm': str(arm) },
      h('tr', { class: 'arm-row' }, h('th', { colspan: seeds.length + 1 }, str(arm))));
    for (const task of tasks) {
      block.append(h('tr', null, h('th', { class: 'task-name' }, str(task)),
        seeds.map((sd) => matrixCell(cells.get(key(task, arm, sd)), task, arm, sd))));
    }
    tableEl.append(block);
  }
  return tableEl;
}

function matrixCell(c, task, arm, seed) {
  const status = c ? str(c.status) : 'missing';
  const td = h('td', { class: 'cell', 'data-task': str(task), 'data-arm': str(arm), 'data-seed': str(seed), 'data-status': status });
  if (!c) { td.append('—'); return td; }
  let content;
  if (status === 'graded') {
    const medal = MEDALS.has(c.medal) ? h('span', { class: 'medal medal-' + c.medal, title: c.medal + ' medal', 'aria-label': c.medal + ' medal' }) : null;
    content = [c.valid === false ? 'invalid' : fmtSig(c.score), medal];
    td.title = `score ${fmtSig(c.score)} · ${c.above_median ? 'above' : 'not above'} median · ${fmtMoney(c.cost_usd)}`;
  } else {
    content = [status];
    if (c.error) td.title = str(c.error);
  }
  td.append(c.run_id ? h('a', { href: routeHref('runs', c.run_id) }, content) : h('span', null, content));
  return td;
}

function fmtEstimate(e) {
  if (!e || !isNum(e.mean)) return '—';
  return e.mean.toFixed(1) + (isNum(e.sem) ? ' ± ' + e.sem.toFixed(1) : '');
}

function renderAggregates(report) {
  const arms = report && Array.isArray(report.arms) ? report.arms : [];
  const est = (e) => h('td', { class: 'num', title: e && isNum(e.n) ? `n = ${e.n}` : null }, fmtEstimate(e));
  const rows = arms.map((a) => h('tr', { 'data-arm': str(a.arm) },
    h('th', null, str(a.arm)), est(a.valid_pct), est(a.above_median_pct), est(a.any_medal_pct), est(a.gold_pct),
    h('td', { class: 'num' }, fmtMoney(a.cost_usd)), h('td', { class: 'num' }, fmtMoney(a.cost_per_medal_usd)),
    h('td', { class: 'num' }, fmtDuration(a.wall_p50_secs)), h('td', { class: 'num' }, fmtDuration(a.wall_p90_secs))));
  const foot = report && isNum(report.cost_usd)
    ? h('tr', { class: 'total' }, h('th', null, 'total'), h('td', { colspan: 4 }), h('td', { class: 'num' }, fmtMoney(report.cost_usd)), h('td', { colspan: 3 }))
    : null;
  return table({ id: 'sweep-aggregates', class: 'grid' },
    ['Arm', 'Valid %', 'Above median %', 'Any medal %', 'Gold %', 'Cost', 'Cost / medal', 'Wall p50', 'Wall p90'],
    rows.length ? rows : emptyRow(9, 'No results yet.'), foot);
}

// ───────────────────────── 15. Runners ─────────────────────────

function pageRunners(ctx, root) {
  const tbody = h('tbody');
  root.append(h('div', { class: 'page-head' }, h('h1', null, 'Runners')),
    h('div', { class: 'table-wrap' }, h('table', { id: 'runners', class: 'grid' },
      h('thead', null, h('tr', null, ['Runner', 'Address', 'Backend', 'Version', 'Slots used', 'Free', 'CPU', 'Memory', 'Cache', 'Heartbeat', 'Health']
        .map((t) => h('th', null, t)))), tbody)));
  poll(ctx, 3000, async (fresh) => {
    const data = await api('GET', '/runners');
    if (!fresh()) return;
    const list = data && Array.isArray(data.runners) ? data.runners : [];
    tbody.replaceChildren(...(list.length ? list.map(runnerRow) : [emptyRow(11, 'No runners registered.')]));
  });
}

function runnerRow(r) {
  const labels = r.labels && typeof r.labels === 'object' ? Object.entries(r.labels) : [];
  const load = (v) => h('td', { class: 'num' }, h('span', { class: 'num' }, fmtPct(v)), bar(v, isNum(v) && v > 0.9 ? 'hot' : null));
  return h('tr', { class: 'runner-row', 'data-runner-id': r.id },
    h('td', null, h('span', { class: 'mono' }, str(r.id)),
      labels.length ? h('div', { class: 'labels' }, labels.map(([k, v]) => h('span', { class: 'tag' }, `${k}=${str(v)}`))) : null),
    h('td', { class: 'mono' }, str(r.address)),
    h('td', null, r.backend == null ? '—' : str(r.backend)),
    h('td', null, r.version == null ? '—' : str(r.version)),
    h('td', { class: 'num' }, h('span', { class: 'num' }, `${str(r.running)}/${str(r.slots)}`), bar(r.slots > 0 ? r.running / r.slots : 0)),
    h('td', { class: 'num' }, str(r.free_slots)),
    load(r.cpu_load), load(r.memory_load),
    h('td', { class: 'num' }, fmtBytes(r.cache_bytes)),
    h('td', { title: fmtDateTime(r.last_heartbeat_at) }, fmtAge(r.last_heartbeat_at)),
    h('td', null, r.healthy ? h('span', { class: 'health-ok' }, 'healthy') : h('span', { class: 'health-bad' }, 'stale')));
}

// ───────────────────────── 16. Start ─────────────────────────

/** The token in a `#token=…&run=…` address, which is replaced by the run's page. */
function handedToken() {
  if (!location.hash.startsWith('#token=')) return null;
  const params = new URLSearchParams(location.hash.slice(1));
  const run = params.get('run');
  const page = run && /^[0-9a-f-]{36}$/i.test(run) ? '#/runs/' + run : '#/runs';
  history.replaceState(null, '', location.pathname + location.search + page);
  return params.get('token');
}

async function start() {
  $('#logout').addEventListener('click', logout);
  $('#error-dismiss').addEventListener('click', hideError);
  window.addEventListener('hashchange', route);
  // Deep links like /ui/runs/<id> become the equivalent hash route.
  if (!location.hash && location.pathname.startsWith('/ui/')) {
    history.replaceState(null, '', location.pathname + location.search + '#' + location.pathname.slice(3));
  }
  // `aide run --ui` opens #token=…&run=…: trade the token for the session cookie and take
  // it out of the address bar (and the history) before anything else.
  const handed = handedToken();
  let failure = null;
  try {
    setSession(await (handed ? api('POST', '/session', { token: handed }) : api('GET', '/session')));
  } catch (e) {
    failure = e; // a 401 has already switched to #/login
  }
  route();
  if (failure) reportError(failure); // after route(), which clears the banner
}

if (typeof document !== 'undefined') {
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
}
