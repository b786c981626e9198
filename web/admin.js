// The "Users & keys" page, for admins: users (GET/POST/PATCH/DELETE /api/users) and API keys
// (GET/POST/PATCH /api/keys, DELETE revokes). A new key's secret is shown once, with a copy
// button. Limits (rpm, tpm, tokens per day and month, requests per day), capabilities and
// models are edited in one dialog for users and keys alike; an empty limit is unlimited (null).
import { el, apiJSON, fmtNum, copyText } from './util.js';

const LIMITS = [
    ['rpm', 'Requests / minute'], ['tpm', 'Tokens / minute'], ['requests_per_day', 'Requests / day'],
    ['tokens_per_day', 'Tokens / day'], ['tokens_per_month', 'Tokens / month'],
];

let users = [];
let keys = [];
let newKey = null; // {name, key}: shown once, until the page is left
let page = null;
let loadError = null;
let me = null;
const CAPS = 'chat, completions, embeddings, audio, images, rerank, models, admin';

const list = (v) => (Array.isArray(v) && v.length ? v.join(', ') : 'all');
const when = (t) => {
    if (t === null || t === undefined || t === '') return '—';
    const d = typeof t === 'number' ? new Date(t * 1000) : new Date(t);
    return Number.isNaN(d.getTime()) ? String(t) : d.toLocaleString();
};
function limitsText(o) {
    const parts = LIMITS.filter(([k]) => o[k] !== null && o[k] !== undefined).map(([k, label]) => label.toLowerCase() + ' ' + fmtNum(o[k]));
    return parts.length ? parts.join(', ') : 'unlimited';
}
function userName(id) {
    if (id === null || id === undefined) return '—';
    const u = users.find((x) => x.id === id || x.name === id);
    return u ? u.name : String(id);
}
const splitList = (s) => { const v = s.split(',').map((x) => x.trim()).filter(Boolean); return v.length ? v : null; };
function numOrNull(s) { const t = s.trim(); return t === '' ? null : Number(t); }

function field(label, input) { return el('label', { class: 'field' }, label, input); }
function limitInputs(prefix, o = {}) {
    return LIMITS.map(([k, label]) => field(label, el('input', { id: prefix + k, type: 'number', min: '0', step: '1', placeholder: 'unlimited', value: o[k] ?? '' })));
}
function readLimits(root, prefix, body, withNulls) {
    for (const [k] of LIMITS) {
        const v = numOrNull(root.querySelector('#' + prefix + k).value);
        if (v !== null || withNulls) body[k] = v;
    }
}

function errorBox(id) { return el('p', { id, class: 'error', role: 'alert', hidden: true }); }
function showError(id, e) { const b = page.querySelector('#' + id); b.textContent = e.message || String(e); b.hidden = false; }
function clearError(id) { page.querySelector('#' + id).hidden = true; }

async function reload() {
    try {
        const [u, k] = await Promise.all([apiJSON('/api/users'), apiJSON('/api/keys')]);
        users = u?.data || [];
        keys = k?.data || [];
        loadError = null;
    } catch (e) { loadError = e; }
    render();
}

// The dialog that edits one user's or key's permissions and limits (PATCH).
function editDialog(kind, o) {
    const d = el('dialog', { id: 'edit-dialog', class: 'wide-dialog' });
    const form = el('form', { method: 'dialog' });
    const fields = [];
    if (kind === 'user') {
        const role = el('select', { id: 'edit-role' }, el('option', { value: 'user' }, 'user'), el('option', { value: 'admin' }, 'admin'));
        role.value = o.role || 'user';
        fields.push(field('Role', role));
        if (o.state !== undefined) {
            const st = el('select', { id: 'edit-state' }, el('option', { value: 'active' }, 'active'), el('option', { value: 'disabled' }, 'disabled'));
            st.value = o.state === 'disabled' ? 'disabled' : 'active';
            fields.push(field('State', st));
        }
    } else {
        fields.push(field('Name', el('input', { id: 'edit-name', value: o.name || '' })));
    }
    fields.push(field('Capabilities (' + CAPS + '; empty: ' + (kind === 'user' ? 'the role\'s' : 'the user\'s') + ')', el('input', { id: 'edit-capabilities', value: (o.capabilities || []).join(', ') })));
    fields.push(field('Models (comma-separated; empty: all)', el('input', { id: 'edit-models', value: (o.models || []).join(', ') })));
    const err = el('p', { class: 'error', role: 'alert', hidden: true });
    form.append(el('h2', {}, 'Edit ' + kind + ' ' + (o.name || o.prefix || o.id)),
        el('div', { class: 'form-grid' }, ...fields, ...limitInputs('edit-', o)), err,
        el('div', { class: 'row end' },
            el('button', { type: 'button', onclick: () => d.close() }, 'Cancel'),
            el('button', { type: 'submit', class: 'primary', id: 'edit-save' }, 'Save')));
    form.addEventListener('submit', async (e) => {
        e.preventDefault();
        const body = {
            capabilities: splitList(form.querySelector('#edit-capabilities').value),
            models: splitList(form.querySelector('#edit-models').value),
        };
        if (kind === 'user') {
            body.role = form.querySelector('#edit-role').value;
            const st = form.querySelector('#edit-state');
            if (st) body.state = st.value;
        } else body.name = form.querySelector('#edit-name').value.trim();
        readLimits(form, 'edit-', body, true);
        try {
            await apiJSON('/api/' + kind + 's/' + encodeURIComponent(o.id), 'PATCH', body);
            d.close();
            reload();
        } catch (ex) { err.textContent = ex.message; err.hidden = false; }
    });
    d.append(form);
    d.addEventListener('close', () => d.remove());
    document.body.append(d);
    d.showModal();
}

function usersSection() {
    const name = el('input', { id: 'new-user-name', placeholder: 'name', required: true, 'aria-label': 'New user name' });
    const role = el('select', { id: 'new-user-role', 'aria-label': 'Role' }, el('option', { value: 'user' }, 'user'), el('option', { value: 'admin' }, 'admin'));
    const form = el('form', { class: 'row wrap', id: 'new-user-form' }, name, role, el('button', { type: 'submit', class: 'primary' }, 'Create user'));
    form.addEventListener('submit', async (e) => {
        e.preventDefault();
        clearError('user-error');
        try {
            await apiJSON('/api/users', 'POST', { name: name.value.trim(), role: role.value });
            name.value = '';
            reload();
        } catch (ex) { showError('user-error', ex); }
    });
    const rows = users.map((u) => el('tr', { 'data-id': u.id },
        el('td', {}, u.name), el('td', {}, u.role || 'user'), el('td', {}, u.state || 'active'),
        el('td', {}, list(u.capabilities)), el('td', {}, list(u.models)), el('td', {}, limitsText(u)), el('td', {}, when(u.created_at)),
        el('td', { class: 'actions' },
            el('button', { type: 'button', class: 'link edit-user', onclick: () => editDialog('user', u) }, 'Edit'),
            el('button', {
                type: 'button', class: 'link delete-user', onclick: async () => {
                    if (!confirm('Delete user ' + u.name + '? Their keys stop working.')) return;
                    try { await apiJSON('/api/users/' + encodeURIComponent(u.id), 'DELETE'); reload(); } catch (ex) { showError('user-error', ex); }
                },
            }, 'Delete'))));
    return el('section', { class: 'block' }, el('h2', {}, 'Users'), form, errorBox('user-error'),
        el('div', { class: 'table' }, el('table', { id: 'users-table' },
            el('thead', {}, el('tr', {}, ...['Name', 'Role', 'State', 'Capabilities', 'Models', 'Limits', 'Created', ''].map((h) => el('th', {}, h)))),
            el('tbody', {}, ...rows))));
}

function keysSection() {
    const name = el('input', { id: 'new-key-name', placeholder: 'name', required: true, 'aria-label': 'New key name' });
    // A key belongs to a user (by name, as the API takes it); one without a user answers to
    // nobody's limits but its own, and with the admin capability it is an admin key.
    const user = el('select', { id: 'new-key-user', 'aria-label': 'User' }, el('option', { value: '' }, '(no user)'), ...users.map((u) => el('option', { value: u.name }, u.name)));
    if (me?.user?.name && users.some((u) => u.name === me.user.name)) user.value = me.user.name;
    const expires = el('input', { id: 'new-key-expires', type: 'number', min: '0', step: '1', placeholder: 'never' });
    const caps = el('input', { id: 'new-key-capabilities', placeholder: 'the user\'s', title: CAPS });
    const models = el('input', { id: 'new-key-models', placeholder: 'all' });
    const form = el('form', { id: 'new-key-form' },
        el('div', { class: 'form-grid' }, field('Name', name), field('User', user), field('Capabilities (' + CAPS + ')', caps),
            field('Models (comma-separated)', models), field('Expires in (days)', expires), ...limitInputs('new-key-')),
        el('div', { class: 'row' }, el('button', { type: 'submit', class: 'primary' }, 'Create key')));
    form.addEventListener('submit', async (e) => {
        e.preventDefault();
        clearError('key-create-error');
        page.querySelector('#new-key-box')?.remove(); // the last key's secret goes for good
        newKey = null;
        const body = { name: name.value.trim() };
        if (user.value) body.user = user.value;
        const c = splitList(caps.value), m = splitList(models.value);
        if (c) body.capabilities = c;
        if (m) body.models = m;
        const days = numOrNull(expires.value);
        if (days) body.expires_in = Math.round(days * 86400);
        readLimits(form, 'new-key-', body, false);
        try {
            const k = await apiJSON('/api/keys', 'POST', body);
            newKey = { name: k.name || body.name, key: k.key };
            reload();
        } catch (ex) { showError('key-create-error', ex); }
    });
    const shown = newKey ? el('div', { class: 'new-key', id: 'new-key-box', role: 'status' },
        el('p', {}, el('strong', {}, 'New key "' + newKey.name + '"'), ': copy it now, it will not be shown again.'),
        el('div', { class: 'row' }, el('code', { id: 'new-key-value' }, newKey.key),
            el('button', { type: 'button', id: 'new-key-copy', onclick: (e) => copyText(newKey.key, e.target) }, 'Copy'),
            el('button', { type: 'button', class: 'link', onclick: () => { newKey = null; render(); } }, 'Done'))) : null;
    const rows = keys.map((k) => {
        const revoked = !!k.revoked_at;
        const expired = k.expires_at && new Date(typeof k.expires_at === 'number' ? k.expires_at * 1000 : k.expires_at) < new Date();
        return el('tr', { 'data-id': k.id, class: revoked ? 'revoked' : '' },
            el('td', {}, k.name || '—'), el('td', {}, el('code', {}, (k.prefix || '') + '…')), el('td', {}, userName(k.user)),
            el('td', {}, list(k.capabilities)), el('td', {}, list(k.models)), el('td', {}, limitsText(k)),
            el('td', {}, when(k.expires_at)), el('td', {}, when(k.last_used_at)), el('td', {}, when(k.created_at)),
            el('td', {}, revoked ? 'revoked' : expired ? 'expired' : 'active'),
            el('td', { class: 'actions' }, revoked ? null : el('button', { type: 'button', class: 'link edit-key', onclick: () => editDialog('key', k) }, 'Edit'),
                revoked ? null : el('button', {
                    type: 'button', class: 'link revoke-key', onclick: async () => {
                        if (!confirm('Revoke key ' + (k.name || k.prefix) + '? Programs using it stop working.')) return;
                        try { await apiJSON('/api/keys/' + encodeURIComponent(k.id), 'DELETE'); reload(); } catch (ex) { showError('key-error', ex); }
                    },
                }, 'Revoke')));
    });
    return el('section', { class: 'block' }, el('h2', {}, 'API keys'), form, errorBox('key-create-error'), shown, errorBox('key-error'),
        el('div', { class: 'table' }, el('table', { id: 'keys-table' },
            el('thead', {}, el('tr', {}, ...['Name', 'Key', 'User', 'Capabilities', 'Models', 'Limits', 'Expires', 'Last used', 'Created', 'State', ''].map((h) => el('th', {}, h)))),
            el('tbody', {}, ...rows))));
}

function render() {
    if (!page) return;
    page.replaceChildren(...[el('div', { class: 'row' }, el('h1', {}, 'Users & keys'), el('button', { type: 'button', onclick: reload }, 'Refresh')),
        loadError ? el('p', { id: 'admin-error', class: 'error', role: 'alert' }, 'Could not read users and keys: ' + loadError.message) : null,
        usersSection(), keysSection()].filter(Boolean));
}

export function showAdmin(who) {
    me = who;
    page = document.getElementById('admin');
    newKey = null;
    render();
    reload();
}
