/*
 * The JSON Schema of one call to any of an OpenAI `tools` list, for constraining tool-call
 * output: {"name": <one tool's name>, "arguments": <that tool's parameters>}. A tool's own
 * "#/..." $refs are rewritten to point into the combined schema.
 */
#include "grammar_int.h"

#include <stdio.h>
#include <string.h>

/* Rewrite every "$ref": "#/x" in v to "#/anyOf/<i>/properties/arguments/x". */
static int rebase_refs(json_t *v, size_t i) {
    if (json_is_array(v)) {
        size_t k;
        json_t *e;
        json_array_foreach(v, k, e)
            if (rebase_refs(e, i)) return BASE_ENOMEM;
        return 0;
    }
    if (!json_is_object(v)) return 0;
    const char *key;
    json_t *e;
    json_object_foreach(v, key, e) {
        if (strcmp(key, "$ref") == 0 && json_is_string(e) && json_string_value(e)[0] == '#') {
            const char *rest = json_string_value(e) + 1;
            size_t n = strlen(rest) + 64;
            char *nr = mem_alloc(n);
            if (!nr) return BASE_ENOMEM;
            snprintf(nr, n, "#/anyOf/%zu/properties/arguments%s", i, rest);
            int rc = json_string_set(e, nr);
            mem_free(nr);
            if (rc) return BASE_ENOMEM;
        } else if (rebase_refs(e, i)) {
            return BASE_ENOMEM;
        }
    }
    return 0;
}

int grammar_tool_call_schema(const json_t *tools, json_t **out, err_buf *eb) {
    *out = NULL;
    if (!json_is_array(tools) || json_array_size(tools) == 0)
        return err_set(eb, BASE_EINVAL, "tools must be a non-empty array");
    json_t *alts = json_array(), *schema = json_object();
    if (!alts || !schema || json_object_set(schema, "anyOf", alts)) goto oom;
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t) {
        const json_t *fn = json_object_get(t, "function");
        if (!fn) fn = t; /* also accept the bare function objects */
        const char *name = json_string_value(json_object_get(fn, "name"));
        if (!name) {
            json_decref(alts);
            json_decref(schema);
            return err_set(eb, BASE_EINVAL, "tools[%zu] has no function name", i);
        }
        const json_t *params = json_object_get(fn, "parameters");
        json_t *args = params ? json_deep_copy(params) : json_pack("{s:s}", "type", "object");
        json_t *alt = json_pack("{s:s, s:{s:{s:s}, s:o}, s:[s,s], s:b}", "type", "object", "properties",
                                "name", "const", name, "arguments", args, "required", "name",
                                "arguments", "additionalProperties", 0);
        if (!alt || rebase_refs(json_object_get(json_object_get(alt, "properties"), "arguments"), i) ||
            json_array_append_new(alts, alt))
            goto oom;
    }
    json_decref(alts);
    *out = schema;
    return 0;
oom:
    json_decref(alts);
    json_decref(schema);
    return err_set(eb, BASE_ENOMEM, "out of memory");
}
