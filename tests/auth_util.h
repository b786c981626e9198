/* Helpers for the end-to-end auth tests: keys and users made straight in the database a
 * server uses, requests with a key, and a look at the usage the server recorded. */
#ifndef AUTH_UTIL_H
#define AUTH_UTIL_H

#include "api_util.h"
#include "auth/auth.h"
#include "db_util.h"

/* Create a key from a JSON spec in the database at url; returns the secret (heap, free()).
 * id (may be NULL) receives its id (32 bytes). */
char *auth_test_key(const char *url, const char *spec_json, char *id);
void auth_test_user(const char *url, const char *spec_json);
/* Start a server on the database at url (bad-key back-off effectively off), with the models
 * "tiny" (stories260K) and "bert" (an encoder). extra: more flags, NULL-terminated. */
void auth_test_server(api_server *s, const char *url, const char *const *extra);
/* One request with key (NULL: none) sent as "Authorization: Bearer". */
void auth_http(api_server *s, const char *method, const char *path, const char *body,
               const char *key, api_resp *r);
/* A number from one SQL query on the database at url (first row, first column). */
long long auth_test_sql(const char *url, const char *sql);

#endif
