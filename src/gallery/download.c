/*
 * The downloader: one file over libcurl into NAME.partial, resumed with a Range request after
 * an interruption, retried with doubling back-off, hashed while it streams (resumed bytes are
 * hashed from disk first), renamed into place only once complete and verified.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "gallery_int.h"

gal_opts gal_default_opts(void) {
    const char *hf = getenv("LOCALAI_HF_ENDPOINT");
    const char *ol = getenv("LOCALAI_OLLAMA_REGISTRY");
    const char *tok = getenv("HF_TOKEN");
    gal_opts o = {
        .models_path = "./models",
        .hf_endpoint = hf && *hf ? hf : "https://huggingface.co",
        .ollama_registry = ol && *ol ? ol : "https://registry.ollama.ai",
        .hf_token = tok && *tok ? tok : NULL,
        .max_retries = 5,
        .backoff_ms = 500,
        .low_speed_s = 60,
    };
    return o;
}

void gal_hex(const unsigned char *d, unsigned n, char *hex) {
    static const char x[] = "0123456789abcdef";
    for (unsigned i = 0; i < n; i++) {
        hex[2 * i] = x[d[i] >> 4];
        hex[2 * i + 1] = x[d[i] & 15];
    }
    hex[2 * n] = 0;
}

/* Hash the first n bytes of fd (from offset 0) into md. */
static int hash_fd(EVP_MD_CTX *md, int fd, uint64_t n) {
    static __thread char chunk[1 << 16];
    uint64_t off = 0;
    while (off < n) {
        size_t want = n - off < sizeof chunk ? (size_t)(n - off) : sizeof chunk;
        ssize_t got = pread(fd, chunk, want, (off_t)off);
        if (got <= 0) return BASE_EIO;
        EVP_DigestUpdate(md, chunk, (size_t)got);
        off += (uint64_t)got;
    }
    return BASE_OK;
}

int gal_sha256_file(const char *path, char *hex, err_buf *eb) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return err_set(eb, BASE_EIO, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int rc = md && fstat(fd, &st) == 0 && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1
                 ? hash_fd(md, fd, (uint64_t)st.st_size) : BASE_EIO;
    unsigned char d[32];
    unsigned dn = 0;
    if (!rc && EVP_DigestFinal_ex(md, d, &dn) == 1) gal_hex(d, 32, hex);
    else if (!rc) rc = BASE_EIO;
    EVP_MD_CTX_free(md);
    close(fd);
    return rc ? err_set(eb, rc, "cannot read %s", path) : BASE_OK;
}

/* One transfer's state, shared by the curl callbacks. */
typedef struct xfer {
    const gal_opts *o;
    const char *dir, *file;
    int fd;
    EVP_MD_CTX *md;
    uint64_t offset;  /* bytes on disk when this attempt started */
    uint64_t written; /* bytes written in this attempt */
    bool checked;     /* status and free space checked */
    long status;
    int fail;        /* a non-retryable error found in a callback */
    err_buf *eb;
    uint64_t t0;
    CURL *c;
    char etag[65]; /* the Hugging Face Hub's X-Linked-Etag: the file's sha256, when LFS */
} xfer;

static int check_response(xfer *x) {
    x->checked = true;
    curl_easy_getinfo(x->c, CURLINFO_RESPONSE_CODE, &x->status);
    if (x->status >= 400) return 0; /* the body is an error page: not written */
    if (x->offset > 0 && x->status != 206) {
        /* The server ignored the Range: start over. */
        if (ftruncate(x->fd, 0) || EVP_DigestInit_ex(x->md, EVP_sha256(), NULL) != 1) {
            x->fail = err_set(x->eb, BASE_EIO, "cannot restart %s", x->file);
            return -1;
        }
        log_info("gallery: %s: the server ignored the range, starting over", x->file);
        x->offset = 0;
    }
    curl_off_t len = -1;
    curl_easy_getinfo(x->c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len);
    struct statvfs vfs;
    if (len > 0 && statvfs(x->dir, &vfs) == 0) {
        uint64_t avail = (uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize;
        uint64_t need = (uint64_t)len + x->o->reserve_bytes;
        if (need < (uint64_t)len || need > avail) {
            x->fail = err_set(x->eb, BASE_EFULL,
                              "not enough disk space for %s: %llu bytes needed, %llu free",
                              x->file, (unsigned long long)len, (unsigned long long)avail);
            return -1;
        }
    }
    return 0;
}

/* The Hub answers a resolve URL of an LFS file with X-Linked-Etag: "<sha256>" (on the redirect),
 * so files without a listed sha256 are still verified. */
static size_t on_header(char *p, size_t sz, size_t n, void *ud) {
    xfer *x = ud;
    size_t len = sz * n;
    const char *k = "x-linked-etag:";
    size_t kl = strlen(k);
    if (len > kl && !strncasecmp(p, k, kl)) {
        size_t i = kl;
        while (i < len && (p[i] == ' ' || p[i] == '"')) i++;
        size_t j = i;
        while (j < len && strchr("0123456789abcdefABCDEF", p[j]) && p[j]) j++;
        if (j - i == 64) {
            memcpy(x->etag, p + i, 64);
            x->etag[64] = 0;
        }
    }
    return len;
}

static size_t on_write(char *p, size_t sz, size_t n, void *ud) {
    xfer *x = ud;
    size_t len = sz * n;
    if (!x->checked && check_response(x)) return 0;
    if (x->status >= 400) return len;
    for (size_t off = 0; off < len;) {
        ssize_t w = pwrite(x->fd, p + off, len - off, (off_t)(x->offset + x->written + off));
        if (w <= 0) {
            x->fail = err_set(x->eb, errno == ENOSPC ? BASE_EFULL : BASE_EIO,
                              "cannot write %s: %s", x->file, strerror(errno));
            return 0;
        }
        off += (size_t)w;
    }
    EVP_DigestUpdate(x->md, p, len);
    x->written += len;
    return len;
}

static int on_xfer(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ut, curl_off_t un) {
    xfer *x = ud;
    if (x->o->cancel && *x->o->cancel) return 1;
    if (x->o->on_progress && x->checked && x->status < 400) {
        double secs = (double)(time_now_ns() - x->t0) / 1e9;
        gal_progress pr = {.done = x->offset + x->written,
                           .total = dltotal > 0 ? x->offset + (uint64_t)dltotal : 0,
                           .rate = secs > 0 ? (double)x->written / secs : 0,
                           .eta_s = -1,
                           .file = x->file};
        if (pr.total && pr.rate > 0) pr.eta_s = (double)(pr.total - pr.done) / pr.rate;
        x->o->on_progress(x->o->ud, &pr);
    }
    return 0;
}

/* Sleep ms, waking early when cancelled. */
static bool nap(const gal_opts *o, int ms) {
    for (int t = 0; t < ms; t += 20) {
        if (o->cancel && *o->cancel) return false;
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return !(o->cancel && *o->cancel);
}

static void setup(CURL *c, const gal_opts *o, const char *url, struct curl_slist *hl) {
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, o->low_speed_s > 0 ? o->low_speed_s : 60L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "local-ai/0.1");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,file");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#endif
}

static struct curl_slist *header_list(const char *const *headers) {
    struct curl_slist *hl = NULL;
    for (int i = 0; headers && headers[i]; i++) {
        struct curl_slist *t = curl_slist_append(hl, headers[i]);
        if (!t) {
            curl_slist_free_all(hl);
            return NULL;
        }
        hl = t;
    }
    return hl;
}

static int status_error(err_buf *eb, long status, const char *url) {
    int code = status == 404 || status == 410 ? BASE_ENOTFOUND : BASE_EIO;
    return err_set(eb, code, "HTTP %ld from %s", status, url);
}

/* One attempt. Returns 0 when complete, 1 to retry, or a negative code (final). */
static int attempt(xfer *x, const char *url, struct curl_slist *hl, char *cerr) {
    CURL *c = curl_easy_init();
    if (!c) return err_set(x->eb, BASE_ENOMEM, "cannot start libcurl");
    x->c = c;
    x->checked = false;
    x->status = 0;
    x->written = 0;
    x->fail = 0;
    x->t0 = time_now_ns();
    setup(c, x->o, url, hl);
    char range[64];
    snprintf(range, sizeof range, "%llu-", (unsigned long long)x->offset);
    if (x->offset) curl_easy_setopt(c, CURLOPT_RANGE, range);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_xfer);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    cerr[0] = 0;
    CURLcode cr = curl_easy_perform(c);
    if (!x->checked) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &x->status);
    curl_easy_cleanup(c);
    x->offset += x->written;
    if (x->fail) return x->fail;
    if (cr == CURLE_ABORTED_BY_CALLBACK)
        return err_set(x->eb, BASE_ECANCELED, "download of %s cancelled", x->file);
    if (x->status == 416 && x->offset > 0) return 0; /* we already have every byte */
    if (x->status >= 400 && x->status < 500 && x->status != 408 && x->status != 429)
        return status_error(x->eb, x->status, url);
    if (cr == CURLE_OK && x->status < 400) return 0;
    if (cr == CURLE_OK) status_error(x->eb, x->status, url);
    else if (cr == CURLE_FILE_COULDNT_READ_FILE || cr == CURLE_UNSUPPORTED_PROTOCOL ||
             cr == CURLE_URL_MALFORMAT)
        return err_set(x->eb, cr == CURLE_FILE_COULDNT_READ_FILE ? BASE_ENOTFOUND : BASE_EINVAL,
                       "%s: %s", url, cerr[0] ? cerr : curl_easy_strerror(cr));
    else err_set(x->eb, BASE_EIO, "%s: %s", url, cerr[0] ? cerr : curl_easy_strerror(cr));
    return 1;
}

int gal_download(const gal_opts *o, const char *url, const char *dest, const char *sha256,
                 const char *const *headers, char *sha_out, err_buf *eb) {
    size_t dn = strlen(dest);
    char *partial = mem_alloc(dn + 9), *dir = mem_strdup(dest);
    struct curl_slist *hl = header_list(headers);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int rc = BASE_OK, fd = -1;
    struct stat st;
    if (!partial || !dir || (headers && headers[0] && !hl) || !md) {
        rc = err_set(eb, BASE_ENOMEM, "out of memory");
        goto out;
    }
    snprintf(partial, dn + 9, "%s.partial", dest);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else strcpy(dir, ".");
    const char *file = slash ? dest + (slash - dir) + 1 : dest;

    fd = open(partial, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || fstat(fd, &st)) {
        rc = err_set(eb, BASE_EIO, "cannot open %s: %s", partial, strerror(errno));
        goto out;
    }
    xfer x = {.o = o, .dir = dir, .file = file, .fd = fd, .md = md, .eb = eb,
              .offset = (uint64_t)st.st_size};
    /* Resumed bytes count toward the digest: hash what is already on disk first. */
    if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 || hash_fd(md, fd, x.offset)) {
        rc = err_set(eb, BASE_EIO, "cannot read %s", partial);
        goto out;
    }
    if (x.offset) log_info("gallery: resuming %s at %llu bytes", file, (unsigned long long)x.offset);
    char cerr[CURL_ERROR_SIZE];
    int wait = o->backoff_ms > 0 ? o->backoff_ms : 500;
    for (int tries = 0;; tries++) {
        rc = attempt(&x, url, hl, cerr);
        if (rc <= 0) break;
        if (tries >= o->max_retries) {
            char last[sizeof eb->msg];
            snprintf(last, sizeof last, "%s", err_msg(eb));
            rc = eb ? eb->code : BASE_EIO;
            err_set(eb, rc, "%s (gave up after %d attempts)", last, tries + 1);
            goto out;
        }
        log_warn("gallery: %s: %s; retrying in %d ms", file, err_msg(eb), wait);
        if (!nap(o, wait)) {
            rc = err_set(eb, BASE_ECANCELED, "download of %s cancelled", file);
            goto out;
        }
        wait = wait * 2 > 30000 ? 30000 : wait * 2;
    }
    if (rc) goto out;
    unsigned char d[32];
    unsigned len = 0;
    char hex[65];
    if (EVP_DigestFinal_ex(md, d, &len) != 1 || fsync(fd)) {
        rc = err_set(eb, BASE_EIO, "cannot finish %s", partial);
        goto out;
    }
    gal_hex(d, 32, hex);
    if (!(sha256 && *sha256) && x.etag[0]) {
        sha256 = x.etag;
        log_info("gallery: %s: verifying against the server's X-Linked-Etag", file);
    }
    if (sha256 && *sha256 && strcasecmp(sha256, hex)) {
        unlink(partial);
        rc = err_set(eb, BASE_EFORMAT, "sha256 mismatch for %s: expected %s, got %s", file,
                     sha256, hex);
        goto out;
    }
    if (!(sha256 && *sha256))
        log_info("gallery: %s has sha256 %s (not verified: none given)", file, hex);
    if (rename(partial, dest)) {
        rc = err_set(eb, BASE_EIO, "cannot rename %s: %s", partial, strerror(errno));
        goto out;
    }
    if (sha_out) memcpy(sha_out, hex, 65);
out:
    /* A failure before any byte arrived leaves nothing to resume: no empty .partial. */
    if (rc && fd >= 0 && fstat(fd, &st) == 0 && st.st_size == 0) unlink(partial);
    if (fd >= 0) close(fd);
    EVP_MD_CTX_free(md);
    curl_slist_free_all(hl);
    mem_free(partial);
    mem_free(dir);
    return rc;
}

typedef struct mem_sink {
    buf *b;
    size_t max;
    bool over;
} mem_sink;

static size_t on_mem(char *p, size_t sz, size_t n, void *ud) {
    mem_sink *s = ud;
    if (s->b->len + sz * n > s->max) {
        s->over = true;
        return 0;
    }
    return buf_append(s->b, p, sz * n) ? 0 : sz * n;
}

int gal_fetch(const gal_opts *o, const char *url, const char *const *headers, size_t max,
              buf *out, err_buf *eb) {
    struct curl_slist *hl = header_list(headers);
    char cerr[CURL_ERROR_SIZE];
    int rc = 1, wait = o->backoff_ms > 0 ? o->backoff_ms : 500;
    for (int tries = 0; rc > 0; tries++) {
        CURL *c = curl_easy_init();
        if (!c) {
            rc = err_set(eb, BASE_ENOMEM, "cannot start libcurl");
            break;
        }
        out->len = 0;
        mem_sink s = {out, max, false};
        setup(c, o, url, hl);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_mem);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
        cerr[0] = 0;
        CURLcode cr = curl_easy_perform(c);
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(c);
        if (s.over) rc = err_set(eb, BASE_ERANGE, "%s: larger than %zu bytes", url, max);
        else if (out->oom) rc = err_set(eb, BASE_ENOMEM, "out of memory");
        else if (cr == CURLE_OK && status < 400) rc = 0;
        else if (cr == CURLE_OK && status < 500 && status != 408 && status != 429)
            rc = status_error(eb, status, url);
        else if (cr == CURLE_FILE_COULDNT_READ_FILE)
            rc = err_set(eb, BASE_ENOTFOUND, "%s: %s", url, cerr);
        else {
            if (cr == CURLE_OK) status_error(eb, status, url);
            else err_set(eb, BASE_EIO, "%s: %s", url, cerr[0] ? cerr : curl_easy_strerror(cr));
            if (tries >= o->max_retries) rc = eb ? eb->code : BASE_EIO;
            else if (!nap(o, wait)) rc = err_set(eb, BASE_ECANCELED, "cancelled");
            wait = wait * 2 > 30000 ? 30000 : wait * 2;
        }
    }
    curl_slist_free_all(hl);
    if (!rc && !out->data) rc = buf_append(out, "", 0) ? err_set(eb, BASE_ENOMEM, "oom") : 0;
    return rc;
}
