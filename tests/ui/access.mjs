// Browser test of the access pages against the real admin API (tests/ui_access_test.c starts
// `local-ai run --data-path DIR` with an admin user and its key made by the CLI).
//
//   node tests/ui/access.mjs URL ADMIN_KEY SHOTS_DIR
//
// Checks: the page asks for a key, a bad key is refused, the admin's key opens "Users & keys",
// a key created there is shown once and works through the API, and stops working once revoked;
// the usage page draws its charts. Exits 0 when every check passed.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';

const [url, adminKey, shots] = process.argv.slice(2);
if (!url || !adminKey || !shots) {
    console.error('usage: access.mjs URL ADMIN_KEY SHOTS_DIR');
    process.exit(2);
}
mkdirSync(shots, { recursive: true });
const deadline = setTimeout(() => { console.error('access: over the time limit'); process.exit(3); }, 80000);
let step = '';
const t0 = Date.now();
function check(cond, what) { if (!cond) throw new Error('check failed: ' + what); }
function log(s) { step = s; console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${s}`); }
async function call(path, key, body) {
    const res = await fetch(url + path, {
        method: body ? 'POST' : 'GET',
        headers: { Authorization: 'Bearer ' + key, ...(body ? { 'Content-Type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, json: await res.json().catch(() => null) };
}

const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
});
let failed = false;
try {
    const ctx = await browser.newContext({ viewport: { width: 1200, height: 800 }, colorScheme: 'light' });
    const page = await ctx.newPage();
    page.setDefaultTimeout(15000);
    const errors = [];
    page.on('console', (m) => { if (m.type() === 'error' && !/status of 401/.test(m.text())) errors.push(m.text()); });
    page.on('pageerror', (e) => errors.push('page error: ' + e.message));

    log('with keys on, the page asks for one; a bad key is refused');
    check((await page.goto(url + '/')).ok(), 'the page itself needs no key');
    await page.locator('#key-dialog[open]').waitFor();
    await page.locator('#key-input').fill('sk-wrong');
    await page.locator('#key-input').press('Enter');
    await page.locator('#key-error').waitFor({ state: 'visible' });
    check((await page.locator('#key-error').innerText()).includes('refused'), 'the refusal is shown');
    check((await call('/v1/models', 'sk-wrong')).status === 401, 'the API refuses a bad key');

    log("the admin's key opens the admin pages");
    await page.locator('#key-input').fill(adminKey);
    await page.locator('#key-input').press('Enter');
    await page.locator('#nav-admin').waitFor({ state: 'visible' });
    await page.locator('#nav-admin').click();
    await page.locator('#users-table td', { hasText: 'admin' }).first().waitFor();

    log('an admin creates a key; it is shown once and works through the API');
    await page.locator('#new-key-name').fill('e2e-key');
    await page.locator('#new-key-form button[type=submit]').click();
    await page.locator('#new-key-value').waitFor();
    const newKey = (await page.locator('#new-key-value').innerText()).trim();
    check(newKey.length > 8 && newKey !== adminKey, 'a new key: ' + newKey);
    await page.screenshot({ path: `${shots}/access-new-key-light.png` });
    let r = await call('/v1/models', newKey);
    check(r.status === 200 && r.json.data.some((m) => m.id === 'tiny'), 'the new key lists the models: ' + r.status);
    r = await call('/v1/chat/completions', newKey, { model: 'tiny', messages: [{ role: 'user', content: 'Once upon a time' }], max_tokens: 8 });
    check(r.status === 200, 'the new key chats: ' + r.status + ' ' + JSON.stringify(r.json));
    check(!(await page.locator('#keys-table').innerText()).includes(newKey), 'the table never shows the secret');

    log('revoking it stops it');
    const row = page.locator('#keys-table tbody tr', { hasText: 'e2e-key' });
    page.once('dialog', (d) => d.accept());
    await row.locator('.revoke-key').click();
    await page.locator('#keys-table tbody tr.revoked', { hasText: 'e2e-key' }).waitFor();
    check((await call('/v1/models', newKey)).status === 401, 'a revoked key is refused');

    log("a user's key: no admin pages, models are shown but not managed");
    await page.locator('#nav-admin').click();
    await page.locator('#new-user-name').fill('joe');
    await page.locator('#new-user-form button[type=submit]').click();
    await page.locator('#users-table td', { hasText: 'joe' }).waitFor();
    await page.locator('#new-key-name').fill('joe-key');
    await page.locator('#new-key-user').selectOption('joe');
    await page.locator('#new-key-form button[type=submit]').click();
    await page.locator('#new-key-box', { hasText: 'joe-key' }).waitFor();
    const joeKey = (await page.locator('#new-key-value').innerText()).trim();
    const ju = await call('/api/users', joeKey);
    check(ju.status === 403, "joe's key is refused the admin API: " + ju.status + ' ' + JSON.stringify(ju.json));
    check((await call('/api/models/tiny/load', joeKey, {})).status === 403, 'and loading models');
    await page.locator('#key-btn').click();
    await page.locator('#key-input').fill(joeKey);
    await page.locator('#key-input').press('Enter');
    await page.locator('#whoami', { hasText: 'joe' }).waitFor();
    check(!(await page.locator('#nav-admin').isVisible()), 'no admin link for joe');
    await page.locator('#nav-models').click();
    await page.locator('.card.model[data-id="tiny"] .badge').waitFor();
    check((await page.locator('.card.model .load-btn, .card.model .unload-btn').count()) === 0, 'no load buttons for joe');
    await page.locator('#nav-usage').click();
    await page.locator('.chart-card').first().waitFor();
    check((await page.locator('.chart-card').count()) === 2, 'joe sees his own usage only');
    await page.locator('#key-btn').click();
    await page.locator('#key-input').fill(adminKey);
    await page.locator('#key-input').press('Enter');
    await page.locator('#nav-admin').waitFor({ state: 'visible' });

    log('the usage page draws its charts');
    await page.locator('#nav-usage').click();
    await page.locator('.chart-card').first().waitFor();
    await page.locator('#usage-totals').waitFor();
    await page.screenshot({ path: `${shots}/access-usage-light.png` });
    check(errors.length === 0, 'console errors: ' + errors.join(' | '));
    await ctx.close();
    log('all checks passed');
} catch (e) {
    failed = true;
    console.error(`access: FAILED at "${step}": ${e.message}`);
}
await browser.close();
clearTimeout(deadline);
process.exit(failed ? 1 : 0);
