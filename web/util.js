// Shared by the UI's modules: DOM helpers, the browser storage, the API key and API calls
// (errors in OpenAI's shape; a 401 asks for a key), and small formatters.

export const $ = (id) => document.getElementById(id);
export const STORE = { convs: 'localai.conversations', current: 'localai.current', settings: 'localai.settings', key: 'localai.apiKey' };

export function load(key, fallback) {
    try { const v = JSON.parse(localStorage.getItem(key)); return v ?? fallback; } catch { return fallback; }
}
export function save(key, v) {
    try { localStorage.setItem(key, JSON.stringify(v)); } catch (e) { setConn('Could not save: ' + e.message); }
}
export function el(tag, attrs = {}, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
        if (k === 'class') e.className = v;
        else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
        else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? '' : v);
    }
    for (const kid of kids) if (kid !== null && kid !== undefined && kid !== false) e.append(kid);
    return e;
}
export function setConn(text) { $('conn').textContent = text; }

export function fmtBytes(n) {
    if (n === null || n === undefined) return '—';
    const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : String(n)) + ' ' + u[i];
}
export function fmtNum(n) { return n === null || n === undefined ? '—' : Number(n).toLocaleString('en-US'); }

// ---- API: the key, errors in OpenAI's shape, 401 -> ask for a key ----

export class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status; }
}

export function authHeaders() {
    const key = load(STORE.key, '');
    return key ? { Authorization: 'Bearer ' + key } : {};
}

export async function errorFrom(res) {
    let msg = res.status + ' ' + res.statusText;
    try {
        const text = await res.text();
        try { const j = JSON.parse(text); msg = j?.error?.message || j?.message || text || msg; } catch { if (text) msg = text; }
    } catch { /* keep the status line */ }
    return new ApiError(res.status, msg);
}

export async function api(path, opts = {}) {
    const res = await fetch(path, { ...opts, headers: { ...(opts.headers || {}), ...authHeaders() } });
    if (!res.ok) {
        const err = await errorFrom(res);
        if (res.status === 401) askKey(err.message);
        throw err;
    }
    return res;
}

// A JSON request: body (an object) sent as JSON, the answer parsed (null when empty).
export async function apiJSON(path, method = 'GET', body = undefined) {
    const opts = { method };
    if (body !== undefined) { opts.body = JSON.stringify(body); opts.headers = { 'Content-Type': 'application/json' }; }
    const res = await api(path, opts);
    const text = await res.text();
    return text ? JSON.parse(text) : null;
}

// ---- the key dialog ----

const keyListeners = [];
// fn() runs when the key was saved or forgotten.
export function onKeyChange(fn) { keyListeners.push(fn); }
function keyChanged() { showKeyButton(); keyListeners.forEach((f) => f()); }

let keyWaiters = [];
// Ask for a key: after a 401 (message: why), or when the user asks to change it (manual).
export function askKey(message, manual = false) {
    const d = $('key-dialog');
    const hadKey = !!load(STORE.key, '') && !manual;
    $('key-cancel').hidden = !manual;
    $('key-forget').hidden = !manual;
    $('key-error').hidden = !hadKey;
    $('key-error').textContent = hadKey ? 'The server refused this key: ' + message : '';
    $('key-input').value = '';
    if (!d.open) d.showModal();
    $('key-input').focus();
    return new Promise((resolve) => keyWaiters.push(resolve));
}
$('key-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const key = $('key-input').value.trim();
    if (!key) return;
    save(STORE.key, key);
    $('key-dialog').close();
    const w = keyWaiters; keyWaiters = [];
    w.forEach((f) => f());
    keyChanged();
});
$('key-dialog').addEventListener('cancel', (e) => { if ($('key-cancel').hidden) e.preventDefault(); });
$('key-cancel').addEventListener('click', () => $('key-dialog').close());
$('key-forget').addEventListener('click', () => {
    localStorage.removeItem(STORE.key);
    $('key-dialog').close();
    keyChanged();
});
$('key-btn').addEventListener('click', () => askKey('', true));
export function showKeyButton() { $('key-btn').hidden = !load(STORE.key, ''); }

// Copy text to the clipboard; button (optional) says "Copied" for a moment.
export async function copyText(text, button) {
    try {
        await navigator.clipboard.writeText(text);
    } catch {
        const ta = el('textarea');
        ta.value = text;
        document.body.append(ta);
        ta.select();
        document.execCommand('copy');
        ta.remove();
    }
    if (button) { const t = button.textContent; button.textContent = 'Copied'; setTimeout(() => { button.textContent = t; }, 1200); }
}
