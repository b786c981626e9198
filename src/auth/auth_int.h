/* auth: internals shared by its files: the handle, the schema (store.c), key material and
 * lookup (keys.c), counters and usage (limits.c), administration (admin.c, report.c). */
#ifndef AUTH_INT_H
#define AUTH_INT_H

#include <pthread.h>
#include <stdio.h>

#include "auth.h"
#include "db/db.h"

#define AUTH_BAD_IPS 256 /* slots of the per-IP back-off table */

typedef struct bad_ip {
    char ip[48];
    int64_t window; /* the minute the failures were counted in */
    int failures;
    int64_t blocked_until;
    int strikes; /* back-offs so far: each one doubles the next */
} bad_ip;

struct auth {
    db *d;
    const char *const *shared_keys;
    int n_shared_keys;
    int max_bad_keys;
    pthread_mutex_t mu; /* guards the mode cache and the back-off table */
    auth_mode mode;
    uint64_t mode_checked_ns;
    bad_ip bad[AUTH_BAD_IPS];
};

/* store.c: the schema's migrations. */
int auth_migrate(db *d, err_buf *eb);

/* keys.c */
/* A new secret "sk-" + 64 hex digits into out[68]; its id into id[17] (16 hex digits). */
int auth_key_new(char out[68], err_buf *eb);
void auth_random_id(char id[17]);
/* SHA-256 of the key as 64 hex digits into out[65]. */
void auth_key_hash(const char *key, char out[65]);

/* caps.c: the capabilities of a key that sets none and whose user sets none either: all for
 * an admin user, all but admin otherwise (role NULL: a key without a user). */
unsigned auth_default_caps(const char *role);

/* limits.c: counters. unit 'm' (minute), 'd' (day) or 'M' (month), in UTC. */
int64_t auth_window_start(int64_t now, char unit);
int64_t auth_window_end(int64_t start, char unit);
/* Reserve amount against (subject, kind) in the unit's window holding now, within limit: 0,
 * BASE_EFULL with *retry_after (seconds to the window's end), or a database error. Runs in t. */
int auth_counter_take(db_tx *t, const char *subject, const char *kind, char unit, int64_t now,
                      int64_t amount, int64_t limit, int *retry_after, err_buf *eb);
/* Fill v as a refusal. */
void auth_refuse(auth_verdict *v, int status, const char *type, const char *code, const char *fmt,
                 ...) __attribute__((format(printf, 5, 6)));

/* admin.c: append to the audit log (its failure is logged, not returned). */
void auth_audit(auth *a, const char *actor, const char *action, const char *target,
                const char *detail);

/* Small conversions. */
static inline void auth_i64_str(int64_t v, char out[24]) {
    snprintf(out, 24, "%lld", (long long)v);
}

#endif
