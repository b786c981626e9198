// The "Usage" page: GET /api/usage?since&until[&key&user&model] (per day, key, user and
// model; a non-admin gets only their own) drawn as per-day stacked bar charts in plain SVG,
// one by model, one by key and (for admins) one by user, with the totals and a table.
import { el, apiJSON, fmtNum } from './util.js';

const SVG = 'http://www.w3.org/2000/svg';
const PALETTE = ['#2563eb', '#16a34a', '#d97706', '#dc2626', '#7c3aed', '#0891b2', '#db2777', '#65a30d', '#9ca3af'];
const METRICS = [['total_tokens', 'Total tokens'], ['prompt_tokens', 'Prompt tokens'], ['completion_tokens', 'Completion tokens'], ['requests', 'Requests']];
const MAX_SERIES = 8; // more than this are summed as "other"

let page = null;
let state = null;

const iso = (d) => d.toISOString().slice(0, 10);
function days(since, until) {
    const out = [];
    const d = new Date(since + 'T00:00:00Z'), end = new Date(until + 'T00:00:00Z');
    for (let i = 0; d <= end && i < 400; i++, d.setUTCDate(d.getUTCDate() + 1)) out.push(iso(d));
    return out;
}
function svg(tag, attrs = {}, ...kids) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    for (const k of kids) e.append(k);
    return e;
}
function short(n) {
    if (n >= 1e9) return (n / 1e9).toFixed(1) + 'G';
    if (n >= 1e6) return (n / 1e6).toFixed(1) + 'M';
    if (n >= 1e3) return (n / 1e3).toFixed(1) + 'k';
    return String(Math.round(n));
}

// The name to show for a row's key, user or model: a key by its name or prefix when the row
// has them (else by what the admin's key list says), a user by name.
function label(field, r) {
    const v = r[field];
    if (field === 'key' && (r.key_name || r.key_prefix)) return r.key_name || r.key_prefix;
    if (v === null || v === undefined) return '—';
    return state.names[field]?.get(String(v)) ?? String(v);
}

// One stacked bar chart: rows summed per day and per value of field.
function chart(rows, field, metric, dayList, title) {
    const totals = new Map();
    for (const r of rows) totals.set(label(field, r), (totals.get(label(field, r)) || 0) + (r[metric] || 0));
    let series = [...totals.entries()].sort((a, b) => b[1] - a[1]).map(([k]) => k);
    const other = series.length > MAX_SERIES ? new Set(series.slice(MAX_SERIES - 1)) : null;
    if (other) series = [...series.slice(0, MAX_SERIES - 1), 'other'];
    const per = new Map(dayList.map((d) => [d, new Map()]));
    for (const r of rows) {
        let s = label(field, r);
        if (other?.has(s)) s = 'other';
        const m = per.get(r.day);
        if (m) m.set(s, (m.get(s) || 0) + (r[metric] || 0));
    }
    let max = 0;
    for (const m of per.values()) max = Math.max(max, [...m.values()].reduce((a, b) => a + b, 0));
    const W = 720, H = 220, L = 48, B = 24, T = 8;
    const bw = (W - L) / Math.max(dayList.length, 1);
    const y = (v) => H - B - (max ? (v / max) * (H - B - T) : 0);
    const g = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': title });
    for (const f of [0, 0.5, 1]) {
        const v = max * f;
        g.append(svg('line', { x1: L, x2: W, y1: y(v), y2: y(v), class: 'grid' }),
            svg('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'axis' }, short(v)));
    }
    dayList.forEach((d, i) => {
        let base = 0;
        const m = per.get(d);
        series.forEach((s, si) => {
            const v = m.get(s) || 0;
            if (!v) return;
            const r = svg('rect', { x: L + i * bw + bw * 0.1, width: Math.max(bw * 0.8, 1), y: y(base + v), height: y(base) - y(base + v), fill: PALETTE[si % PALETTE.length], class: 'bar', 'data-day': d, 'data-series': s });
            r.append(svg('title', {}, `${d} · ${s}: ${fmtNum(v)}`));
            g.append(r);
            base += v;
        });
        const every = Math.ceil(dayList.length / 8);
        if (i % every === 0) g.append(svg('text', { x: L + i * bw + bw / 2, y: H - 6, 'text-anchor': 'middle', class: 'axis' }, d.slice(5)));
    });
    const legend = el('div', { class: 'legend' }, ...series.map((s, si) => el('span', { class: 'legend-item' },
        (() => { const sw = svg('svg', { width: 10, height: 10, class: 'swatch' }, svg('rect', { width: 10, height: 10, fill: PALETTE[si % PALETTE.length] })); return sw; })(), ' ' + s)));
    return el('div', { class: 'card chart-card', 'data-by': field }, el('h2', {}, title), g, series.length ? legend : el('p', { class: 'muted' }, 'No usage in this period.'));
}

function table(rows) {
    const sorted = [...rows].sort((a, b) => (a.day < b.day ? 1 : a.day > b.day ? -1 : (b.total_tokens || 0) - (a.total_tokens || 0)));
    return el('div', { class: 'table' }, el('table', { id: 'usage-table' },
        el('thead', {}, el('tr', {}, ...['Day', 'Key', 'User', 'Model', 'Requests', 'Prompt', 'Completion', 'Total'].map((h) => el('th', {}, h)))),
        el('tbody', {}, ...sorted.map((r) => el('tr', {}, el('td', {}, r.day), el('td', {}, label('key', r)), el('td', {}, label('user', r)), el('td', {}, String(r.model ?? '—')),
            ...['requests', 'prompt_tokens', 'completion_tokens', 'total_tokens'].map((k) => el('td', { class: 'num' }, fmtNum(r[k] || 0))))))));
}

async function reload() {
    const q = new URLSearchParams({ since: state.since, until: state.until });
    for (const k of ['key', 'user', 'model']) if (state[k]) q.set(k, state[k]);
    try {
        state.data = await apiJSON('/api/usage?' + q);
        state.error = null;
    } catch (e) { state.data = null; state.error = e; }
    render();
}

function render() {
    if (!page) return;
    const admin = state.admin;
    const input = (k, attrs) => {
        const i = el('input', { id: 'usage-' + k, value: state[k] || '', ...attrs });
        i.addEventListener('change', () => { state[k] = i.value.trim(); reload(); });
        return el('label', { class: 'field' }, attrs['aria-label'], i);
    };
    const metric = el('select', { id: 'usage-metric', 'aria-label': 'Metric' }, ...METRICS.map(([k, l]) => el('option', { value: k }, l)));
    metric.value = state.metric;
    metric.addEventListener('change', () => { state.metric = metric.value; render(); });
    const filters = el('div', { class: 'row wrap filters' },
        input('since', { type: 'date', 'aria-label': 'Since' }), input('until', { type: 'date', 'aria-label': 'Until' }),
        admin ? input('user', { placeholder: 'any', 'aria-label': 'User' }) : null,
        input('key', { placeholder: 'any', 'aria-label': 'Key' }), input('model', { placeholder: 'any', 'aria-label': 'Model' }),
        el('label', { class: 'field' }, 'Metric', metric));
    const head = el('div', { class: 'row' }, el('h1', {}, admin ? 'Usage' : 'My usage'), el('button', { type: 'button', onclick: reload }, 'Refresh'));
    if (state.error) {
        page.replaceChildren(head, filters, el('p', { class: 'error', role: 'alert' }, 'Could not read the usage: ' + state.error.message));
        return;
    }
    if (!state.data) { page.replaceChildren(head, filters, el('p', { class: 'muted' }, 'Loading…')); return; }
    const rows = state.data.data || [];
    const t = state.data.totals || {};
    const dayList = days(state.since, state.until);
    const totals = el('div', { class: 'totals', id: 'usage-totals' }, ...[['Requests', 'requests'], ['Prompt tokens', 'prompt_tokens'], ['Completion tokens', 'completion_tokens'], ['Total tokens', 'total_tokens']]
        .map(([l, k]) => el('div', { class: 'card total' }, el('div', { class: 'muted small' }, l), el('div', { class: 'big' }, fmtNum(t[k] ?? rows.reduce((a, r) => a + (r[k] || 0), 0))))));
    const label = METRICS.find(([k]) => k === state.metric)[1];
    const charts = [chart(rows, 'model', state.metric, dayList, label + ' per day, by model'), chart(rows, 'key', state.metric, dayList, label + ' per day, by key')];
    if (admin) charts.push(chart(rows, 'user', state.metric, dayList, label + ' per day, by user'));
    page.replaceChildren(head, filters, totals, el('div', { class: 'charts' }, ...charts), el('h2', {}, 'Per day'), table(rows));
}

export function showUsage(me, admin) {
    page = document.getElementById('usage');
    if (!state) {
        const until = new Date(), since = new Date(Date.now() - 29 * 86400000);
        state = { since: iso(since), until: iso(until), key: '', user: '', model: '', metric: 'total_tokens', data: null, error: null };
    }
    state.me = me;
    state.admin = admin;
    state.names = { key: new Map(), user: new Map() };
    if (me?.key?.id !== undefined) state.names.key.set(String(me.key.id), me.key.name || me.key.prefix);
    if (me?.user?.id !== undefined) state.names.user.set(String(me.user.id), me.user.name);
    render();
    reload();
    if (admin) {
        // Names for the ids in the usage rows; the charts show ids until these arrive.
        Promise.all([apiJSON('/api/keys'), apiJSON('/api/users')]).then(([k, u]) => {
            for (const x of k?.data || []) state.names.key.set(String(x.id), x.name || x.prefix);
            for (const x of u?.data || []) state.names.user.set(String(x.id), x.name);
            render();
        }).catch(() => {});
    }
}
