// local-ai web UI: the audio view (#/audio). Speech to text: record from the microphone
// (MediaRecorder, webm/opus as browsers record it) or pick a file, and transcribe it with
// /v1/audio/transcriptions. Text to speech: type, pick a voice and format, and listen to
// /v1/audio/speech. Kept apart from app.js: it builds its own section and follows the hash.

const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
        if (k === 'class') e.className = v;
        else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
        else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? '' : v);
    }
    for (const kid of kids) if (kid !== null && kid !== undefined) e.append(kid);
    return e;
}

// The API key app.js keeps (JSON in localStorage), sent the same way.
function authHeaders() {
    try {
        const key = JSON.parse(localStorage.getItem('localai.apiKey'));
        return key ? { Authorization: 'Bearer ' + key } : {};
    } catch { return {}; }
}

async function call(path, opts = {}) {
    const res = await fetch(path, { ...opts, headers: { ...(opts.headers || {}), ...authHeaders() } });
    if (!res.ok) {
        let msg = res.status + ' ' + res.statusText;
        try { const j = await res.json(); msg = j?.error?.message || msg; } catch { /* keep the status */ }
        throw new Error(msg);
    }
    return res;
}

function build() {
    const field = (label, input) => el('label', {}, label + ' ', input);
    const section = el('section', { id: 'view-audio', class: 'view', hidden: true },
        el('div', { class: 'models audio' },
            el('h1', {}, 'Audio'),
            el('div', { class: 'cards' },
                el('div', { class: 'card' },
                    el('h2', {}, 'Speech to text'),
                    el('div', { class: 'row' },
                        field('Model', el('input', { id: 'stt-model', value: 'whisper-1', size: 14 })),
                        field('Language', el('input', { id: 'stt-language', placeholder: 'auto', size: 6 }))),
                    el('div', { class: 'row' },
                        el('button', { id: 'rec-btn', type: 'button', class: 'primary' }, 'Record'),
                        el('span', { class: 'muted' }, 'or'),
                        el('input', { id: 'audio-file', type: 'file', accept: 'audio/*,video/webm', 'aria-label': 'Audio file' })),
                    el('p', { id: 'stt-status', class: 'muted', role: 'status' }),
                    el('pre', { id: 'transcript', class: 'transcript', 'aria-live': 'polite' })),
                el('div', { class: 'card' },
                    el('h2', {}, 'Text to speech'),
                    el('textarea', { id: 'tts-input', rows: 4, 'aria-label': 'Text to speak', placeholder: 'Type something to hear it.' }),
                    el('div', { class: 'row' },
                        field('Voice', el('select', { id: 'tts-voice' }, el('option', { value: 'alloy' }, 'alloy'))),
                        field('Format', el('select', { id: 'tts-format' },
                            ...['mp3', 'wav', 'opus', 'flac'].map((f) => el('option', { value: f }, f)))),
                        field('Speed', el('input', { id: 'tts-speed', type: 'number', min: 0.25, max: 4, step: 0.25, value: 1 })),
                        el('button', { id: 'tts-btn', type: 'button', class: 'primary' }, 'Speak')),
                    el('p', { id: 'tts-status', class: 'muted', role: 'status' }),
                    el('audio', { id: 'tts-audio', controls: true }),
                    el('a', { id: 'tts-download', hidden: true, download: 'speech.mp3' }, 'Download')))));
    document.querySelector('main').append(section);
    const nav = document.querySelector('.top nav');
    if (nav && !$('nav-audio')) nav.append(el('a', { href: '#/audio', id: 'nav-audio' }, 'Audio'));
}

// ---- speech to text ----

async function transcribe(blob, name) {
    const form = new FormData();
    form.append('file', blob, name);
    form.append('model', $('stt-model').value.trim() || 'whisper-1');
    const lang = $('stt-language').value.trim();
    if (lang) form.append('language', lang);
    form.append('response_format', 'verbose_json');
    $('stt-status').textContent = 'Transcribing ' + name + '…';
    $('transcript').textContent = '';
    const t0 = performance.now();
    try {
        const j = await (await call('/v1/audio/transcriptions', { method: 'POST', body: form })).json();
        const segs = Array.isArray(j.segments) ? j.segments : [];
        $('transcript').textContent = segs.length
            ? segs.map((s) => `[${s.start.toFixed(2)} → ${s.end.toFixed(2)}] ${s.text.trim()}`).join('\n')
            : j.text;
        $('transcript').dataset.text = j.text;
        $('stt-status').textContent = `${(j.duration ?? 0).toFixed(1)} s of audio in ${((performance.now() - t0) / 1000).toFixed(1)} s`;
    } catch (e) {
        $('stt-status').textContent = 'Transcription failed: ' + e.message;
    }
}

let recorder = null;

async function toggleRecord() {
    if (recorder) { recorder.stop(); return; }
    if (!navigator.mediaDevices?.getUserMedia || !window.MediaRecorder) {
        $('stt-status').textContent = 'This browser cannot record (a secure origin is needed: https or localhost).';
        return;
    }
    let stream;
    try { stream = await navigator.mediaDevices.getUserMedia({ audio: true }); } catch (e) {
        $('stt-status').textContent = 'No microphone: ' + e.message;
        return;
    }
    const type = MediaRecorder.isTypeSupported('audio/webm;codecs=opus') ? 'audio/webm;codecs=opus' : '';
    const chunks = [];
    recorder = new MediaRecorder(stream, type ? { mimeType: type } : {});
    recorder.ondataavailable = (e) => { if (e.data.size) chunks.push(e.data); };
    recorder.onstop = () => {
        stream.getTracks().forEach((t) => t.stop());
        recorder = null;
        $('rec-btn').textContent = 'Record';
        $('rec-btn').classList.replace('danger', 'primary');
        transcribe(new Blob(chunks, { type: type || 'audio/webm' }), 'recording.webm');
    };
    recorder.start();
    $('rec-btn').textContent = 'Stop';
    $('rec-btn').classList.replace('primary', 'danger');
    $('stt-status').textContent = 'Recording… press Stop to transcribe.';
}

// ---- text to speech ----

let lastUrl = null;

async function speak() {
    const input = $('tts-input').value.trim();
    if (!input) { $('tts-status').textContent = 'Type some text first.'; return; }
    const format = $('tts-format').value;
    $('tts-status').textContent = 'Speaking…';
    $('tts-btn').disabled = true;
    try {
        const res = await call('/v1/audio/speech', {
            method: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify({ model: 'tts-1', input, voice: $('tts-voice').value, response_format: format, speed: Number($('tts-speed').value) || 1 }),
        });
        const blob = await res.blob();
        if (lastUrl) URL.revokeObjectURL(lastUrl);
        lastUrl = URL.createObjectURL(blob);
        $('tts-audio').src = lastUrl;
        $('tts-download').href = lastUrl;
        $('tts-download').download = 'speech.' + format;
        $('tts-download').hidden = false;
        $('tts-status').textContent = `${(blob.size / 1024).toFixed(0)} KiB of ${format}`;
        $('tts-audio').play().catch(() => { /* autoplay may be blocked: the controls are there */ });
    } catch (e) {
        $('tts-status').textContent = 'Speech failed: ' + e.message;
    } finally {
        $('tts-btn').disabled = false;
    }
}

let voicesLoaded = false;
async function loadVoices() {
    if (voicesLoaded) return;
    try {
        const j = await (await call('/v1/voices')).json();
        const sel = $('tts-voice');
        const named = ['alloy', 'echo', 'fable', 'onyx', 'nova', 'shimmer'].map((v) => el('option', { value: v }, v));
        const all = (j.voices || []).map((v) => el('option', { value: v.voice_id }, `${v.voice_id} — ${v.name}`));
        sel.replaceChildren(el('optgroup', { label: 'OpenAI names (English)' }, ...named), el('optgroup', { label: 'espeak-ng' }, ...all));
        voicesLoaded = true;
    } catch (e) {
        $('tts-status').textContent = 'Could not list the voices: ' + e.message;
    }
}

// ---- the view follows the hash, next to app.js's views ----

function route() {
    const on = location.hash === '#/audio';
    $('view-audio').hidden = !on;
    $('nav-audio').classList.toggle('active', on);
    $('nav-audio').setAttribute('aria-current', on ? 'page' : 'false');
    if (on) loadVoices();
}

build();
$('rec-btn').addEventListener('click', toggleRecord);
$('audio-file').addEventListener('change', (e) => {
    const f = e.target.files?.[0];
    if (f) transcribe(f, f.name);
});
$('tts-btn').addEventListener('click', speak);
window.addEventListener('hashchange', route);
route();
document.body.dataset.audioReady = '1';
