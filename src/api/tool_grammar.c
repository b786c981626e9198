/*
 * tool_choice "required" or a named function: the reply must be a tool call, so decoding is
 * constrained by a grammar made from the tools' JSON schemas and wrapped in the syntax the
 * model's family uses for calls (<tool_call>..</tool_call>, [TOOL_CALLS][...], bare JSON).
 */
#include <string.h>

#include "api_int.h"
#include "chat/chat.h"
#include "grammar/grammar.h"

/* One call's schema: {"name": const, <args key>: the tool's parameters}. Arguments are held
 * to the declared properties unless the schema says otherwise, so a weak model cannot wander
 * off into keys nobody asked for (OpenAI's strict mode does the same). */
static json_t *call_schema(const json_t *fn, const char *args_key) {
    json_t *params = json_object_get(fn, "parameters");
    if (params) {
        params = json_deep_copy(params);
        if (json_is_object(params) && json_object_get(params, "properties") &&
            !json_object_get(params, "additionalProperties"))
            json_object_set_new(params, "additionalProperties", json_false());
    }
    json_t *props = json_object();
    json_t *name = json_object();
    json_object_set(name, "const", json_object_get(fn, "name"));
    json_object_set_new(props, "name", name);
    json_object_set_new(props, args_key, params ? params : json_pack("{s:s}", "type", "object"));
    return json_pack("{s:s, s:o, s:[s,s], s:b}", "type", "object", "properties", props, "required",
                     "name", args_key, "additionalProperties", 0);
}

static bool is_name_char(char c) {
    return c == '-' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Copy GBNF text renaming the rule `root` to `name`, outside string literals and classes. */
static void rename_root(const char *g, buf *out, const char *name) {
    for (const char *p = g; *p;) {
        if (*p == '"' || *p == '[') {
            char close = *p == '"' ? '"' : ']';
            const char *q = p + 1;
            while (*q && *q != close) q += (*q == '\\' && q[1]) ? 2 : 1;
            if (*q) q++;
            buf_append(out, p, (size_t)(q - p));
            p = q;
        } else if (*p == '#') {
            const char *q = strchr(p, '\n');
            q = q ? q : p + strlen(p);
            buf_append(out, p, (size_t)(q - p));
            p = q;
        } else if (!strncmp(p, "root", 4) && (p == g || !is_name_char(p[-1])) && !is_name_char(p[4])) {
            buf_append_str(out, name);
            p += 4;
        } else {
            buf_append(out, p, 1);
            p++;
        }
    }
}

int api_tool_grammar(const json_t *tools, const char *only, int format, grammar **out, api_err *e) {
    *out = NULL;
    chat_tool_format fmt = (chat_tool_format)format;
    const char *args_key = fmt == CHAT_TOOLS_LLAMA3 ? "parameters" : "arguments";
    json_t *any = json_array();
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t) {
        json_t *fn = json_object_get(t, "function");
        if (only && strcmp(json_string_value(json_object_get(fn, "name")), only)) continue;
        json_array_append_new(any, call_schema(fn, args_key));
    }
    if (json_array_size(any) == 0) {
        json_decref(any);
        return api_fail(e, 400, "tool_choice", "tool_choice names '%s', which is not among the tools", only ? only : "");
    }
    json_t *schema = json_pack("{s:o}", "anyOf", any);
    buf gbnf = {0}, full = {0};
    err_buf eb = {0};
    int rc = grammar_schema_to_gbnf(schema, &gbnf, &eb);
    json_decref(schema);
    if (rc) {
        buf_free(&gbnf);
        return api_fail(e, 400, "tools", "a tool's parameters cannot be used as a schema: %s", err_msg(&eb));
    }
    rename_root(gbnf.data, &full, "tool-call");
    switch (fmt) {
    case CHAT_TOOLS_HERMES: buf_append_str(&full, "\nroot ::= \"<tool_call>\\n\" tool-call \"\\n</tool_call>\"\n"); break;
    case CHAT_TOOLS_MISTRAL: buf_append_str(&full, "\nroot ::= \"[TOOL_CALLS][\" tool-call \"]\"\n"); break;
    default: buf_append_str(&full, "\nroot ::= tool-call\n"); break;
    }
    rc = full.oom ? BASE_ENOMEM : grammar_parse(full.data, full.len, out, &eb);
    buf_free(&gbnf);
    buf_free(&full);
    if (rc) return api_fail(e, 500, "tools", "cannot build the tool-call grammar: %s", err_msg(&eb));
    return BASE_OK;
}
