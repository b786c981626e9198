// local-ai web UI: a chat view (streamed replies, conversations kept in localStorage), and
// the views of the other modules (models.js, gallery.js, access.js), talking to this server's
// OpenAI-compatible API. No framework: the DOM is built with createElement/textContent; only
// renderMarkdown's output (escaped first) is set as HTML. Views are the <section
// class="view" id="view-NAME"> of index.html, shown for #/NAME; showing one fires a
// 'localai:view' event (detail: NAME) on window.
import { renderMarkdown } from './markdown.js';
import { $, el, load, save, STORE, setConn, ApiError, authHeaders, errorFrom, api, askKey, onKeyChange, showKeyButton, copyText } from './util.js';
import { renderModelCards } from './models.js';
import './gallery.js';
import './access.js';

onKeyChange(() => refreshModels());
window.addEventListener('localai:refresh-models', () => refreshModels());

// ---- models ----

let models = [];

async function refreshModels() {
    $('models-status').textContent = 'Loading…';
    try {
        const res = await api('/v1/models');
        const j = await res.json();
        models = Array.isArray(j.data) ? j.data : [];
        setConn(models.length + (models.length === 1 ? ' model' : ' models'));
        $('models-status').textContent = models.length ? '' : 'No models found in the models directory.';
    } catch (e) {
        models = [];
        setConn(e.status === 401 ? 'API key needed' : 'Server unreachable');
        $('models-status').textContent = 'Could not list the models: ' + e.message;
    }
    renderModelSelect();
    renderModels();
    showKeyButton();
}

function renderModelSelect() {
    const sel = $('model');
    const want = settings.model;
    sel.replaceChildren(...models.map((m) => el('option', { value: m.id }, m.id)));
    if (want && !models.some((m) => m.id === want)) sel.append(el('option', { value: want }, want + ' (not listed)'));
    if (want) sel.value = want;
    else if (models.length) {
        // The first chat model: not one of the built-in speech models or a whisper .bin file.
        const chat = models.find((m) => !/^(espeak|pocketsphinx|tts-1|tts-1-hd|whisper-1)$|\.bin$/.test(m.id));
        settings.model = (chat || models[0]).id; save(STORE.settings, settings); sel.value = settings.model;
    }
}

function chatWith(id) { setSetting('model', id); renderModelSelect(); location.hash = '#/chat'; }
function renderModels() { renderModelCards(models, chatWith); }
$('refresh-models').addEventListener('click', refreshModels);

// ---- settings ----

const settings = load(STORE.settings, {});
function setSetting(k, v) { settings[k] = v; save(STORE.settings, settings); }
for (const id of ['temperature', 'top_p', 'top_k', 'repeat_penalty', 'seed', 'max_tokens', 'system']) {
    const input = $(id);
    input.value = settings[id] ?? '';
    input.addEventListener('input', () => setSetting(id, input.value));
}
$('model').addEventListener('change', () => {
    setSetting('model', $('model').value);
    if (!current()?.messages.length) renderMessages(); // the empty view names the model
});

// ---- conversations ----

let convs = load(STORE.convs, []);
if (!Array.isArray(convs)) convs = [];
let currentId = load(STORE.current, null);

const newId = () => Date.now().toString(36) + Math.random().toString(36).slice(2, 8);
function current() { return convs.find((c) => c.id === currentId); }
function persist() { save(STORE.convs, convs); save(STORE.current, currentId); }

function newConversation() {
    const c = { id: newId(), title: 'New chat', messages: [], updated: Date.now() };
    convs.unshift(c);
    currentId = c.id;
    persist();
    renderAll();
    $('input').focus();
    return c;
}

function renderConvList() {
    const ul = $('conv-list');
    ul.replaceChildren(...convs.map((c) => {
        const li = el('li', { class: c.id === currentId ? 'active' : '', 'data-id': c.id });
        const title = el('button', { type: 'button', class: 'title', title: c.title, onclick: () => { if (busy) return; currentId = c.id; persist(); renderAll(); closeSide(); } }, c.title);
        const rename = el('button', { type: 'button', class: 'link rename', title: 'Rename', 'aria-label': 'Rename ' + c.title, onclick: () => startRename(li, c) }, '✎');
        const del = el('button', { type: 'button', class: 'link delete', title: 'Delete', 'aria-label': 'Delete ' + c.title, onclick: () => deleteConversation(c) }, '✕');
        li.append(title, rename, del);
        return li;
    }));
}

function startRename(li, c) {
    const input = el('input', { value: c.title, 'aria-label': 'Conversation name' });
    let done = false;
    const finish = (keep) => {
        if (done) return;
        done = true;
        if (keep && input.value.trim()) { c.title = input.value.trim(); c.renamed = true; persist(); }
        renderConvList();
    };
    input.addEventListener('keydown', (e) => {
        if (e.key === 'Enter') { e.preventDefault(); finish(true); } else if (e.key === 'Escape') finish(false);
    });
    input.addEventListener('blur', () => finish(true));
    li.replaceChildren(input);
    input.focus();
    input.select();
}

function deleteConversation(c) {
    if (busy && c.id === currentId) return;
    if (c.messages.length && !confirm('Delete "' + c.title + '"?')) return;
    convs = convs.filter((x) => x.id !== c.id);
    if (currentId === c.id) currentId = convs[0]?.id ?? null;
    persist();
    if (busy) renderConvList(); // re-rendering the messages would cut off the streaming reply
    else renderAll();
}
$('new-chat').addEventListener('click', () => { if (!busy) { newConversation(); closeSide(); } });

// ---- messages ----

function fmtStats(s) {
    if (!s) return null;
    const parts = [];
    if (s.completion_tokens !== undefined) parts.push(s.completion_tokens + ' tokens');
    if (s.tps) parts.push(s.tps.toFixed(1) + ' tok/s');
    if (s.prompt_tokens !== undefined) parts.push(s.prompt_tokens + ' prompt');
    if (s.ttft_ms !== undefined) parts.push((s.ttft_ms / 1000).toFixed(2) + ' s to first token');
    if (s.finish) parts.push(s.finish === 'stopped' ? 'stopped' : 'finish: ' + s.finish);
    return el('span', { class: 'stats' }, parts.join(' · '));
}

function messageNode(c, m, idx) {
    const isLast = idx === c.messages.length - 1;
    const body = el('div', { class: 'body' });
    if (m.role === 'assistant') body.innerHTML = renderMarkdown(m.content || '');
    else body.textContent = m.content;
    const tools = el('span', { class: 'tools' });
    if (!busy && m.role === 'user') tools.append(el('button', { type: 'button', class: 'link edit-btn', onclick: () => startEdit(c, idx) }, 'Edit'));
    if (!busy && m.role === 'assistant' && isLast) tools.append(el('button', { type: 'button', class: 'link regen-btn', onclick: () => regenerate(c) }, 'Regenerate'));
    if (m.role === 'assistant' && m.content) tools.append(el('button', { type: 'button', class: 'link copy-msg', onclick: (e) => copyText(m.content, e.target) }, 'Copy'));
    const meta = el('div', { class: 'meta' }, m.model ? el('span', {}, m.model) : null, fmtStats(m.stats), tools);
    const node = el('div', { class: 'msg ' + m.role, 'data-index': idx },
        el('div', { class: 'who' }, m.role === 'user' ? 'You' : 'Assistant'), body);
    if (m.error) node.append(el('div', { class: 'error', role: 'alert' }, m.error));
    node.append(meta);
    return node;
}

function renderMessages() {
    const box = $('messages');
    const c = current();
    if (!c || !c.messages.length) {
        box.replaceChildren(el('div', { class: 'empty' }, el('p', {}, 'Start a conversation: type a message below.'),
            el('p', {}, models.length || settings.model ? 'Model: ' + (settings.model || models[0]?.id) : '')));
        return;
    }
    box.replaceChildren(...c.messages.map((m, i) => messageNode(c, m, i)));
    box.scrollTop = box.scrollHeight;
}

function renderAll() { renderConvList(); renderMessages(); }

function startEdit(c, idx) {
    const node = $('messages').querySelector('[data-index="' + idx + '"]');
    const ta = el('textarea', { 'aria-label': 'Edit message' });
    ta.value = c.messages[idx].content;
    const send = () => {
        const text = ta.value.trim();
        if (!text) return;
        c.messages = c.messages.slice(0, idx);
        c.messages.push({ role: 'user', content: text });
        persist();
        generate(c);
    };
    ta.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); send(); } else if (e.key === 'Escape') renderMessages();
    });
    node.querySelector('.body').replaceChildren(el('div', { class: 'edit' }, ta,
        el('div', { class: 'row end' }, el('button', { type: 'button', onclick: renderMessages }, 'Cancel'),
            el('button', { type: 'button', class: 'primary save-edit', onclick: send }, 'Save & send'))));
    node.querySelector('.meta').replaceChildren();
    ta.focus();
}

function regenerate(c) {
    while (c.messages.length && c.messages[c.messages.length - 1].role === 'assistant') c.messages.pop();
    if (c.messages.length) generate(c);
}

$('messages').addEventListener('click', (e) => {
    const b = e.target.closest('.code .copy');
    if (b) copyText(b.closest('.code').querySelector('code').textContent, b);
});

// ---- sending and streaming ----

let busy = false;
let controller = null;

function setBusy(b) {
    busy = b;
    $('send').hidden = b;
    $('stop').hidden = !b;
}

// Read an SSE body: yields each event's data (the text after "data:"), joined across lines.
async function* sseEvents(body) {
    const reader = body.getReader();
    const dec = new TextDecoder();
    let buf = '';
    for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
        let end;
        while ((end = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, end);
            buf = buf.slice(end + 2);
            const data = block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).replace(/^ /, '')).join('\n');
            if (data) yield data;
        }
    }
}

function num(id) { const v = $(id).value.trim(); return v === '' ? undefined : Number(v); }

async function generate(c) {
    const model = $('model').value || settings.model;
    if (!model) { renderMessages(); setConn('No model to chat with'); return; }
    const msgs = [];
    const sys = $('system').value.trim();
    if (sys) msgs.push({ role: 'system', content: sys });
    for (const m of c.messages) if (m.content) msgs.push({ role: m.role, content: m.content });
    const req = { model, messages: msgs, stream: true, stream_options: { include_usage: true } };
    for (const k of ['temperature', 'top_p', 'top_k', 'repeat_penalty', 'seed', 'max_tokens']) { const v = num(k); if (v !== undefined && !Number.isNaN(v)) req[k] = v; }

    const reply = { role: 'assistant', content: '', model };
    c.messages.push(reply);
    c.updated = Date.now();
    if (!c.renamed && c.title === 'New chat') {
        const first = c.messages.find((m) => m.role === 'user');
        if (first) c.title = first.content.replace(/\s+/g, ' ').slice(0, 40);
    }
    convs = [c, ...convs.filter((x) => x !== c)];
    persist();
    setBusy(true);
    renderAll();
    const node = $('messages').lastElementChild;
    node.classList.add('streaming');
    const bodyEl = node.querySelector('.body');
    let pending = false;
    const paint = () => {
        if (pending) return;
        pending = true;
        requestAnimationFrame(() => {
            pending = false;
            const box = $('messages');
            const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
            bodyEl.innerHTML = renderMarkdown(reply.content);
            if (atBottom) box.scrollTop = box.scrollHeight;
        });
    };

    controller = new AbortController();
    const t0 = performance.now();
    let tFirst = 0, chunks = 0, usage = null, finish = null;
    for (let attempt = 0; ; attempt++) {
        try {
            const res = await fetch('/v1/chat/completions', {
                method: 'POST', signal: controller.signal,
                headers: { 'Content-Type': 'application/json', ...authHeaders() }, body: JSON.stringify(req),
            });
            if (!res.ok) {
                const err = await errorFrom(res);
                if (res.status === 401 && attempt === 0) { await askKey(err.message); continue; }
                throw err;
            }
            for await (const data of sseEvents(res.body)) {
                if (data === '[DONE]') break;
                let ev;
                try { ev = JSON.parse(data); } catch { continue; }
                if (ev.error) throw new ApiError(0, ev.error.message || JSON.stringify(ev.error));
                if (ev.usage) usage = ev.usage;
                const ch = ev.choices?.[0];
                if (ch?.delta?.content) {
                    if (!tFirst) tFirst = performance.now();
                    chunks++;
                    reply.content += ch.delta.content;
                    paint();
                }
                if (ch?.finish_reason) finish = ch.finish_reason;
            }
        } catch (e) {
            if (e.name === 'AbortError') finish = 'stopped';
            else reply.error = e.message ? 'Error: ' + e.message : 'Error: the request failed';
        }
        break;
    }
    const tEnd = performance.now();
    const n = usage?.completion_tokens ?? chunks;
    const genSecs = tFirst ? (tEnd - tFirst) / 1000 : 0;
    reply.stats = {
        completion_tokens: n, prompt_tokens: usage?.prompt_tokens,
        tps: genSecs > 0 && n > 1 ? (n - 1) / genSecs : undefined,
        ttft_ms: tFirst ? Math.round(tFirst - t0) : undefined, finish: finish || undefined,
    };
    if (reply.error && !reply.content) delete reply.stats;
    controller = null;
    setBusy(false);
    persist();
    renderAll();
}

function send() {
    const text = $('input').value.trim();
    if (!text || busy) return;
    const c = current() || newConversation();
    c.messages.push({ role: 'user', content: text });
    $('input').value = '';
    generate(c);
}

$('composer').addEventListener('submit', (e) => { e.preventDefault(); send(); });
$('input').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); send(); }
});
$('stop').addEventListener('click', () => controller?.abort());
document.addEventListener('keydown', (e) => { if (e.key === 'Escape' && controller) controller.abort(); });

// ---- layout: views and the phone-sized sidebar ----

function closeSide() { $('side').classList.remove('open'); }
$('toggle-side').addEventListener('click', () => $('side').classList.toggle('open'));

function route() {
    const want = (location.hash.match(/^#\/([\w-]+)/) || [])[1];
    const views = [...document.querySelectorAll('section.view')].map((v) => v.id.slice(5));
    const view = views.includes(want) && !$('nav-' + want)?.hidden ? want : 'chat';
    for (const v of views) {
        $('view-' + v).hidden = v !== view;
        const nav = $('nav-' + v);
        if (nav) { nav.classList.toggle('active', v === view); nav.setAttribute('aria-current', v === view ? 'page' : 'false'); }
    }
    $('toggle-side').hidden = view !== 'chat';
    if (view === 'models') refreshModels();
    window.dispatchEvent(new CustomEvent('localai:view', { detail: view }));
}
window.addEventListener('hashchange', route);

if (!current()) currentId = convs[0]?.id ?? null;
renderAll();
route();
window.addEventListener('localai:nav', route); // access.js showed or hid a view's link
if (location.hash !== '#/models') refreshModels().then(renderMessages);
document.body.dataset.ready = '1';
