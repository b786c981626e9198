/*
 * Limits and usage. Every limit is a counter row per key, limit kind and fixed window (minute,
 * UTC day, UTC month). A reservation is a conditional UPDATE ... WHERE used + n <= limit inside
 * one transaction for all of a request's counters, so concurrent requests, on one server or
 * on replicas sharing PostgreSQL, can never take more than the limit together. Token quotas
 * reserve the worst case (prompt + max tokens) and settle to the real count when the request
 * ends, in the same transaction that records its usage.
 */
#include <string.h>
#include <time.h>

#include "auth_int.h"

#define MAX_COUNTERS 3

struct auth_ticket {
    auth *a;
    char key_id[24], user_id[24];
    bool has_key, has_user;
    char *model, *endpoint;
    uint64_t t0_ns;
    int64_t reserved;
    int n_counters;
    struct {
        const char *kind;
        int64_t window;
    } counters[MAX_COUNTERS];
};

int64_t auth_window_start(int64_t now, char unit) {
    if (unit == 'm') return now - now % 60;
    if (unit == 'd') return now - now % 86400;
    time_t t = (time_t)now;
    struct tm tm;
    gmtime_r(&t, &tm);
    tm.tm_mday = 1;
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    return (int64_t)timegm(&tm);
}

int64_t auth_window_end(int64_t start, char unit) {
    if (unit == 'm') return start + 60;
    if (unit == 'd') return start + 86400;
    time_t t = (time_t)start;
    struct tm tm;
    gmtime_r(&t, &tm);
    tm.tm_mon++;
    return (int64_t)timegm(&tm);
}

int auth_counter_take(db_tx *t, const char *subject, const char *kind, char unit, int64_t now,
                      int64_t amount, int64_t limit, int *retry_after, err_buf *eb) {
    int64_t start = auth_window_start(now, unit);
    char ws[24], am[24], lim[24];
    auth_i64_str(start, ws);
    auth_i64_str(amount, am);
    auth_i64_str(limit, lim);
    const char *p[] = {subject, kind, ws, am, lim};
    int rc = db_tx_exec(t,
                        "INSERT INTO counters (subject, kind, window_start, used)"
                        " VALUES ($1, $2, $3, 0) ON CONFLICT DO NOTHING",
                        3, p, NULL, eb);
    int64_t changed = 0;
    /* The casts matter on SQLite: text parameters compare above any number there. */
    if (!rc)
        rc = db_tx_exec(t,
                        "UPDATE counters SET used = used + CAST($4 AS BIGINT) WHERE subject = $1"
                        " AND kind = $2 AND window_start = CAST($3 AS BIGINT)"
                        " AND used + CAST($4 AS BIGINT) <= CAST($5 AS BIGINT)",
                        5, p, &changed, eb);
    if (rc) return rc;
    if (changed == 1) return BASE_OK;
    int64_t left = auth_window_end(start, unit) - now;
    *retry_after = left > 0 ? (int)left : 1;
    return BASE_EFULL;
}

static void ticket_free(auth_ticket *t) {
    if (!t) return;
    mem_free(t->model);
    mem_free(t->endpoint);
    mem_free(t);
}

/* A ticket holding no tokens yet: who, what and when, for the usage record. NULL: no memory. */
static auth_ticket *ticket_new(auth *a, const auth_principal *p, const char *model,
                               const char *endpoint) {
    auth_ticket *t = mem_calloc(1, sizeof *t);
    if (t) {
        t->model = model ? mem_strdup(model) : NULL;
        t->endpoint = mem_strdup(endpoint ? endpoint : "");
    }
    if (!t || (model && !t->model) || !t->endpoint) {
        ticket_free(t);
        return NULL;
    }
    t->t0_ns = time_now_ns();
    t->a = a;
    if (p && p->key_id) {
        t->has_key = true;
        snprintf(t->key_id, sizeof t->key_id, "%s", p->key_id);
    }
    if (p && p->user_id) {
        t->has_user = true;
        snprintf(t->user_id, sizeof t->user_id, "%s", p->user_id);
    }
    return t;
}

void auth_record_refusal(auth *a, const auth_principal *p, const char *model,
                         const char *endpoint, int status) {
    if (!p || !p->key_id) return; /* shared keys and open mode keep no records */
    auth_ticket *t = ticket_new(a, p, model, endpoint);
    if (t) auth_settle(t, 0, 0, status, NULL);
}

int auth_reserve(auth *a, const auth_principal *p, const char *model, const char *endpoint,
                 int64_t tokens, auth_ticket **out, auth_verdict *v) {
    memset(v, 0, sizeof *v);
    *out = NULL;
    if (!auth_model_allowed(p, model)) {
        auth_refuse(v, 403, "permission_error", "model_not_allowed",
                    "This API key may not use the model '%s'", model ? model : "");
        auth_record_refusal(a, p, model, endpoint, 403);
        return BASE_EPERM;
    }
    auth_ticket *t = ticket_new(a, p, model, endpoint);
    if (!t) {
        auth_refuse(v, 500, "server_error", NULL, "out of memory");
        return BASE_ENOMEM;
    }
    if (!t->has_key || tokens <= 0 ||
        (p->lim.tpm < 0 && p->lim.tokens_per_day < 0 && p->lim.tokens_per_month < 0)) {
        *out = t;
        return BASE_OK;
    }
    const struct {
        const char *kind;
        char unit;
        int64_t limit;
        const char *what;
    } lims[MAX_COUNTERS] = {
        {"tpm", 'm', p->lim.tpm, "tokens per minute"},
        {"tpd", 'd', p->lim.tokens_per_day, "tokens per day"},
        {"tpmo", 'M', p->lim.tokens_per_month, "tokens per month"},
    };
    char subject[32];
    snprintf(subject, sizeof subject, "k:%s", p->key_id);
    int64_t now = time_unix();
    err_buf eb = {0};
    db_tx *tx = NULL;
    int rc = db_tx_begin(a->d, &tx, &eb), retry = 0, i = 0;
    for (; !rc && i < MAX_COUNTERS; i++) {
        if (lims[i].limit < 0) continue;
        rc = auth_counter_take(tx, subject, lims[i].kind, lims[i].unit, now, tokens, lims[i].limit,
                               &retry, &eb);
        if (!rc) {
            t->counters[t->n_counters].kind = lims[i].kind;
            t->counters[t->n_counters].window = auth_window_start(now, lims[i].unit);
            t->n_counters++;
        }
    }
    if (!rc)
        rc = db_tx_commit(tx, &eb);
    else
        db_tx_rollback(tx);
    if (rc == BASE_EFULL) {
        t->n_counters = 0; /* rolled back: nothing was taken */
        auth_settle(t, 0, 0, 429, NULL); /* the refusal's usage record; frees t */
        auth_refuse(v, 429, "tokens", i - 1 == 0 ? "rate_limit_exceeded" : "insufficient_quota",
                    "Token limit reached for this API key (%s): this request may need %lld tokens;"
                    " retry in %d s",
                    lims[i - 1].what, (long long)tokens, retry);
        v->retry_after = retry;
        return BASE_EPERM;
    }
    if (rc) {
        ticket_free(t);
        log_error("auth: reservation failed: %s", err_msg(&eb));
        auth_refuse(v, 500, "server_error", NULL, "the quota store failed: %s", err_msg(&eb));
        return BASE_EIO;
    }
    t->reserved = tokens;
    *out = t;
    return BASE_OK;
}

int auth_settle(auth_ticket *t, int64_t prompt_tokens, int64_t completion_tokens, int status,
                err_buf *eb) {
    if (!t) return BASE_OK;
    auth *a = t->a;
    int64_t now = time_unix(), used = prompt_tokens + completion_tokens;
    if (t->n_counters && used > t->reserved) {
        /* The worst case was wrong: a bug, but the quota must still not be overshot. */
        log_error("auth: request used %lld tokens, more than the %lld reserved", (long long)used,
                  (long long)t->reserved);
        used = t->reserved;
    }
    char ts[24], day[16], pt[24], ct[24], ms[24], st[24], delta[24], subject[32];
    auth_i64_str(now, ts);
    time_t tt = (time_t)now;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(day, sizeof day, "%Y-%m-%d", &tm);
    auth_i64_str(prompt_tokens, pt);
    auth_i64_str(completion_tokens, ct);
    auth_i64_str((int64_t)((time_now_ns() - t->t0_ns) / 1000000), ms);
    auth_i64_str(status, st);
    auth_i64_str(used - t->reserved, delta);
    snprintf(subject, sizeof subject, "k:%s", t->key_id);
    db_tx *tx = NULL;
    int rc = db_tx_begin(a->d, &tx, eb);
    for (int i = 0; !rc && i < t->n_counters && used != t->reserved; i++) {
        char ws[24];
        auth_i64_str(t->counters[i].window, ws);
        const char *p[] = {delta, subject, t->counters[i].kind, ws};
        rc = db_tx_exec(tx,
                        "UPDATE counters SET used = used + CAST($1 AS BIGINT) WHERE subject = $2"
                        " AND kind = $3 AND window_start = CAST($4 AS BIGINT)",
                        4, p, NULL, eb);
    }
    const char *u[] = {ts,
                       day,
                       t->has_key ? t->key_id : NULL,
                       t->has_user ? t->user_id : NULL,
                       t->model,
                       t->endpoint,
                       pt,
                       ct,
                       ms,
                       st};
    if (!rc)
        rc = db_tx_exec(tx,
                        "INSERT INTO usage_log (time, day, key_id, user_id, model, endpoint,"
                        " prompt_tokens, completion_tokens, duration_ms, status)"
                        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                        10, u, NULL, eb);
    if (!rc)
        rc = db_tx_commit(tx, eb);
    else
        db_tx_rollback(tx);
    if (rc) log_error("auth: cannot record usage: %s", eb ? err_msg(eb) : "");
    ticket_free(t);
    return rc;
}
