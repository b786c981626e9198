/* Helpers for the end-to-end API tests: a `local-ai run` on an ephemeral port over a
 * temporary models directory holding stories260K, and small libcurl wrappers. */
#ifndef API_UTIL_H
#define API_UTIL_H

#include <jansson.h>

#include "test.h"

typedef struct api_server {
    int pid, fd;
    unsigned port;
    char base[64]; /* "http://127.0.0.1:PORT" */
} api_server;

/* The models directory has "stories260K.gguf" (a symlink) and "tiny" (a YAML config naming
 * the same file). extra: more `run` flags, NULL-terminated (may be NULL). */
void api_server_start(api_server *s, const char *const *extra);
void api_server_stop(api_server *s);

typedef struct api_resp {
    long status;
    buf body;
    buf headers;
    json_t *json; /* the body parsed, or NULL */
} api_resp;

/* method "GET"/"POST"/"OPTIONS"; body may be NULL; headers NULL-terminated "Name: value"
 * lines (may be NULL). Fails the test on a transport error. */
void api_http(api_server *s, const char *method, const char *path, const char *body,
              const char *const *headers, api_resp *r);
void api_resp_free(api_resp *r);

/* Split an SSE body into its data payloads; checks the framing ("data: ...\n\n" only) and
 * that the last is [DONE]. Returns the JSON events (without [DONE]) as a new array. */
json_t *api_sse_events(const char *body);

/* A reference text: stories260K's greedy continuation from BOS. */
const char *api_greedy_text(void);

/* Shorthand: dig a string / integer out of JSON by a path like "choices.0.text". */
const char *api_jstr(json_t *v, const char *path);
long long api_jint(json_t *v, const char *path);
json_t *api_jget(json_t *v, const char *path);

#endif
