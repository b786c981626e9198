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
const deadline = setTimeout(() => { console.error('e2e: over the time limit'); process.exit(3); }, 90000);

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

function watch(page) {
    const errors = [];
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
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
    await shot(page, 'models-light');

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
