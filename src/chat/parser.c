/*
 * The streaming output parser. Two stages, each an incremental filter over held-back text:
 *   1. reasoning: text between thinking markers (or from the start, when the prompt opened
 *      the block) becomes reasoning; the rest flows on to stage 2;
 *   2. tools: content is searched for the format's tool-call marker (or, for the JSON
 *      formats, a reply that starts with '{' / '['); bodies are held until they are complete
 *      and then emitted as calls, or as the exact raw text when they turn out malformed.
 * Like stop strings, only text that could still be the start of a marker is held back, plus
 * trailing whitespace (so that whitespace around tool calls and markers can be dropped).
 */
#include <string.h>

#include "chat_int.h"

static const char *const tool_markers[] = {
    [CHAT_TOOLS_NONE] = NULL,
    [CHAT_TOOLS_HERMES] = "<tool_call>",
    [CHAT_TOOLS_LLAMA3] = "<|python_tag|>",
    [CHAT_TOOLS_MISTRAL] = "[TOOL_CALLS]",
    [CHAT_TOOLS_JSON] = NULL,
    [CHAT_TOOLS_HARMONY] = NULL,
    [CHAT_TOOLS_DEEPSEEK] = "<｜tool▁calls▁begin｜>",
};

static const char ds_call_begin[] = "<｜tool▁call▁begin｜>", ds_call_end[] = "<｜tool▁call▁end｜>",
                  ds_calls_end[] = "<｜tool▁calls▁end｜>";

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

chat_parser_params chat_parser_default_params(void) {
    chat_parser_params p = {0};
    p.tool_format = CHAT_TOOLS_NONE;
    p.reasoning = true;
    return p;
}

int chat_parser_new(const chat_parser_params *params, chat_parser **out, err_buf *eb) {
    if (!out) return err_set(eb, BASE_EINVAL, "chat_parser_new: out is NULL");
    *out = NULL;
    chat_parser_params prm = params ? *params : chat_parser_default_params();
    if ((unsigned)prm.tool_format > CHAT_TOOLS_DEEPSEEK)
        return err_set(eb, BASE_EINVAL, "unknown tool-call format %d", (int)prm.tool_format);
    chat_parser *p = mem_calloc(1, sizeof *p);
    if (!p || !(p->ev_arena = arena_new(4096))) {
        mem_free(p);
        return err_set(eb, BASE_ENOMEM, "out of memory");
    }
    p->prm = prm;
    p->rng = prm.id_seed ? prm.id_seed : (time_now_ns() ^ (uint64_t)(uintptr_t)p);
    if (!p->rng) p->rng = 0x9e3779b97f4a7c15ull;
    p->rstate = prm.reasoning ? R_START : R_OUT;
    p->rpair = -1;
    bool json_start = prm.tool_format == CHAT_TOOLS_JSON || prm.tool_format == CHAT_TOOLS_LLAMA3;
    p->tstate = json_start ? T_START : T_TEXT;
    *out = p;
    return BASE_OK;
}

void chat_parser_free(chat_parser *p) {
    if (!p) return;
    for (size_t i = 0; i < p->n_calls; i++) {
        mem_free((char *)p->calls[i].id);
        mem_free((char *)p->calls[i].name);
        mem_free((char *)p->calls[i].arguments);
    }
    mem_free(p->calls);
    mem_free(p->part.id);
    buf_free(&p->part.sent);
    mem_free(p->hm.name);
    mem_free(p->evs);
    arena_free(p->ev_arena);
    buf_free(&p->rpend);
    buf_free(&p->tpend);
    buf_free(&p->content);
    buf_free(&p->reasoning);
    mem_free(p);
}

/* ---- events ----------------------------------------------------------------------------- */

static chat_event *push_event(chat_parser *p) {
    if (p->n_evs == p->cap_evs) {
        size_t ncap = p->cap_evs ? p->cap_evs * 2 : 8;
        chat_event *nw = mem_realloc(p->evs, ncap * sizeof *nw);
        if (!nw) return NULL;
        p->evs = nw;
        p->cap_evs = ncap;
    }
    chat_event *e = &p->evs[p->n_evs++];
    memset(e, 0, sizeof *e);
    return e;
}

int chat_emit_text(chat_parser *p, chat_event_kind kind, const char *s, size_t n) {
    if (n == 0) return BASE_OK;
    buf *total = kind == CHAT_EV_REASONING ? &p->reasoning : &p->content;
    char *copy = arena_strndup(p->ev_arena, s, n);
    chat_event *e = copy ? push_event(p) : NULL;
    if (!e || buf_append(total, s, n) < 0) return BASE_ENOMEM;
    e->kind = kind;
    e->text = copy;
    e->len = n;
    return BASE_OK;
}

/* Content, with whitespace dropped while cstrip is set (after a call or a reasoning block). */
static int emit_content(chat_parser *p, const char *s, size_t n) {
    if (p->cstrip) {
        while (n && is_ws(*s)) s++, n--;
        if (n) p->cstrip = false;
    }
    return chat_emit_text(p, CHAT_EV_CONTENT, s, n);
}

/* A fresh "call_" + 9 alphanumerics (Mistral's templates insist on 9 when the id comes back),
 * mem_alloc'd; NULL when out of memory. */
static char *make_id(chat_parser *p) {
    static const char al[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    char id[16] = "call_";
    for (int i = 0; i < 9; i++) {
        p->rng ^= p->rng << 13, p->rng ^= p->rng >> 7, p->rng ^= p->rng << 17;
        id[5 + i] = al[p->rng % (sizeof al - 1)];
    }
    id[14] = 0;
    return mem_strdup(id);
}

static void part_reset(chat_parser *p) {
    mem_free(p->part.id);
    p->part.id = NULL;
    p->part.active = false;
    p->part.raw_done = 0;
    p->part.in_str = p->part.esc = false;
    p->part.sent.len = 0;
}

/* A TOOL_ARGS piece of the call being streamed. */
static int emit_part_text(chat_parser *p, const char *s, size_t n) {
    if (n == 0) return BASE_OK;
    char *copy = arena_strndup(p->ev_arena, s, n);
    chat_event *e = copy ? push_event(p) : NULL;
    if (!e || buf_append(&p->part.sent, s, n) < 0) return BASE_ENOMEM;
    e->kind = CHAT_EV_TOOL_ARGS;
    e->text = copy;
    e->len = n;
    e->index = (int)p->n_calls;
    return BASE_OK;
}

int chat_emit_call(chat_parser *p, chat_call *c) {
    if (p->n_calls == p->cap_calls) {
        size_t ncap = p->cap_calls ? p->cap_calls * 2 : 4;
        chat_event *nw = mem_realloc(p->calls, ncap * sizeof *nw);
        if (!nw) {
            chat_call_clear(c);
            return BASE_ENOMEM;
        }
        p->calls = nw;
        p->cap_calls = ncap;
    }
    bool streamed = p->part.active;
    if (streamed) {
        /* Send what the stream has not sent yet (normally nothing), under the same id. */
        int rc = BASE_OK;
        size_t al = strlen(c->arguments), sl = p->part.sent.len;
        if (al > sl && (!sl || !memcmp(c->arguments, p->part.sent.data, sl)))
            rc = emit_part_text(p, c->arguments + sl, al - sl);
        mem_free(c->id);
        c->id = p->part.id;
        p->part.id = NULL;
        part_reset(p);
        if (rc) {
            chat_call_clear(c);
            return rc;
        }
    }
    if (!c->id && !(c->id = make_id(p))) {
        chat_call_clear(c);
        return BASE_ENOMEM;
    }
    chat_event *e = &p->calls[p->n_calls];
    memset(e, 0, sizeof *e);
    e->kind = CHAT_EV_TOOL_CALL;
    e->index = (int)p->n_calls;
    e->id = c->id;
    e->name = c->name;
    e->arguments = c->arguments;
    e->streamed = streamed;
    memset(c, 0, sizeof *c); /* the strings belong to p->calls now */
    p->n_calls++;
    chat_event *ev = push_event(p);
    if (!ev) return BASE_ENOMEM;
    *ev = *e;
    p->cstrip = true;
    return BASE_OK;
}

static int emit_calls(chat_parser *p, chat_call *calls, size_t n) {
    int rc = BASE_OK;
    for (size_t i = 0; i < n; i++) {
        if (!rc) rc = chat_emit_call(p, &calls[i]);
        chat_call_clear(&calls[i]);
    }
    mem_free(calls);
    return rc;
}

/* ---- helpers on held-back text ---------------------------------------------------------- */

void chat_buf_consume(buf *b, size_t n) {
    if (n >= b->len) {
        b->len = 0;
    } else {
        memmove(b->data, b->data + n, b->len - n);
        b->len -= n;
    }
    if (b->data) b->data[b->len] = 0;
}

/* The longest proper prefix of marker that s[0..n) ends with. */
static size_t partial_suffix(const char *s, size_t n, const char *marker) {
    size_t ml = strlen(marker);
    for (size_t k = ml - 1 < n ? ml - 1 : n; k > 0; k--)
        if (!memcmp(s + n - k, marker, k)) return k;
    return 0;
}

const char *chat_find(const char *s, size_t n, const char *marker) {
    if (!n) return NULL;
    return memmem(s, n, marker, strlen(marker));
}

/* Bytes at the end of s[0..n) that start a UTF-8 character not yet complete. */
static size_t utf8_tail(const char *s, size_t n) {
    for (size_t k = 1; k <= 3 && k <= n; k++) {
        unsigned char c = (unsigned char)s[n - k];
        if ((c & 0xC0) == 0x80) continue; /* a continuation byte: look further back */
        size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        return need > k ? k : 0;
    }
    return 0;
}

/* How much of s[0..n) to hold back: a partial marker or character at the end, and the
 * whitespace before it. */
size_t chat_holdback(const char *s, size_t n, const char *const *markers, size_t n_markers) {
    size_t h = utf8_tail(s, n);
    for (size_t i = 0; i < n_markers; i++) {
        if (!markers[i]) continue;
        size_t k = partial_suffix(s, n, markers[i]);
        if (k > h) h = k;
    }
    while (h < n && is_ws(s[n - h - 1])) h++;
    return h;
}

/* ---- stage 2: tool calls ---------------------------------------------------------------- */

/* A body that did not parse: its first n bytes (the whitespace and marker before it, maybe
 * more) are content, and the rest is read again as plain text, so that a later marker still
 * counts and the outcome does not depend on how the text was split. */
static int body_fallback(chat_parser *p, size_t n) {
    part_reset(p); /* a call announced by stream_arguments is orphaned (see chat.h) */
    p->cstrip = false;
    int rc = emit_content(p, p->tpend.data, n);
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
        p->part.id = id ? mem_strndup(id, idn) : make_id(p);
        char *nm = arena_strndup(p->ev_arena, name, nn);
        chat_event *e = p->part.id && nm ? push_event(p) : NULL;
        if (!e) return BASE_ENOMEM;
        e->kind = CHAT_EV_TOOL_CALL_BEGIN;
        e->index = (int)p->n_calls;
        e->id = arena_strdup(p->ev_arena, p->part.id);
        e->name = nm;
        if (!e->id) return BASE_ENOMEM;
        p->part.active = true;
    }
    long end = chat_json_scan(a, n);
    size_t lim = end > 0 ? (size_t)end : n - utf8_tail(a, n);
    buf piece = {0};
    for (size_t i = p->part.raw_done; i < lim; i++) {
        char c = a[i];
        if (p->part.in_str) {
            if (p->part.esc) p->part.esc = false;
            else if (c == '\\') p->part.esc = true;
            else if (c == '"') p->part.in_str = false;
        } else if (c == '"') {
            p->part.in_str = true;
        } else if (is_ws(c)) {
            continue;
        }
        buf_append(&piece, &c, 1);
    }
    if (lim > p->part.raw_done) p->part.raw_done = lim;
    int rc = piece.oom ? BASE_ENOMEM : emit_part_text(p, piece.data, piece.len);
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
static int body_hermes(chat_parser *p, const char *b, size_t n, size_t off, bool final) {
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
    if (rc) return body_fallback(p, total);
    chat_buf_consume(&p->tpend, total);
    p->tstate = T_TEXT;
    return chat_emit_call(p, &c);
}

/* T_BODY for Mistral: [TOOL_CALLS] [ {..}, .. ]  or  [TOOL_CALLS]name([CALL_ID]id)[ARGS]{..} */
static int body_mistral(chat_parser *p, const char *b, size_t n, size_t off, bool final) {
    size_t i = 0;
    while (i < n && is_ws(b[i])) i++;
    if (i == n) return final ? body_fallback(p, off + n) : 1;
    if (b[i] == '[') {
        long vl = chat_json_scan(b + i, n - i);
        if (vl == 0 && !final) return 1;
        if (vl <= 0) return body_fallback(p, off);
        chat_call *calls;
        size_t nc;
        int rc = chat_calls_from_json_array(b + i, (size_t)vl, &calls, &nc);
        if (rc == BASE_ENOMEM) return rc;
        if (rc) return body_fallback(p, off);
        chat_buf_consume(&p->tpend, off + i + (size_t)vl);
        p->tstate = T_TEXT;
        return emit_calls(p, calls, nc);
    }
    static const char args_tag[] = "[ARGS]", id_tag[] = "[CALL_ID]";
    const char *at = chat_find(b + i, n - i, args_tag);
    /* A function name is short and has no braces; anything else is not a call. The test
     * looks at the same bytes whether or not [ARGS] has arrived, so splits agree. */
    size_t span = at ? (size_t)(at - b) - i : n - i;
    bool plausible = span < 256 && !memchr(b + i, '{', span);
    if (!plausible || (!at && final)) return body_fallback(p, off);
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
    if (vl <= 0 || b[j] != '{') return body_fallback(p, off);
    json_error_t jerr;
    json_t *obj = json_loadb(b + j, (size_t)vl, 0, &jerr);
    bool ok = json_is_object(obj);
    json_decref(obj);
    if (!ok || nl == 0) return body_fallback(p, off);
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
static int body_python_tag(chat_parser *p, const char *b, size_t n, size_t off, bool final) {
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
    if (rc) return body_fallback(p, off + n);
    chat_buf_consume(&p->tpend, off + n);
    p->tstate = T_TEXT;
    return chat_emit_call(p, &c);
}

/* T_JSEQ: a reply made of JSON calls ({..}, [..]) separated by whitespace, ';' or ','. */
static int body_json_seq(chat_parser *p, bool final) {
    const char *s = p->tpend.data;
    size_t n = p->tpend.len, i = p->body;
    while (i < n && (is_ws(s[i]) || (p->seq_calls && (s[i] == ';' || s[i] == ',')))) i++;
    if (i == n) {
        if (!final) return 1;
        if (!p->seq_calls) return body_fallback(p, n);
        chat_buf_consume(&p->tpend, n);
        p->tstate = T_TEXT;
        return BASE_OK;
    }
    if (s[i] != '{' && s[i] != '[') {
        /* Text after the calls: it is content (the separators before it are dropped). */
        if (!p->seq_calls) return body_fallback(p, i);
        chat_buf_consume(&p->tpend, i);
        p->tstate = T_TEXT;
        return BASE_OK;
    }
    long vl = chat_json_scan(s + i, n - i);
    if (vl == 0 && !final) {
        int rc = stream_json_call(p, s + i, n - i);
        return rc ? rc : 1;
    }
    if (vl <= 0) return body_fallback(p, i);
    chat_call *calls = NULL;
    size_t nc = 0;
    int rc;
    if (s[i] == '{') {
        calls = mem_alloc(sizeof *calls);
        if (!calls) return BASE_ENOMEM;
        rc = chat_call_from_json(s + i, (size_t)vl, calls);
        if (rc) mem_free(calls);
        else nc = 1;
    } else {
        rc = chat_calls_from_json_array(s + i, (size_t)vl, &calls, &nc);
    }
    if (rc == BASE_ENOMEM) return rc;
    if (rc) {
        /* Not a call: a reply that merely looks like JSON is content, read on as text. */
        if (!p->seq_calls) return body_fallback(p, i);
        chat_buf_consume(&p->tpend, i);
        return body_fallback(p, 0);
    }
    chat_buf_consume(&p->tpend, i + (size_t)vl);
    p->body = 0;
    p->seq_calls = true;
    return emit_calls(p, calls, nc);
}

static bool is_prefix_of(const char *s, size_t n, const char *m) {
    size_t ml = strlen(m);
    return n < ml && !memcmp(s, m, n);
}

/* T_DSEC: inside DeepSeek's <｜tool▁calls▁begin｜> section, whose text starts at p->body
 * (before the first call, the whitespace and the marker stay in tpend, so that a section
 * without a valid call comes out as content unchanged):
 * <｜tool▁call▁begin｜>BODY<｜tool▁call▁end｜>... then <｜tool▁calls▁end｜>. */
static int body_deepseek(chat_parser *p, bool final) {
    const char *s = p->tpend.data;
    size_t n = p->tpend.len, i = p->body;
    while (i < n && is_ws(s[i])) i++;
    size_t cel = strlen(ds_calls_end), cbl = strlen(ds_call_begin);
    if (i == n) {
        if (!final) return 1;
        return p->seq_calls ? body_fallback(p, 0) : body_fallback(p, n);
    }
    if (n - i >= cel && !memcmp(s + i, ds_calls_end, cel)) {
        if (!p->seq_calls) return body_fallback(p, i + cel); /* an empty section */
        chat_buf_consume(&p->tpend, i + cel);
        p->tstate = T_TEXT;
        return BASE_OK;
    }
    if (!final && (is_prefix_of(s + i, n - i, ds_calls_end) || is_prefix_of(s + i, n - i, ds_call_begin)))
        return 1;
    if (n - i >= cbl && !memcmp(s + i, ds_call_begin, cbl)) {
        const char *e = chat_find(s + i + cbl, n - i - cbl, ds_call_end);
        if (!e && !final) return 1;
        size_t bl = e ? (size_t)(e - (s + i + cbl)) : n - i - cbl;
        size_t used = e ? (size_t)(e - s) + strlen(ds_call_end) : n;
        chat_call c;
        int rc = chat_call_from_deepseek(s + i + cbl, bl, &c);
        if (rc == BASE_ENOMEM) return rc;
        if (rc) return body_fallback(p, used);
        chat_buf_consume(&p->tpend, used);
        p->body = 0;
        p->seq_calls = true;
        return chat_emit_call(p, &c);
    }
    /* Something else inside the section: content from here, read on as text. */
    return body_fallback(p, i);
}

/* Process tpend as far as it can go. */
static int tools_run(chat_parser *p, bool final) {
    const char *marker = tool_markers[p->prm.tool_format];
    for (;;) {
        int rc = BASE_OK;
        if (p->failed) return BASE_ENOMEM;
        const char *s = p->tpend.data;
        size_t n = p->tpend.len;
        if (p->cstrip) {
            size_t k = 0;
            while (k < n && is_ws(s[k])) k++;
            chat_buf_consume(&p->tpend, k);
            s = p->tpend.data;
            n = p->tpend.len;
            if (n == 0) return BASE_OK;
        }
        switch (p->tstate) {
        case T_START: {
            size_t i = 0;
            while (i < n && is_ws(s[i])) i++;
            if (i == n && !final) return BASE_OK;
            if (i < n && (s[i] == '{' || s[i] == '[')) {
                p->tstate = T_JSEQ;
                p->body = i;
                p->seq_calls = false;
            } else {
                p->tstate = T_TEXT;
            }
            continue;
        }
        case T_TEXT: {
            const char *at = marker && n ? chat_find(s, n, marker) : NULL;
            if (at) {
                size_t pos = (size_t)(at - s), ws = pos;
                while (ws > 0 && is_ws(s[ws - 1])) ws--;
                if ((rc = emit_content(p, s, ws))) return rc;
                chat_buf_consume(&p->tpend, ws);
                if (p->prm.tool_format == CHAT_TOOLS_DEEPSEEK) {
                    p->tstate = T_DSEC;
                    p->body = pos - ws + strlen(marker);
                    p->seq_calls = false;
                    continue;
                }
                p->tstate = T_BODY;
                p->body = pos - ws;
                continue;
            }
            size_t keep = final ? 0 : chat_holdback(s, n, &marker, 1);
            size_t out = n - keep;
            /* At the end, whitespace after the last call is dropped; else content is exact. */
            if (final && p->n_calls)
                while (out && is_ws(s[out - 1])) out--;
            if ((rc = emit_content(p, s, out))) return rc;
            chat_buf_consume(&p->tpend, final ? n : out);
            return BASE_OK;
        }
        case T_BODY: {
            size_t off = p->body + strlen(marker);
            const char *b = s + off;
            size_t bn = n - off;
            switch (p->prm.tool_format) {
            case CHAT_TOOLS_HERMES: rc = body_hermes(p, b, bn, off, final); break;
            case CHAT_TOOLS_MISTRAL: rc = body_mistral(p, b, bn, off, final); break;
            default: rc = body_python_tag(p, b, bn, off, final); break;
            }
            if (rc == 1) return BASE_OK;
            if (rc) return rc;
            continue;
        }
        case T_JSEQ:
        case T_DSEC:
            rc = p->tstate == T_JSEQ ? body_json_seq(p, final) : body_deepseek(p, final);
            if (rc == 1) return BASE_OK;
            if (rc) return rc;
            continue;
        }
    }
}

static int tools_push(chat_parser *p, const char *s, size_t n, bool final) {
    if (n && buf_append(&p->tpend, s, n) < 0) return BASE_ENOMEM;
    return tools_run(p, final);
}

/* ---- stage 1: reasoning ----------------------------------------------------------------- */

static bool starts_with(const char *s, size_t n, const char *m) {
    size_t ml = strlen(m);
    return n >= ml && !memcmp(s, m, ml);
}

static int reasoning_run(chat_parser *p, bool final) {
    for (;;) {
        const char *s = p->rpend.data;
        size_t n = p->rpend.len;
        int rc;
        switch (p->rstate) {
        case R_START: {
            size_t i = 0;
            while (i < n && is_ws(s[i])) i++;
            bool maybe = false;
            for (int k = 0; chat_reasoning_markers[k].open; k++) {
                const char *m = chat_reasoning_markers[k].open;
                if (starts_with(s + i, n - i, m)) {
                    chat_buf_consume(&p->rpend, i + strlen(m));
                    p->rstate = R_IN;
                    p->rpair = k;
                    p->rstrip = true;
                    goto next;
                }
                size_t rest = n - i;
                if (rest < strlen(m) && (rest == 0 || !memcmp(s + i, m, rest))) maybe = true;
            }
            if (maybe && !final) return BASE_OK;
            /* No open marker: the prompt may have opened the block for us. */
            p->rstate = p->prm.starts_in_reasoning ? R_IN : R_OUT;
            p->rpair = -1;
            p->rstrip = true;
            continue;
        }
        case R_IN: {
            if (p->rstrip) {
                size_t k = 0;
                while (k < n && is_ws(s[k])) k++;
                chat_buf_consume(&p->rpend, k);
                s = p->rpend.data;
                n = p->rpend.len;
                if (n == 0) return BASE_OK;
                p->rstrip = false;
            }
            const char *closes[8];
            size_t nc = 0;
            for (int k = 0; chat_reasoning_markers[k].close && nc < 8; k++)
                if (p->rpair < 0 || p->rpair == k) closes[nc++] = chat_reasoning_markers[k].close;
            const char *best = NULL;
            size_t best_len = 0;
            for (size_t k = 0; k < nc; k++) {
                const char *at = chat_find(s, n, closes[k]);
                if (at && (!best || at < best)) best = at, best_len = strlen(closes[k]);
            }
            if (best) {
                size_t pos = (size_t)(best - s), e = pos;
                while (e > 0 && is_ws(s[e - 1])) e--;
                if ((rc = chat_emit_text(p, CHAT_EV_REASONING, s, e))) return rc;
                chat_buf_consume(&p->rpend, pos + best_len);
                p->rstate = R_OUT;
                p->cstrip = true;
                continue;
            }
            size_t keep = chat_holdback(s, n, closes, nc);
            if (final) /* a partial marker at the very end is reasoning text after all */
                for (keep = 0; keep < n && is_ws(s[n - keep - 1]);) keep++;
            if ((rc = chat_emit_text(p, CHAT_EV_REASONING, s, n - keep))) return rc;
            chat_buf_consume(&p->rpend, final ? n : n - keep);
            return BASE_OK;
        }
        default:
            rc = tools_push(p, s, n, final);
            chat_buf_consume(&p->rpend, n);
            return rc;
        }
    next:;
    }
}

/* ---- public ----------------------------------------------------------------------------- */

static int run(chat_parser *p, const char *text, size_t len, bool final,
               const chat_event **events, size_t *n_events, err_buf *eb) {
    if (events) *events = NULL;
    if (n_events) *n_events = 0;
    if (!p) return err_set(eb, BASE_EINVAL, "chat parser is NULL");
    if (p->failed) return err_set(eb, BASE_ENOMEM, "chat parser failed earlier (out of memory)");
    if (p->finished) return err_set(eb, BASE_EINVAL, "chat parser already finished");
    if (!text && len) return err_set(eb, BASE_EINVAL, "text is NULL");
    p->n_evs = 0;
    arena_reset(p->ev_arena);
    int rc = BASE_OK;
    if (len && buf_append(&p->rpend, text, len) < 0) rc = BASE_ENOMEM;
    if (!rc && p->prm.tool_format == CHAT_TOOLS_HARMONY) {
        rc = chat_harmony_run(p, final);
    } else if (!rc) {
        rc = reasoning_run(p, final);
        if (!rc && final) rc = tools_run(p, true);
    }
    if (rc) {
        p->failed = true;
        return err_set(eb, BASE_ENOMEM, "out of memory");
    }
    if (final) p->finished = true;
    if (events) *events = p->evs;
    if (n_events) *n_events = p->n_evs;
    return BASE_OK;
}

int chat_parser_feed(chat_parser *p, const char *text, size_t len, const chat_event **events,
                     size_t *n_events, err_buf *eb) {
    return run(p, text, len, false, events, n_events, eb);
}

int chat_parser_finish(chat_parser *p, const chat_event **events, size_t *n_events,
                       err_buf *eb) {
    return run(p, NULL, 0, true, events, n_events, eb);
}

const char *chat_parser_content(const chat_parser *p) {
    return p && p->content.data ? p->content.data : "";
}

const char *chat_parser_reasoning(const chat_parser *p) {
    return p && p->reasoning.data ? p->reasoning.data : "";
}

size_t chat_parser_tool_call_count(const chat_parser *p) { return p ? p->n_calls : 0; }

const chat_event *chat_parser_tool_call(const chat_parser *p, size_t i) {
    return p && i < p->n_calls ? &p->calls[i] : NULL;
}
