/*
 * OpenAI's harmony format (gpt-oss). The prompt ends with "<|start|>assistant", and the
 * model writes one or more messages, each a header and a body:
 *   <|channel|>analysis<|message|>...<|end|>                       reasoning
 *   <|start|>assistant<|channel|>final<|message|>...<|return|>      content
 *   <|start|>assistant to=functions.f<|channel|>commentary <|constrain|>json<|message|>{..}<|call|>
 * (the recipient may also come after the channel). Reasoning and content bodies stream as
 * they arrive; a call's body is held until it ends.
 */
#include <string.h>

#include "chat_int.h"

static const char *const ends[] = {"<|end|>", "<|call|>", "<|return|>", "<|start|>"};
enum { N_ENDS = sizeof ends / sizeof ends[0] };

/* Headers are a few dozen bytes; text without <|message|> for longer is not harmony. */
enum { MAX_HEADER = 1024 };

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* The token after key in the header h[0..n): up to whitespace or the next "<|". */
static const char *header_field(const char *h, size_t n, const char *key, size_t *len) {
    const char *at = chat_find(h, n, key);
    if (!at) return NULL;
    const char *v = at + strlen(key), *e = v;
    while (e < h + n && !is_ws(*e) && *e != '<') e++;
    *len = (size_t)(e - v);
    return v;
}

static int read_header(chat_parser *p, const char *h, size_t n) {
    size_t cl = 0, rl = 0;
    const char *channel = header_field(h, n, "<|channel|>", &cl);
    const char *to = header_field(h, n, "to=", &rl);
    mem_free(p->hm.name);
    p->hm.name = NULL;
    if (to && rl > 10 && !memcmp(to, "functions.", 10)) {
        p->hm.kind = CHAT_EV_TOOL_CALL;
        p->hm.name = mem_strndup(to + 10, rl - 10);
        return p->hm.name ? BASE_OK : BASE_ENOMEM;
    }
    bool analysis = channel && cl == 8 && !memcmp(channel, "analysis", 8);
    p->hm.kind = analysis && p->prm.reasoning ? CHAT_EV_REASONING : CHAT_EV_CONTENT;
    return BASE_OK;
}

/* A call's body: a JSON object is a call; anything else is content. */
static int finish_call(chat_parser *p, const char *s, size_t n) {
    while (n && is_ws(*s)) s++, n--;
    while (n && is_ws(s[n - 1])) n--;
    json_error_t jerr;
    json_t *args = json_loadb(s, n, 0, &jerr);
    bool ok = json_is_object(args);
    json_decref(args);
    if (!ok) return chat_emit_text(p, CHAT_EV_CONTENT, s, n);
    chat_call c = {0};
    c.name = p->hm.name;
    p->hm.name = NULL;
    c.arguments = chat_json_compact(s, n);
    if (!c.arguments) {
        chat_call_clear(&c);
        return BASE_ENOMEM;
    }
    return chat_emit_call(p, &c);
}

int chat_harmony_run(chat_parser *p, bool final) {
    for (;;) {
        const char *s = p->rpend.data;
        size_t n = p->rpend.len;
        int rc;
        if (!p->hm.in_body) {
            /* Only the first MAX_HEADER bytes can hold a header, however the text arrives. */
            size_t window = n < MAX_HEADER ? n : MAX_HEADER;
            const char *at = chat_find(s, window, "<|message|>");
            if (!at) {
                if (!final && n < MAX_HEADER) return BASE_OK;
                /* Not a header after all: plain text, and read on as a content body. */
                rc = chat_emit_text(p, CHAT_EV_CONTENT, s, window);
                chat_buf_consume(&p->rpend, window);
                p->hm.in_body = true;
                p->hm.kind = CHAT_EV_CONTENT;
                if (rc) return rc;
                continue;
            }
            size_t hl = (size_t)(at - s);
            if ((rc = read_header(p, s, hl))) return rc;
            chat_buf_consume(&p->rpend, hl + strlen("<|message|>"));
            p->hm.in_body = true;
            continue;
        }
        const char *best = NULL;
        size_t best_len = 0;
        for (int k = 0; k < N_ENDS; k++) {
            const char *at = chat_find(s, n, ends[k]);
            if (at && (!best || at < best)) best = at, best_len = strlen(ends[k]);
        }
        size_t body = best ? (size_t)(best - s) : n;
        if (p->hm.kind == CHAT_EV_TOOL_CALL) {
            if (!best && !final) return BASE_OK;
            rc = finish_call(p, s, body);
        } else if (best) {
            rc = chat_emit_text(p, (chat_event_kind)p->hm.kind, s, body);
        } else {
            size_t keep = final ? 0 : chat_holdback(s, n, ends, N_ENDS);
            /* chat_holdback also keeps trailing whitespace; a body's text is exact, so it
             * comes out at the end of the message instead of being dropped. */
            rc = chat_emit_text(p, (chat_event_kind)p->hm.kind, s, n - keep);
            chat_buf_consume(&p->rpend, n - keep);
            return rc;
        }
        if (rc) return rc;
        chat_buf_consume(&p->rpend, best ? body + best_len : n);
        p->hm.in_body = false;
        if (!best) return BASE_OK;
    }
}
