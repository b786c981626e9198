/*
 * Unit tests for the template interpreter: small templates with exact expected output,
 * one table per language area. The expected strings are what Python's jinja2 renders with
 * transformers' settings (trim_blocks, lstrip_blocks, loopcontrols, json.dumps tojson).
 * Errors are checked by their Python error class.
 */
#include <stdio.h>
#include <string.h>

#include "template/template.h"
#include "test.h"

typedef struct tcase {
    const char *src;
    const char *vars; /* JSON object */
    const char *want; /* NULL: an error is expected */
    const char *err;  /* the Python error class for errors */
} tcase;

static const tcase WS_cases[] = {
    {"a\n{% if true %}\nb\n{% endif %}\nc",
     "{}",
     "a\nb\nc", NULL},
    {"  {% if true %}x{% endif %}  \n  y",
     "{}",
     "x  \n  y", NULL},
    {"a  {%- if true -%}  b  {%- endif -%}  c",
     "{}",
     "abc", NULL},
    {"{{ 'x' }}\n{{ 'y' }}\n",
     "{}",
     "x\ny", NULL},
    {"a\n  {# comment #}\nb",
     "{}",
     "a\nb", NULL},
    {"a {{- ' b ' -}} c",
     "{}",
     "a b c", NULL},
    {"line\n    {%+ if true %}kept{% endif %}",
     "{}",
     "line\n    kept", NULL},
    {"{% if true +%}\nnot trimmed{% endif %}",
     "{}",
     "\nnot trimmed", NULL},
    {"x {% if true %}y{% endif %}\n z",
     "{}",
     "x y z", NULL},
    {"{% for i in [1,2] %}\n  {{ i }}\n{% endfor %}\n",
     "{}",
     "  1\n  2\n", NULL},
    {"{% raw %}{{ not }} {% evaluated %}{% endraw %}!",
     "{}",
     "{{ not }} {% evaluated %}!", NULL},
    {"a\r\nb\r\n",
     "{}",
     "a\nb", NULL},
    {"{%- set x = 1 -%}\n\n  {{ x }}  \n",
     "{}",
     "1  ", NULL},
    {"  {{ 1 }}  {% if 1 %}\n2{% endif %}",
     "{}",
     "  1  2", NULL},
};

static const tcase EXPR_cases[] = {
    {"{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 7 / 2 }} {{ 6 / 2 }}",
     "{}",
     "7 9 3 -4 1 2 1024 3.5 3.0", NULL},
    {"{{ 1.0 }} {{ 0.1 + 0.2 }} {{ 1e20 }} {{ 1.5e-7 }} {{ 100.0 / 3 }} {{ 2.50 }} {{ 1e16 }} {{ 123456789012345.6 }}",
     "{}",
     "1.0 0.30000000000000004 1e+20 1.5e-07 33.333333333333336 2.5 1e+16 123456789012345.6", NULL},
    {"{{ 'a' ~ 1 ~ none ~ true }} {{ 'ab' * 3 }} {{ [1] + [2, 'x'] }}",
     "{}",
     "a1NoneTrue ababab [1, 2, 'x']", NULL},
    {"{{ [1, 'a', none, true, 1.5, {'k': 'v'}] }} {{ ('a',) }} {{ (1, 2) }} {{ {'a': [1, {'b': none}]} }}",
     "{}",
     "[1, 'a', None, True, 1.5, {'k': 'v'}] ('a',) (1, 2) {'a': [1, {'b': None}]}", NULL},
    {"{{ \"it's\" }} {{ ['it\\'s', \"q\\\"d\", 'both\\'\"', 'nl\\n\\ttab\\\\'] }}",
     "{}",
     "it's [\"it's\", 'q\"d', 'both\\'\"', 'nl\\n\\ttab\\\\']", NULL},
    {"{{ 'a' if true else 'b' }}|{{ 'a' if false }}|{{ 'x' if 0 else 'y' if 1 else 'z' }}",
     "{}",
     "a||y", NULL},
    {"{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 1 == 1.0 }} {{ 'a' != 'b' }} {{ 'b' in 'abc' }} {{ 2 not in [1, 3] }} {{ 'k' in {'k': 1} }}",
     "{}",
     "True False True True True True True", NULL},
    {"{{ not 0 }} {{ 0 or 'x' }} {{ 1 and 'y' }} {{ none or [] }} {{ true and false }}",
     "{}",
     "True x y [] False", NULL},
    {"{{ x.a }}|{{ x['a'] }}|{{ x.missing }}|{{ x.b.c }}|{{ y[0] }}|{{ y[-1] }}|{{ y[5] }}",
     "{\"x\": {\"a\": 1, \"b\": {\"c\": 2}}, \"y\": [1, 2, 3]}",
     "1|1||2|1|3|", NULL},
    {"{{ y[1:] }} {{ y[:-1] }} {{ y[::-1] }} {{ y[::2] }} {{ s[1:3] }} {{ s[::-1] }} {{ s[-2:] }}",
     "{\"y\": [1, 2, 3, 4], \"s\": \"h\303\251llo\"}",
     "[2, 3, 4] [1, 2, 3] [4, 3, 2, 1] [1, 3] \303\251l oll\303\251h lo", NULL},
    {"{{ 'a' 'b' }} {{ \"\\u00e9\\x41\" }} {{ -x }} {{ +x }} {{ -1.5 }}",
     "{\"x\": 3}",
     "ab \303\251A -3 3 -1.5", NULL},
    {"{{ True }} {{ False }} {{ None }} {{ none is none }}",
     "{}",
     "True False None True", NULL},
    {"{{ '%s and %d' % ('x', 3) }} {{ '%05.2f' % 3.14159 }} {{ '%(a)s!' % {'a': 1} }}",
     "{}",
     "x and 3 03.14 1!", NULL},
    {"{{ '%-5s|%5s|' % ('ab', '\303\251') }}{{ '%5.1f' % 2.25 }}{{ '%x' % 255 }} {{ (1, 2) == [1, 2] }} {{ (1, 2) == (1, 2) }} {{ {'a': 1} == {'a': 1.0} }}",
     "{}",
     "ab   |    \303\251|  2.2ff False True True", NULL},
};

static const tcase FILTER_cases[] = {
    {"{{ '  hi  '|trim }}|{{ 'xxhixx'|trim('x') }}|{{ 'Hello World'|upper }}|{{ 'Hello'|lower }}|{{ 'hello world'|title }}|{{ 'hELLO'|capitalize }}",
     "{}",
     "hi|hi|HELLO WORLD|hello|Hello World|Hello", NULL},
    {"{{ [1,2,3]|length }} {{ 'h\303\251llo'|length }} {{ {'a':1}|count }} {{ x|length }}",
     "{}",
     "3 5 1 0", NULL},
    {"{{ x|default('d') }} {{ ''|default('d') }} {{ ''|default('d', true) }} {{ none|d('n', boolean=true) }} {{ 0|default(5) }}",
     "{}",
     "d  d n 0", NULL},
    {"{{ [1,2,3]|join(', ') }} {{ ['a','b']|join }} {{ users|join(', ', attribute='name') }}",
     "{\"users\": [{\"name\": \"ann\"}, {\"name\": \"bob\"}]}",
     "1, 2, 3 ab ann, bob", NULL},
    {"{{ [3,1,2]|sort }} {{ [3,1,2]|sort(reverse=true) }} {{ ['b','A','c']|sort }} {{ ['b','A','c']|sort(case_sensitive=true) }} {{ users|sort(attribute='age')|map(attribute='name')|list }}",
     "{\"users\": [{\"name\": \"a\", \"age\": 30}, {\"name\": \"b\", \"age\": 20}]}",
     "[1, 2, 3] [3, 2, 1] ['A', 'b', 'c'] ['A', 'b', 'c'] ['b', 'a']", NULL},
    {"{{ {'b':1,'A':2,'c':0}|dictsort }} {{ {'b':1,'a':2}|dictsort(by='value') }} {{ {'b':1,'a':2}|dictsort(reverse=true) }}",
     "{}",
     "[('A', 2), ('b', 1), ('c', 0)] [('b', 1), ('a', 2)] [('b', 1), ('a', 2)]", NULL},
    {"{{ d|items|list }} {% for k, v in d|items %}{{ k }}={{ v }};{% endfor %}",
     "{\"d\": {\"z\": 1, \"a\": 2}}",
     "[('z', 1), ('a', 2)] z=1;a=2;", NULL},
    {"{{ users|selectattr('admin')|map(attribute='name')|list }} {{ users|rejectattr('admin')|map(attribute='name')|join }} {{ users|selectattr('name', 'equalto', 'b')|list|length }}",
     "{\"users\": [{\"name\": \"a\", \"admin\": true}, {\"name\": \"b\", \"admin\": false}, {\"name\": \"c\"}]}",
     "['a'] bc 1", NULL},
    {"{{ [1,2,3,4]|select('odd')|list }} {{ [1,2,3,4]|reject('even')|list }} {{ [0,1,'',none,'x']|select|list }} {{ ['a','b']|map('upper')|list }}",
     "{}",
     "[1, 3] [1, 3] [1, 'x'] ['A', 'B']", NULL},
    {"{{ [1,2,3]|first }} {{ [1,2,3]|last }} {{ 'abc'|first }} {{ 'abc'|last }} {{ []|first }}|{{ [1,2]|reverse|list }} {{ 'abc'|reverse }}",
     "{}",
     "1 3 a c |[2, 1] cba", NULL},
    {"{{ '42'|int }} {{ ' 7 '|int }} {{ 'x'|int }} {{ 'x'|int(9) }} {{ 3.9|int }} {{ '1.5'|float }} {{ 2|float }} {{ 'y'|float }} {{ '3.0'|int }}",
     "{}",
     "42 7 0 9 3 1.5 2.0 0.0 3", NULL},
    {"{{ -3|abs }} {{ 2.5|round }} {{ 3.5|round }} {{ 3.14159|round(2) }} {{ 3.1|round(0, 'ceil') }} {{ 3.9|round(method='floor') }} {{ [1,2,3]|sum }} {{ users|sum(attribute='n') }}",
     "{\"users\": [{\"n\": 1}, {\"n\": 2.5}]}",
     "3 2.0 4.0 3.14 4.0 3.0 6 3.5", NULL},
    {"{{ [3,1,2]|min }} {{ [3,1,2]|max }} {{ ['b','A']|min }} {{ [1,2,1,'a','A']|unique|list }}",
     "{}",
     "1 3 A [1, 2, 'a']", NULL},
    {"{{ 'aXbXc'|replace('X', '-') }} {{ 'aaa'|replace('a', 'b', 2) }} {{ 1|string ~ 'x' }} {{ [1]|string }} {{ none|string }}",
     "{}",
     "a-b-c bba 1x [1] None", NULL},
    {"{{ 'a\\nb\\n\\nc'|indent }}|{{ 'a\\nb'|indent(2, true) }}|{{ 'a\\n\\nb\\n'|indent(2, blank=true) }}|{{ 'x\\n'|indent('> ', first=true) }}",
     "{}",
     "a\n    b\n\n    c|  a\n  b|a\n  \n  b\n  |> x\n", NULL},
    {"{{ '<a href=\"x\">&\\'</a>'|e }} {{ '<b>'|safe }} {{ ('<i>'|safe + '<u>') }} {{ '<x>'|escape|escape }}",
     "{}",
     "&lt;a href=&#34;x&#34;&gt;&amp;&#39;&lt;/a&gt; <b> <i>&lt;u&gt; &lt;x&gt;", NULL},
    {"{{ x|tojson }}|{{ x|tojson(indent=2) }}|{{ x|tojson(separators=(',', ':')) }}|{{ x|tojson(sort_keys=true) }}",
     "{\"x\": {\"b\": [1, 2.0, null, true], \"a\": \"\303\251\\\"\\n\\t<>&\", \"c\": {}, \"d\": []}}",
     "{\"b\": [1, 2.0, null, true], \"a\": \"\303\251\\\"\\n\\t<>&\", \"c\": {}, \"d\": []}|{\n  \"b\": [\n    1,\n    2.0,\n    null,\n    true\n  ],\n  \"a\": \"\303\251\\\"\\n\\t<>&\",\n  \"c\": {},\n  \"d\": []\n}|{\"b\":[1,2.0,null,true],\"a\":\"\303\251\\\"\\n\\t<>&\",\"c\":{},\"d\":[]}|{\"a\": \"\303\251\\\"\\n\\t<>&\", \"b\": [1, 2.0, null, true], \"c\": {}, \"d\": []}", NULL},
    {"{{ 'x'|tojson }} {{ 1.5|tojson }} {{ none|tojson }} {{ [[]]|tojson(indent=1) }} {{ {'k': 1}|tojson(indent='\\t') if false else 1 }}",
     "{}",
     "\"x\" 1.5 null [\n []\n] 1", NULL},
    {"{% filter upper %}hello {{ 'world' }}{% endfilter %}|{% set v | trim %}  padded  {% endset %}[{{ v }}]",
     "{}",
     "HELLO WORLD|[padded]", NULL},
    {"{{ \"they're bill's x-ray (hello2world) [a]\"|title }}|{{ \"they're 2nd\".title() }}",
     "{}",
     "They're Bill's X-Ray (Hello2world) [A]|They'Re 2Nd", NULL},
    {"{{ 'a b  c'|wordcount }} {{ 'Hi %s'|format('you') }} {{ [1,2]|list|tojson }} {{ 'ab'|list }}",
     "{}",
     "3 Hi you [1, 2] ['a', 'b']", NULL},
    {"{{ x|tojson(ensure_ascii=true) }} {{ x|tojson }}",
     "{\"x\": [\"\303\274\342\202\254\360\237\230\200\", {\"\303\251\": \"\303\251\"}]}",
     "[\"\\u00fc\\u20ac\\ud83d\\ude00\", {\"\\u00e9\": \"\\u00e9\"}] [\"\303\274\342\202\254\360\237\230\200\", {\"\303\251\": \"\303\251\"}]", NULL},
    {"{{ '\303\251lan \303\274ber \304\263 \303\277'|upper }} {{ '\303\211LAN \303\234BER \305\270 \316\243\316\221\316\222 \320\224\320\236\320\234'|lower }} {{ '\303\251cole-\303\251t\303\251'|title }} {{ '\303\261and\303\272 \303\251a'.title() }} {{ '\303\251lan'|capitalize }} {{ '\316\264\316\277\316\274'.upper() }} {{ '\303\251' is lower }} {{ '\303\211' is upper }}",
     "{}",
     "\303\211LAN \303\234BER \304\262 \305\270 \303\251lan \303\274ber \303\277 \317\203\316\261\316\262 \320\264\320\276\320\274 \303\211cole-\303\211t\303\251 \303\221and\303\272 \303\211a \303\211lan \316\224\316\237\316\234 True True", NULL},
};

static const tcase TEST_cases[] = {
    {"{{ x is defined }} {{ y is defined }} {{ y is undefined }} {{ none is none }} {{ 1 is number }} {{ 1.5 is float }} {{ 1 is integer }} {{ true is boolean }} {{ 's' is string }}",
     "{\"x\": 1}",
     "True False True True True True True True True", NULL},
    {"{{ {} is mapping }} {{ [] is mapping }} {{ [] is sequence }} {{ 's' is iterable }} {{ 1 is iterable }} {{ range is callable }} {{ true is true }} {{ 0 is false }}",
     "{}",
     "True False True True False True True False", NULL},
    {"{{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ 9 is divisibleby(2) }} {{ 1 is in [1,2] }} {{ 'a' is in 'cat' }} {{ 2 is eq 2 }} {{ 2 is ne 3 }} {{ 1 is lt 2 }} {{ 2 is ge 3 }} {{ x is not none }}",
     "{\"x\": null}",
     "True True True False True True True True True False False", NULL},
    {"{{ 'abc' is lower }} {{ 'ABC' is upper }} {{ none is sameas none }} {{ 1 is sameas true }} {{ x is not defined }}",
     "{}",
     "True True True False True", NULL},
};

static const tcase STMT_cases[] = {
    {"{% for x in xs %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.revindex }}/{{ loop.revindex0 }}/{{ loop.first }}/{{ loop.last }}/{{ loop.length }} {% endfor %}",
     "{\"xs\": [\"a\", \"b\", \"c\"]}",
     "1/0/3/2/True/False/3 2/1/2/1/False/False/3 3/2/1/0/False/True/3 ", NULL},
    {"{% for x in xs %}{{ loop.previtem|default('-') }}>{{ x }}>{{ loop.nextitem|default('-') }} {{ loop.cycle('odd', 'even') }};{% endfor %}",
     "{\"xs\": [1, 2, 3]}",
     "->1>2 odd;1>2>3 even;2>3>- odd;", NULL},
    {"{% for x in [] %}x{% else %}empty{% endfor %}|{% for x in xs if x > 1 %}{{ x }}{{ loop.length }}{% endfor %}",
     "{\"xs\": [1, 2, 3]}",
     "empty|2232", NULL},
    {"{% for x in xs %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 4 %}{% break %}{% endif %}{{ x }}{% endfor %}",
     "{\"xs\": [1, 2, 3, 4, 5]}",
     "13", NULL},
    {"{% for a, b in [[1, 2], [3, 4]] %}{{ a + b }}{% endfor %}|{% for k in {'x': 1, 'y': 2} %}{{ k }}{% endfor %}|{% for c in 'h\303\251' %}[{{ c }}]{% endfor %}",
     "{}",
     "37|xy|[h][\303\251]", NULL},
    {"{% for i in range(3) %}{% for j in range(i) %}{{ loop.index }}{% endfor %}{{ loop.index }};{% endfor %}{{ range(2, 10, 3)|list }} {{ range(5, 0, -2)|list }}",
     "{}",
     "1;12;123;[2, 5, 8] [5, 3, 1]", NULL},
    {"{% if x %}a{% elif y %}b{% elif z %}c{% else %}d{% endif %}",
     "{\"x\": 0, \"y\": \"\", \"z\": [1]}",
     "c", NULL},
    {"{% set x = 1 %}{% for i in [1] %}{% set x = 2 %}{{ x }}{% endfor %}{{ x }}|{% set ns = namespace(n=0, l=[]) %}{% for i in [1,2,3] %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}",
     "{}",
     "21|6", NULL},
    {"{% set a, b = 1, 2 %}{{ a }}{{ b }}|{% set t = 1, 2 %}{{ t }}|{% set s %}block {{ a }}{% endset %}{{ s }}",
     "{}",
     "12|(1, 2)|block 1", NULL},
    {"{% macro greet(name, greeting='Hello') %}{{ greeting }}, {{ name }}!{% endmacro %}{{ greet('Ann') }} {{ greet('Bob', greeting='Hi') }} {{ greet(name='Cy') }}",
     "{}",
     "Hello, Ann! Hi, Bob! Hello, Cy!", NULL},
    {"{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}{% call wrap('b') %}inner {{ 1 + 1 }}{% endcall %}",
     "{}",
     "<b>inner 2</b>", NULL},
    {"{% macro item(x) %}[{{ x }}]{% endmacro %}{% macro list_(xs) %}{% for x in xs %}{{ item(x) }}{% endfor %}{% endmacro %}{{ list_([1, 2]) }}",
     "{}",
     "[1][2]", NULL},
    {"{% macro rec(n) %}{% if n > 0 %}{{ n }}{{ rec(n - 1) }}{% endif %}{% endmacro %}{{ rec(3) }}|{% set g = 'G' %}{% macro useg() %}{{ g }}{% endmacro %}{{ useg() }}",
     "{}",
     "321|G", NULL},
    {"{% set first = true %}{% for k in [1, 2, 3] %}{% if not first %}, {% endif %}{{ k }}{% set first = false %}{{ first }}{% endfor %}{{ first }}",
     "{}",
     "1False2False3FalseTrue", NULL},
    {"{% set x = 'a' %}{% set b %}{% set x = 'b' %}{{ x }}{% endset %}{% filter upper %}{% set x = 'c' %}{{ x }}{% endfilter %}{{ b }}{{ x }}",
     "{}",
     "Cba", NULL},
    {"{% for i in [1, 2] %}a{% break %}{% else %}E{% endfor %}|{% for i in [1, 2] %}{% if i == 1 %}{% continue %}{% endif %}b{% else %}E{% endfor %}|{% for i in [1, 2] %}{% filter upper %}x{% if i == 2 %}{% break %}{% endif %}{% endfilter %}{% endfor %}",
     "{}",
     "aE|b|X", NULL},
    {"{% macro m(a) %}{{ varargs }}{{ a }}{% endmacro %}{{ m(1, 2, 3) }}{{ '0x1A'|int }}{{ '0x1A'|float }}{{ ' 1_000 '|int }}",
     "{}",
     "(2, 3)100.01000", NULL},
    {"{% generation %}gen {{ 1 }}{% endgeneration %}|{{ strftime_now('%Y-%m-%d %H:%M %b %A') }}",
     "{}",
     "gen 1|2025-07-10 12:00 Jul Thursday", NULL},
    {"{% for m in msgs %}{% if m.role == 'user' %}U:{{ m.content }}{% elif m.role == 'assistant' %}A:{{ m['content'] }}{% endif %}\n{% endfor %}",
     "{\"msgs\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"yo\"}]}",
     "U:hiA:yo", NULL},
    {"{{ dict(x=1, y='z') }} {{ namespace(a=1).a }}",
     "{}",
     "{'x': 1, 'y': 'z'} 1", NULL},
};

static const tcase ERR_cases[] = {
    {"{% if true %}{% break %}{% endif %}",
     "{}",
     NULL, "SyntaxError"},
    {"{% for i in [1] %}{% macro m() %}{% continue %}{% endmacro %}{% endfor %}",
     "{}",
     NULL, "SyntaxError"},
    {"{{ raise_exception('Custom failure') }}",
     "{}",
     NULL, "TemplateError"},
    {"{% for x in none %}{% endfor %}",
     "{}",
     NULL, "TypeError"},
    {"{{ none|length }}",
     "{}",
     NULL, "TypeError"},
    {"{{ undefined_var.attr }}",
     "{}",
     NULL, "UndefinedError"},
    {"{{ 1 + 'a' }}",
     "{}",
     NULL, "TypeError"},
    {"{{ 1 / 0 }}",
     "{}",
     NULL, "ZeroDivisionError"},
    {"{{ 'a' < 1 }}",
     "{}",
     NULL, "TypeError"},
    {"{{ x.y.z }}",
     "{\"x\": {}}",
     NULL, "UndefinedError"},
};

static const tcase METHOD_cases[] = {
    {"{{ '  x  '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ '  x'.lstrip() }}|{{ 'x  '.rstrip() }}|{{ 'abca'.lstrip('a') }}|{{ 'abca'.rstrip('a') }}",
     "{}",
     "x|a|x|x|bca|abc", NULL},
    {"{{ 'a,b,,c'.split(',') }} {{ ' a  b '.split() }} {{ 'a b c'.split(' ', 1) }} {{ 'a,b,c'.rsplit(',', 1) }} {{ '  a b  c '.split(None, 1) }} {{ 'a\\nb\\r\\nc'.splitlines() }}",
     "{}",
     "['a', 'b', '', 'c'] ['a', 'b'] ['a', 'b c'] ['a,b', 'c'] ['a', 'b  c '] ['a', 'b', 'c']", NULL},
    {"{{ 'hello'.startswith('he') }} {{ 'hello'.endswith(('x', 'lo')) }} {{ 'hello'.replace('l', 'L') }} {{ 'hello'.replace('l', 'L', 1) }} {{ 'hello'.upper() }} {{ 'HeLLo'.lower() }} {{ 'hello world'.title() }} {{ 'hello'.capitalize() }}",
     "{}",
     "True True heLLo heLlo HELLO hello Hello World Hello", NULL},
    {"{{ 'hello'.find('l') }} {{ 'hello'.find('z') }} {{ 'hello'.count('l') }} {{ '123'.isdigit() }} {{ 'ab1'.isalpha() }} {{ ', '.join(['a', 'b']) }} {{ 'hello'.rfind('l') }}",
     "{}",
     "2 -1 2 True False a, b 3", NULL},
    {"{{ '{} and {}'.format(1, 'b') }} {{ '{0}{1}{0}'.format('x', 'y') }} {{ '{name}!'.format(name='Z') }} {{ '{{literal}} {}'.format(1) }}",
     "{}",
     "1 and b xyx Z! {literal} 1", NULL},
    {"{{ d.get('a') }} {{ d.get('z') }} {{ d.get('z', 'def') }} {{ d.keys()|list }} {{ d.values()|list }} {{ d.items()|list }}",
     "{\"d\": {\"a\": 1, \"b\": [2]}}",
     "1 None def ['a', 'b'] [1, [2]] [('a', 1), ('b', [2])]", NULL},
    {"{{ d.items()|list|length }} {{ d['items'] }} {{ d.get('items') }}",
     "{\"d\": {\"items\": 5}}",
     "1 5 5", NULL},
};

/* Render src with vars and the README's fixed clock; returns rc, output in *out. */
static int render(const char *src, const char *vars_json, buf *out, err_buf *eb) {
    tmpl *t = NULL;
    int rc = tmpl_compile(src, strlen(src), &t, eb);
    if (rc) return rc;
    json_error_t je;
    json_t *vars = json_loads(vars_json, 0, &je);
    tmpl_params prm = tmpl_default_params();
    prm.now_unix = 1752148800; /* 2025-07-10 12:00:00 UTC */
    rc = tmpl_render(t, vars, &prm, out, eb);
    json_decref(vars);
    tmpl_free(t);
    return rc;
}

static void run_cases(const tcase *cases, size_t n) {
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        buf out = {0};
        err_buf eb = {0};
        int rc = render(cases[i].src, cases[i].vars, &out, &eb);
        if (cases[i].want) {
            if (rc) {
                fprintf(stderr, "  case %zu: %s\n    error: %s\n", i, cases[i].src, eb.msg);
                bad++;
            } else if (strcmp(out.data, cases[i].want)) {
                fprintf(stderr, "  case %zu: %s\n    got:  \"%s\"\n    want: \"%s\"\n", i, cases[i].src, out.data, cases[i].want);
                bad++;
            }
        } else if (strstr(cases[i].err, "SyntaxError") ? rc != BASE_EFORMAT /* compile error */
                   : rc >= 0 || strncmp(eb.msg, cases[i].err, strlen(cases[i].err))) {
            fprintf(stderr, "  case %zu: %s\n    want error %s, got rc=%d \"%s\"\n", i, cases[i].src, cases[i].err, rc, eb.msg);
            bad++;
        }
        buf_free(&out);
    }
    ASSERT_EQ_INT(bad, 0);
}

#define RUN(tab) run_cases(tab, sizeof tab / sizeof tab[0])

TEST(tmpl_whitespace) { RUN(WS_cases); }
TEST(tmpl_expressions) { RUN(EXPR_cases); }
TEST(tmpl_filters) { RUN(FILTER_cases); }
TEST(tmpl_tests) { RUN(TEST_cases); }
TEST(tmpl_statements) { RUN(STMT_cases); }
TEST(tmpl_methods) { RUN(METHOD_cases); }
TEST(tmpl_errors) { RUN(ERR_cases); }
