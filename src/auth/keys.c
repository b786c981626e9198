/*
 * Keys: making them (256 random bits, kept only as a SHA-256 hash), and authenticating a
 * request: back-off for IPs that keep sending wrong keys, shared keys, the database lookup,
 * the capability check and the per-request limits.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <string.h>
#include <sys/random.h>

#include "auth_int.h"

static void hex(const unsigned char *b, size_t n, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = 0;
}

static int random_bytes(unsigned char *b, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t k = getrandom(b + got, n - got, 0);
        if (k <= 0) return BASE_EIO;
        got += (size_t)k;
    }
    return BASE_OK;
}

int auth_key_new(char out[68], err_buf *eb) {
    unsigned char b[32];
    if (random_bytes(b, sizeof b)) return err_set(eb, BASE_EIO, "no random bytes for a key");
    memcpy(out, "sk-", 3);
    hex(b, sizeof b, out + 3);
    return BASE_OK;
}

void auth_random_id(char id[17]) {
    unsigned char b[8] = {0};
    if (random_bytes(b, sizeof b)) {
        uint64_t t = time_now_ns();
        memcpy(b, &t, sizeof b);
    }
    hex(b, sizeof b, id);
}

void auth_key_hash(const char *key, char out[65]) {
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(key, strlen(key), md, &n, EVP_sha256(), NULL);
    hex(md, 32, out);
}

void auth_refuse(auth_verdict *v, int status, const char *type, const char *code, const char *fmt,
                 ...) {
    v->status = status;
    v->type = type;
    v->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->msg, sizeof v->msg, fmt, ap);
    va_end(ap);
}

/* ---- back-off for wrong keys, per IP ---- */

static bad_ip *bad_slot(auth *a, const char *ip) {
    uint32_t h = 2166136261u;
    for (const char *s = ip; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    bad_ip *b = &a->bad[h % AUTH_BAD_IPS];
    if (strcmp(b->ip, ip)) {
        memset(b, 0, sizeof *b);
        snprintf(b->ip, sizeof b->ip, "%s", ip);
    }
    return b;
}

/* Seconds this IP must still wait, or 0. */
static int bad_wait(auth *a, const char *ip) {
    int64_t now = time_unix();
    pthread_mutex_lock(&a->mu);
    bad_ip *b = bad_slot(a, ip);
    int wait = b->blocked_until > now ? (int)(b->blocked_until - now) : 0;
    pthread_mutex_unlock(&a->mu);
    return wait;
}

static void bad_note(auth *a, const char *ip) {
    int64_t now = time_unix();
    pthread_mutex_lock(&a->mu);
    bad_ip *b = bad_slot(a, ip);
    if (b->window != now / 60) {
        b->window = now / 60;
        b->failures = 0;
    }
    if (++b->failures >= a->max_bad_keys) {
        /* Each back-off doubles the last: 8 s, 16 s, ... up to about 4 minutes. */
        int shift = b->strikes < 5 ? b->strikes : 5;
        b->blocked_until = now + (8 << shift);
        b->strikes++;
        b->failures = 0;
        log_warn("auth: %s sent %d wrong keys; refused for %d s", ip, a->max_bad_keys, 8 << shift);
    }
    pthread_mutex_unlock(&a->mu);
}

/* ---- authentication ---- */

static bool shared_match(auth *a, const char *key) {
    /* Compare hashes, so the time taken says nothing about the key's bytes. */
    char h[65], s[65];
    auth_key_hash(key, h);
    bool ok = false;
    for (int i = 0; i < a->n_shared_keys; i++) {
        auth_key_hash(a->shared_keys[i], s);
        ok |= CRYPTO_memcmp(h, s, 64) == 0;
    }
    return ok;
}

static const char *adup(arena *ar, const char *s) { return s ? arena_strdup(ar, s) : NULL; }

/* Columns of the key lookup, in order. */
enum {
    K_ID,
    K_HASH,
    K_PREFIX,
    K_NAME,
    K_USER,
    K_CAPS,
    K_MODELS,
    K_RPM,
    K_TPM,
    K_TPD,
    K_TPMO,
    K_RPD,
    K_EXPIRES,
    K_REVOKED,
    K_LAST_USED,
    U_NAME,
    U_ROLE,
    U_STATE,
    U_CAPS,
    U_MODELS,
    U_RPM,
    U_TPM,
    U_TPD,
    U_TPMO,
    U_RPD
};

static const char lookup_sql[] =
    "SELECT k.id, k.hash, k.prefix, k.name, k.user_id, k.capabilities, k.models, k.rpm, k.tpm,"
    " k.tokens_per_day, k.tokens_per_month, k.requests_per_day, k.expires_at, k.revoked_at,"
    " k.last_used_at,"
    " u.name, u.role, u.state, u.capabilities, u.models, u.rpm, u.tpm, u.tokens_per_day,"
    " u.tokens_per_month, u.requests_per_day"
    " FROM api_keys k LEFT JOIN users u ON u.id = k.user_id WHERE k.hash = $1";

/* The key's own value, else its user's, else unlimited. */
static int64_t limit_of(const db_res *r, int kcol, int ucol) {
    if (db_res_get(r, 0, kcol)) return db_res_i64(r, 0, kcol);
    if (db_res_get(r, 0, ucol)) return db_res_i64(r, 0, ucol);
    return -1;
}

static int principal_of(const db_res *r, arena *ar, auth_principal *p, auth_verdict *v) {
    int64_t now = time_unix();
    if (db_res_get(r, 0, K_REVOKED)) {
        auth_refuse(v, 401, "invalid_request_error", "invalid_api_key",
                    "This API key has been revoked");
        return BASE_EPERM;
    }
    if (db_res_get(r, 0, K_EXPIRES) && db_res_i64(r, 0, K_EXPIRES) <= now) {
        auth_refuse(v, 401, "invalid_request_error", "invalid_api_key", "This API key has expired");
        return BASE_EPERM;
    }
    bool has_user = db_res_get(r, 0, K_USER) != NULL;
    if (has_user && !db_res_get(r, 0, U_NAME)) {
        auth_refuse(v, 401, "invalid_request_error", "invalid_api_key",
                    "The user of this API key no longer exists");
        return BASE_EPERM;
    }
    if (has_user && strcmp(db_res_get(r, 0, U_STATE), "active")) {
        auth_refuse(v, 401, "invalid_request_error", "invalid_api_key",
                    "The user of this API key is disabled");
        return BASE_EPERM;
    }
    p->mode = AUTH_MODE_MANAGED;
    p->key_id = adup(ar, db_res_get(r, 0, K_ID));
    p->key_prefix = adup(ar, db_res_get(r, 0, K_PREFIX));
    p->key_name = adup(ar, db_res_get(r, 0, K_NAME));
    if (has_user) {
        p->user_id = adup(ar, db_res_get(r, 0, K_USER));
        p->user_name = adup(ar, db_res_get(r, 0, U_NAME));
        p->role = adup(ar, db_res_get(r, 0, U_ROLE));
    }
    const char *caps =
        db_res_get(r, 0, K_CAPS) ? db_res_get(r, 0, K_CAPS) : db_res_get(r, 0, U_CAPS);
    p->caps = auth_default_caps(p->role);
    if (caps && auth_caps_parse(caps, &p->caps, NULL)) p->caps = 0;
    const char *models =
        db_res_get(r, 0, K_MODELS) ? db_res_get(r, 0, K_MODELS) : db_res_get(r, 0, U_MODELS);
    p->models = adup(ar, models);
    p->lim = (auth_limits){limit_of(r, K_RPM, U_RPM), limit_of(r, K_TPM, U_TPM),
                           limit_of(r, K_TPD, U_TPD), limit_of(r, K_TPMO, U_TPMO),
                           limit_of(r, K_RPD, U_RPD)};
    if (!p->key_id || !p->key_prefix || !p->key_name ||
        (has_user && (!p->user_id || !p->user_name || !p->role)) || (models && !p->models)) {
        auth_refuse(v, 500, "server_error", NULL, "out of memory");
        return BASE_ENOMEM;
    }
    return BASE_OK;
}

/* Count this request against rpm and requests_per_day, and note the key's last use (a write
 * at most once a second per key: last_used is what the lookup read). */
static int count_request(auth *a, const auth_principal *p, int64_t last_used, auth_verdict *v) {
    int64_t now = time_unix();
    char ts[24], subject[32];
    auth_i64_str(now, ts);
    snprintf(subject, sizeof subject, "k:%s", p->key_id);
    err_buf eb = {0};
    int rc = 0, retry = 0;
    if (p->lim.rpm >= 0 || p->lim.requests_per_day >= 0) {
        db_tx *t = NULL;
        rc = db_tx_begin(a->d, &t, &eb);
        if (!rc && p->lim.rpm >= 0)
            rc = auth_counter_take(t, subject, "rpm", 'm', now, 1, p->lim.rpm, &retry, &eb);
        if (!rc && p->lim.requests_per_day >= 0)
            rc = auth_counter_take(t, subject, "rpd", 'd', now, 1, p->lim.requests_per_day, &retry,
                                   &eb);
        if (rc == BASE_EFULL) {
            db_tx_rollback(t);
            auth_refuse(
                v, 429, "requests",
                p->lim.rpm >= 0 && retry <= 60 ? "rate_limit_exceeded" : "insufficient_quota",
                "Rate limit reached for this API key: too many requests; retry in %d s", retry);
            v->retry_after = retry;
            return BASE_EPERM;
        }
        if (!rc)
            rc = db_tx_commit(t, &eb);
        else if (t)
            db_tx_rollback(t);
    }
    const char *q[] = {ts, p->key_id};
    if (!rc && last_used < now)
        rc = db_exec(a->d,
                     "UPDATE api_keys SET last_used_at = $1 WHERE id = $2 AND"
                     " (last_used_at IS NULL OR last_used_at < $1)",
                     2, q, NULL, &eb);
    if (rc) {
        log_error("auth: %s", err_msg(&eb));
        auth_refuse(v, 500, "server_error", NULL, "the key store failed: %s", err_msg(&eb));
        return BASE_EIO;
    }
    return BASE_OK;
}

int auth_check(auth *a, const char *key, const char *ip, const char *path, arena *ar,
               auth_principal **out, auth_verdict *v) {
    memset(v, 0, sizeof *v);
    auth_principal *p = arena_calloc(ar, 1, sizeof *p);
    if (!p) {
        auth_refuse(v, 500, "server_error", NULL, "out of memory");
        return BASE_ENOMEM;
    }
    p->mode = auth_get_mode(a);
    if (p->mode == AUTH_MODE_OPEN) {
        p->unrestricted = true;
        p->caps = AUTH_CAP_ALL;
        p->lim = (auth_limits){-1, -1, -1, -1, -1};
        *out = p;
        return BASE_OK;
    }
    int wait = bad_wait(a, ip ? ip : "");
    if (wait) {
        auth_refuse(v, 429, "requests", "rate_limit_exceeded",
                    "Too many wrong API keys from this address; retry in %d s", wait);
        v->retry_after = wait;
        return BASE_EPERM;
    }
    if (!key || !*key) {
        auth_refuse(v, 401, "invalid_request_error", "invalid_api_key",
                    "You didn't provide an API key: send it as 'Authorization: Bearer KEY' or"
                    " 'x-api-key: KEY'");
        return BASE_EPERM;
    }
    if (shared_match(a, key)) {
        p->unrestricted = true;
        p->caps = AUTH_CAP_ALL;
        p->lim = (auth_limits){-1, -1, -1, -1, -1};
        *out = p;
        return BASE_OK;
    }
    char h[65];
    auth_key_hash(key, h);
    const char *params[] = {h};
    db_res *r = NULL;
    err_buf eb = {0};
    if (db_query(a->d, lookup_sql, 1, params, &r, &eb)) {
        log_error("auth: key lookup failed: %s", err_msg(&eb));
        auth_refuse(v, 500, "server_error", NULL, "the key store failed: %s", err_msg(&eb));
        return BASE_EIO;
    }
    /* The index found the row; the comparison that decides takes constant time. */
    if (db_res_rows(r) != 1 || CRYPTO_memcmp(db_res_get(r, 0, K_HASH), h, 64) != 0) {
        db_res_free(r);
        bad_note(a, ip ? ip : "");
        auth_refuse(v, 401, "invalid_request_error", "invalid_api_key",
                    "Incorrect API key provided");
        return BASE_EPERM;
    }
    int rc = principal_of(r, ar, p, v);
    int64_t last_used = db_res_get(r, 0, K_LAST_USED) ? db_res_i64(r, 0, K_LAST_USED) : 0;
    db_res_free(r);
    if (rc) return rc;
    unsigned cap = auth_cap_for_path(path);
    if ((cap && !(p->caps & cap)) || (cap == AUTH_CAP_ADMIN && !auth_is_admin(p))) {
        auth_refuse(v, 403, "permission_error", "insufficient_permissions",
                    "This API key may not use the '%s' capability (%s)", auth_cap_name(cap), path);
        auth_record_refusal(a, p, NULL, path, 403);
        return BASE_EPERM;
    }
    if ((rc = count_request(a, p, last_used, v))) {
        if (v->status == 429) auth_record_refusal(a, p, NULL, path, 429);
        return rc;
    }
    *out = p;
    return BASE_OK;
}
