// Who is using the UI (GET /api/me): in "managed" mode (users and keys in a database), the
// header names the user, admins get the "Users & keys" page (admin.js) and everyone the
// "Usage" page (usage.js). In "open" mode, or on a server without /api/me, both stay hidden.
import { $, apiJSON, onKeyChange } from './util.js';
import { showAdmin } from './admin.js';
import { showUsage } from './usage.js';

export let me = null;

// The server says (me.admin: an admin user's key, or a key without a user that has the admin
// capability); a server that does not, by the user's role.
export function isAdmin() { return me?.mode === 'managed' && (me.admin ?? me.user?.role === 'admin') === true; }

// Whether this caller may change the server's models (install, remove, load, unload): anyone
// in open or shared mode, an admin in managed mode.
export function canManage() { return me?.mode !== 'managed' || isAdmin(); }

async function loadMe() {
    try { me = await apiJSON('/api/me'); } catch { me = null; }
    const managed = me?.mode === 'managed';
    $('nav-admin').hidden = !isAdmin();
    $('nav-usage').hidden = !(managed && (me.user || me.key));
    const who = me?.user ? me.user.name + (me.user.role === 'admin' ? ' (admin)' : '') : me?.key ? 'key ' + (me.key.name || me.key.prefix) : '';
    $('whoami').textContent = who;
    $('whoami').hidden = !who;
    window.dispatchEvent(new CustomEvent('localai:nav'));
}

onKeyChange(loadMe);
window.addEventListener('localai:view', (e) => {
    if (e.detail === 'admin') showAdmin(me);
    if (e.detail === 'usage') showUsage(me, isAdmin());
});
loadMe();
