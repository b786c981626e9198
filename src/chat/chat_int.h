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

/* A JSON object text {"name": .., "arguments"|"parameters": ..(, "id": ..)} as a call.
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

/* A JSON array text [{call}, {call}, ...] (at least one) as calls. On success *out is a
 * mem_alloc'd array of *count calls (clear each, then mem_free the array). */
int chat_calls_from_json_array(const char *s, size_t n, chat_call **out, size_t *count);

/* Copy s[0..n) with the whitespace outside strings removed (valid JSON in, compact out). */
char *chat_json_compact(const char *s, size_t n);

#endif
