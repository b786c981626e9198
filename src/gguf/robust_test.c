/*
 * Robustness: a real file cut at every offset of its header (and at a stride through its
 * data) is always refused without a crash or an out-of-bounds read, and running out of
 * memory at any allocation of gguf_open fails cleanly (ASan checks for leaks).
 */
#include "gguf/gguf.h"
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static err_buf *EB(err_buf *e) { return e; } /* see read_test.c: gcc -Waddress */

/* Opens the first n bytes of img from an exact-size copy, so that ASan flags any read past
 * the end. Returns the rc. */
static int open_prefix(const char *img, size_t n, err_buf *eb) {
    char *copy = malloc(n ? n : 1);
    ASSERT_NOT_NULL(copy);
    memcpy(copy, img, n);
    gguf *g = NULL;
    int rc = gguf_open_memory(copy, n, &g, eb);
    gguf_close(g);
    free(copy);
    return rc;
}

static void truncate_everywhere(const char *rel, size_t data_stride) {
    const char *path = test_shared_file(rel);
    char *img;
    size_t size;
    err_buf eb = {0};
    ASSERT_OK(file_read_all(path, &img, &size, &eb), EB(&eb));
    gguf *g;
    ASSERT_OK(gguf_open_memory(img, size, &g, &eb), EB(&eb));
    size_t data_off = gguf_data_offset(g);
    gguf_close(g);
    size_t header_end = data_off < size ? data_off : size;
    for (size_t n = 0; n < size; n += n < header_end + 64 ? 1 : data_stride) {
        eb = (err_buf){0};
        int rc = open_prefix(img, n, &eb);
        if (rc == 0) test_fail(__FILE__, __LINE__, "%s cut at %zu of %zu opened", rel, n, size);
        ASSERT_CMP_INT(rc, <, 0);
        ASSERT_TRUE(eb.msg[0] != 0);
        ASSERT_TRUE(rc == BASE_EFORMAT || (n < 8 && rc == BASE_EUNSUPPORTED));
    }
    ASSERT_OK(open_prefix(img, size, &eb), EB(&eb));
    mem_free(img);
}

TEST(gguf_robust_truncate_model) {
    truncate_everywhere("golden/models/llama-Q2_K.gguf", 4099);
}

TEST(gguf_robust_truncate_stories) {
    truncate_everywhere("testdata/llm/stories260K.gguf", 4099);
}

/* A vocabulary with 30k strings: no tensors, so every cut lands in the metadata. A stride
 * keeps it fast (every cut re-parses the whole prefix). */
TEST(gguf_robust_truncate_vocab) {
    const char *path = test_shared_file("testdata/tokenizer/ggml-vocab-bert-bge.gguf");
    char *img;
    size_t size;
    err_buf eb = {0};
    ASSERT_OK(file_read_all(path, &img, &size, &eb), EB(&eb));
#if defined(__SANITIZE_ADDRESS__)
    size_t stride = 4999;
#else
    size_t stride = 997;
#endif
    for (size_t n = 0; n < size; n += n < 1024 ? 1 : stride) {
        int rc = open_prefix(img, n, &eb);
        if (rc == 0) test_fail(__FILE__, __LINE__, "cut at %zu of %zu opened", n, size);
    }
    for (size_t n = size - 64; n < size; n++) ASSERT_CMP_INT(open_prefix(img, n, &eb), <, 0);
    mem_free(img);
}

/* Fail allocation 0, 1, 2, ... until gguf_open succeeds: each failure is ENOMEM, reported,
 * and leaves nothing behind. */
static void oom_loop(const char *rel) {
    const char *path = test_shared_file(rel);
    long n;
    for (n = 0; n < 1000; n++) {
        gguf *g = (gguf *)1;
        err_buf eb = {0};
        mem_fail_after(n);
        int rc = gguf_open(path, &g, &eb);
        mem_fail_after(-1);
        if (rc == 0) {
            ASSERT_NOT_NULL(g);
            ASSERT_EQ_INT(gguf_n_tensors(g) >= 0, 1);
            gguf_close(g);
            break;
        }
        ASSERT_NULL(g);
        if (rc != BASE_ENOMEM)
            test_fail(__FILE__, __LINE__, "allocation %ld: rc %d: %s", n, rc, eb.msg);
        ASSERT_CONTAINS(eb.msg, "out of memory");
    }
    ASSERT_CMP_INT(n, >, 3);
    ASSERT_CMP_INT(n, <, 1000);
}

TEST(gguf_robust_oom_model) { oom_loop("golden/models/llama-Q4_K.gguf"); }
TEST(gguf_robust_oom_vocab) { oom_loop("testdata/tokenizer/ggml-vocab-qwen2.gguf"); }

/* Out-of-order tensors take the sorting path, which allocates too. */
TEST(gguf_robust_oom_sorted) {
    gguf_writer *w = gguf_writer_new();
    float f[8] = {0};
    int64_t ne[1] = {8};
    ASSERT_OK(gguf_writer_add_tensor(w, "a", GGUF_TYPE_F32, 1, ne, f, sizeof f), EB(NULL));
    ASSERT_OK(gguf_writer_add_tensor(w, "b", GGUF_TYPE_F32, 1, ne, f, sizeof f), EB(NULL));
    buf out = {0};
    err_buf eb = {0};
    ASSERT_OK(gguf_writer_write_buf(w, &out, &eb), EB(&eb));
    gguf_writer_free(w);
    /* Swap the two data offsets (0 and 32): the last 8 bytes of each tensor info. Tensor
     * infos are "a" then "b", each 8+1+4+8+4+8 = 33 bytes, after the 24-byte header. */
    uint64_t o0 = 0, o1 = 32;
    memcpy(out.data + 24 + 33 - 8, &o1, 8);
    memcpy(out.data + 24 + 66 - 8, &o0, 8);
    gguf *g = NULL;
    long n;
    for (n = 0; n < 100; n++) {
        mem_fail_after(n);
        int rc = gguf_open_memory(out.data, out.len, &g, &eb);
        mem_fail_after(-1);
        if (rc == 0) break;
        ASSERT_EQ_INT(rc, BASE_ENOMEM);
    }
    ASSERT_NOT_NULL(g);
    ASSERT_EQ_INT(gguf_find_tensor(g, "a")->offset, 32);
    ASSERT_EQ_INT(gguf_find_tensor(g, "b")->offset, 0);
    gguf_close(g);
    buf_free(&out);
}

/* The fuzz seeds (tests/corpus/gguf) stay what they claim to be: valid files made by the
 * writer, plus truncated slices that must fail. */
TEST(gguf_robust_corpus_seeds) {
    static const struct { const char *name; int ok; uint32_t version; } seeds[] = {
        {"all_types.gguf", 1, 3}, {"align64.gguf", 1, 3}, {"v2.gguf", 1, 2},
        {"nested.gguf", 1, 3}, {"stories_meta.gguf", 1, 3}, {"slice_llama_q4k_3000.gguf", 0, 0},
    };
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, "tests/corpus/gguf/%s", seeds[i].name);
        if (access(path, R_OK) != 0) TEST_SKIP("run from the repository root");
        gguf *g = NULL;
        err_buf eb = {0};
        int rc = gguf_open(path, &g, &eb);
        if (!seeds[i].ok) {
            ASSERT_EQ_INT(rc, BASE_EFORMAT);
            continue;
        }
        ASSERT_OK(rc, EB(&eb));
        ASSERT_EQ_INT(gguf_version(g), seeds[i].version);
        gguf_close(g);
    }
}
