/* The gallery tests' HTTP server (see gallery_srv.h). */
#include "gallery_srv.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct part {
    gsrv *s;
    uint64_t start, cut; /* cut: bytes of this response to send before failing; 0: all */
} part;

static ssize_t read_part(void *cls, uint64_t pos, char *out, size_t max) {
    part *p = cls;
    if (p->cut && pos >= p->cut) return MHD_CONTENT_READER_END_WITH_ERROR;
    uint64_t left = p->s->len - (p->start + pos);
    size_t n = max < 16384 ? max : 16384;
    if (n > left) n = (size_t)left;
    if (p->cut && n > p->cut - pos) n = (size_t)(p->cut - pos);
    if (n == 0) return MHD_CONTENT_READER_END_OF_STREAM;
    if (p->s->throttle_us) usleep((useconds_t)p->s->throttle_us);
    memcpy(out, p->s->data + p->start + pos, n);
    return (ssize_t)n;
}

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, const char *ct,
                                 const char *text) {
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text,
                                                             MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", ct);
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result send_file(gsrv *s, struct MHD_Connection *c, const char *etag) {
    s->n_file++;
    if (s->fail_500 > 0) {
        s->fail_500--;
        return send_text(c, 500, "text/plain", "boom");
    }
    const char *range = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Range");
    uint64_t start = 0;
    if (range) s->n_range++;
    if (range && s->no_range) range = NULL;
    if (range) {
        if (sscanf(range, "bytes=%lu-", &start) != 1) start = 0;
        if (start >= s->len) return send_text(c, 416, "text/plain", "range");
    }
    part *p = calloc(1, sizeof *p);
    p->s = s;
    p->start = start;
    p->cut = (uint64_t)s->cut_after;
    s->cut_after = 0;
    struct MHD_Response *r = MHD_create_response_from_callback(s->len - start, 16384, read_part,
                                                               p, free);
    MHD_add_response_header(r, "Content-Type", "application/octet-stream");
    if (etag) {
        char v[80];
        snprintf(v, sizeof v, "\"%s\"", etag);
        MHD_add_response_header(r, "X-Linked-Etag", v);
    }
    char cr[128];
    if (range) {
        snprintf(cr, sizeof cr, "bytes %lu-%zu/%zu", start, s->len - 1, s->len);
        MHD_add_response_header(r, "Content-Range", cr);
    }
    enum MHD_Result ok = MHD_queue_response(c, range ? 206 : 200, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result on_req(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_len, void **state) {
    gsrv *s = cls;
    if (!*state) { /* the headers: answer on the second call */
        *state = s;
        return MHD_YES;
    }
    char tmp[512];
    if (!strcmp(url, "/index.yaml")) return send_text(c, 200, "text/yaml", s->index);
    /* Like the Hub: resolve URLs carry the file's sha256 as X-Linked-Etag (a wrong one for
     * files named bad-*). */
    if (!strncmp(url, "/test/tiny-GGUF/resolve/main/bad-", 33))
        return send_file(s, c, "00000000000000000000000000000000000000000000000000000000000000aa");
    if (!strncmp(url, "/test/tiny-GGUF/resolve/main/", 29)) return send_file(s, c, s->sha);
    if (!strncmp(url, "/files/", 7)) return send_file(s, c, NULL);
    if (!strncmp(url, "/always500/", 11)) return send_text(c, 500, "text/plain", "boom");
    if (!strcmp(url, "/api/models/test/tiny-GGUF"))
        return send_text(c, 200, "application/json",
                         "{\"id\":\"test/tiny-GGUF\",\"siblings\":[{\"rfilename\":\"README.md\"},"
                         "{\"rfilename\":\"tiny-Q8_0.gguf\"},{\"rfilename\":\"mmproj-Q4_0.gguf\"},"
                         "{\"rfilename\":\"tiny-Q4_0.gguf\"}]}");
    if (!strcmp(url, "/v2/library/tiny/manifests/latest")) {
        const char *acc = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
        if (acc && strstr(acc, "application/vnd.docker.distribution.manifest.v2+json"))
            s->n_manifest_accept++;
        snprintf(tmp, sizeof tmp,
                 "{\"schemaVersion\":2,\"layers\":[{\"mediaType\":\"application/vnd.ollama.image.license\","
                 "\"digest\":\"sha256:%064d\",\"size\":10},{\"mediaType\":\"application/vnd.ollama.image.model\","
                 "\"digest\":\"sha256:%s\",\"size\":%zu}]}", 0, s->sha, s->len);
        return send_text(c, 200, "application/vnd.docker.distribution.manifest.v2+json", tmp);
    }
    snprintf(tmp, sizeof tmp, "/v2/library/tiny/blobs/sha256:%s", s->sha);
    if (!strcmp(url, tmp)) return send_file(s, c, NULL);
    return send_text(c, 404, "text/plain", "not found");
}

void gsrv_start(gsrv *s) {
    memset(s, 0, sizeof *s);
    char *data;
    size_t len;
    err_buf eb = {0};
    ASSERT_OK(file_read_all(test_shared_file("testdata/llm/stories260K.gguf"), &data, &len, &eb), &eb);
    s->data = data;
    s->len = len;
    unsigned char d[32];
    unsigned dn;
    EVP_Digest(data, len, d, &dn, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++) sprintf(s->sha + 2 * i, "%02x", d[i]);
    /* Bind 127.0.0.1 only, port 0. */
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *dm = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
                          NULL, NULL, on_req, s, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_END);
    ASSERT_NOT_NULL(dm);
    s->daemon = dm;
    s->port = MHD_get_daemon_info(dm, MHD_DAEMON_INFO_BIND_PORT)->port;
    snprintf(s->base, sizeof s->base, "http://127.0.0.1:%u", s->port);
    snprintf(s->index, sizeof s->index,
             "- name: stories\n"
             "  description: \"A tiny story model\"\n"
             "  license: mit\n"
             "  urls: [%s/files/stories260K.gguf]\n"
             "  tags: [llm, tiny]\n"
             "  overrides:\n"
             "    context_size: 256\n"
             "    parameters:\n"
             "      temperature: 0\n"
             "  files:\n"
             "    - filename: stories260K.gguf\n"
             "      sha256: %s\n"
             "      uri: %s/files/stories260K.gguf\n"
             "- name: badsum\n"
             "  files:\n"
             "    - filename: badsum.gguf\n"
             "      sha256: \"%064d\"\n"
             "      uri: %s/files/badsum.gguf\n"
             "- name: missing\n"
             "  files:\n"
             "    - filename: missing.gguf\n"
             "      uri: %s/nope/missing.gguf\n"
             "- name: multi\n"
             "  description: \"Two files in one install\"\n"
             "  tags: [llm, tiny, test]\n"
             "  files:\n"
             "    - filename: multi.gguf\n"
             "      sha256: %s\n"
             "      uri: %s/files/multi.gguf\n"
             "    - filename: multi-extra.bin\n"
             "      uri: %s/files/multi-extra.bin\n",
             s->base, s->sha, s->base, 0, s->base, s->base, s->sha, s->base, s->base);
}

void gsrv_stop(gsrv *s) {
    MHD_stop_daemon(s->daemon);
    mem_free(s->data);
}
