/*
 * Capabilities: which one a path needs (one table, so a new route family is one line), their
 * names, and model allow-lists (comma-separated names or shell globs).
 */
#include <fnmatch.h>
#include <string.h>

#include "auth_int.h"

static const char *const cap_names[] = {"chat",   "completions", "embeddings", "audio",
                                        "images", "rerank",      "models",     "admin"};

/* Path patterns in order; a trailing '*' matches any rest. First match wins. */
static const struct {
    const char *path;
    unsigned cap;
} path_caps[] = {
    {"/v1/chat/*", AUTH_CAP_CHAT},
    {"/chat/*", AUTH_CAP_CHAT},
    {"/api/chat", AUTH_CAP_CHAT},
    {"/v1/messages*", AUTH_CAP_CHAT},
    {"/v1/completions", AUTH_CAP_COMPLETIONS},
    {"/completions", AUTH_CAP_COMPLETIONS},
    {"/api/generate", AUTH_CAP_COMPLETIONS},
    {"/v1/embeddings", AUTH_CAP_EMBEDDINGS},
    {"/embeddings", AUTH_CAP_EMBEDDINGS},
    {"/api/embed*", AUTH_CAP_EMBEDDINGS},
    {"/v1/audio/*", AUTH_CAP_AUDIO},
    {"/audio/*", AUTH_CAP_AUDIO},
    {"/tts", AUTH_CAP_AUDIO},
    {"/v1/text-to-speech/*", AUTH_CAP_AUDIO},
    {"/v1/voices*", AUTH_CAP_AUDIO},
    {"/v1/images/*", AUTH_CAP_IMAGES},
    {"/images/*", AUTH_CAP_IMAGES},
    {"/v1/rerank", AUTH_CAP_RERANK},
    {"/rerank", AUTH_CAP_RERANK},
    /* Installing and deleting models changes the server for everyone. */
    {"/v1/models/apply", AUTH_CAP_ADMIN},
    {"/models/apply", AUTH_CAP_ADMIN},
    {"/v1/models/delete/*", AUTH_CAP_ADMIN},
    {"/models/delete/*", AUTH_CAP_ADMIN},
    /* The UI's model states; loading and unloading also need the admin role (api/). */
    {"/api/models*", AUTH_CAP_MODELS},
    {"/v1/models*", AUTH_CAP_MODELS},
    {"/models*", AUTH_CAP_MODELS},
    {"/v1/tokenize", AUTH_CAP_MODELS},
    {"/tokenize", AUTH_CAP_MODELS},
    {"/v1/detokenize", AUTH_CAP_MODELS},
    {"/detokenize", AUTH_CAP_MODELS},
    {"/metrics", AUTH_CAP_MODELS},
    {"/api/me", AUTH_CAP_ANY},
    {"/api/usage", AUTH_CAP_ANY},
    {"/api/users*", AUTH_CAP_ADMIN},
    {"/api/keys*", AUTH_CAP_ADMIN},
    {"/api/audit*", AUTH_CAP_ADMIN},
};

unsigned auth_cap_for_path(const char *path) {
    for (size_t i = 0; i < sizeof path_caps / sizeof *path_caps; i++) {
        const char *p = path_caps[i].path;
        size_t n = strlen(p);
        bool match = p[n - 1] == '*' ? !strncmp(path, p, n - 1) : !strcmp(path, p);
        if (match) return path_caps[i].cap;
    }
    /* A route nobody classified is the operator's business until someone does. */
    return AUTH_CAP_ADMIN;
}

const char *auth_cap_name(unsigned bit) {
    for (int i = 0; i < 8; i++)
        if (bit == 1u << i) return cap_names[i];
    return NULL;
}

int auth_caps_parse(const char *csv, unsigned *out, err_buf *eb) {
    unsigned caps = 0;
    const char *s = csv ? csv : "";
    while (*s) {
        size_t n = strcspn(s, ",");
        size_t b = 0, e = n;
        while (b < e && s[b] == ' ') b++;
        while (e > b && s[e - 1] == ' ') e--;
        if (e > b) {
            int k = 0;
            while (k < 8 && (strlen(cap_names[k]) != e - b || strncmp(cap_names[k], s + b, e - b)))
                k++;
            if (k == 8 && !(e - b == 3 && !strncmp(s + b, "all", 3)))
                return err_set(eb, BASE_EINVAL,
                               "unknown capability '%.*s' (chat, completions,"
                               " embeddings, audio, images, rerank, models, admin, all)",
                               (int)(e - b), s + b);
            caps |= k == 8 ? AUTH_CAP_ALL : 1u << k;
        }
        s += n;
        if (*s == ',') s++;
    }
    *out = caps;
    return BASE_OK;
}

unsigned auth_default_caps(const char *role) {
    return role && !strcmp(role, "admin") ? AUTH_CAP_ALL : AUTH_CAP_ALL & ~AUTH_CAP_ADMIN;
}

bool auth_model_allowed(const auth_principal *p, const char *model) {
    if (!p || p->unrestricted || !p->models) return true;
    if (!model) return false;
    const char *s = p->models;
    char pat[256];
    while (*s) {
        size_t n = strcspn(s, ",");
        if (n && n < sizeof pat) {
            memcpy(pat, s, n);
            pat[n] = 0;
            if (fnmatch(pat, model, 0) == 0) return true;
        }
        s += n;
        if (*s == ',') s++;
    }
    return false;
}

bool auth_is_admin(const auth_principal *p) {
    if (!p) return false;
    if (p->unrestricted) return true;
    return (p->caps & AUTH_CAP_ADMIN) && (!p->role || !strcmp(p->role, "admin"));
}
