/*
 * Tool calls out of model text: finding where a JSON value ends while it is still streaming,
 * and turning a finished call object (or a Llama 3.1 python-style builtin call) into
 * name + arguments. Arguments keep the model's exact numbers: we compact the raw text
 * instead of re-serialising through jansson (which would print 0.1 as 0.10000000000000001).
 */
#include <string.h>

#include "chat_int.h"

const chat_marker_pair chat_reasoning_markers[] = {
    {"<think>", "</think>"},
    {"<|START_THINKING|>", "<|END_THINKING|>"},
    {"[THINK]", "[/THINK]"},
    {"<seed:think>", "</seed:think>"},
    {NULL, NULL},
};

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

long chat_json_scan(const char *s, size_t n) {
    if (n == 0) return 0;
    if (s[0] != '{' && s[0] != '[' && s[0] != '"') return -1;
    /* A fixed stack: tool-call JSON nests a handful of levels; deeper is treated as hostile. */
    char stack[128];
    int depth = 0;
    bool in_str = false, esc = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_str) {
            if (esc)
                esc = false;
            else if (c == '\\')
                esc = true;
            else if (c == '"') {
                in_str = false;
                if (depth == 0) return (long)(i + 1);
            }
            continue;
        }
        switch (c) {
        case '"': in_str = true; break;
        case '{':
        case '[':
            if (depth == (int)sizeof stack) return -1;
            stack[depth++] = c == '{' ? '}' : ']';
            break;
        case '}':
        case ']':
            if (depth == 0 || stack[depth - 1] != c) return -1;
            if (--depth == 0) return (long)(i + 1);
            break;
        default: break;
        }
    }
    return 0;
}

char *chat_json_compact(const char *s, size_t n) {
    char *out = mem_alloc(n + 1);
    if (!out) return NULL;
    size_t k = 0;
    bool in_str = false, esc = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_str) {
            if (esc)
                esc = false;
            else if (c == '\\')
                esc = true;
            else if (c == '"')
                in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (is_ws(c)) {
            continue;
        }
        out[k++] = c;
    }
    out[k] = 0;
    return out;
}

void chat_call_clear(chat_call *c) {
    mem_free(c->id);
    mem_free(c->name);
    mem_free(c->arguments);
    memset(c, 0, sizeof *c);
}

/* The raw text span of member `key` of the object text s (which jansson already accepted).
 * Walks the top-level members with chat_json_scan; scalars end at ',' or '}'. */
static bool member_span(const char *s, size_t n, const char *key, const char **vs, size_t *vn) {
    size_t i = 1, klen = strlen(key);
    while (i < n) {
        while (i < n && (is_ws(s[i]) || s[i] == ',')) i++;
        if (i >= n || s[i] != '"') return false;
        long kl = chat_json_scan(s + i, n - i);
        if (kl <= 0) return false;
        bool match = (size_t)kl == klen + 2 && !memcmp(s + i + 1, key, klen);
        i += (size_t)kl;
        while (i < n && (is_ws(s[i]) || s[i] == ':')) i++;
        size_t start = i;
        if (i < n && (s[i] == '{' || s[i] == '[' || s[i] == '"')) {
            long vl = chat_json_scan(s + i, n - i);
            if (vl <= 0) return false;
            i += (size_t)vl;
        } else {
            while (i < n && s[i] != ',' && s[i] != '}') i++;
        }
        if (match) {
            size_t end = i;
            while (end > start && is_ws(s[end - 1])) end--;
            *vs = s + start;
            *vn = end - start;
            return true;
        }
    }
    return false;
}

int chat_call_from_json(const char *s, size_t n, chat_call *out) {
    memset(out, 0, sizeof *out);
    while (n && is_ws(*s)) s++, n--;
    while (n && is_ws(s[n - 1])) n--;
    json_error_t jerr;
    json_t *root = json_loadb(s, n, JSON_DECODE_ANY, &jerr);
    if (!root) return BASE_EFORMAT;
    int rc = BASE_EFORMAT;
    json_t *name = json_object_get(root, "name");
    if (!name) name = json_object_get(root, "tool_name"); /* Command R7B / A */
    const char *akey = "arguments";
    json_t *args = json_object_get(root, akey);
    if (!args) args = json_object_get(root, akey = "parameters");
    json_t *id = json_object_get(root, "id");
    if (!json_is_object(root) || !json_is_string(name) || !json_string_length(name)) goto done;
    if (args && !json_is_object(args) && !json_is_string(args) && !json_is_null(args)) goto done;

    rc = BASE_ENOMEM;
    out->name = mem_strdup(json_string_value(name));
    if (!out->name) goto done;
    if (json_is_string(id) && json_string_length(id)) {
        out->id = mem_strdup(json_string_value(id));
        if (!out->id) goto done;
    }
    if (!args || json_is_null(args)) {
        out->arguments = mem_strdup("{}");
    } else if (json_is_string(args)) {
        /* Some models write the arguments as a string of JSON: pass that text on. */
        const char *as = json_string_value(args);
        size_t al = json_string_length(args);
        json_t *inner = json_loadb(as, al, 0, &jerr);
        if (!json_is_object(inner)) {
            json_decref(inner);
            rc = BASE_EFORMAT;
            goto done;
        }
        json_decref(inner);
        out->arguments = chat_json_compact(as, al);
    } else {
        const char *vs;
        size_t vn;
        if (!member_span(s, n, akey, &vs, &vn)) {
            rc = BASE_EFORMAT;
            goto done;
        }
        out->arguments = chat_json_compact(vs, vn);
    }
    if (!out->arguments) goto done;
    rc = BASE_OK;
done:
    json_decref(root);
    if (rc) chat_call_clear(out);
    return rc;
}

/* ---- python-style calls ----------------------------------------------------------------- */

static bool is_ident(char c, bool first) {
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (!first && c >= '0' && c <= '9');
}

/* Append one python literal at s[*i] to b as JSON. */
static bool py_value(const char *s, size_t n, size_t *i, buf *b) {
    size_t k = *i;
    if (k >= n) return false;
    if (s[k] == '"' || s[k] == '\'') {
        char q = s[k++];
        buf_append_str(b, "\"");
        for (; k < n && s[k] != q; k++) {
            char c = s[k];
            if (c == '\\' && k + 1 < n) {
                c = s[++k];
                if (c == 'n')
                    buf_append_str(b, "\\n");
                else if (c == 't')
                    buf_append_str(b, "\\t");
                else if (c == '"' || c == '\\')
                    buf_printf(b, "\\%c", c);
                else
                    buf_append(b, &c, 1);
            } else if (c == '"') {
                buf_append_str(b, "\\\"");
            } else if ((unsigned char)c < 0x20) {
                buf_printf(b, "\\u%04x", (unsigned)c);
            } else {
                buf_append(b, &c, 1);
            }
        }
        if (k >= n) return false;
        buf_append_str(b, "\"");
        *i = k + 1;
        return true;
    }
    size_t start = k;
    while (k < n && s[k] != ',' && s[k] != ')' && !is_ws(s[k])) k++;
    if (k == start) return false;
    size_t len = k - start;
    const char *v = s + start;
    if (len == 4 && !memcmp(v, "True", 4))
        buf_append_str(b, "true");
    else if (len == 5 && !memcmp(v, "False", 5))
        buf_append_str(b, "false");
    else if (len == 4 && !memcmp(v, "None", 4))
        buf_append_str(b, "null");
    else {
        json_error_t jerr;
        json_t *num = json_loadb(v, len, JSON_DECODE_ANY, &jerr);
        bool ok = json_is_number(num) || json_is_boolean(num) || json_is_null(num);
        json_decref(num);
        if (!ok) return false;
        buf_append(b, v, len);
    }
    *i = k;
    return true;
}

int chat_call_from_python(const char *s, size_t n, chat_call *out) {
    memset(out, 0, sizeof *out);
    while (n && is_ws(s[n - 1])) n--;
    size_t i = 0;
    while (i < n && is_ws(s[i])) i++;
    size_t ns = i;
    if (i >= n || !is_ident(s[i], true)) return BASE_EFORMAT;
    while (i < n && is_ident(s[i], false)) i++;
    size_t ne = i;
    if (i + 5 < n && !memcmp(s + i, ".call", 5)) i += 5;
    if (i >= n || s[i] != '(' || s[n - 1] != ')') return BASE_EFORMAT;
    i++;
    buf b = {0};
    buf_append_str(&b, "{");
    bool first = true;
    for (;;) {
        while (i < n && (is_ws(s[i]) || s[i] == ',')) i++;
        if (i >= n) goto bad;
        if (s[i] == ')') {
            if (i != n - 1) goto bad;
            break;
        }
        size_t ks = i;
        if (!is_ident(s[i], true)) goto bad;
        while (i < n && is_ident(s[i], false)) i++;
        size_t ke = i;
        while (i < n && is_ws(s[i])) i++;
        if (i >= n || s[i] != '=') goto bad;
        i++;
        while (i < n && is_ws(s[i])) i++;
        buf_printf(&b, "%s\"%.*s\":", first ? "" : ",", (int)(ke - ks), s + ks);
        if (!py_value(s, n, &i, &b)) goto bad;
        first = false;
    }
    buf_append_str(&b, "}");
    if (b.oom) {
        buf_free(&b);
        return BASE_ENOMEM;
    }
    out->name = mem_strndup(s + ns, ne - ns);
    out->arguments = b.data;
    if (!out->name) {
        chat_call_clear(out);
        return BASE_ENOMEM;
    }
    return BASE_OK;
bad:
    buf_free(&b);
    return BASE_EFORMAT;
}

int chat_calls_from_json_array(const char *s, size_t n, chat_call **out, size_t *count) {
    *out = NULL;
    *count = 0;
    if (n < 2 || s[0] != '[') return BASE_EFORMAT;
    chat_call *calls = NULL;
    size_t nc = 0, cap = 0, i = 1;
    int rc = BASE_EFORMAT;
    for (;;) {
        while (i < n && (is_ws(s[i]) || (nc && s[i] == ','))) i++;
        if (i >= n) goto fail;
        if (s[i] == ']') break;
        if (s[i] != '{') goto fail;
        long el = chat_json_scan(s + i, n - i);
        if (el <= 0) goto fail;
        if (nc == cap) {
            size_t ncap = cap ? cap * 2 : 4;
            chat_call *nw = mem_realloc(calls, ncap * sizeof *calls);
            if (!nw) {
                rc = BASE_ENOMEM;
                goto fail;
            }
            calls = nw;
            cap = ncap;
        }
        rc = chat_call_from_json(s + i, (size_t)el, &calls[nc]);
        if (rc) goto fail;
        nc++;
        i += (size_t)el;
    }
    if (nc == 0) goto fail;
    *out = calls;
    *count = nc;
    return BASE_OK;
fail:
    for (size_t k = 0; k < nc; k++) chat_call_clear(&calls[k]);
    mem_free(calls);
    return rc ? rc : BASE_EFORMAT;
}
