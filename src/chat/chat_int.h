/*
 * Internals shared by the chat module's files: the reasoning markers, the small JSON scanner
 * the parser uses to find where a value ends while text is still arriving, and the tool-call
 * extraction from a finished piece of JSON text.
 */
#ifndef CHAT_INT_H
#define CHAT_INT_H

#include "chat.h"

typedef struct chat_marker_pair {
    const char *open;
    const char *close;
} chat_marker_pair;

/* <think>/</think>, <|START_THINKING|>/<|END_THINKING|>, [THINK]/[/THINK],
 * <seed:think>/</seed:think>; terminated by {NULL, NULL}. */
extern const chat_marker_pair chat_reasoning_markers[];

/* Where a JSON value starting at s[0] (after no whitespace) ends.
 *   > 0: the value is complete and takes that many bytes;
 *     0: the text so far could still become a valid value (need more);
 *   < 0: it can never be a valid object/array/string. Only '{', '[' and '"' starts are
 * scanned structurally (brackets and strings); scalars inside are not validated here. */
long chat_json_scan(const char *s, size_t n);

/* A tool call pulled out of model text. Strings are heap copies (mem_alloc). */
typedef struct chat_call {
    char *id; /* NULL: the parser assigns one */
    char *name;
    char *arguments; /* compact JSON text of an object */
} chat_call;

void chat_call_clear(chat_call *c);

/* A JSON object text {"name"|"tool_name": .., "arguments"|"parameters": ..(, "id": ..)} as a call.
 * Arguments may be an object or a string holding JSON. Returns 0, BASE_EFORMAT when the text
 * is not such a call, BASE_ENOMEM. */
int chat_call_from_json(const char *s, size_t n, chat_call *out);

/* Python-style builtin call "name.call(key=value, ...)" or "name(key=value, ...)"
 * (Llama 3.1 <|python_tag|>). Values: JSON literals and 'single-quoted' strings. */
int chat_call_from_python(const char *s, size_t n, chat_call *out);

/* An XML-style body of <tool_call>: Qwen3-Coder/3.5 "<function=f><parameter=k>v</parameter>
 * </function>" or GLM "f<arg_key>k</arg_key><arg_value>v</arg_value>". tools (the request's
 * OpenAI tools array, or NULL) says which parameters are strings. */
int chat_call_from_xml(const char *s, size_t n, const json_t *tools, chat_call *out);

/* A DeepSeek V3/R1 call body: "function<｜tool▁sep｜>name\n```json\n{..}\n```" or
 * "name<｜tool▁sep｜>{..}". */
int chat_call_from_deepseek(const char *s, size_t n, chat_call *out);

/* A JSON array text [{call}, {call}, ...] (at least one) as calls. On success *out is a
 * mem_alloc'd array of *count calls (clear each, then mem_free the array). */
int chat_calls_from_json_array(const char *s, size_t n, chat_call **out, size_t *count);

/* Copy s[0..n) with the whitespace outside strings removed (valid JSON in, compact out). */
char *chat_json_compact(const char *s, size_t n);

/* ---- the parser's state (parser.c; harmony.c reads and drives it too) ------------------ */

enum { R_START, R_IN, R_OUT };                    /* stage 1: reasoning */
enum { T_START, T_TEXT, T_BODY, T_JSEQ, T_DSEC }; /* stage 2: tool calls */

struct chat_parser {
    chat_parser_params prm;
    bool finished, failed;
    uint64_t rng;
    int rstate;
    int rpair;   /* the open marker's pair in R_IN; -1: any close marker ends it */
    const chat_marker_pair *rmarkers; /* chat_reasoning_markers, or custom */
    chat_marker_pair custom[2];       /* prm's own pair, then the {NULL, NULL} end */
    bool rstrip; /* drop whitespace at the start of the reasoning */
    buf rpend;   /* raw text stage 1 has not classified yet */
    int tstate;
    bool cstrip;     /* drop whitespace at the start of the next content */
    size_t body;     /* T_BODY: offset of the marker in tpend; T_JSEQ: next value */
    bool seq_calls;  /* T_JSEQ: the sequence produced calls already */
    buf tpend;       /* content text stage 2 has not emitted or parsed yet */
    chat_event *evs; /* this batch's events */
    size_t n_evs, cap_evs;
    arena *ev_arena;   /* texts of this batch's events */
    chat_event *calls; /* every call so far; strings owned (mem_alloc) */
    size_t n_calls, cap_calls;
    buf content, reasoning; /* totals */
    struct {                /* stream_arguments: the call being streamed */
        bool active;
        char *id;         /* handed to the call when it completes */
        size_t raw_done;  /* bytes of its raw arguments text compacted so far */
        bool in_str, esc; /* the compactor's state at raw_done */
        buf sent;         /* the compact arguments text sent so far */
    } part;
    struct {          /* CHAT_TOOLS_HARMONY (harmony.c) */
        bool in_body; /* false: reading a message header */
        int kind;     /* the body's CHAT_EV_* (TOOL_CALL: a call to name) */
        char *name;   /* mem_alloc'd */
    } hm;
};

/* Emit events (parser.c). Both return 0 or BASE_ENOMEM. chat_emit_call takes the call's
 * strings (c is cleared either way). */
int chat_emit_text(chat_parser *p, chat_event_kind kind, const char *s, size_t n);
int chat_emit_call(chat_parser *p, chat_call *c);
/* Drop the first n bytes of b. */
void chat_buf_consume(buf *b, size_t n);
/* memmem for a NUL-terminated marker; NULL when n is 0. */
const char *chat_find(const char *s, size_t n, const char *marker);
/* How much of s[0..n) to hold back: a partial marker or UTF-8 character at the end, and the
 * whitespace before it. */
size_t chat_holdback(const char *s, size_t n, const char *const *markers, size_t n_markers);
/* More of parser.c's plumbing, for bodies.c. */
chat_event *chat_push_event(chat_parser *p); /* a zeroed event, NULL: no memory */
int chat_emit_content(chat_parser *p, const char *s, size_t n); /* honours p->cstrip */
char *chat_make_id(chat_parser *p);   /* "call_" + 9 alphanumerics, mem_alloc'd */
void chat_part_reset(chat_parser *p); /* forget the call being streamed */
int chat_emit_part_text(chat_parser *p, const char *s, size_t n); /* a TOOL_ARGS piece */
int chat_emit_calls(chat_parser *p, chat_call *calls, size_t n);  /* frees calls */
size_t chat_utf8_tail(const char *s, size_t n); /* bytes of an unfinished character */

/* Stage 2 bodies (bodies.c). The T_BODY readers get the text after the marker (b, n) and
 * its offset in tpend (off: the whitespace and marker before it); all return 1 when they need
 * more text, else 0 or BASE_ENOMEM, having moved tstate on. */
int chat_body_hermes(chat_parser *p, const char *b, size_t n, size_t off, bool final);
int chat_body_mistral(chat_parser *p, const char *b, size_t n, size_t off, bool final);
int chat_body_python_tag(chat_parser *p, const char *b, size_t n, size_t off, bool final);
int chat_body_json_seq(chat_parser *p, bool final); /* T_JSEQ */
int chat_body_deepseek(chat_parser *p, bool final); /* T_DSEC */
int chat_body_command_r(chat_parser *p, const char *b, size_t n, size_t off, bool final);
/* Emit tpend's first n bytes as content and go back to T_TEXT (a body that did not parse). */
int chat_body_fallback(chat_parser *p, size_t n);

/* CHAT_TOOLS_HARMONY: process p->rpend (harmony.c). */
int chat_harmony_run(chat_parser *p, bool final);

#endif
