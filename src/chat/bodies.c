/*
 * The tool-call bodies of the output parser's stage 2, one reader per syntax: each looks at
 * the held-back text after a marker (or at a reply that starts as JSON), and either waits for
 * more, emits the calls, or hands the text back as content (chat_body_fallback). Deciding
 * only on what has arrived, the same way for any split, keeps streaming and whole-text
 * parsing in agreement (the fuzz test checks this).
 */
#include <string.h>

#include "chat_int.h"

static const char ds_call_begin[] = "<｜tool▁call▁begin｜>", ds_call_end[] = "<｜tool▁call▁end｜>",
                  ds_calls_end[] = "<｜tool▁calls▁end｜>";

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* A body that did not parse: its first n bytes (the whitespace and marker before it, maybe
 * more) are content, and the rest is read again as plain text, so that a later marker still
 * counts and the outcome does not depend on how the text was split. */
int chat_body_fallback(chat_parser *p, size_t n) {
    chat_part_reset(p); /* a call announced by stream_arguments is orphaned (see chat.h) */
    p->cstrip = false;
    int rc = chat_emit_content(p, p->tpend.data, n);
    chat_buf_consume(&p->tpend, n);
    p->tstate = T_TEXT;
    return rc;
}

/* ---- stream_arguments ------------------------------------------------------------------- */

static bool skip_lit(const char *s, size_t n, size_t *i, const char *lit) {
    while (*i < n && is_ws(s[*i])) (*i)++;
    size_t l = strlen(lit);
    if (n - *i < l || memcmp(s + *i, lit, l)) return false;
    *i += l;
    return true;
}

/* Does s[0..n) begin {"name": "NAME", "arguments"|"parameters": { ? Then the name and the
 * offset of the arguments' '{'. */
static bool call_prefix(const char *s, size_t n, const char **name, size_t *nn, size_t *args) {
    size_t i = 0;
    if (!skip_lit(s, n, &i, "{") || !skip_lit(s, n, &i, "\"name\"") || !skip_lit(s, n, &i, ":") ||
        !skip_lit(s, n, &i, "\""))
        return false;
    size_t ns = i;
    while (i < n && s[i] != '"' && s[i] != '\\') i++;
    if (i >= n || s[i] != '"' || i == ns) return false;
    *name = s + ns;
    *nn = i - ns;
    i++;
    if (!skip_lit(s, n, &i, ",")) return false;
    size_t save = i;
    if (!skip_lit(s, n, &i, "\"arguments\"")) {
        i = save;
        if (!skip_lit(s, n, &i, "\"parameters\"")) return false;
    }
    if (!skip_lit(s, n, &i, ":") || !skip_lit(s, n, &i, "{")) return false;
    *args = i - 1;
    return true;
}

/* Announce the call (once) and send the compacted arguments text a[0..n) has beyond what was
 * sent, stopping at the end of the arguments object and before a partial character. */
static int stream_part(chat_parser *p, const char *name, size_t nn, const char *id, size_t idn,
                       const char *a, size_t n) {
    if (!p->part.active) {
        p->part.id = id ? mem_strndup(id, idn) : chat_make_id(p);
        char *nm = arena_strndup(p->ev_arena, name, nn);
        chat_event *e = p->part.id && nm ? chat_push_event(p) : NULL;
        if (!e) return BASE_ENOMEM;
        e->kind = CHAT_EV_TOOL_CALL_BEGIN;
        e->index = (int)p->n_calls;
        e->id = arena_strdup(p->ev_arena, p->part.id);
        e->name = nm;
        if (!e->id) return BASE_ENOMEM;
        p->part.active = true;
    }
    long end = chat_json_scan(a, n);
    size_t lim = end > 0 ? (size_t)end : n - chat_utf8_tail(a, n);
    buf piece = {0};
    for (size_t i = p->part.raw_done; i < lim; i++) {
        char c = a[i];
        if (p->part.in_str) {
            if (p->part.esc)
                p->part.esc = false;
            else if (c == '\\')
                p->part.esc = true;
            else if (c == '"')
                p->part.in_str = false;
        } else if (c == '"') {
            p->part.in_str = true;
        } else if (is_ws(c)) {
            continue;
        }
        buf_append(&piece, &c, 1);
    }
    if (lim > p->part.raw_done) p->part.raw_done = lim;
    int rc = piece.oom ? BASE_ENOMEM : chat_emit_part_text(p, piece.data, piece.len);
    buf_free(&piece);
    return rc;
}

/* A JSON call object still arriving at s[0..n): stream it when its shape allows. */
static int stream_json_call(chat_parser *p, const char *s, size_t n) {
    const char *name;
    size_t nn, args;
    if (!p->prm.stream_arguments || !call_prefix(s, n, &name, &nn, &args)) return BASE_OK;
    return stream_part(p, name, nn, NULL, 0, s + args, n - args);
}

/* T_BODY for Hermes: <tool_call> JSON </tool_call>. Returns 1 when it needs more text. */
int chat_body_hermes(chat_parser *p, const char *b, size_t n, size_t off, bool final) {
    static const char close[] = "</tool_call>";
    const char *end = chat_find(b, n, close);
    if (!end && !final) {
        size_t i = 0;
        while (i < n && is_ws(b[i])) i++;
        int rc = stream_json_call(p, b + i, n - i);
        return rc ? rc : 1;
    }
    size_t blen = end ? (size_t)(end - b) : n;
    size_t i = 0;
    while (i < blen && is_ws(b[i])) i++;
    chat_call c;
    int rc = i < blen && b[i] == '{' ? chat_call_from_json(b, blen, &c)
                                     : chat_call_from_xml(b, blen, p->prm.tools, &c);
    if (rc == BASE_ENOMEM) return rc;
    size_t total = off + (end ? blen + sizeof close - 1 : n);
    if (rc) return chat_body_fallback(p, total);
    chat_buf_consume(&p->tpend, total);
    p->tstate = T_TEXT;
    return chat_emit_call(p, &c);
}

/* T_BODY for Mistral: [TOOL_CALLS] [ {..}, .. ]  or  [TOOL_CALLS]name([CALL_ID]id)[ARGS]{..} */
int chat_body_mistral(chat_parser *p, const char *b, size_t n, size_t off, bool final) {
    size_t i = 0;
    while (i < n && is_ws(b[i])) i++;
    if (i == n) return final ? chat_body_fallback(p, off + n) : 1;
    if (b[i] == '[') {
        long vl = chat_json_scan(b + i, n - i);
        if (vl == 0 && !final) return 1;
        if (vl <= 0) return chat_body_fallback(p, off);
        chat_call *calls;
        size_t nc;
        int rc = chat_calls_from_json_array(b + i, (size_t)vl, &calls, &nc);
        if (rc == BASE_ENOMEM) return rc;
        if (rc) return chat_body_fallback(p, off);
        chat_buf_consume(&p->tpend, off + i + (size_t)vl);
        p->tstate = T_TEXT;
        return chat_emit_calls(p, calls, nc);
    }
    static const char args_tag[] = "[ARGS]", id_tag[] = "[CALL_ID]";
    const char *at = chat_find(b + i, n - i, args_tag);
    /* A function name is short and has no braces; anything else is not a call. The test
     * looks at the same bytes whether or not [ARGS] has arrived, so splits agree. */
    size_t span = at ? (size_t)(at - b) - i : n - i;
    bool plausible = span < 256 && !memchr(b + i, '{', span);
    if (!plausible || (!at && final)) return chat_body_fallback(p, off);
    if (!at) return 1;
    size_t name_end = (size_t)(at - b);
    const char *idt = chat_find(b + i, name_end - i, id_tag);
    size_t nl = (idt ? (size_t)(idt - b) : name_end) - i;
    while (nl && is_ws(b[i + nl - 1])) nl--;
    size_t ids = idt ? (size_t)(idt - b) + sizeof id_tag - 1 : 0;
    size_t j = name_end + sizeof args_tag - 1;
    while (j < n && is_ws(b[j])) j++;
    long vl = j < n ? chat_json_scan(b + j, n - j) : 0;
    if (vl == 0 && !final) {
        int rc = BASE_OK;
        if (p->prm.stream_arguments && nl && j < n && b[j] == '{')
            rc = stream_part(p, b + i, nl, idt ? b + ids : NULL, name_end - ids, b + j, n - j);
        return rc ? rc : 1;
    }
    if (vl <= 0 || b[j] != '{') return chat_body_fallback(p, off);
    json_error_t jerr;
    json_t *obj = json_loadb(b + j, (size_t)vl, 0, &jerr);
    bool ok = json_is_object(obj);
    json_decref(obj);
    if (!ok || nl == 0) return chat_body_fallback(p, off);
    chat_call c = {0};
    c.name = mem_strndup(b + i, nl);
    c.arguments = chat_json_compact(b + j, (size_t)vl);
    if (idt) c.id = mem_strndup(b + ids, name_end - ids);
    if (!c.name || !c.arguments || (idt && !c.id)) {
        chat_call_clear(&c);
        return BASE_ENOMEM;
    }
    chat_buf_consume(&p->tpend, off + j + (size_t)vl);
    p->tstate = T_TEXT;
    return chat_emit_call(p, &c);
}

/* T_BODY for Llama 3.1's <|python_tag|>: JSON call(s), or name.call(k=v) up to the end. */
int chat_body_python_tag(chat_parser *p, const char *b, size_t n, size_t off, bool final) {
    size_t i = 0;
    while (i < n && is_ws(b[i])) i++;
    if (i < n && (b[i] == '{' || b[i] == '[')) {
        /* Hand over to the JSON sequence reader. */
        p->tstate = T_JSEQ;
        p->body = off + i; /* the tag stays in tpend until a call is taken (fallback) */
        p->seq_calls = false;
        return BASE_OK;
    }
    if (!final) return 1;
    chat_call c;
    int rc = chat_call_from_python(b, n, &c);
    if (rc == BASE_ENOMEM) return rc;
    if (rc) return chat_body_fallback(p, off + n);
    chat_buf_consume(&p->tpend, off + n);
    p->tstate = T_TEXT;
    return chat_emit_call(p, &c);
}

/* T_JSEQ: a reply made of JSON calls ({..}, [..]) separated by whitespace, ';' or ','. */
int chat_body_json_seq(chat_parser *p, bool final) {
    const char *s = p->tpend.data;
    size_t n = p->tpend.len, i = p->body;
    while (i < n && (is_ws(s[i]) || (p->seq_calls && (s[i] == ';' || s[i] == ',')))) i++;
    if (i == n) {
        if (!final) return 1;
        if (!p->seq_calls) return chat_body_fallback(p, n);
        chat_buf_consume(&p->tpend, n);
        p->tstate = T_TEXT;
        return BASE_OK;
    }
    if (s[i] != '{' && s[i] != '[') {
        /* Text after the calls: it is content (the separators before it are dropped). */
        if (!p->seq_calls) return chat_body_fallback(p, i);
        chat_buf_consume(&p->tpend, i);
        p->tstate = T_TEXT;
        return BASE_OK;
    }
    long vl = chat_json_scan(s + i, n - i);
    if (vl == 0 && !final) {
        int rc = stream_json_call(p, s + i, n - i);
        return rc ? rc : 1;
    }
    if (vl <= 0) return chat_body_fallback(p, i);
    chat_call *calls = NULL;
    size_t nc = 0;
    int rc;
    if (s[i] == '{') {
        calls = mem_alloc(sizeof *calls);
        if (!calls) return BASE_ENOMEM;
        rc = chat_call_from_json(s + i, (size_t)vl, calls);
        if (rc)
            mem_free(calls);
        else
            nc = 1;
    } else {
        rc = chat_calls_from_json_array(s + i, (size_t)vl, &calls, &nc);
    }
    if (rc == BASE_ENOMEM) return rc;
    if (rc) {
        /* Not a call: a reply that merely looks like JSON is content, read on as text. */
        if (!p->seq_calls) return chat_body_fallback(p, i);
        chat_buf_consume(&p->tpend, i);
        return chat_body_fallback(p, 0);
    }
    chat_buf_consume(&p->tpend, i + (size_t)vl);
    p->body = 0;
    p->seq_calls = true;
    return chat_emit_calls(p, calls, nc);
}

static bool is_prefix_of(const char *s, size_t n, const char *m) {
    size_t ml = strlen(m);
    return n < ml && !memcmp(s, m, n);
}

/* T_DSEC: inside DeepSeek's <｜tool▁calls▁begin｜> section, whose text starts at p->body
 * (before the first call, the whitespace and the marker stay in tpend, so that a section
 * without a valid call comes out as content unchanged):
 * <｜tool▁call▁begin｜>BODY<｜tool▁call▁end｜>... then <｜tool▁calls▁end｜>. */
int chat_body_deepseek(chat_parser *p, bool final) {
    const char *s = p->tpend.data;
    size_t n = p->tpend.len, i = p->body;
    while (i < n && is_ws(s[i])) i++;
    size_t cel = strlen(ds_calls_end), cbl = strlen(ds_call_begin);
    if (i == n) {
        if (!final) return 1;
        return p->seq_calls ? chat_body_fallback(p, 0) : chat_body_fallback(p, n);
    }
    if (n - i >= cel && !memcmp(s + i, ds_calls_end, cel)) {
        if (!p->seq_calls) return chat_body_fallback(p, i + cel); /* an empty section */
        chat_buf_consume(&p->tpend, i + cel);
        p->tstate = T_TEXT;
        return BASE_OK;
    }
    if (!final &&
        (is_prefix_of(s + i, n - i, ds_calls_end) || is_prefix_of(s + i, n - i, ds_call_begin)))
        return 1;
    if (n - i >= cbl && !memcmp(s + i, ds_call_begin, cbl)) {
        const char *e = chat_find(s + i + cbl, n - i - cbl, ds_call_end);
        if (!e && !final) return 1;
        size_t bl = e ? (size_t)(e - (s + i + cbl)) : n - i - cbl;
        size_t used = e ? (size_t)(e - s) + strlen(ds_call_end) : n;
        chat_call c;
        int rc = chat_call_from_deepseek(s + i + cbl, bl, &c);
        if (rc == BASE_ENOMEM) return rc;
        if (rc) return chat_body_fallback(p, used);
        chat_buf_consume(&p->tpend, used);
        p->body = 0;
        p->seq_calls = true;
        return chat_emit_call(p, &c);
    }
    /* Something else inside the section: content from here, read on as text. */
    return chat_body_fallback(p, i);
}

/* Process tpend as far as it can go. */

/* T_BODY for Command R7B / A: <|START_ACTION|>[{"tool_name":..,"parameters":{..}}, ..]
 * <|END_ACTION|>. */
int chat_body_command_r(chat_parser *p, const char *b, size_t n, size_t off, bool final) {
    static const char close[] = "<|END_ACTION|>";
    const char *end = chat_find(b, n, close);
    if (!end && !final) return 1;
    size_t blen = end ? (size_t)(end - b) : n, i = 0;
    while (i < blen && is_ws(b[i])) i++;
    size_t e = blen;
    while (e > i && is_ws(b[e - 1])) e--;
    size_t total = off + (end ? blen + sizeof close - 1 : n);
    chat_call *calls;
    size_t nc;
    int rc = chat_calls_from_json_array(b + i, e - i, &calls, &nc);
    if (rc == BASE_ENOMEM) return rc;
    if (rc) return chat_body_fallback(p, total);
    chat_buf_consume(&p->tpend, total);
    p->tstate = T_TEXT;
    return chat_emit_calls(p, calls, nc);
}
