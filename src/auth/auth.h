/*
 * auth: users, API keys, permissions, rate limits, quotas and usage, kept in one database
 * (db/: SQLite by default, PostgreSQL for replicas sharing state). It knows nothing of HTTP:
 * api/access.c feeds it the key and the path of each request and turns verdicts into replies.
 *
 *   auth_params p = auth_default_params();
 *   p.db_url = "data/local-ai.db";            // or "postgres://..."
 *   auth *a;
 *   if (auth_open(&p, &a, &eb)) ...;          // opens the database, applies migrations
 *   auth_principal *who; auth_verdict v;
 *   if (auth_check(a, key, "127.0.0.1", "/v1/chat/completions", arena, &who, &v)) -> v.status
 *   auth_ticket *t;
 *   if (auth_reserve(a, who, "tiny", "/v1/chat/completions", worst_case, &t, &v)) -> v.status
 *   ... generate ...
 *   auth_settle(t, prompt_tokens, completion_tokens, 200);   // records usage, frees t
 *   auth_close(a);
 *
 * Modes: open (no keys anywhere), shared (static keys from LOCALAI_API_KEY: full access, no
 * limits) and managed (the database holds at least one usable key). Limits are counters in
 * the database, reserved with conditional UPDATEs, so replicas sharing PostgreSQL share them;
 * token quotas reserve the worst case first and settle to the real count, so they are never
 * overshot. Key lookups are not cached: a revocation takes effect on the next request.
 */
#ifndef AUTH_H
#define AUTH_H

#include <jansson.h>
#include <stdint.h>

#include "base/base.h"

typedef struct auth auth;
typedef struct auth_ticket auth_ticket;

typedef enum auth_mode { AUTH_MODE_OPEN, AUTH_MODE_SHARED, AUTH_MODE_MANAGED } auth_mode;

/* Capabilities, one bit each. A path that needs only a valid key has AUTH_CAP_ANY. */
enum {
    AUTH_CAP_CHAT = 1u << 0,
    AUTH_CAP_COMPLETIONS = 1u << 1,
    AUTH_CAP_EMBEDDINGS = 1u << 2,
    AUTH_CAP_AUDIO = 1u << 3,
    AUTH_CAP_IMAGES = 1u << 4,
    AUTH_CAP_RERANK = 1u << 5,
    AUTH_CAP_MODELS = 1u << 6,
    AUTH_CAP_ADMIN = 1u << 7,
    AUTH_CAP_ALL = 0xffu,
    AUTH_CAP_ANY = 0,
};

/* Limits; a negative value means unlimited. */
typedef struct auth_limits {
    int64_t rpm, tpm, tokens_per_day, tokens_per_month, requests_per_day;
} auth_limits;

typedef struct auth_params {
    const char *db_url;             /* db_open's URL or file path */
    const char *const *shared_keys; /* borrowed for auth's lifetime */
    int n_shared_keys;
    int max_bad_keys; /* wrong keys per IP per minute before back-off (0: 10) */
} auth_params;

auth_params auth_default_params(void);

int auth_open(const auth_params *p, auth **out, err_buf *eb);
void auth_close(auth *a); /* NULL is fine */

/* The current mode (the database's answer is cached for at most one second). */
auth_mode auth_get_mode(auth *a);
const char *auth_mode_name(auth_mode m);

/* Who is calling. In the request's arena; valid while the request lives. */
typedef struct auth_principal {
    auth_mode mode;
    bool unrestricted;  /* open mode or a shared key: every capability, model, no limits */
    const char *key_id; /* NULL when there is no database key */
    const char *key_prefix, *key_name;
    const char *user_id, *user_name, *role; /* NULL without a user */
    unsigned caps;                          /* effective capabilities */
    const char *models; /* effective comma-separated names or globs; NULL: all */
    auth_limits lim;    /* effective limits */
} auth_principal;

/* Why a request was refused: 401, 403 or 429 (retry_after seconds to the window's reset),
 * with OpenAI's error type and code. 500 when the database failed. */
typedef struct auth_verdict {
    int status;
    int retry_after;
    const char *type, *code;
    char msg[256];
} auth_verdict;

/* Capability a path needs (AUTH_CAP_ANY: any valid key). */
unsigned auth_cap_for_path(const char *path);
/* "chat", "completions", ... for one bit; NULL for none. */
const char *auth_cap_name(unsigned bit);
/* Parse "chat,embeddings" into bits; BASE_EINVAL naming the bad word. */
int auth_caps_parse(const char *csv, unsigned *out, err_buf *eb);

/* Authenticate key (NULL when none was sent) from ip for path: the key must exist, be neither
 * revoked nor expired, its user active, the path's capability allowed, and the request fit
 * in rpm and requests_per_day (counted here). 0 and *out set, or BASE_EPERM with v filled. */
int auth_check(auth *a, const char *key, const char *ip, const char *path, arena *ar,
               auth_principal **out, auth_verdict *v);
/* Record a request of p's key refused with status (403, 429): no tokens, model may be NULL.
 * Nothing for shared keys or open mode; a store failure is only logged. */
void auth_record_refusal(auth *a, const auth_principal *p, const char *model,
                         const char *endpoint, int status);
/* Whether p may use model (its names or globs). */
bool auth_model_allowed(const auth_principal *p, const char *model);
/* Whether p may use the admin API: admin capability, and an admin user or none. */
bool auth_is_admin(const auth_principal *p);

/* Check p may use model (403) and reserve tokens, the request's worst case, against tpm and
 * the daily and monthly quotas (429). On success *out is a heap ticket that auth_settle
 * frees; it must be settled exactly once, also when the request fails. */
int auth_reserve(auth *a, const auth_principal *p, const char *model, const char *endpoint,
                 int64_t tokens, auth_ticket **out, auth_verdict *v);
/* Settle t to the tokens really used and commit the usage record (before the response's last
 * bytes go out). status: the HTTP status, 499 for a client that went away. Frees t. */
int auth_settle(auth_ticket *t, int64_t prompt_tokens, int64_t completion_tokens, int status,
                err_buf *eb);

/* ---- administration (admin API and CLI share these) ----
 * JSON in and out, shaped as the admin API documents. Results are new references. Errors:
 * BASE_EINVAL (400), BASE_ENOTFOUND (404), BASE_EBUSY (409, exists), BASE_EIO (database).
 * actor names who did it, for the audit log. */
int auth_user_create(auth *a, const char *actor, const json_t *spec, json_t **out, err_buf *eb);
int auth_user_list(auth *a, json_t **out, err_buf *eb);
int auth_user_update(auth *a, const char *actor, const char *id, const json_t *patch, json_t **out,
                     err_buf *eb);
int auth_user_delete(auth *a, const char *actor, const char *id, err_buf *eb);

/* The key object plus "key": the secret, shown this once. */
int auth_key_create(auth *a, const char *actor, const json_t *spec, json_t **out, err_buf *eb);
/* user: a user name to filter by, or NULL for all. */
int auth_key_list(auth *a, const char *user, json_t **out, err_buf *eb);
int auth_key_update(auth *a, const char *actor, const char *id, const json_t *patch, json_t **out,
                    err_buf *eb);
/* id: a key id or its displayed prefix. */
int auth_key_revoke(auth *a, const char *actor, const char *id, err_buf *eb);

/* Usage per day, key, user and model, with totals. Filters may be NULL; since/until are
 * YYYY-MM-DD (until inclusive); key: id or prefix; user: name. */
typedef struct auth_usage_filter {
    const char *key, *user, *model, *since, *until;
} auth_usage_filter;
int auth_usage_query(auth *a, const auth_usage_filter *f, json_t **out, err_buf *eb);
/* The newest limit entries of the audit log. */
int auth_audit_list(auth *a, int limit, json_t **out, err_buf *eb);

/* Format unix seconds as "2026-01-02T03:04:05Z" into out[cap] (at least 21 bytes). */
void auth_time_iso(int64_t t, char *out, size_t cap);

#endif
