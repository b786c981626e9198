/* The repack cache (repack_cache.c): a second load maps the first one's packed weights and
 * computes the same logits; stale, damaged or foreign entries are never used. */
#include "engine_int.h"
#include "test.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const int32_t prompt[] = {1, 478, 133, 17, 245, 471, 79, 488, 59, 377, 72, 109};
#define N_PROMPT ((int)(sizeof prompt / sizeof prompt[0]))

/* A copy of a golden model in the test's directory (so that it can be touched and removed),
 * and the cache directory beside it. */
static void setup(const char *model, char *copy, size_t cap, char *cache, size_t ccap) {
    kern_init(KERN_ISA_AUTO);
    if (kern_repack_type(GGUF_TYPE_Q4_0, 256, 8) < 0 || kern_repack_type(GGUF_TYPE_Q8_0, 256, 8) < 0 ||
        kern_repack_type(GGUF_TYPE_Q4_K, 256, 8) < 0)
        test_skip("no packed weights here (LOCALAI_KERNELS=ref, or LOCALAI_REPACK set)");
    snprintf(copy, cap, "%s/model.gguf", test_tmpdir());
    snprintf(cache, ccap, "%s/cache", test_tmpdir());
    setenv("LOCALAI_REPACK_CACHE", cache, 1);
    FILE *in = fopen(test_shared_file(model), "rb"), *out = fopen(copy, "wb");
    ASSERT_NOT_NULL(in);
    ASSERT_NOT_NULL(out);
    char b[65536];
    for (size_t n; (n = fread(b, 1, sizeof b, in)) > 0;) ASSERT_EQ_UINT(fwrite(b, 1, n, out), n);
    fclose(in);
    ASSERT_EQ_INT(fclose(out), 0);
}

/* Logits of every prompt position, malloc'd. */
static float *logits_of(llm_model *m) {
    err_buf eb = {0};
    llm_session_params sp = llm_session_default_params();
    sp.n_ctx = 64;
    sp.n_batch = N_PROMPT;
    sp.all_logits = true;
    llm_session *s;
    ASSERT_OK(llm_session_new(m, &sp, NULL, &s, &eb), &eb);
    ASSERT_OK(llm_decode(s, prompt, N_PROMPT, true, &eb), &eb);
    const int nv = llm_model_hparams(m)->n_vocab;
    float *out = malloc(sizeof(float) * (size_t)nv * N_PROMPT);
    ASSERT_NOT_NULL(out);
    for (int i = 0; i < N_PROMPT; i++) memcpy(out + (size_t)i * nv, llm_logits(s, i), sizeof(float) * (size_t)nv);
    llm_session_free(s);
    return out;
}

/* Entries (*.r8) and temporary files in the cache directory; the entry's path in one. */
static int count_files(const char *dir, int *tmp, char *one, size_t cap) {
    int n = 0;
    *tmp = 0;
    DIR *d = opendir(dir);
    if (!d) return 0;
    for (struct dirent *e; (e = readdir(d));) {
        const size_t l = strlen(e->d_name);
        if (strstr(e->d_name, ".tmp.")) (*tmp)++;
        else if (l > 3 && !strcmp(e->d_name + l - 3, ".r8")) {
            n++;
            if (one) snprintf(one, cap, "%s/%s", dir, e->d_name);
        }
    }
    closedir(d);
    return n;
}

static llm_model *load(const char *path) {
    err_buf eb = {0};
    llm_model *m;
    ASSERT_OK(llm_model_load(path, &m, &eb), &eb);
    ASSERT_CMP_INT(m->n_packed, >, 0);
    return m;
}

static void assert_same(const float *a, const float *b, const llm_model *m) {
    const size_t n = (size_t)llm_model_hparams(m)->n_vocab * N_PROMPT;
    ASSERT_TRUE(!memcmp(a, b, n * sizeof(float)));
}

/* Loaded once (packed in memory, then saved), then again (mapped): the same logits, bit for
 * bit, for untied (llama) and tied (qwen2: the embeddings looked up in the packed copy) output
 * weights. */
static void roundtrip(const char *model) {
    char path[600], cache[600], entry[1200];
    setup(model, path, sizeof path, cache, sizeof cache);
    int tmp;
    llm_model *m = load(path);
    ASSERT_FALSE(m->packed_mapped);
    float *a = logits_of(m);
    llm_model_settle(m);
    ASSERT_EQ_INT(count_files(cache, &tmp, entry, sizeof entry), 1);
    ASSERT_EQ_INT(tmp, 0);
    struct stat st;
    ASSERT_EQ_INT(stat(entry, &st), 0);
    ASSERT_EQ_INT((long long)st.st_size, 65536 + (long long)m->packed_len);
    llm_model_free(m);

    m = load(path);
    ASSERT_TRUE(m->packed_mapped);
    ASSERT_NULL(m->cache_writer);
    float *b = logits_of(m);
    assert_same(a, b, m);
    llm_model_free(m);
    free(a);
    free(b);
}

TEST(repack_cache_roundtrip_untied) { roundtrip("golden/models/llama-Q4_0.gguf"); }
TEST(repack_cache_roundtrip_tied) { roundtrip("golden/models/qwen2-Q4_K.gguf"); }

/* A model file changed since (another mtime): its entry is a miss, and the new entry
 * replaces the old one. */
TEST(repack_cache_changed_model_is_a_miss) {
    char path[600], cache[600], first[1200], second[1200];
    setup("golden/models/llama-Q8_0.gguf", path, sizeof path, cache, sizeof cache);
    int tmp;
    llm_model *m = load(path);
    float *a = logits_of(m);
    llm_model_settle(m);
    llm_model_free(m);
    ASSERT_EQ_INT(count_files(cache, &tmp, first, sizeof first), 1);

    const struct timespec times[2] = {{.tv_sec = 1000000000}, {.tv_sec = 1000000000}};
    ASSERT_EQ_INT(utimensat(AT_FDCWD, path, times, 0), 0);
    m = load(path);
    ASSERT_FALSE(m->packed_mapped);
    float *b = logits_of(m);
    assert_same(a, b, m);
    llm_model_settle(m);
    llm_model_free(m);
    ASSERT_EQ_INT(count_files(cache, &tmp, second, sizeof second), 1);
    ASSERT_TRUE(strcmp(first, second) != 0);
    m = load(path);
    ASSERT_TRUE(m->packed_mapped);
    llm_model_free(m);
    free(a);
    free(b);
}

/* Damaged entries (a header byte changed, the file cut short, grown) are misses, then
 * rewritten whole. */
TEST(repack_cache_damaged_entry_is_a_miss) {
    char path[600], cache[600], entry[1200];
    setup("golden/models/llama-Q4_K.gguf", path, sizeof path, cache, sizeof cache);
    int tmp;
    llm_model *m = load(path);
    float *a = logits_of(m);
    llm_model_settle(m);
    const size_t len = m->packed_len;
    llm_model_free(m);
    ASSERT_EQ_INT(count_files(cache, &tmp, entry, sizeof entry), 1);
    for (int damage = 0; damage < 3; damage++) {
        const int fd = open(entry, O_RDWR);
        ASSERT_CMP_INT(fd, >=, 0);
        if (damage == 0) ASSERT_EQ_INT((int)pwrite(fd, "X", 1, 8), 1); /* the layout version */
        if (damage == 1) ASSERT_EQ_INT(ftruncate(fd, 65536 + (off_t)len - 1), 0);
        if (damage == 2) ASSERT_EQ_INT(ftruncate(fd, 65536 + (off_t)len + 4096), 0);
        close(fd);
        m = load(path);
        ASSERT_FALSE(m->packed_mapped);
        float *b = logits_of(m);
        assert_same(a, b, m);
        free(b);
        llm_model_settle(m);
        llm_model_free(m);
        m = load(path);
        ASSERT_TRUE(m->packed_mapped);
        llm_model_free(m);
    }
    free(a);
}

/* Freed before the writer is done: no entry and no temporary file are left behind. */
TEST(repack_cache_free_cancels_the_write) {
    char path[600], cache[600];
    setup("golden/models/llama-Q4_0.gguf", path, sizeof path, cache, sizeof cache);
    int tmp;
    for (int i = 0; i < 3; i++) {
        llm_model *m = load(path);
        llm_model_free(m);
        const int n = count_files(cache, &tmp, NULL, 0);
        ASSERT_EQ_INT(tmp, 0);
        ASSERT_CMP_INT(n, <=, 1); /* a small model may be written before the cancel */
    }
}

/* Off, or a model from memory (no file to key on): nothing is written. */
TEST(repack_cache_off_and_memory_images) {
    char path[600], cache[600];
    setup("golden/models/llama-Q4_0.gguf", path, sizeof path, cache, sizeof cache);
    int tmp;
    setenv("LOCALAI_REPACK_CACHE", "off", 1);
    llm_model *m = load(path);
    llm_model_settle(m);
    llm_model_free(m);
    struct stat st;
    ASSERT_TRUE(stat(cache, &st) != 0);

    setenv("LOCALAI_REPACK_CACHE", cache, 1);
    FILE *f = fopen(path, "rb");
    ASSERT_NOT_NULL(f);
    fseek(f, 0, SEEK_END);
    const long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *img = mem_alloc_aligned(64, (size_t)size);
    ASSERT_NOT_NULL(img);
    ASSERT_EQ_UINT(fread(img, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    err_buf eb = {0};
    gguf *g;
    ASSERT_OK(gguf_open_memory(img, (size_t)size, &g, &eb), &eb);
    ASSERT_OK(llm_model_from_gguf(g, &m, &eb), &eb);
    ASSERT_CMP_INT(m->n_packed, >, 0);
    ASSERT_NULL(m->cache_writer);
    llm_model_free(m);
    mem_free_aligned(img);
    ASSERT_EQ_INT(count_files(cache, &tmp, NULL, 0), 0);
}

/* Writing an entry removes those of model files that are gone, and leaves alone files that
 * are not entries. */
TEST(repack_cache_prunes_entries_of_removed_models) {
    char path[600], cache[600], other[700], foreign[700];
    setup("golden/models/llama-Q4_0.gguf", path, sizeof path, cache, sizeof cache);
    int tmp;
    llm_model *m = load(path);
    llm_model_settle(m);
    llm_model_free(m);
    /* The same bytes under another name: another entry; then that file goes away. */
    snprintf(other, sizeof other, "%s/other.gguf", test_tmpdir());
    ASSERT_EQ_INT(link(path, other), 0);
    m = load(other);
    llm_model_settle(m);
    llm_model_free(m);
    ASSERT_EQ_INT(count_files(cache, &tmp, NULL, 0), 2);
    ASSERT_EQ_INT(unlink(other), 0);
    snprintf(foreign, sizeof foreign, "%s/notes.r8", cache);
    FILE *f = fopen(foreign, "w");
    ASSERT_NOT_NULL(f);
    fputs("not an entry\n", f);
    fclose(f);
    /* The next write (the model changed) prunes the removed model's entry and its own old one. */
    const struct timespec times[2] = {{.tv_sec = 1200000000}, {.tv_sec = 1200000000}};
    ASSERT_EQ_INT(utimensat(AT_FDCWD, path, times, 0), 0);
    m = load(path);
    llm_model_settle(m);
    llm_model_free(m);
    ASSERT_EQ_INT(count_files(cache, &tmp, NULL, 0), 2); /* the new entry and notes.r8 */
    struct stat st;
    ASSERT_EQ_INT(stat(foreign, &st), 0);
}
