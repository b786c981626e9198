/*
 * Tool-call bodies that are not one JSON object. XML-style, inside <tool_call>...</tool_call>:
 *   Qwen3-Coder / Qwen3.5 / Step:  <function=NAME> <parameter=KEY>\nVALUE\n</parameter> ...
 * </function> GLM 4.5+:                      NAME <arg_key>KEY</arg_key>
 * <arg_value>VALUE</arg_value> ... Values are raw text: strings as they are, everything else as
 * JSON. Which one a value is comes from the request's tool schema when we have it (a "string"
 * parameter whose value is 123 stays "123"); without a schema, text that parses as JSON is taken as
 * JSON. And DeepSeek's name<｜tool▁sep｜>args bodies.
 */
#include <stdlib.h>
#include <string.h>

#include "chat_int.h"

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* The JSON-schema type of parameter key of function name in an OpenAI tools array, or NULL. */
static const char *param_type(const json_t *tools, const char *name, const char *key,
                              size_t key_len) {
    size_t i;
    json_t *tool;
    json_array_foreach(tools, i, tool) {
        json_t *fn = json_object_get(tool, "function");
        if (!fn) fn = tool;
        const char *fname = json_string_value(json_object_get(fn, "name"));
        if (!fname || strcmp(fname, name)) continue;
        json_t *props = json_object_get(json_object_get(fn, "parameters"), "properties");
        json_t *prop = json_object_getn(props, key, key_len);
        return json_string_value(json_object_get(prop, "type"));
    }
    return NULL;
}

/* Append "key":value to b (the separator first when needed). */
static void append_arg(buf *b, const json_t *tools, const char *name, const char *k, size_t kn,
                       const char *v, size_t vn) {
    if (b->len > 1) buf_append_str(b, ",");
    json_t *ks = json_stringn(k, kn);
    char *kj = ks ? json_dumps(ks, JSON_ENCODE_ANY) : NULL;
    json_decref(ks);
    if (!kj) {
        b->oom = true;
        return;
    }
    buf_append_str(b, kj);
    buf_append_str(b, ":");
    free(kj);
    const char *type = param_type(tools, name, k, kn);
    if (!type || strcmp(type, "string")) {
        json_error_t jerr;
        json_t *j = json_loadb(v, vn, JSON_DECODE_ANY, &jerr);
        if (j) {
            json_decref(j);
            char *c = chat_json_compact(v, vn);
            if (!c) {
                b->oom = true;
                return;
            }
            buf_append_str(b, c);
            mem_free(c);
            return;
        }
    }
    json_t *vs = json_stringn(v, vn);
    char *vj = vs ? json_dumps(vs, JSON_ENCODE_ANY) : NULL;
    json_decref(vs);
    if (!vj) {
        b->oom = true;
        return;
    }
    buf_append_str(b, vj);
    free(vj);
}

static const char *find(const char *s, size_t n, const char *m) {
    return n ? memmem(s, n, m, strlen(m)) : NULL;
}

static bool eat(const char *s, size_t n, size_t *i, const char *m) {
    while (*i < n && is_ws(s[*i])) (*i)++;
    size_t ml = strlen(m);
    if (n - *i < ml || memcmp(s + *i, m, ml)) return false;
    *i += ml;
    return true;
}

int chat_call_from_xml(const char *s, size_t n, const json_t *tools, chat_call *out) {
    memset(out, 0, sizeof *out);
    while (n && is_ws(*s)) s++, n--;
    while (n && is_ws(s[n - 1])) n--;
    bool qwen = n > 10 && !memcmp(s, "<function=", 10);
    size_t i = qwen ? 10 : 0, ns = i;
    while (i < n && s[i] != '>' && s[i] != '<' && s[i] != '\n') i++;
    size_t ne = i;
    while (ne > ns && is_ws(s[ne - 1])) ne--;
    if (ne == ns || (qwen && (i >= n || s[i] != '>'))) return BASE_EFORMAT;
    if (qwen) i++;
    char *name = mem_strndup(s + ns, ne - ns);
    if (!name) return BASE_ENOMEM;
    for (const char *c = name; *c; c++) /* a function name, not prose or JSON */
        if (!(*c == '_' || *c == '-' || *c == '.' || *c == ':' || (*c >= '0' && *c <= '9') ||
              (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (unsigned char)*c >= 0x80))
            goto bad;
    buf b = {0};
    buf_append_str(&b, "{");
    const char *ko = qwen ? "<parameter=" : "<arg_key>", *kc = qwen ? ">" : "</arg_key>";
    const char *vo = qwen ? "" : "<arg_value>", *vc = qwen ? "</parameter>" : "</arg_value>";
    for (;;) {
        size_t save = i;
        if (!eat(s, n, &i, ko)) {
            i = save;
            break;
        }
        const char *ke = find(s + i, n - i, kc);
        if (!ke) goto bad_buf;
        size_t ks = i, kn = (size_t)(ke - (s + i));
        i = (size_t)(ke - s) + strlen(kc);
        if (*vo && !eat(s, n, &i, vo)) goto bad_buf;
        const char *ve = find(s + i, n - i, vc);
        if (!ve) goto bad_buf;
        size_t vs = i, vn = (size_t)(ve - (s + i));
        i = (size_t)(ve - s) + strlen(vc);
        if (qwen) { /* the template writes "\n" after the tag and before the close */
            if (vn && s[vs] == '\n') vs++, vn--;
            if (vn && s[vs + vn - 1] == '\n') vn--;
        }
        append_arg(&b, tools, name, s + ks, kn, s + vs, vn);
    }
    if (qwen && !eat(s, n, &i, "</function>")) goto bad_buf;
    while (i < n && is_ws(s[i])) i++;
    if (i != n) goto bad_buf;
    buf_append_str(&b, "}");
    if (b.oom) {
        buf_free(&b);
        mem_free(name);
        return BASE_ENOMEM;
    }
    out->name = name;
    out->arguments = b.data;
    return BASE_OK;
bad_buf:
    buf_free(&b);
bad:
    mem_free(name);
    return BASE_EFORMAT;
}

/* DeepSeek V3 / R1 call body (between <｜tool▁call▁begin｜> and <｜tool▁call▁end｜>):
 *   R1:    function<｜tool▁sep｜>NAME\n```json\n{..}\n```
 *   V3.1:  NAME<｜tool▁sep｜>{..} */
int chat_call_from_deepseek(const char *s, size_t n, chat_call *out) {
    static const char sep[] = "<｜tool▁sep｜>";
    memset(out, 0, sizeof *out);
    const char *at = find(s, n, sep);
    if (!at) return BASE_EFORMAT;
    const char *l = s, *r = at + sizeof sep - 1, *end = s + n;
    size_t ll = (size_t)(at - s);
    while (ll && is_ws(*l)) l++, ll--;
    while (ll && is_ws(l[ll - 1])) ll--;
    const char *name = l, *args = r;
    size_t nl = ll;
    if (ll == 8 && !memcmp(l, "function", 8)) {
        const char *nlp = memchr(r, '\n', (size_t)(end - r));
        if (!nlp) return BASE_EFORMAT;
        name = r;
        nl = (size_t)(nlp - r);
        args = nlp + 1;
    }
    while (nl && is_ws(*name)) name++, nl--;
    while (nl && is_ws(name[nl - 1])) nl--;
    size_t al = (size_t)(end - args);
    while (al && is_ws(*args)) args++, al--;
    while (al && is_ws(args[al - 1])) al--;
    if (al >= 3 && !memcmp(args, "```", 3)) { /* a fenced block: ```json ... ``` */
        const char *nlp = memchr(args, '\n', al);
        if (!nlp || al < 6 || memcmp(args + al - 3, "```", 3)) return BASE_EFORMAT;
        al -= (size_t)(nlp + 1 - args) + 3;
        args = nlp + 1;
        while (al && is_ws(args[al - 1])) al--;
    }
    if (nl == 0 || memchr(name, '{', nl) || memchr(name, '"', nl)) return BASE_EFORMAT;
    json_error_t jerr;
    json_t *obj = json_loadb(args, al, 0, &jerr);
    bool ok = json_is_object(obj);
    json_decref(obj);
    if (!ok) return BASE_EFORMAT;
    out->name = mem_strndup(name, nl);
    out->arguments = chat_json_compact(args, al);
    if (!out->name || !out->arguments) {
        chat_call_clear(out);
        return BASE_ENOMEM;
    }
    return BASE_OK;
}
