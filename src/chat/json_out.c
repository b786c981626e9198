/*
 * OpenAI response shapes built from parser events, so that the API layer does not need to
 * know how tool calls look: the non-streamed assistant message and streamed chunk deltas.
 */
#include <string.h>

#include "chat_int.h"

json_t *chat_tool_call_json(const chat_event *ev, bool with_index) {
    if (!ev || ev->kind != CHAT_EV_TOOL_CALL) return NULL;
    json_t *fn = json_pack("{s:s, s:s}", "name", ev->name, "arguments", ev->arguments);
    if (!fn) return NULL;
    json_t *call = json_pack("{s:s, s:s, s:o}", "id", ev->id, "type", "function", "function", fn);
    if (call && with_index && json_object_set_new(call, "index", json_integer(ev->index))) {
        json_decref(call);
        return NULL;
    }
    return call;
}

json_t *chat_tool_calls_json(const chat_parser *p) {
    json_t *arr = json_array();
    size_t n = chat_parser_tool_call_count(p);
    for (size_t i = 0; arr && i < n; i++) {
        if (json_array_append_new(arr, chat_tool_call_json(chat_parser_tool_call(p, i), false))) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

json_t *chat_delta_json(const chat_event *ev) {
    if (!ev) return NULL;
    switch (ev->kind) {
    case CHAT_EV_CONTENT: return json_pack("{s:s%}", "content", ev->text, ev->len);
    case CHAT_EV_REASONING: return json_pack("{s:s%}", "reasoning_content", ev->text, ev->len);
    case CHAT_EV_TOOL_CALL:
        if (ev->streamed) return NULL;
        return json_pack("{s:[o]}", "tool_calls", chat_tool_call_json(ev, true));
    case CHAT_EV_TOOL_CALL_BEGIN:
        return json_pack("{s:[{s:i, s:s, s:s, s:{s:s, s:s}}]}", "tool_calls", "index", ev->index,
                         "id", ev->id, "type", "function", "function", "name", ev->name,
                         "arguments", "");
    case CHAT_EV_TOOL_ARGS:
        return json_pack("{s:[{s:i, s:{s:s%}}]}", "tool_calls", "index", ev->index, "function",
                         "arguments", ev->text, ev->len);
    }
    return NULL;
}

/* s without leading and trailing whitespace, as a JSON string. */
static json_t *trimmed(const char *s) {
    size_t n = strlen(s);
    while (n && strchr(" \t\r\n", s[n - 1])) n--;
    while (n && strchr(" \t\r\n", *s)) s++, n--;
    return json_stringn(s, n);
}

json_t *chat_message_json(const chat_parser *p) {
    if (!p) return NULL;
    json_t *msg = json_object();
    if (!msg) return NULL;
    const char *content = chat_parser_content(p), *reasoning = chat_parser_reasoning(p);
    size_t n_calls = chat_parser_tool_call_count(p);
    /* Content stays exact (a first line's indentation matters); only a reply of calls with
     * nothing but whitespace around them gets OpenAI's null. */
    json_t *c = json_string(content);
    json_t *t = n_calls ? trimmed(content) : NULL;
    if (c && t && json_string_length(t) == 0) {
        json_decref(c);
        c = json_null();
    }
    json_decref(t);
    int bad = json_object_set_new(msg, "role", json_string("assistant"));
    bad |= json_object_set_new(msg, "content", c);
    if (*reasoning) bad |= json_object_set_new(msg, "reasoning_content", trimmed(reasoning));
    if (n_calls) bad |= json_object_set_new(msg, "tool_calls", chat_tool_calls_json(p));
    if (bad) {
        json_decref(msg);
        return NULL;
    }
    return msg;
}
