// The models page's "Gallery" tab: the galleries' models (GET /models/available) with a
// search box; Install (POST /models/apply) shows a progress bar while it polls
// GET /models/jobs/{uuid}, with Cancel (DELETE /models/jobs/{uuid}); installed ones can be
// removed (POST /models/delete/{name}). Installs keep going when the tab is left.
import { $, el, apiJSON, fmtBytes } from './util.js';
import { canManage } from './access.js';

let entries = [];
const jobs = new Map(); // gallery id -> {uuid, job}
let loaded = false;

function showTab(which) {
    for (const t of ['installed', 'gallery']) {
        $('tab-' + t).classList.toggle('active', t === which);
        $('tab-' + t).setAttribute('aria-selected', String(t === which));
        $('pane-' + t).hidden = t !== which;
    }
    if (which === 'gallery') refresh();
}
$('tab-installed').addEventListener('click', () => showTab('installed'));
$('tab-gallery').addEventListener('click', () => showTab('gallery'));
$('gallery-search').addEventListener('input', render);

async function refresh() {
    if (!loaded) $('gallery-status').textContent = 'Loading the gallery…';
    try {
        const j = await apiJSON('/models/available');
        entries = Array.isArray(j) ? j : [];
        loaded = true;
        $('gallery-status').textContent = '';
    } catch (e) {
        $('gallery-status').textContent = 'Could not read the gallery: ' + e.message;
    }
    render();
}

function matches(m, q) {
    if (!q) return true;
    const hay = [m.name, m.description, m.license, m.gallery?.name, ...(m.tags || [])].join(' ').toLowerCase();
    return q.split(/\s+/).every((w) => hay.includes(w));
}

function progressNode(j) {
    const pct = Math.max(0, Math.min(100, j.progress || 0));
    const sizes = j.file_size_bytes ? fmtBytes(j.downloaded_bytes) + ' of ' + fmtBytes(j.file_size_bytes) : fmtBytes(j.downloaded_bytes || 0);
    return el('div', { class: 'job' },
        el('progress', { max: '100', value: String(pct), 'aria-label': 'Download progress' }),
        el('span', { class: 'muted job-text' }, pct.toFixed(0) + '% · ' + sizes + (j.message ? ' · ' + j.message : '')));
}

function card(m) {
    const job = jobs.get(m.id);
    const actions = el('div', { class: 'row wrap' });
    const err = el('p', { class: 'error card-error', role: 'alert', hidden: true });
    if (!canManage()) {
        actions.append(el('span', { class: 'muted small' }, m.installed ? '' : 'An admin can install it.'));
    } else if (job && !job.job?.processed) {
        actions.append(el('button', { type: 'button', class: 'cancel-btn', onclick: () => cancel(m, err) }, 'Cancel'));
    } else if (m.installed) {
        actions.append(el('button', { type: 'button', class: 'danger remove-btn', onclick: () => remove(m, err) }, 'Remove'));
    } else {
        actions.append(el('button', { type: 'button', class: 'primary install-btn', onclick: () => install(m, err) }, 'Install'));
    }
    if (job?.job?.error && !job.job.cancelled) { err.textContent = 'Install failed: ' + job.job.error; err.hidden = false; }
    const tags = (m.tags || []).map((t) => el('span', { class: 'tag' }, t));
    const link = (m.urls || [])[0];
    return el('div', { class: 'card gallery-item', 'data-id': m.id },
        el('div', { class: 'row' }, el('h2', {}, m.name), m.installed ? el('span', { class: 'badge state-loaded' }, 'installed') : null),
        m.description ? el('p', { class: 'desc' }, m.description) : null,
        el('p', { class: 'muted small' }, [m.license && 'license: ' + m.license, 'gallery: ' + (m.gallery?.name || '?')].filter(Boolean).join(' · ')),
        tags.length ? el('p', { class: 'tags' }, ...tags) : null,
        link && /^https?:\/\//.test(link) ? el('p', { class: 'small' }, el('a', { href: link, target: '_blank', rel: 'noopener noreferrer' }, link)) : null,
        job && !job.job?.processed ? progressNode(job.job || { progress: 0, message: 'queued' }) : null,
        err, actions);
}

function render() {
    const q = $('gallery-search').value.trim().toLowerCase();
    const shown = entries.filter((m) => matches(m, q));
    $('gallery-list').replaceChildren(...shown.map(card));
    if (loaded) $('gallery-status').textContent = entries.length ? (shown.length ? shown.length + ' of ' + entries.length + ' models' : 'Nothing matches "' + q + '".') : 'The gallery is empty.';
}

async function install(m, err) {
    err.hidden = true;
    try {
        const j = await apiJSON('/models/apply', 'POST', { id: m.id });
        jobs.set(m.id, { uuid: j.uuid, job: null });
        render();
        poll(m.id);
    } catch (e) { err.textContent = 'Could not install: ' + e.message; err.hidden = false; }
}

async function poll(id) {
    const rec = jobs.get(id);
    while (rec && jobs.get(id) === rec) {
        try {
            rec.job = await apiJSON('/models/jobs/' + rec.uuid);
        } catch (e) {
            rec.job = { processed: true, error: e.message };
        }
        if (rec.job.processed) break;
        render();
        await new Promise((r) => setTimeout(r, 400));
    }
    await refresh();
    window.dispatchEvent(new CustomEvent('localai:refresh-models'));
}

async function cancel(m, err) {
    const rec = jobs.get(m.id);
    if (!rec) return;
    try { await apiJSON('/models/jobs/' + rec.uuid, 'DELETE'); } catch (e) { if (e.status !== 409) { err.textContent = e.message; err.hidden = false; } }
}

async function remove(m, err) {
    if (!confirm('Remove ' + m.name + ' and its files?')) return;
    try {
        await apiJSON('/models/delete/' + encodeURIComponent(m.name), 'POST');
        jobs.delete(m.id);
    } catch (e) { err.textContent = 'Could not remove: ' + e.message; err.hidden = false; return; }
    await refresh();
    window.dispatchEvent(new CustomEvent('localai:refresh-models'));
}

window.addEventListener('localai:nav', () => { if (loaded) render(); });
window.addEventListener('localai:view', (e) => { if (e.detail === 'models' && !$('pane-gallery').hidden) refresh(); });
