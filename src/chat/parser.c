/*
 * The streaming output parser. Two stages, each an incremental filter over held-back text:
 *   1. reasoning: text between thinking markers (or from the start, when the prompt opened
 *      the block) becomes reasoning; the rest flows on to stage 2;
 *   2. tools: content is searched for the format's tool-call marker (or, for the JSON
 *      formats, a reply that starts with '{' / '['); bodies are held until they are complete
 *      and then emitted as calls, or as the exact raw text when they turn out malformed.
 * Like stop strings, only text that could still be the start of a marker is held back, plus
 * trailing whitespace (so that whitespace around tool calls and markers can be dropped).
 * This file holds the events and the two stage drivers; the per-syntax body readers are in
 * bodies.c, and gpt-oss's harmony format, which replaces both stages, in harmony.c.
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
    [CHAT_TOOLS_COMMAND_R] = "<|START_ACTION|>",
};

/* Markers that wrap content and are simply dropped (Command R7B / A). */
static const char *const cr_drops[] = {"<|START_RESPONSE|>", "<|END_RESPONSE|>"};

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
    if ((unsigned)prm.tool_format > CHAT_TOOLS_COMMAND_R)
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
    p->rmarkers = chat_reasoning_markers;
    if (prm.reasoning_open && *prm.reasoning_open && prm.reasoning_close && *prm.reasoning_close) {
        p->custom[0] = (chat_marker_pair){prm.reasoning_open, prm.reasoning_close};
        p->rmarkers = p->custom;
    }
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

chat_event *chat_push_event(chat_parser *p) {
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
    chat_event *last = p->n_evs ? &p->evs[p->n_evs - 1] : NULL;
    if (last && last->kind == kind) {
        /* One delta per kind and batch where possible: fewer, larger chunks to send. */
        char *joined = arena_alloc(p->ev_arena, last->len + n + 1);
        if (!joined || buf_append(total, s, n) < 0) return BASE_ENOMEM;
        memcpy(joined, last->text, last->len);
        memcpy(joined + last->len, s, n);
        joined[last->len + n] = 0;
        last->text = joined;
        last->len += n;
        return BASE_OK;
    }
    char *copy = arena_strndup(p->ev_arena, s, n);
    chat_event *e = copy ? chat_push_event(p) : NULL;
    if (!e || buf_append(total, s, n) < 0) return BASE_ENOMEM;
    e->kind = kind;
    e->text = copy;
    e->len = n;
    return BASE_OK;
}

/* Content, with whitespace dropped while cstrip is set (after a call or a reasoning block). */
int chat_emit_content(chat_parser *p, const char *s, size_t n) {
    if (p->cstrip) {
        while (n && is_ws(*s)) s++, n--;
        if (n) p->cstrip = false;
    }
    return chat_emit_text(p, CHAT_EV_CONTENT, s, n);
}

/* A fresh "call_" + 9 alphanumerics (Mistral's templates insist on 9 when the id comes back),
 * mem_alloc'd; NULL when out of memory. */
char *chat_make_id(chat_parser *p) {
    static const char al[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    char id[16] = "call_";
    for (int i = 0; i < 9; i++) {
        p->rng ^= p->rng << 13, p->rng ^= p->rng >> 7, p->rng ^= p->rng << 17;
        id[5 + i] = al[p->rng % (sizeof al - 1)];
    }
    id[14] = 0;
    return mem_strdup(id);
}

void chat_part_reset(chat_parser *p) {
    mem_free(p->part.id);
    p->part.id = NULL;
    p->part.active = false;
    p->part.raw_done = 0;
    p->part.in_str = p->part.esc = false;
    p->part.sent.len = 0;
}

/* A TOOL_ARGS piece of the call being streamed. */
int chat_emit_part_text(chat_parser *p, const char *s, size_t n) {
    if (n == 0) return BASE_OK;
    char *copy = arena_strndup(p->ev_arena, s, n);
    chat_event *e = copy ? chat_push_event(p) : NULL;
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
            rc = chat_emit_part_text(p, c->arguments + sl, al - sl);
        mem_free(c->id);
        c->id = p->part.id;
        p->part.id = NULL;
        chat_part_reset(p);
        if (rc) {
            chat_call_clear(c);
            return rc;
        }
    }
    if (!c->id && !(c->id = chat_make_id(p))) {
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
    chat_event *ev = chat_push_event(p);
    if (!ev) return BASE_ENOMEM;
    *ev = *e;
    p->cstrip = true;
    return BASE_OK;
}

int chat_emit_calls(chat_parser *p, chat_call *calls, size_t n) {
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
size_t chat_utf8_tail(const char *s, size_t n) {
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
    size_t h = chat_utf8_tail(s, n);
    for (size_t i = 0; i < n_markers; i++) {
        if (!markers[i]) continue;
        size_t k = partial_suffix(s, n, markers[i]);
        if (k > h) h = k;
    }
    while (h < n && is_ws(s[n - h - 1])) h++;
    return h;
}

/* ---- stage 2: tool calls ---------------------------------------------------------------- */

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
            const char *holds[3] = {marker, NULL, NULL};
            if (p->prm.tool_format == CHAT_TOOLS_COMMAND_R) {
                holds[1] = cr_drops[0], holds[2] = cr_drops[1];
                const char *d = NULL;
                size_t dl = 0;
                for (int k = 0; k < 2; k++) {
                    const char *dk = chat_find(s, n, cr_drops[k]);
                    if (dk && (!d || dk < d)) d = dk, dl = strlen(cr_drops[k]);
                }
                if (d && (!at || d < at)) {
                    size_t pos = (size_t)(d - s);
                    if ((rc = chat_emit_content(p, s, pos))) return rc;
                    chat_buf_consume(&p->tpend, pos + dl);
                    continue;
                }
            }
            if (at) {
                size_t pos = (size_t)(at - s), ws = pos;
                while (ws > 0 && is_ws(s[ws - 1])) ws--;
                if ((rc = chat_emit_content(p, s, ws))) return rc;
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
            size_t keep = final ? 0 : chat_holdback(s, n, holds, 3);
            size_t out = n - keep;
            /* At the end, whitespace after the last call is dropped; else content is exact. */
            if (final && p->n_calls)
                while (out && is_ws(s[out - 1])) out--;
            if ((rc = chat_emit_content(p, s, out))) return rc;
            chat_buf_consume(&p->tpend, final ? n : out);
            return BASE_OK;
        }
        case T_BODY: {
            size_t off = p->body + strlen(marker);
            const char *b = s + off;
            size_t bn = n - off;
            switch (p->prm.tool_format) {
            case CHAT_TOOLS_HERMES: rc = chat_body_hermes(p, b, bn, off, final); break;
            case CHAT_TOOLS_COMMAND_R: rc = chat_body_command_r(p, b, bn, off, final); break;
            case CHAT_TOOLS_MISTRAL: rc = chat_body_mistral(p, b, bn, off, final); break;
            default: rc = chat_body_python_tag(p, b, bn, off, final); break;
            }
            if (rc == 1) return BASE_OK;
            if (rc) return rc;
            continue;
        }
        case T_JSEQ:
        case T_DSEC:
            rc = p->tstate == T_JSEQ ? chat_body_json_seq(p, final) : chat_body_deepseek(p, final);
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
            for (int k = 0; p->rmarkers[k].open; k++) {
                const char *m = p->rmarkers[k].open;
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
            for (int k = 0; p->rmarkers[k].close && nc < 8; k++)
                if (p->rpair < 0 || p->rpair == k) closes[nc++] = p->rmarkers[k].close;
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

static int run(chat_parser *p, const char *text, size_t len, bool final, const chat_event **events,
               size_t *n_events, err_buf *eb) {
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

int chat_parser_finish(chat_parser *p, const chat_event **events, size_t *n_events, err_buf *eb) {
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
