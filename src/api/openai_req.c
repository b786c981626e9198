/*
 * Request bodies of /v1/chat/completions and /v1/completions: parse and validate every field
 * we use, so a handler only sees checked values. A wrong type or an out-of-range value is a
 * 400 in OpenAI's shape naming the field (param); unknown fields are ignored.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "grammar/grammar.h"

/* Deepest nesting of arrays and objects a request may have: real requests (content parts,
 * tool schemas) stay far below; deeper ones only cost stack and time. */
#define API_MAX_JSON_DEPTH 128

/* The deepest [ / { nesting of JSON text, strings skipped (stops counting past limit). */
static int json_depth(const char *s, size_t n, int limit) {
    int depth = 0, max = 0;
    bool in_str = false;
    for (size_t i = 0; i < n && max <= limit; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\') i++;
            else if (c == '"') in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max) max = depth;
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return max;
}

json_t *api_parse_body(str_slice body, api_err *e) {
    if (json_depth(body.ptr, body.len, API_MAX_JSON_DEPTH) > API_MAX_JSON_DEPTH) {
        api_fail(e, 400, NULL, "The JSON body of your request is nested deeper than %d levels",
                 API_MAX_JSON_DEPTH);
        return NULL;
    }
    json_error_t je;
    json_t *root = json_loadb(body.ptr, body.len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        api_fail(e, 400, NULL, "We could not parse the JSON body of your request: %s (line %d, column %d)",
                 je.text, je.line, je.column);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        api_fail(e, 400, NULL, "The request body must be a JSON object");
        return NULL;
    }
    return root;
}

/* A field that is absent or null counts as unset. */
static json_t *field(json_t *o, const char *k) {
    json_t *v = json_object_get(o, k);
    return v && !json_is_null(v) ? v : NULL;
}

static int get_number(json_t *o, const char *k, double lo, double hi, float *out, bool *has,
                      api_err *e) {
    json_t *v = field(o, k);
    if (!v) return BASE_OK;
    if (!json_is_number(v)) return api_fail(e, 400, k, "'%s' must be a number", k);
    double d = json_number_value(v);
    if (!(d >= lo && d <= hi))
        return api_fail(e, 400, k, "%g is not valid for '%s': it must be between %g and %g", d,
                        k, lo, hi);
    *out = (float)d;
    if (has) *has = true;
    return BASE_OK;
}

/* Integers: JSON integers, or numbers with no fractional part (2.0). */
static int get_int(json_t *o, const char *k, long long lo, long long hi, long long *out,
                   bool *has, api_err *e) {
    json_t *v = field(o, k);
    if (!v) return BASE_OK;
    long long x;
    if (json_is_integer(v)) x = json_integer_value(v);
    else if (json_is_real(v) && floor(json_real_value(v)) == json_real_value(v) &&
             fabs(json_real_value(v)) < 9e15)
        x = (long long)json_real_value(v);
    else return api_fail(e, 400, k, "'%s' must be an integer", k);
    if (x < lo || x > hi)
        return api_fail(e, 400, k, "%lld is not valid for '%s': it must be between %lld and %lld",
                        x, k, lo, hi);
    *out = x;
    if (has) *has = true;
    return BASE_OK;
}

static int get_bool(json_t *o, const char *k, bool *out, api_err *e) {
    json_t *v = field(o, k);
    if (!v) return BASE_OK;
    if (!json_is_boolean(v)) return api_fail(e, 400, k, "'%s' must be a boolean", k);
    *out = json_is_true(v);
    return BASE_OK;
}

/* Message content: a string, or an array of parts of which we keep the text ones. */
static int content_text(json_t *c, int i, arena *a, const char **out, api_err *e) {
    if (!c) {
        *out = "";
        return BASE_OK;
    }
    if (json_is_string(c)) {
        *out = json_string_value(c);
        return BASE_OK;
    }
    if (!json_is_array(c))
        return api_fail(e, 400, "messages", "messages[%d].content must be a string or an array of content parts", i);
    buf b = {0};
    size_t k;
    json_t *part;
    json_array_foreach(c, k, part) {
        json_t *type = json_object_get(part, "type");
        if (!json_is_object(part) || !json_is_string(type)) {
            buf_free(&b);
            return api_fail(e, 400, "messages", "messages[%d].content[%zu] must be an object with a 'type'", i, k);
        }
        if (strcmp(json_string_value(type), "text")) {
            buf_free(&b);
            return api_fail(e, 400, "messages",
                            "messages[%d].content[%zu]: content type '%s' is not supported by this model", i, k,
                            json_string_value(type));
        }
        json_t *t = json_object_get(part, "text");
        if (!json_is_string(t)) {
            buf_free(&b);
            return api_fail(e, 400, "messages", "messages[%d].content[%zu].text must be a string", i, k);
        }
        buf_append(&b, json_string_value(t), json_string_length(t));
    }
    *out = arena_strndup(a, b.data ? b.data : "", b.len);
    buf_free(&b);
    return *out ? BASE_OK : api_fail(e, 500, NULL, "out of memory");
}

/* A copy of messages in which every content is a plain string (what templates expect). */
static int parse_messages(json_t *root, arena *a, api_gen_req *q, api_err *e) {
    json_t *msgs = json_object_get(root, "messages");
    if (!msgs) return api_fail(e, 400, "messages", "'messages' is required");
    if (!json_is_array(msgs)) return api_fail(e, 400, "messages", "'messages' must be an array");
    if (json_array_size(msgs) == 0)
        return api_fail(e, 400, "messages", "'messages' must contain at least one message");
    static const char *roles[] = {"system", "developer", "user", "assistant", "tool", "function"};
    q->messages = json_array();
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m) {
        if (!json_is_object(m)) return api_fail(e, 400, "messages", "messages[%zu] must be an object", i);
        json_t *role = json_object_get(m, "role");
        if (!json_is_string(role))
            return api_fail(e, 400, "messages", "messages[%zu].role must be a string", i);
        bool known = false;
        for (size_t k = 0; k < sizeof roles / sizeof roles[0]; k++)
            known |= !strcmp(json_string_value(role), roles[k]);
        if (!known)
            return api_fail(e, 400, "messages", "messages[%zu].role '%s' is not one of system, developer, user, assistant, tool",
                            i, json_string_value(role));
        const char *text;
        if (content_text(field(m, "content"), (int)i, a, &text, e)) return BASE_EINVAL;
        json_t *copy = json_deep_copy(m);
        if (!copy) return api_fail(e, 500, NULL, "out of memory");
        json_object_set_new(copy, "content", json_string(text));
        /* Templates know "system"; OpenAI's newer "developer" role means the same. */
        if (!strcmp(json_string_value(role), "developer"))
            json_object_set_new(copy, "role", json_string("system"));
        json_array_append_new(q->messages, copy);
    }
    return BASE_OK;
}

/* A token array: integers in 0..2^31. */
static int token_array(json_t *v, const char *what, arena *a, api_prompt *p, api_err *e) {
    size_t n = json_array_size(v);
    p->tokens = arena_alloc(a, (n ? n : 1) * sizeof *p->tokens);
    if (!p->tokens) return api_fail(e, 500, NULL, "out of memory");
    size_t i;
    json_t *t;
    json_array_foreach(v, i, t) {
        if (!json_is_integer(t) || json_integer_value(t) < 0 || json_integer_value(t) > INT32_MAX)
            return api_fail(e, 400, "prompt", "%s must hold token ids (non-negative integers)", what);
        p->tokens[i] = (int32_t)json_integer_value(t);
    }
    p->n_tokens = (int)n;
    return BASE_OK;
}

/* prompt: a string, an array of strings, an array of token ids, or an array of those. */
static int parse_prompt(json_t *root, arena *a, api_gen_req *q, api_err *e) {
    json_t *p = json_object_get(root, "prompt");
    if (!p) return api_fail(e, 400, "prompt", "'prompt' is required");
    if (json_is_string(p)) {
        q->prompts = arena_calloc(a, 1, sizeof *q->prompts);
        if (!q->prompts) return api_fail(e, 500, NULL, "out of memory");
        q->prompts[0].text = json_string_value(p);
        q->n_prompts = 1;
        return BASE_OK;
    }
    if (!json_is_array(p))
        return api_fail(e, 400, "prompt", "'prompt' must be a string, an array of strings or an array of token ids");
    size_t n = json_array_size(p);
    if (n == 0) return api_fail(e, 400, "prompt", "'prompt' must not be empty");
    if (json_is_integer(json_array_get(p, 0))) {
        q->prompts = arena_calloc(a, 1, sizeof *q->prompts);
        q->n_prompts = 1;
        return q->prompts ? token_array(p, "prompt", a, q->prompts, e)
                          : api_fail(e, 500, NULL, "out of memory");
    }
    if (n > API_MAX_N) return api_fail(e, 400, "prompt", "at most %d prompts per request", API_MAX_N);
    q->prompts = arena_calloc(a, n, sizeof *q->prompts);
    if (!q->prompts) return api_fail(e, 500, NULL, "out of memory");
    size_t i;
    json_t *v;
    json_array_foreach(p, i, v) {
        if (json_is_string(v)) q->prompts[i].text = json_string_value(v);
        else if (json_is_array(v) && json_array_size(v) > 0) {
            if (token_array(v, "prompt[i]", a, &q->prompts[i], e)) return BASE_EINVAL;
        } else
            return api_fail(e, 400, "prompt", "prompt[%zu] must be a string or a non-empty array of token ids", i);
    }
    q->n_prompts = (int)n;
    return BASE_OK;
}

static int parse_stop(json_t *root, api_gen_req *q, api_err *e) {
    json_t *s = field(root, "stop");
    if (!s) return BASE_OK;
    if (json_is_string(s)) {
        q->stops[q->n_stops++] = json_string_value(s);
        return BASE_OK;
    }
    if (!json_is_array(s)) return api_fail(e, 400, "stop", "'stop' must be a string or an array of strings");
    if (json_array_size(s) > API_MAX_STOPS)
        return api_fail(e, 400, "stop", "'stop' may hold at most %d strings", API_MAX_STOPS);
    size_t i;
    json_t *v;
    json_array_foreach(s, i, v) {
        if (!json_is_string(v)) return api_fail(e, 400, "stop", "stop[%zu] must be a string", i);
        q->stops[q->n_stops++] = json_string_value(v);
    }
    return BASE_OK;
}

static int parse_logit_bias(json_t *root, arena *a, api_gen_req *q, api_err *e) {
    json_t *lb = field(root, "logit_bias");
    if (!lb) return BASE_OK;
    if (!json_is_object(lb)) return api_fail(e, 400, "logit_bias", "'logit_bias' must be an object mapping token ids to numbers");
    q->bias = arena_alloc(a, (json_object_size(lb) + 1) * sizeof *q->bias);
    if (!q->bias) return api_fail(e, 500, NULL, "out of memory");
    const char *k;
    json_t *v;
    json_object_foreach(lb, k, v) {
        char *end;
        long id = strtol(k, &end, 10);
        if (!*k || *end || id < 0 || id > INT32_MAX)
            return api_fail(e, 400, "logit_bias", "logit_bias key '%s' is not a token id", k);
        if (!json_is_number(v) || json_number_value(v) < -100 || json_number_value(v) > 100)
            return api_fail(e, 400, "logit_bias", "logit_bias values must be numbers between -100 and 100");
        double b = json_number_value(v);
        q->bias[q->n_bias++] = (smp_bias){(int32_t)id, b <= -100 ? -INFINITY : (float)b};
    }
    return BASE_OK;
}

static int parse_logprobs(json_t *root, api_gen_req *q, api_err *e) {
    long long v = -1;
    if (q->kind == API_COMPLETION) {
        /* Completions: logprobs is how many alternatives per token (0..5). */
        if (get_int(root, "logprobs", 0, 5, &v, NULL, e)) return BASE_EINVAL;
        q->top_logprobs = (int)v;
        return BASE_OK;
    }
    bool on = false;
    if (get_bool(root, "logprobs", &on, e)) return BASE_EINVAL;
    bool has_top = false;
    if (get_int(root, "top_logprobs", 0, 20, &v, &has_top, e)) return BASE_EINVAL;
    if (has_top && !on)
        return api_fail(e, 400, "top_logprobs", "'top_logprobs' needs 'logprobs' set to true");
    q->top_logprobs = on ? (has_top ? (int)v : 0) : -1;
    return BASE_OK;
}

/* tools: [{"type":"function","function":{"name":...,"parameters":{...}}}] and tool_choice
 * ("none", "auto", "required" or {"type":"function","function":{"name":...}}). With "none"
 * the model is not told about the tools. "required" and a named function are accepted but
 * not yet enforced by constrained decoding. */
static int parse_tools(json_t *root, arena *a, api_gen_req *q, api_err *e) {
    json_t *tools = field(root, "tools");
    if (!tools) return BASE_OK;
    if (!json_is_array(tools)) return api_fail(e, 400, "tools", "'tools' must be an array");
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t) {
        json_t *type = json_object_get(t, "type"), *fn = json_object_get(t, "function");
        if (!json_is_object(t) || !json_is_string(type) || strcmp(json_string_value(type), "function"))
            return api_fail(e, 400, "tools", "tools[%zu] must be an object with type 'function'", i);
        if (!json_is_object(fn) || !json_is_string(json_object_get(fn, "name")))
            return api_fail(e, 400, "tools", "tools[%zu].function must be an object with a string 'name'", i);
        json_t *params = json_object_get(fn, "parameters");
        if (params && !json_is_object(params))
            return api_fail(e, 400, "tools", "tools[%zu].function.parameters must be an object", i);
    }
    json_t *tc = field(root, "tool_choice");
    bool none = false;
    if (tc) {
        if (json_is_string(tc)) {
            const char *v = json_string_value(tc);
            if (strcmp(v, "none") && strcmp(v, "auto") && strcmp(v, "required"))
                return api_fail(e, 400, "tool_choice", "'tool_choice' must be none, auto, required or a function");
            none = !strcmp(v, "none");
            q->tool_required = !strcmp(v, "required");
        } else if (!json_is_object(tc) || !json_is_object(json_object_get(tc, "function")) ||
                   !json_is_string(json_object_get(json_object_get(tc, "function"), "name"))) {
            return api_fail(e, 400, "tool_choice", "'tool_choice' must be none, auto, required or {\"type\":\"function\",\"function\":{\"name\":...}}");
        } else {
            q->tool_required = true;
            q->tool_name = arena_strdup(a, json_string_value(json_object_get(json_object_get(tc, "function"), "name")));
            if (!q->tool_name) return api_fail(e, 500, NULL, "out of memory");
        }
    }
    if (q->tool_required && !json_array_size(tools))
        return api_fail(e, 400, "tool_choice", "tool_choice requires a tool call but 'tools' is empty");
    if (!none && json_array_size(tools)) q->tools = json_deep_copy(tools);
    return BASE_OK;
}

/* llama.cpp's reasoning_format ("none" keeps thinking text in content; "auto", "deepseek" split
 * it out, the default) and chat_template_kwargs (extra template variables such as
 * enable_thinking). */
static int parse_chat_extras(json_t *root, api_gen_req *q, api_err *e) {
    json_t *rf = field(root, "reasoning_format");
    if (rf) {
        const char *v = json_string_value(rf);
        if (!v || (strcmp(v, "none") && strcmp(v, "auto") && strcmp(v, "deepseek")))
            return api_fail(e, 400, "reasoning_format", "'reasoning_format' must be none, auto or deepseek");
        q->reasoning_off = !strcmp(v, "none");
        q->has_reasoning_format = true;
    }
    json_t *kw = field(root, "chat_template_kwargs");
    if (kw) {
        if (!json_is_object(kw))
            return api_fail(e, 400, "chat_template_kwargs", "'chat_template_kwargs' must be an object");
        q->template_kwargs = json_deep_copy(kw);
    }
    return BASE_OK;
}

/* response_format ({"type": "text" | "json_object" | "json_schema", "json_schema": {"schema":
 * {...}}}) and LocalAI's / llama.cpp's "grammar" (GBNF text) become a grammar the output
 * must follow. */
static int parse_format(json_t *root, api_gen_req *q, api_err *e) {
    json_t *rf = field(root, "response_format"), *gbnf = field(root, "grammar");
    err_buf eb = {0};
    if (gbnf) {
        if (!json_is_string(gbnf)) return api_fail(e, 400, "grammar", "'grammar' must be a string");
        if (json_string_length(gbnf) == 0) return BASE_OK;
        if (grammar_parse(json_string_value(gbnf), json_string_length(gbnf), &q->grammar, &eb))
            return api_fail(e, 400, "grammar", "bad grammar: %s", err_msg(&eb));
        if (rf) return api_fail(e, 400, "grammar", "give 'grammar' or 'response_format', not both");
        return BASE_OK;
    }
    if (!rf) return BASE_OK;
    json_t *type = json_object_get(rf, "type");
    if (!json_is_object(rf) || !json_is_string(type))
        return api_fail(e, 400, "response_format", "'response_format' must be an object with a 'type'");
    const char *t = json_string_value(type);
    if (!strcmp(t, "text")) return BASE_OK;
    int rc;
    if (!strcmp(t, "json_object")) {
        rc = grammar_json_object(&q->grammar, &eb);
    } else if (!strcmp(t, "json_schema")) {
        json_t *js = json_object_get(rf, "json_schema");
        json_t *schema = json_is_object(js) ? json_object_get(js, "schema") : NULL;
        if (!json_is_object(schema))
            return api_fail(e, 400, "response_format", "response_format.json_schema.schema must be an object");
        rc = grammar_from_json_schema(schema, &q->grammar, &eb);
    } else {
        return api_fail(e, 400, "response_format", "response_format.type '%s' is not one of text, json_object, json_schema", t);
    }
    if (rc == BASE_ENOMEM) return api_fail(e, 500, NULL, "out of memory");
    if (rc) return api_fail(e, 400, "response_format", "unusable schema: %s", err_msg(&eb));
    return BASE_OK;
}

static int parse_fields(json_t *root, arena *a, api_gen_req *q, api_err *e) {
    json_t *model = json_object_get(root, "model");
    if (!model) return api_fail(e, 400, "model", "'model' is required");
    if (!json_is_string(model) || !json_string_length(model))
        return api_fail(e, 400, "model", "'model' must be a non-empty string");
    q->model = json_string_value(model);
    if (q->kind == API_CHAT ? parse_messages(root, a, q, e) || parse_tools(root, a, q, e) || parse_chat_extras(root, q, e)
                            : parse_prompt(root, a, q, e))
        return BASE_EINVAL;
    long long v = 0;
    bool has = false;
    const char *mt = field(root, "max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
    if (get_int(root, mt, 1, 1 << 30, &v, &has, e)) return BASE_EINVAL;
    q->max_tokens = has ? (int)v : 0;
    v = 1;
    if (get_int(root, "n", 1, API_MAX_N, &v, NULL, e)) return BASE_EINVAL;
    q->n = (int)v;
    if (get_number(root, "temperature", 0, 2, &q->temperature, &q->has_temperature, e) ||
        get_number(root, "top_p", 0, 1, &q->top_p, &q->has_top_p, e) ||
        get_number(root, "min_p", 0, 1, &q->min_p, &q->has_min_p, e) ||
        get_number(root, "presence_penalty", -2, 2, &q->presence_penalty, NULL, e) ||
        get_number(root, "frequency_penalty", -2, 2, &q->frequency_penalty, NULL, e) ||
        get_number(root, "repeat_penalty", 0, 10, &q->repeat_penalty, &q->has_repeat_penalty, e))
        return BASE_EINVAL;
    if (get_int(root, "top_k", 0, 1 << 30, &v, &q->has_top_k, e)) return BASE_EINVAL;
    if (q->has_top_k) q->top_k = (int)v;
    if (get_int(root, "seed", INT64_MIN, INT64_MAX, &v, &q->has_seed, e)) return BASE_EINVAL;
    if (q->has_seed) q->seed = (uint64_t)v;
    if (parse_stop(root, q, e) || parse_logit_bias(root, a, q, e) || parse_logprobs(root, q, e) ||
        get_bool(root, "stream", &q->stream, e) || parse_format(root, q, e))
        return BASE_EINVAL;
    json_t *so = field(root, "stream_options");
    if (so) {
        if (!json_is_object(so))
            return api_fail(e, 400, "stream_options", "'stream_options' must be an object");
        if (get_bool(so, "include_usage", &q->include_usage, e)) {
            e->param = "stream_options.include_usage";
            return BASE_EINVAL;
        }
    }
    json_t *user = field(root, "user");
    if (user && !json_is_string(user)) return api_fail(e, 400, "user", "'user' must be a string");
    if (q->kind == API_COMPLETION && get_bool(root, "echo", &q->echo, e)) return BASE_EINVAL;
    return BASE_OK;
}

int api_parse_gen(api_kind kind, str_slice body, arena *a, api_gen_req *q, api_err *e) {
    memset(q, 0, sizeof *q);
    q->kind = kind;
    q->top_logprobs = -1;
    json_t *root = api_parse_body(body, e);
    if (!root) return BASE_EINVAL;
    int rc = parse_fields(root, a, q, e);
    if (rc) {
        json_decref(q->messages);
        json_decref(q->tools);
        json_decref(q->template_kwargs);
        q->messages = q->tools = q->template_kwargs = NULL;
        grammar_free(q->grammar);
        q->grammar = NULL;
        json_decref(root);
        return rc;
    }
    /* The strings we kept point into root: copy them into the arena before it goes. */
    q->model = arena_strdup(a, q->model);
    for (int i = 0; i < q->n_stops; i++) q->stops[i] = arena_strdup(a, q->stops[i]);
    for (int i = 0; i < q->n_prompts; i++)
        if (q->prompts[i].text) q->prompts[i].text = arena_strdup(a, q->prompts[i].text);
    json_decref(root);
    bool oom = !q->model;
    for (int i = 0; i < q->n_stops; i++) oom |= !q->stops[i];
    for (int i = 0; i < q->n_prompts; i++) oom |= q->prompts[i].tokens == NULL && !q->prompts[i].text;
    if (oom) {
        json_decref(q->messages);
        json_decref(q->tools);
        json_decref(q->template_kwargs);
        q->messages = q->tools = q->template_kwargs = NULL;
        grammar_free(q->grammar);
        q->grammar = NULL;
        return api_fail(e, 500, NULL, "out of memory");
    }
    return BASE_OK;
}
