// A small Markdown renderer for chat replies. Safety first: every piece of text is
// HTML-escaped before any markup is added, and links keep only http(s), mailto and relative
// targets. Handles paragraphs, headings, **bold**, *italic*, `code`, fenced code blocks
// (with a Copy button), lists, tables, block quotes, rules and links. An unclosed fence (a
// reply still streaming) renders as a code block up to the end.

export function escapeHtml(s) {
    return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
        .replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

// Links may go to http(s), mailto, or a relative path on this server; nothing else (no
// javascript: or data:, no protocol-relative //host, no backslashes browsers read as /).
function safeUrl(raw) {
    const u = raw.trim();
    if (/[\\\s\u0000-\u001f]/.test(u)) return null;
    if (/^(https?:\/\/|mailto:)/i.test(u)) return u;
    if (/^[a-z][a-z0-9+.-]*:/i.test(u) || u.startsWith('//')) return null;
    return u;
}

// Inline markup on one block of raw text. Code spans are cut out first so nothing inside
// them is interpreted.
export function renderInline(text) {
    const codes = [];
    // \u0000 and \u0001 mark cut-out spans below; the text itself may not carry them.
    let s = text.replace(/[\u0000\u0001]/g, '\ufffd').replace(/(`+)([\s\S]*?[^`])\1(?!`)/g, (m, ticks, code) => {
        codes.push('<code>' + escapeHtml(code.trim() || code) + '</code>');
        return '\u0000' + (codes.length - 1) + '\u0000';
    });
    const links = [];
    s = s.replace(/\[([^\]\n]+)\]\(([^)\s]+)\)/g, (m, label, url) => {
        const u = safeUrl(url);
        if (u === null) return m;
        links.push({ label, url: u });
        return '\u0001' + (links.length - 1) + '\u0001';
    });
    s = escapeHtml(s);
    s = s.replace(/\*\*(?=\S)([\s\S]*?\S)\*\*/g, '<strong>$1</strong>')
        .replace(/__(?=\S)([\s\S]*?\S)__/g, '<strong>$1</strong>')
        .replace(/(^|[^*\w])\*(?=[^\s*])([^*]*?[^\s*])\*(?![*\w])/g, '$1<em>$2</em>')
        .replace(/(^|[^_\w])_(?=[^\s_])([^_]*?[^\s_])_(?![_\w])/g, '$1<em>$2</em>')
        .replace(/~~(?=\S)([\s\S]*?\S)~~/g, '<del>$1</del>')
        .replace(/\n/g, '<br>');
    s = s.replace(/\u0001(\d+)\u0001/g, (m, i) => {
        const l = links[+i];
        return '<a href="' + escapeHtml(l.url) + '" target="_blank" rel="noopener noreferrer">' +
            renderInline(l.label) + '</a>';
    });
    return s.replace(/\u0000(\d+)\u0000/g, (m, i) => codes[+i]);
}

const RE_FENCE = /^ {0,3}(`{3,}|~{3,})\s*([\w+#.-]*)/;
const RE_HEADING = /^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const RE_RULE = /^ {0,3}([-*_])(\s*\1){2,}\s*$/;
const RE_ITEM = /^(\s*)([-*+]|\d{1,9}[.)])\s+(.*)$/;
const RE_TABLE_SEP = /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/;

function splitRow(line) {
    let s = line.trim();
    if (s.startsWith('|')) s = s.slice(1);
    if (s.endsWith('|') && !s.endsWith('\\|')) s = s.slice(0, -1);
    const cells = [];
    let cur = '';
    for (let i = 0; i < s.length; i++) {
        if (s[i] === '\\' && s[i + 1] === '|') { cur += '|'; i++; } else if (s[i] === '|') { cells.push(cur.trim()); cur = ''; } else cur += s[i];
    }
    cells.push(cur.trim());
    return cells;
}

function renderCode(lang, code) {
    const cls = lang ? ' class="language-' + escapeHtml(lang) + '"' : '';
    return '<div class="code"><div class="code-head"><span>' + escapeHtml(lang || 'code') +
        '</span><button type="button" class="copy">Copy</button></div><pre><code' + cls + '>' +
        escapeHtml(code) + '</code></pre></div>';
}

// A list starting at lines[i]; returns [html, next index]. Deeper-indented items nest.
function renderList(lines, i) {
    const first = RE_ITEM.exec(lines[i]);
    const indent = first[1].length;
    const ordered = /\d/.test(first[2]);
    const start = ordered ? parseInt(first[2], 10) : 1;
    let html = ordered ? (start !== 1 ? '<ol start="' + start + '">' : '<ol>') : '<ul>';
    let item = null;
    const flush = () => { if (item !== null) html += '<li>' + renderInline(item.join('\n')) + (item.sub || '') + '</li>'; };
    while (i < lines.length) {
        const line = lines[i];
        if (!line.trim()) {
            // A blank line ends the list unless another item of this list follows.
            const next = lines[i + 1];
            const m = next !== undefined && RE_ITEM.exec(next);
            if (m && m[1].length >= indent) { i++; continue; }
            break;
        }
        const m = RE_ITEM.exec(line);
        if (m && m[1].length > indent && item !== null) {
            const [sub, j] = renderList(lines, i);
            item.sub = (item.sub || '') + sub;
            i = j;
            continue;
        }
        if (m && m[1].length < indent) break;
        if (m) {
            if (/\d/.test(m[2]) !== ordered) break;
            flush();
            item = [m[3]];
        } else if (item !== null && !RE_FENCE.test(line) && !RE_HEADING.test(line)) {
            item.push(line.trim());
        } else break;
        i++;
    }
    flush();
    return [html + (ordered ? '</ol>' : '</ul>'), i];
}

export function renderMarkdown(src) {
    const lines = src.replace(/\r\n?/g, '\n').split('\n');
    let html = '';
    let para = [];
    const endPara = () => {
        if (para.length) html += '<p>' + renderInline(para.join('\n')) + '</p>';
        para = [];
    };
    let i = 0;
    while (i < lines.length) {
        const line = lines[i];
        let m;
        if ((m = RE_FENCE.exec(line))) {
            endPara();
            const fence = m[1];
            const body = [];
            i++;
            while (i < lines.length && !(lines[i].trim().startsWith(fence[0].repeat(fence.length)) &&
                /^\s*[`~]+\s*$/.test(lines[i]))) body.push(lines[i++]);
            i++;
            html += renderCode(m[2], body.join('\n'));
            continue;
        }
        if (!line.trim()) { endPara(); i++; continue; }
        if ((m = RE_HEADING.exec(line))) {
            endPara();
            const n = m[1].length;
            html += '<h' + n + '>' + renderInline(m[2]) + '</h' + n + '>';
            i++;
            continue;
        }
        if (RE_RULE.test(line) && !(para.length && /^\s*-+\s*$/.test(line))) {
            endPara();
            html += '<hr>';
            i++;
            continue;
        }
        if (line.includes('|') && i + 1 < lines.length && RE_TABLE_SEP.test(lines[i + 1]) &&
            lines[i + 1].includes('-')) {
            endPara();
            const head = splitRow(line);
            const aligns = splitRow(lines[i + 1]).map(c =>
                c.startsWith(':') && c.endsWith(':') ? 'center' : c.endsWith(':') ? 'right' : '');
            const cell = (tag, c, k) => '<' + tag + (aligns[k] ? ' class="al-' + aligns[k] + '"' : '') +
                '>' + renderInline(c) + '</' + tag + '>';
            let t = '<div class="table"><table><thead><tr>' + head.map((c, k) => cell('th', c, k)).join('') +
                '</tr></thead><tbody>';
            i += 2;
            while (i < lines.length && lines[i].includes('|') && lines[i].trim()) {
                const row = splitRow(lines[i++]);
                t += '<tr>' + head.map((_, k) => cell('td', row[k] || '', k)).join('') + '</tr>';
            }
            html += t + '</tbody></table></div>';
            continue;
        }
        if (RE_ITEM.test(line) && (!para.length || !/^\s*\d/.test(line) || /^\s*1[.)]/.test(line))) {
            endPara();
            const [list, j] = renderList(lines, i);
            html += list;
            i = j;
            continue;
        }
        if (/^ {0,3}>/.test(line)) {
            endPara();
            const quote = [];
            while (i < lines.length && /^ {0,3}>/.test(lines[i])) quote.push(lines[i++].replace(/^ {0,3}> ?/, ''));
            html += '<blockquote>' + renderMarkdown(quote.join('\n')) + '</blockquote>';
            continue;
        }
        para.push(line);
        i++;
    }
    endPara();
    return html;
}
