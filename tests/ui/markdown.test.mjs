// Unit tests of web/markdown.js in Node (no browser): structure, and that no input can get
// markup or a script URL through. Run by tests/ui_e2e_test.c (ui_markdown_unit).
import assert from 'node:assert/strict';
import { renderMarkdown as md, renderInline, escapeHtml } from '../../web/markdown.js';

let n = 0;
function eq(input, want) { n++; assert.equal(md(input), want, 'input: ' + JSON.stringify(input)); }

eq('hello', '<p>hello</p>');
eq('a\nb\n\nc', '<p>a<br>b</p><p>c</p>');
eq('**b** *i* _j_ __k__ ~~d~~', '<p><strong>b</strong> <em>i</em> <em>j</em> <strong>k</strong> <del>d</del></p>');
eq('2 * 3 * 4 and snake_case_name', '<p>2 * 3 * 4 and snake_case_name</p>');
eq('`a <b> **c**`', '<p><code>a &lt;b&gt; **c**</code></p>');
eq('# T\n### U', '<h1>T</h1><h3>U</h3>');
eq('- a\n- b', '<ul><li>a</li><li>b</li></ul>');
eq('3. c\n4. d', '<ol start="3"><li>c</li><li>d</li></ol>');
eq('- a\n  - b\n- c', '<ul><li>a<ul><li>b</li></ul></li><li>c</li></ul>');
eq('> q', '<blockquote><p>q</p></blockquote>');
eq('a\n\n---\n\nb', '<p>a</p><hr><p>b</p>');
eq('| a | b |\n|:-:|--|\n| 1 | 2 |',
    '<div class="table"><table><thead><tr><th class="al-center">a</th><th>b</th></tr></thead>' +
    '<tbody><tr><td class="al-center">1</td><td>2</td></tr></tbody></table></div>');
eq('```py\nx = 1\n```',
    '<div class="code"><div class="code-head"><span>py</span><button type="button" class="copy">Copy</button></div>' +
    '<pre><code class="language-py">x = 1</code></pre></div>');
// A reply still streaming: the open fence runs to the end.
assert.match(md('text\n```\nstill going'), /<pre><code>still going<\/code><\/pre>/); n++;
eq('[x](https://a.b/c?d=1&e=2)', '<p><a href="https://a.b/c?d=1&amp;e=2" target="_blank" rel="noopener noreferrer">x</a></p>');

// Hostile input: nothing may come out as a tag or attribute other than ours.
const hostile = [
    '<script>alert(1)</script>', '<img src=x onerror=alert(1)>', '"><svg onload=alert(1)>',
    '[a](javascript:alert(1))', '[a](JaVaScRiPt:alert(1))', '[a]( javascript:alert(1))',
    '[a](data:text/html,<script>alert(1)</script>)', '[a](vbscript:x)', '[a](//evil.example)',
    '[a](https://x" onmouseover="alert(1))', '```"><img src=x onerror=1>\ncode\n```',
    '| <b>x</b> |\n|---|\n| <i>y</i> |', '`</code><script>x</script>`', '**<u>x</u>**',
    '- <iframe src=x>', '# <style>*{}</style>', '> <a href="javascript:x">q</a>',
    '[<img src=x onerror=1>](https://ok.example)', '[a](/\\evil.example)', '[a](java\nscript:x)',
    '[a](javascript&#58;alert(1))',
];
// Every tag in the output must be one the renderer makes, with only its own attributes.
const TAGS = new Set(['p', 'br', 'strong', 'em', 'del', 'code', 'pre', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6',
    'ul', 'ol', 'li', 'blockquote', 'hr', 'div', 'span', 'button', 'table', 'thead', 'tbody', 'tr', 'th', 'td', 'a']);
const ATTRS = new Set(['class', 'type', 'start', 'href', 'target', 'rel']);
function checkSafe(input) {
    const out = md(input);
    n++;
    const where = JSON.stringify(input) + ' -> ' + out;
    for (const [, tag, attrs] of out.matchAll(/<\/?([a-zA-Z0-9]+)([^>]*)>/g)) {
        assert.ok(TAGS.has(tag.toLowerCase()), 'unexpected tag <' + tag + '> from ' + where);
        for (const [, name, value] of attrs.matchAll(/\s([^\s=]+)="([^"]*)"/g)) {
            assert.ok(ATTRS.has(name), 'unexpected attribute ' + name + ' from ' + where);
            if (name === 'href') {
                assert.ok(!value.startsWith('//') && !value.includes('\\'), 'off-site link from ' + where);
                assert.ok(!/^[a-z][a-z0-9+.-]*:/i.test(value) || /^(https?:|mailto:)/i.test(value), 'unsafe link from ' + where);
            }
        }
        assert.equal(attrs.replace(/\s[^\s=]+="[^"]*"/g, '').trim(), '', 'stray attribute text from ' + where);
    }
}
hostile.forEach(checkSafe);
// Random soup of markdown and HTML characters.
let seed = 12345;
const rnd = (k) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % k; };
const bits = ['<', '>', '"', "'", '&', '*', '**', '_', '`', '```', '[', ']', '(', ')', '|', '-', '#', '>', '\n',
    ' ', 'javascript:', 'https://x', 'on', '=', 'img', 'script', '1.', '\u0000', '\u0001', '0', 'a'];
for (let k = 0; k < 2000; k++) {
    let s = '';
    for (let j = rnd(40); j >= 0; j--) s += bits[rnd(bits.length)];
    checkSafe(s);
}
assert.equal(escapeHtml('<a href="x">\'&'), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;'); n++;
assert.equal(renderInline('x\u00000\u0000 `c`'), 'x\ufffd0\ufffd <code>c</code>'); n++;
console.log(`markdown: ${n} checks passed`);
