// Browser test of the web UI: Debian's chromium driven by playwright-core (no browser
// download). Started by tests/ui_e2e_test.c, which runs two `local-ai run` servers.
//
//   node tests/ui/e2e.mjs OPEN_URL KEYED_URL KEY SHOTS_DIR
//
// OPEN_URL needs no API key; KEYED_URL was started with --api-key KEY. Screenshots of each
// page (light, dark, phone) go to SHOTS_DIR for review. Exits 0 when every check passed.
import { chromium } from 'playwright-core';
import { existsSync, mkdirSync } from 'node:fs';

const [openUrl, keyedUrl, goodKey, shots] = process.argv.slice(2);
if (!openUrl || !keyedUrl || !goodKey || !shots) {
    console.error('usage: e2e.mjs OPEN_URL KEYED_URL KEY SHOTS_DIR');
    process.exit(2);
}
mkdirSync(shots, { recursive: true });
const deadline = setTimeout(() => { console.error("e2e: over the time limit"); process.exit(3); }, 170000);

let step = '';
const t0 = Date.now();
function check(cond, what) {
    if (!cond) throw new Error('check failed: ' + what);
}
function log(s) { step = s; console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${s}`); }

const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        '--disable-dev-shm-usage'],
});

// Console errors, but for the 404 of GET /api/me on a server without the admin API (built
// without the auth module): the UI then hides the access pages, as in open mode.
function watch(page) {
    const errors = [];
    page.on('console', (m) => {
        if (m.type() !== 'error') return;
        if (/status of 404/.test(m.text()) && /\/api\/me$/.test(m.location()?.url || '')) return;
        errors.push(m.text() + ' (' + (m.location()?.url || '?') + ')');
    });
    page.on('pageerror', (e) => errors.push('page error: ' + e.message));
    return errors;
}

const lastAssistant = (page) => page.locator('.msg.assistant').last();
async function waitIdle(page) {
    await page.locator('#send').waitFor({ state: 'visible', timeout: 30000 });
}
async function sendMessage(page, text) {
    await page.locator('#input').fill(text);
    await page.locator('#input').press('Enter');
}
async function shot(page, name) {
    await page.screenshot({ path: `${shots}/${name}.png`, fullPage: false });
}

// The admin API as /api/me, /api/users, /api/keys and /api/usage define it, served from
// memory by the browser context; everything else goes to the real server.
async function mockAdminApi(ctx, role) {
    const calls = [];
    const lim = { capabilities: null, models: null, rpm: null, tpm: null, tokens_per_day: null, tokens_per_month: null, requests_per_day: null };
    const users = [
        { id: 'u1', name: 'alice', role: 'admin', state: 'active', created_at: '2026-11-01T10:00:00Z', ...lim },
        { id: 'u2', name: 'bob', role: 'user', state: 'active', created_at: '2026-11-02T10:00:00Z', ...lim, rpm: 60, models: ['tiny'] },
    ];
    const keys = [
        { id: 'k1', prefix: 'sk-abc1', name: 'laptop', user: 'alice', user_id: 'u1', ...lim, expires_at: null, last_used_at: '2026-11-24T08:00:00Z', created_at: '2026-11-01T10:05:00Z', revoked_at: null },
        { id: 'k2', prefix: 'sk-def2', name: 'ci', user: 'bob', user_id: 'u2', ...lim, tokens_per_day: 100000, expires_at: null, last_used_at: null, created_at: '2026-11-02T10:05:00Z', revoked_at: null },
    ];
    const day = (n) => new Date(Date.now() - n * 86400000).toISOString().slice(0, 10);
    const usage = [];
    for (let n = 0; n < 14; n++) {
        for (const [key, user, model, k] of [['k1', 'alice', 'tiny', 3], ['k2', 'bob', 'tiny', 2], ['k2', 'bob', 'qwen3-0.6b', 1]]) {
            if ((n + k) % 4 === 0) continue;
            const p = 100 * k + n * 10, c = 50 * k + n * 7;
            const kk = keys.find((x) => x.id === key);
            usage.push({ day: day(n), key, key_prefix: kk.prefix, key_name: kk.name, user, model, requests: k + n % 3, prompt_tokens: p, completion_tokens: c, total_tokens: p + c });
        }
    }
    await ctx.route('**/api/**', async (route) => {
        const req = route.request();
        const url = new URL(req.url());
        const m = req.method();
        const path = url.pathname;
        const body = req.postData() ? JSON.parse(req.postData()) : null;
        const json = (status, b) => route.fulfill({ status, contentType: 'application/json', body: JSON.stringify(b) });
        if (!/^\/api\/(me|users|keys|usage)/.test(path)) return route.fallback();
        calls.push({ m, path, body, query: url.search });
        const id = path.split('/')[3];
        if (path === '/api/me') return json(200, { mode: 'managed', admin: role === 'admin', user: role === 'admin' ? { id: 'u1', name: 'alice', role: 'admin' } : { id: 'u2', name: 'bob', role: 'user' }, key: { id: 'k1', prefix: 'sk-abc1', name: 'laptop', capabilities: ['chat', 'models'], models: null } });
        if (role !== 'admin' && path !== '/api/usage') return json(403, { error: { message: 'admins only', type: 'permission_error' } });
        if (path === '/api/users' && m === 'GET') return json(200, { data: users });
        if (path === '/api/users' && m === 'POST') {
            const u = { id: 'u' + (users.length + 1), role: 'user', state: 'active', created_at: new Date().toISOString(), ...lim, ...body };
            users.push(u);
            return json(201, u);
        }
        if (path.startsWith('/api/users/')) {
            const u = users.find((x) => x.id === id);
            if (!u) return json(404, { error: { message: 'no such user' } });
            if (m === 'PATCH') { Object.assign(u, body); return json(200, u); }
            if (m === 'DELETE') { users.splice(users.indexOf(u), 1); return json(200, {}); }
        }
        if (path === '/api/keys' && m === 'GET') return json(200, { data: keys });
        if (path === '/api/keys' && m === 'POST') {
            const k = { id: 'k' + (keys.length + 1), prefix: 'sk-new' + keys.length, user: null, ...lim, expires_at: null, last_used_at: null, created_at: new Date().toISOString(), revoked_at: null, ...body };
            keys.push(k);
            return json(201, { ...k, key: 'sk-new' + (keys.length - 1) + 'Secret0123456789' });
        }
        if (path.startsWith('/api/keys/')) {
            const k = keys.find((x) => x.id === id);
            if (!k) return json(404, { error: { message: 'no such key' } });
            if (m === 'PATCH') { Object.assign(k, body); return json(200, k); }
            if (m === 'DELETE') { k.revoked_at = new Date().toISOString(); return json(200, k); }
        }
        if (path === '/api/usage') {
            const mine = role === 'admin' ? usage : usage.filter((r) => r.user === 'bob');
            const rows = mine.filter((r) => (!url.searchParams.get('model') || r.model === url.searchParams.get('model')) && r.day >= url.searchParams.get('since'));
            const totals = { requests: 0, prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };
            for (const r of rows) for (const k of Object.keys(totals)) totals[k] += r[k];
            return json(200, { data: rows, totals });
        }
        return json(404, { error: { message: 'not mocked: ' + m + ' ' + path } });
    });
    return calls;
}

async function accessPagesMocked() {
    log('access pages (mocked admin API): admin sees users & keys');
    const ctx = await browser.newContext({ viewport: { width: 1200, height: 800 }, colorScheme: 'light' });
    const calls = await mockAdminApi(ctx, 'admin');
    const page = await ctx.newPage();
    page.setDefaultTimeout(15000);
    const errors = watch(page);
    await page.goto(openUrl + '/#/admin');
    await page.locator('#nav-admin').waitFor({ state: 'visible' });
    check(await page.locator('#nav-usage').isVisible(), 'the usage link is shown');
    check((await page.locator('#whoami').innerText()).includes('alice'), 'the header names the user');
    await page.locator('#users-table tbody tr').nth(1).waitFor();
    check((await page.locator('#keys-table tbody tr').count()) === 2, 'two keys listed');
    check((await page.locator('#users-table tr[data-id="u2"]').innerText()).includes('requests / minute 60'), 'limits shown');

    log('create a user, edit limits');
    await page.locator('#new-user-name').fill('carol');
    await page.locator('#new-user-form button[type=submit]').click();
    await page.locator('#users-table td', { hasText: 'carol' }).waitFor();
    check(calls.some((c) => c.m === 'POST' && c.path === '/api/users' && c.body.name === 'carol' && c.body.role === 'user'), 'POST /api/users sent');
    await page.locator('#users-table tr[data-id="u2"] .edit-user').click();
    await page.locator('#edit-rpm').fill('30');
    await page.locator('#edit-tokens_per_day').fill('5000');
    await page.locator('#edit-save').click();
    await page.locator('#edit-dialog').waitFor({ state: 'detached' });
    const patch = calls.find((c) => c.m === 'PATCH' && c.path === '/api/users/u2');
    check(patch && patch.body.rpm === 30 && patch.body.tokens_per_day === 5000 && patch.body.tpm === null && patch.body.models[0] === 'tiny', 'PATCH limits: ' + JSON.stringify(patch?.body));
    await page.locator('#users-table tr[data-id="u2"]', { hasText: 'requests / minute 30' }).waitFor();

    log('create a key: shown once, with copy');
    await page.locator('#new-key-name').fill('deploy');
    check(await page.locator('#new-key-user').inputValue() === 'alice', 'a new key is the signed-in user\'s by default');
    await page.locator('#new-key-user').selectOption('bob');
    await page.locator('#new-key-rpm').fill('10');
    await page.locator('#new-key-models').fill('tiny, qwen3-0.6b');
    await page.locator('#new-key-expires').fill('30');
    await page.locator('#new-key-form button[type=submit]').click();
    await page.locator('#new-key-value').waitFor();
    const secret = await page.locator('#new-key-value').innerText();
    check(secret.startsWith('sk-new') && secret.endsWith('Secret0123456789'), 'the new key is shown: ' + secret);
    const post = calls.find((c) => c.m === 'POST' && c.path === '/api/keys');
    check(post.body.name === 'deploy' && post.body.user === 'bob' && post.body.rpm === 10 && post.body.expires_in === 30 * 86400 &&
        post.body.models.join() === 'tiny,qwen3-0.6b' && !('tpm' in post.body), 'POST /api/keys body: ' + JSON.stringify(post.body));
    await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: openUrl });
    await page.locator('#new-key-copy').click();
    check(await page.evaluate(() => navigator.clipboard.readText()) === secret, 'the key was copied');
    check((await page.locator('#keys-table tbody tr').count()) === 3, 'the key is listed');
    await shot(page, 'admin-new-key-light');
    check(!(await page.locator('#keys-table').innerText()).includes('Secret0123456789'), 'the table never shows the secret');

    log('revoke a key; the new key is not shown again');
    page.once('dialog', (d) => d.accept());
    await page.locator('#keys-table tr[data-id="k1"] .revoke-key').click();
    await page.locator('#keys-table tr[data-id="k1"].revoked').waitFor();
    check(calls.some((c) => c.m === 'DELETE' && c.path === '/api/keys/k1'), 'DELETE /api/keys/k1 sent');
    await page.locator('#nav-chat').click();
    await page.locator('#nav-admin').click();
    await page.locator('#keys-table tbody tr').nth(2).waitFor();
    check((await page.locator('#new-key-box').count()) === 0, 'the secret is gone once the page is left');
    await shot(page, 'admin-light');

    log('usage: per-day charts by model, key and user');
    await page.locator('#nav-usage').click();
    await page.locator('.chart-card').nth(2).waitFor();
    check((await page.locator('.chart-card').count()) === 3, 'three charts for an admin');
    check((await page.locator('.chart-card[data-by="model"] rect.bar').count()) > 10, 'bars drawn');
    check((await page.locator('.chart-card[data-by="model"] .legend').innerText()).includes('qwen3-0.6b'), 'legend by model');
    check((await page.locator('.chart-card[data-by="key"] .legend').innerText()).includes('laptop'), 'keys by name');
    check((await page.locator('.chart-card[data-by="user"] .legend').innerText()).includes('alice'), 'users by name');
    const total = await page.locator('#usage-totals').innerText();
    check(/Total tokens\s+[\d,]+/.test(total), 'totals: ' + total);
    check((await page.locator('#usage-table tbody tr').count()) > 10, 'the table lists the days');
    await shot(page, 'usage-light');
    await page.locator('#usage-model').fill('tiny');
    await page.locator('#usage-model').press('Enter');
    await page.waitForFunction(() => !document.querySelector('.chart-card[data-by="model"] .legend').textContent.includes('qwen3'));
    check(calls.some((c) => c.path === '/api/usage' && c.query.includes('model=tiny')), 'the filter is sent');
    await page.locator('#usage-metric').selectOption('requests');
    check((await page.locator('.chart-card h2').first().innerText()).startsWith('Requests'), 'the metric changes the charts');
    await page.emulateMedia({ colorScheme: 'dark' });
    await shot(page, 'usage-dark');
    await page.setViewportSize({ width: 390, height: 760 });
    await page.waitForTimeout(200);
    await shot(page, 'usage-phone-dark');
    await page.locator('#nav-admin').click();
    await page.locator('#users-table').waitFor();
    await shot(page, 'admin-phone-dark');
    check(errors.length === 0, 'console errors: ' + errors.join(' | '));
    await ctx.close();

    log('access pages (mocked): a user sees only their usage');
    const uctx = await browser.newContext({ viewport: { width: 1000, height: 700 } });
    const ucalls = await mockAdminApi(uctx, 'user');
    const upage = await uctx.newPage();
    const uerrors = watch(upage);
    await upage.goto(openUrl + '/#/admin');
    await upage.locator('#nav-usage').waitFor({ state: 'visible' });
    check(!(await upage.locator('#nav-admin').isVisible()), 'no admin link for a user');
    check(await upage.locator('#view-chat').isVisible(), '#/admin falls back to the chat');
    await upage.locator('#nav-usage').click();
    await upage.locator('.chart-card').nth(1).waitFor();
    check((await upage.locator('.chart-card').count()) === 2, 'no per-user chart for a user');
    check((await upage.locator('#view-usage h1').innerText()) === 'My usage', 'titled as their own');
    check(!ucalls.some((c) => c.path.startsWith('/api/users') || c.path.startsWith('/api/keys')), 'a user never asks for users or keys');
    await shot(upage, 'usage-user-light');
    check(uerrors.length === 0, 'console errors: ' + uerrors.join(' | '));
    await uctx.close();

    log('open mode: no access links');
    const octx = await browser.newContext();
    const opage = await octx.newPage();
    await opage.goto(openUrl + '/');
    await opage.waitForFunction(() => document.querySelectorAll('#model option').length > 0);
    await opage.waitForTimeout(200);
    check(!(await opage.locator('#nav-admin').isVisible()) && !(await opage.locator('#nav-usage').isVisible()), 'hidden without /api/me');
    await octx.close();
}

let failed = false;
try {
    // ---- an open server: chat, stream, stop, reload, models, markdown, errors ----
    const ctx = await browser.newContext({ viewport: { width: 1200, height: 800 }, colorScheme: 'light' });
    const page = await ctx.newPage();
    page.setDefaultTimeout(15000);
    const errors = watch(page);
    log('load the chat page');
    const resp = await page.goto(openUrl + '/');
    check(resp.ok(), 'GET / is 200');
    await page.waitForFunction(() => document.querySelectorAll('#model option').length > 0, null, { timeout: 10000 });
    const options = await page.locator('#model option').allTextContents();
    check(options.some((o) => o.includes('tiny')), 'the model list has tiny: ' + options.join(', '));
    await page.locator('#model').selectOption('tiny');
    check((await page.locator('.empty').innerText()).includes('Model: tiny'), 'the empty view names the chosen model');
    await shot(page, 'chat-empty-light');

    log('send a message; the reply streams in');
    await page.locator('#settings summary').click();
    await page.locator('#max_tokens').fill('48');
    await page.locator('#system').fill('You tell short stories.');
    await sendMessage(page, 'Tell me a story about a cat');
    await page.locator('.msg.user .body', { hasText: 'Tell me a story about a cat' }).waitFor({ timeout: 5000 });
    await waitIdle(page);
    const reply = (await lastAssistant(page).locator('.body').innerText()).trim();
    check(reply.length > 10, 'the reply has text: ' + JSON.stringify(reply));
    const stats = await lastAssistant(page).locator('.stats').innerText();
    check(/\d+ tokens/.test(stats) && /tok\/s/.test(stats) && /prompt/.test(stats), 'stats under the reply: ' + stats);
    check((await lastAssistant(page).locator('.error').count()) === 0, 'no error on the reply');
    const title = await page.locator('#conv-list li.active .title').innerText();
    check(title.startsWith('Tell me a story'), 'the conversation is named after the message: ' + title);
    await shot(page, 'chat-light');

    log('stop a long reply');
    await page.locator('#max_tokens').fill('1500');
    await sendMessage(page, 'Tell me a very long story');
    // Click Stop from inside the page as soon as the first text arrives: the model is fast.
    const stoppedEarly = await page.evaluate(() => new Promise((resolve) => {
        const box = document.getElementById('messages');
        const tick = () => {
            const s = box.querySelector('.msg.streaming .body');
            if (s && s.textContent.length > 0) {
                document.getElementById('stop').click();
                resolve(true);
                return true;
            }
            if (!document.getElementById('stop').hidden || !s) return false;
            resolve(false);
            return true;
        };
        const mo = new MutationObserver(() => { if (tick()) mo.disconnect(); });
        mo.observe(box, { childList: true, subtree: true, characterData: true });
    }));
    check(stoppedEarly, 'Stop was clicked while streaming');
    await waitIdle(page);
    const stopStats = await lastAssistant(page).locator('.stats').innerText();
    check(stopStats.includes('stopped'), 'the reply is marked stopped: ' + stopStats);
    const stoppedN = parseInt(stopStats, 10);
    check(stoppedN < 1400, 'fewer tokens than asked for: ' + stopStats);

    log('regenerate the last reply');
    await page.locator('#max_tokens').fill('24');
    await page.locator('.regen-btn').click();
    await waitIdle(page);
    check((await page.locator('.msg').count()) === 4, 'regenerate keeps 4 messages');
    check(!(await lastAssistant(page).locator('.stats').innerText()).includes('stopped'), 'the new reply finished');

    log('edit and resend the first message');
    await page.locator('.msg.user .edit-btn').first().click();
    await page.locator('.msg .edit textarea').fill('Tell me a story about a dog');
    await page.locator('.msg .edit textarea').press('Enter');
    await waitIdle(page);
    check((await page.locator('.msg').count()) === 2, 'editing the first message drops what followed');
    check((await page.locator('.msg.user .body').first().innerText()).includes('dog'), 'the edited text was sent');

    log('the conversation survives a reload');
    await sendMessage(page, 'And then?');
    await waitIdle(page);
    const before = await page.locator('.msg').allInnerTexts();
    await page.reload();
    await page.waitForFunction(() => document.body.dataset.ready === '1');
    const after = await page.locator('.msg').allInnerTexts();
    check(after.length === 4 && after.length === before.length, `${after.length} messages after reload`);
    check(after[2].includes('And then?'), 'the messages are the same after reload');
    check(await page.locator('#max_tokens').inputValue() === '24', 'the settings survive a reload');

    log('new, rename and delete conversations');
    await page.locator('#new-chat').click();
    check((await page.locator('#conv-list li').count()) === 2, 'a second conversation');
    await page.locator('#conv-list li.active .rename').click();
    await page.locator('#conv-list li input').fill('Scratch');
    await page.locator('#conv-list li input').press('Enter');
    check((await page.locator('#conv-list li.active .title').innerText()) === 'Scratch', 'renamed');
    await page.locator('#conv-list li.active .delete').click();
    check((await page.locator('#conv-list li').count()) === 1, 'deleted');
    await page.locator('#conv-list li .title').first().click();
    check((await page.locator('.msg').count()) === 4, 'back to the first conversation');

    log('no console errors so far');
    check(errors.length === 0, 'console errors: ' + errors.join(' | '));

    log('markdown is rendered, and safely');
    const md = await page.evaluate(async () => {
        const { renderMarkdown } = await import('/ui/markdown.js');
        const d = document.createElement('div');
        d.innerHTML = renderMarkdown('**b** *i* `c`\n\n- x\n- y\n\n| h | k |\n|---|---|\n| 1 | 2 |\n\n```js\nlet a = "<img src=x onerror=alert(1)>";\n```\n' +
            '[ok](https://example.org) [bad](javascript:alert(1)) <script>alert(1)</script> <img src=x onerror=alert(1)>');
        return {
            strong: d.querySelectorAll('strong').length, em: d.querySelectorAll('em').length,
            code: d.querySelectorAll('code').length, li: d.querySelectorAll('li').length,
            td: d.querySelectorAll('td').length, pre: d.querySelectorAll('pre').length,
            copy: d.querySelectorAll('.code .copy').length, a: [...d.querySelectorAll('a')].map((a) => a.getAttribute('href')),
            bad: d.querySelectorAll('script, img, [onerror]').length,
        };
    });
    check(md.strong === 1 && md.em === 1 && md.li === 2 && md.td === 2 && md.pre === 1 && md.copy === 1,
        'markdown elements: ' + JSON.stringify(md));
    check(md.a.length === 1 && md.a[0] === 'https://example.org', 'only the safe link: ' + JSON.stringify(md.a));
    check(md.bad === 0, 'no raw HTML gets through');

    log('a conversation with markdown, for the screenshots');
    await page.evaluate(() => {
        const convs = JSON.parse(localStorage.getItem('localai.conversations'));
        convs.unshift({
            id: 'md', title: 'Markdown sample', updated: Date.now(), messages: [
                { role: 'user', content: 'Show me some markdown' },
                {
                    role: 'assistant', model: 'tiny', stats: { completion_tokens: 42, tps: 512.3, prompt_tokens: 9, ttft_ms: 12, finish: 'stop' },
                    content: 'Here is **bold**, *italic* and `inline code`.\n\n1. First\n2. Second\n   - nested\n\n| Animal | Legs |\n|--------|-----:|\n| cat | 4 |\n| bird | 2 |\n\n```c\nint main(void) {\n    return 0;\n}\n```\n\n> A quote, and a [link](https://example.org).',
                },
            ],
        });
        localStorage.setItem('localai.conversations', JSON.stringify(convs));
        localStorage.setItem('localai.current', JSON.stringify('md'));
    });
    await page.reload();
    await page.waitForFunction(() => document.body.dataset.ready === '1');
    await page.locator('.msg.assistant table').waitFor();
    await shot(page, 'chat-markdown-light');
    await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: openUrl });
    await page.locator('.code .copy').click();
    await page.locator('.code .copy', { hasText: 'Copied' }).waitFor({ timeout: 5000 });
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    check(copied.startsWith('int main(void) {') && copied.endsWith('}'), 'the code was copied: ' + JSON.stringify(copied));

    log('the models view lists the model');
    await page.locator('#nav-models').click();
    await page.locator('.card.model h2', { hasText: 'tiny' }).waitFor({ timeout: 5000 });
    const cards = await page.locator('.card.model h2').allInnerTexts();
    check(cards.includes('tiny') && cards.some((c) => c.startsWith('stories260K')), 'models: ' + cards.join(', '));

    log('models: state, memory, context, unload, load, config');
    const tinyCard = () => page.locator('.card.model[data-id="tiny"]');
    await tinyCard().locator('.badge', { hasText: /^loaded/ }).waitFor({ timeout: 5000 });
    const tinyText = await tinyCard().innerText();
    check(/memory\s+[\d.]+ (KiB|MiB)/.test(tinyText) && /context\s+[\d,]+ tokens/.test(tinyText), 'memory and context shown: ' + tinyText);
    await tinyCard().locator('.unload-btn').click();
    await tinyCard().locator('.badge', { hasText: 'unloaded' }).waitFor({ timeout: 5000 });
    check((await tinyCard().innerText()).includes('not loaded'), 'no memory once unloaded');
    await tinyCard().locator('.load-btn').click();
    await tinyCard().locator('.badge', { hasText: /^loaded/ }).waitFor({ timeout: 10000 });
    await tinyCard().locator('.model-config summary').click();
    await tinyCard().locator('.model-config pre', { hasText: 'name: tiny' }).waitFor({ timeout: 5000 });
    await shot(page, 'models-light');

    log('gallery tab: search, install with a progress bar, the model appears, remove');
    await page.locator('#tab-gallery').click();
    const item = () => page.locator('.gallery-item[data-id="gallery1@multi"]');
    await item().waitFor({ timeout: 10000 });
    check((await page.locator('.gallery-item').count()) > 5, 'the built-in gallery is listed too');
    await page.locator('#gallery-search').fill('two files');
    await page.waitForFunction(() => document.querySelectorAll('.gallery-item').length === 1);
    check((await page.locator('#gallery-status').innerText()).startsWith('1 of '), 'the search narrows the list');
    await shot(page, 'gallery-light');
    await item().locator('.install-btn').click();
    await item().locator('progress').waitFor({ timeout: 5000 });
    await page.waitForFunction(() => {
        const p = document.querySelector('.gallery-item[data-id="gallery1@multi"] progress');
        return p && p.value > 0 && p.value < 100;
    }, null, { timeout: 10000 });
    await shot(page, 'gallery-installing-light');
    await item().locator('.remove-btn').waitFor({ timeout: 30000 });
    check((await item().locator('.badge').innerText()) === 'installed', 'marked installed');
    await page.locator('#tab-installed').click();
    await page.locator('.card.model[data-id="multi"]').waitFor({ timeout: 5000 });
    check((await page.locator('#model option').allTextContents()).includes('multi'), 'the new model can be picked for chat');
    await page.locator('#tab-gallery').click();
    page.once('dialog', (d) => d.accept());
    await item().locator('.remove-btn').click();
    await item().locator('.install-btn').waitFor({ timeout: 10000 });
    await page.locator('#tab-installed').click();
    await page.locator('.card.model[data-id="multi"]').waitFor({ state: 'detached', timeout: 5000 });
    check(!(await page.locator('#model option').allTextContents()).includes('multi'), 'the removed model is gone from the picker');
    log('gallery tab: cancel an install');
    await page.locator('#tab-gallery').click();
    await item().locator('.install-btn').click();
    await item().locator('.cancel-btn').click();
    await item().locator('.install-btn').waitFor({ timeout: 10000 });
    check((await item().locator('.card-error').isHidden()), 'a cancelled install is no error');
    check(!(await item().innerText()).includes('installed'), 'not installed after cancelling');
    await page.locator('#tab-installed').click();

    log('dark theme and a phone-sized screen');
    await page.emulateMedia({ colorScheme: 'dark' });
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    check(bg !== 'rgb(255, 255, 255)', 'dark background: ' + bg);
    await shot(page, 'models-dark');
    await page.locator('#nav-chat').click();
    await page.locator('.msg.assistant table').waitFor();
    await shot(page, 'chat-markdown-dark');
    await page.setViewportSize({ width: 390, height: 760 });
    await page.waitForTimeout(300); // the sidebar slides away
    await shot(page, 'chat-phone-dark');
    await page.locator('#toggle-side').click();
    await page.waitForTimeout(250);
    await shot(page, 'sidebar-phone-dark');
    await page.locator('#toggle-side').click();
    await page.waitForTimeout(300);
    await page.emulateMedia({ colorScheme: 'light' });
    await shot(page, 'chat-phone-light');
    await page.setViewportSize({ width: 1200, height: 800 });

    log('the audio page: typed text is spoken into a playable audio element');
    await page.locator('#nav-audio').click();
    await page.locator('#view-audio').waitFor({ state: 'visible' });
    check(await page.locator('#view-chat').isHidden(), 'the chat view is hidden on the audio page');
    check(await page.locator('#nav-audio').evaluate((a) => a.classList.contains('active')), 'the nav marks Audio');
    await page.waitForFunction(() => document.querySelectorAll('#tts-voice option').length > 100, null, { timeout: 10000 });
    await page.locator('#tts-input').fill('Hello from the audio page. This is a test of the speech.');
    await page.locator('#tts-btn').click();
    await page.waitForFunction(() => document.getElementById('tts-audio').src.startsWith('blob:'), null, { timeout: 30000 });
    const dur = await page.evaluate(() => new Promise((resolve) => {
        const a = document.getElementById('tts-audio');
        if (a.readyState >= 1) resolve(a.duration);
        a.addEventListener('loadedmetadata', () => resolve(a.duration));
        a.addEventListener('error', () => resolve(-1));
        setTimeout(() => resolve(-2), 15000);
    }));
    check(dur > 1 && dur < 15, 'the speech is playable audio: ' + dur + ' s');
    await shot(page, 'audio-light');

    log('the audio page: an uploaded file is transcribed');
    const sample = (process.env.LOCALAI_SHARED || '../shared') + '/testdata/audio/librivox/sense_and_sensibility_01_austen_64kb-0880.wav';
    if (existsSync(sample)) {
        await page.setInputFiles('#audio-file', sample);
        await page.waitForFunction(() => document.getElementById('transcript').dataset.text !== undefined ||
            document.getElementById('stt-status').textContent.startsWith('Transcription failed'), null, { timeout: 60000 });
        const heard = await page.locator('#transcript').getAttribute('data-text');
        check(heard && heard.includes('young man'), 'the upload is transcribed: ' + heard + ' / ' + await page.locator('#stt-status').innerText());
        check((await page.locator('#transcript').innerText()).includes('→'), 'segments with times are shown');
    }
    check(errors.length === 0, 'console errors on the audio page: ' + errors.join(' | '));
    await page.locator('#nav-chat').click();
    await page.locator('#view-chat').waitFor({ state: 'visible' });
    check(await page.locator('#view-audio').isHidden(), 'back to the chat view');

    log('a server error is shown with its message');
    await page.evaluate(() => {
        const s = JSON.parse(localStorage.getItem('localai.settings'));
        s.model = 'no-such-model';
        localStorage.setItem('localai.settings', JSON.stringify(s));
    });
    await page.reload();
    await page.waitForFunction(() => document.body.dataset.ready === '1');
    await page.locator('#new-chat').click();
    await sendMessage(page, 'Hello?');
    await waitIdle(page);
    const err = await lastAssistant(page).locator('.error').innerText();
    check(err.includes("The model 'no-such-model' does not exist"), 'the OpenAI error message is shown: ' + err);
    await shot(page, 'chat-error-light');
    await ctx.close();

    // ---- the access pages, against a mocked admin API (the real one: tests/ui/access.mjs) ----
    await accessPagesMocked();

    // ---- a server with --api-key ----
    const kctx = await browser.newContext({ viewport: { width: 1000, height: 700 } });
    const kpage = await kctx.newPage();
    kpage.setDefaultTimeout(15000);
    const kerrors = watch(kpage);
    log('a keyed server: the page asks for a key');
    check((await kpage.goto(keyedUrl + '/')).ok(), 'the page itself needs no key');
    await kpage.locator('#key-dialog[open]').waitFor({ timeout: 10000 });
    check(!(await kpage.locator('#key-error').isVisible()), 'no error before a key was tried');
    await shot(kpage, 'key-dialog-light');

    log('a bad key is refused with a message');
    await kpage.locator('#key-input').fill('wrong-key');
    await kpage.locator('#key-input').press('Enter');
    await kpage.locator('#key-error').waitFor({ state: 'visible', timeout: 10000 });
    const kmsg = await kpage.locator('#key-error').innerText();
    check(kmsg.includes('refused') && kmsg.includes('Incorrect API key'), 'the refusal says why: ' + kmsg);
    await shot(kpage, 'key-refused-light');

    log('a good key works and is kept');
    await kpage.locator('#key-input').fill(goodKey);
    await kpage.locator('#key-input').press('Enter');
    await kpage.waitForFunction(() => document.querySelectorAll('#model option').length > 0, null, { timeout: 10000 });
    check(!(await kpage.locator('#key-dialog').isVisible()), 'the dialog closed');
    await kpage.locator('#model').selectOption('tiny');
    await kpage.locator('#settings summary').click();
    await kpage.locator('#max_tokens').fill('16');
    await sendMessage(kpage, 'Once upon a time');
    await waitIdle(kpage);
    const kreply = (await lastAssistant(kpage).locator('.body').innerText()).trim();
    check(kreply.length > 0 && (await lastAssistant(kpage).locator('.error').count()) === 0, 'a reply with the key: ' + kreply);
    await kpage.reload();
    await kpage.waitForFunction(() => document.querySelectorAll('#model option').length > 0, null, { timeout: 10000 });
    check(!(await kpage.locator('#key-dialog').isVisible()), 'the key is kept across a reload');
    log('the key can be forgotten');
    await kpage.locator('#key-btn').click();
    await kpage.locator('#key-forget').click();
    await kpage.locator('#key-dialog[open]').waitFor({ timeout: 10000 });
    check(!(await kpage.locator('#key-error').isVisible()), 'asked again, with no refusal shown');
    await kpage.locator('#key-input').fill(goodKey);
    await kpage.locator('#key-input').press('Enter');
    await kpage.waitForFunction(() => document.querySelectorAll('#model option').length > 0, null, { timeout: 10000 });
    const unexpected = kerrors.filter((e) => !/status of 401/.test(e));
    check(unexpected.length === 0, 'console errors besides the 401s: ' + unexpected.join(' | '));
    await kctx.close();
    log('all checks passed');
} catch (e) {
    failed = true;
    console.error(`e2e: FAILED at "${step}": ${e.message}`);
}
await browser.close();
clearTimeout(deadline);
process.exit(failed ? 1 : 0);
