/* A test HTTP server for the gallery tests, on libmicrohttpd in the test process: it serves a
 * gallery index, a model file (stories260K) with Range support, a fake Hugging Face API and
 * resolve URLs, and an Ollama manifest and blob; it can cut a response part-way, throttle, and
 * answer 500s. Counters tell the tests what clients asked for. */
#ifndef GALLERY_SRV_H
#define GALLERY_SRV_H

#include "test.h"

typedef struct gsrv {
    void *daemon;
    unsigned port;
    char base[64];     /* "http://127.0.0.1:PORT" */
    char *data;        /* the model file served */
    size_t len;
    char sha[65];      /* its sha256 */
    char index[8192];  /* GET /index.yaml */
    _Atomic long cut_after;   /* cut the next file response after this many bytes (then 0) */
    _Atomic int throttle_us;  /* sleep per 16 KiB of file data */
    _Atomic int fail_500;     /* answer this many file requests with 500 */
    _Atomic int no_range;     /* ignore Range headers (answer 200 with the whole file) */
    _Atomic int n_file;       /* file requests (any status) */
    _Atomic int n_range;      /* file requests with a Range header */
    _Atomic int n_manifest_accept; /* manifest requests with the docker v2 Accept header */
} gsrv;

/* Start on an ephemeral port serving ../shared's stories260K.gguf (skips without it). The
 * index lists "stories" (good sha256), "badsum" (a wrong sha256), "missing" (a 404 URI),
 * "multi" (two files: multi.gguf, the model, and multi-extra.bin, the same bytes). */
void gsrv_start(gsrv *s);
void gsrv_stop(gsrv *s);

#endif
