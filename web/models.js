// The models page's "Installed" tab: every model the server knows with its state (loaded,
// loading, unloaded), memory, context and file, from GET /api/models; load and unload
// buttons (POST /api/models/{id}/load|unload), the model's config (GET /api/models/{id}),
// and removing a model the gallery installed (POST /models/delete/{id}).
import { $, el, apiJSON, fmtBytes, fmtNum } from './util.js';
import { canManage } from './access.js';

let seq = 0;

function refresh() { window.dispatchEvent(new CustomEvent('localai:refresh-models')); }

async function act(button, fn) {
    const card = button.closest('.card');
    const err = card.querySelector('.card-error');
    button.disabled = true;
    err.hidden = true;
    try {
        await fn();
        refresh();
    } catch (e) {
        err.textContent = e.message;
        err.hidden = false;
        button.disabled = false;
    }
}

function stateBadge(m) {
    if (!m.state) return null;
    const text = m.state + (m.in_use ? ' · in use' : '');
    return el('span', { class: 'badge state-' + m.state }, text);
}

function configToggle(m) {
    const pre = el('pre', { class: 'config' });
    const d = el('details', { class: 'model-config' }, el('summary', {}, 'Config'), pre);
    d.addEventListener('toggle', async () => {
        if (!d.open || pre.dataset.loaded) return;
        pre.textContent = 'Loading…';
        try {
            const j = await apiJSON('/api/models/' + encodeURIComponent(m.id));
            pre.textContent = j.config_yaml ?? '(no config file: a GGUF served under its file name)\nfile: ' + j.file;
            pre.dataset.loaded = '1';
        } catch (e) { pre.textContent = 'Could not read the config: ' + e.message; }
    });
    return d;
}

function card(m, chatWith) {
    const dl = el('dl');
    const row = (k, v) => dl.append(el('dt', {}, k), el('dd', {}, v));
    if (m.state) {
        row('backend', m.backend);
        if (m.architecture) row('architecture', m.architecture);
        row('memory', m.memory_bytes ? fmtBytes(m.memory_bytes) + (m.kv_cache_bytes ? ' + ' + fmtBytes(m.kv_cache_bytes) + ' KV cache' : '') : 'not loaded');
        row('context', m.context_size ? fmtNum(m.context_size) + ' tokens' : 'the model\'s');
        if (m.n_ctx_train) row('trained context', fmtNum(m.n_ctx_train));
        row('file', (m.file || '').split('/').pop() + (m.file_bytes ? ' (' + fmtBytes(m.file_bytes) + ')' : ''));
    } else {
        for (const [k, v] of Object.entries(m)) if (k !== 'id') row(k, typeof v === 'object' ? JSON.stringify(v) : String(v));
    }
    const buttons = el('div', { class: 'row wrap' },
        el('button', { type: 'button', class: 'primary', onclick: () => chatWith(m.id) }, 'Chat with this model'));
    if (!canManage()) {
        // Loading, unloading and removing are for admins when users are managed.
    } else if (m.state === 'loaded') {
        buttons.append(el('button', { type: 'button', class: 'unload-btn', onclick: (e) => act(e.target, () => apiJSON('/api/models/' + encodeURIComponent(m.id) + '/unload', 'POST')) }, 'Unload'));
    } else if (m.state) {
        buttons.append(el('button', {
            type: 'button', class: 'load-btn', onclick: (e) => {
                e.target.textContent = 'Loading…';
                act(e.target, () => apiJSON('/api/models/' + encodeURIComponent(m.id) + '/load', 'POST'));
            },
        }, m.state === 'loading' ? 'Loading…' : 'Load'));
    }
    if (canManage() && m.config_file && m.config_file === m.id + '.yaml') {
        buttons.append(el('button', {
            type: 'button', class: 'danger remove-btn', onclick: (e) => {
                if (!confirm('Remove ' + m.id + ' and its files?')) return;
                act(e.target, () => apiJSON('/models/delete/' + encodeURIComponent(m.id), 'POST'));
            },
        }, 'Remove'));
    }
    return el('div', { class: 'card model', 'data-id': m.id },
        el('div', { class: 'row' }, el('h2', {}, m.id), stateBadge(m)), dl,
        m.state ? configToggle(m) : null, el('p', { class: 'error card-error', role: 'alert', hidden: true }), buttons);
}

// Show the models (the /v1/models list), with the details /api/models adds when the server
// has it. chatWith(id) switches to the chat with that model.
export async function renderModelCards(models, chatWith) {
    const my = ++seq;
    let rich = null;
    if (models.length) {
        try { rich = (await apiJSON('/api/models')).data; } catch { rich = null; }
    }
    if (my !== seq) return; // a newer call is rendering
    const byId = new Map((rich || []).map((m) => [m.id, m]));
    const list = rich || models;
    // Models that /v1/models lists but the snapshot missed (a race with a rescan) still show.
    for (const m of models) if (rich && !byId.has(m.id)) list.push(m);
    $('models-list').replaceChildren(...list.map((m) => card(m, chatWith)));
}

window.addEventListener('localai:nav', () => { if (!$('view-models').hidden) refresh(); });
