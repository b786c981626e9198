/*
 * Reader tests on real files: the golden models, stories260K and tokenizer vocabularies.
 * Expected values were read independently (a separate Python parser) and from
 * golden/README.md.
 */
#include "gguf/gguf.h"
#include "test.h"

#include <dirent.h>
#include <stdio.h>

/* ASSERT_OK(rc, &eb) trips gcc's -Waddress ("&eb always true"); passing the buffer through a
 * function keeps the macro usable. */
static err_buf *EB(err_buf *e) { return e; }

static gguf *open_shared(const char *rel) {
    const char *path = test_shared_file(rel);
    gguf *g = NULL;
    err_buf eb = {0};
    ASSERT_OK(gguf_open(path, &g, &eb), EB(&eb));
    ASSERT_NOT_NULL(g);
    return g;
}

static void expect_str(const gguf *g, const char *key, const char *want) {
    str_slice s;
    err_buf eb = {0};
    ASSERT_OK(gguf_get_str(g, key, &s, &eb), EB(&eb));
    ASSERT_TRUE(str_eq_cstr(s, want));
}

static uint32_t get_u32(const gguf *g, const char *key) {
    uint32_t v = 0;
    err_buf eb = {0};
    ASSERT_OK(gguf_get_u32(g, key, &v, &eb), EB(&eb));
    return v;
}

static void expect_shape(const gguf *g, const char *name, int type, int64_t ne0, int64_t ne1) {
    const gguf_tensor *t = gguf_find_tensor(g, name);
    if (!t) ASSERT_EQ_STR(name, "(a tensor of this name)");
    ASSERT_EQ_STR(t->name, name);
    ASSERT_EQ_INT(t->type, type);
    ASSERT_EQ_INT(t->n_dims, ne1 ? 2 : 1);
    ASSERT_EQ_INT(t->ne[0], ne0);
    ASSERT_EQ_INT(t->ne[1], ne1 ? ne1 : 1);
    ASSERT_EQ_INT(t->ne[2], 1);
    size_t nb = 0;
    ASSERT_OK(gguf_tensor_nbytes(type, t->n_dims, t->ne, &nb), EB(NULL));
    ASSERT_EQ_UINT(t->nbytes, nb);
}

TEST(gguf_read_llama_q4k) {
    gguf *g = open_shared("golden/models/llama-Q4_K.gguf");
    ASSERT_EQ_INT(gguf_version(g), 3);
    ASSERT_EQ_INT(gguf_alignment(g), 32);
    ASSERT_EQ_INT(gguf_file_size(g), 828864);
    ASSERT_EQ_INT(gguf_data_offset(g), 12736); /* header ends at 12728 */
    ASSERT_EQ_INT(gguf_n_kv(g), 23);
    ASSERT_EQ_INT(gguf_n_tensors(g), 21);
    ASSERT_EQ_STR(gguf_kv_key(g, 0), "general.architecture");
    ASSERT_EQ_INT(gguf_kv_type(g, 0), GGUF_VT_STRING);
    ASSERT_NULL(gguf_kv_key(g, 23));
    ASSERT_EQ_INT(gguf_kv_type(g, -1), -1);
    expect_str(g, "general.architecture", "llama");
    expect_str(g, "general.name", "golden-A-synthetic-1001");
    expect_str(g, "tokenizer.ggml.model", "llama");
    ASSERT_EQ_INT(get_u32(g, "llama.block_count"), 2);
    ASSERT_EQ_INT(get_u32(g, "llama.embedding_length"), 256);
    ASSERT_EQ_INT(get_u32(g, "llama.feed_forward_length"), 512);
    ASSERT_EQ_INT(get_u32(g, "llama.attention.head_count_kv"), 2);
    ASSERT_EQ_INT(get_u32(g, "general.file_type"), 15);
    err_buf eb = {0};
    float f;
    ASSERT_OK(gguf_get_f32(g, "llama.rope.freq_base", &f, &eb), EB(&eb));
    ASSERT_NEAR(f, 10000.0, 0);
    ASSERT_OK(gguf_get_f32(g, "llama.attention.layer_norm_rms_epsilon", &f, &eb), EB(&eb));
    ASSERT_NEAR(f, 1e-5, 1e-12);

    gguf_arr a;
    ASSERT_OK(gguf_get_arr(g, "tokenizer.ggml.tokens", GGUF_VT_STRING, &a, &eb), EB(&eb));
    ASSERT_EQ_INT(a.n, 512);
    ASSERT_TRUE(str_eq_cstr(gguf_arr_str(&a, 0), "<unk>"));
    ASSERT_TRUE(str_eq_cstr(gguf_arr_str(&a, 3), "<0x00>"));
    ASSERT_TRUE(str_eq_cstr(gguf_arr_str(&a, 510), "~"));
    ASSERT_TRUE(str_eq_cstr(gguf_arr_str(&a, 511), "\xe2\x80\x8a")); /* U+200A */
    ASSERT_EQ_INT(gguf_arr_str(&a, 512).len, 0);                     /* out of range */
    ASSERT_OK(gguf_get_arr(g, "tokenizer.ggml.scores", GGUF_VT_F32, &a, &eb), EB(&eb));
    ASSERT_EQ_INT(a.n, 512);
    ASSERT_NEAR(gguf_arr_float(&a, 511), -252.0, 0);
    ASSERT_NEAR(gguf_arr_float(&a, 510), -251.0, 0);
    ASSERT_OK(gguf_get_arr(g, "tokenizer.ggml.token_type", -1, &a, &eb), EB(&eb));
    ASSERT_EQ_INT(a.type, GGUF_VT_I32);
    ASSERT_EQ_INT(gguf_arr_int(&a, 0), 2);
    ASSERT_EQ_INT(gguf_arr_int(&a, 1), 3);
    ASSERT_EQ_INT(gguf_arr_int(&a, 3), 6);
    ASSERT_EQ_INT(gguf_arr_int(&a, 511), 1);
    ASSERT_NEAR(gguf_arr_float(&a, 3), 6.0, 0);

    expect_shape(g, "output.weight", GGUF_TYPE_Q4_K, 256, 512);
    expect_shape(g, "output_norm.weight", GGUF_TYPE_F32, 256, 0);
    expect_shape(g, "token_embd.weight", GGUF_TYPE_Q4_K, 256, 512);
    expect_shape(g, "blk.0.attn_k.weight", GGUF_TYPE_Q4_K, 256, 128);
    expect_shape(g, "blk.1.ffn_down.weight", GGUF_TYPE_Q4_K, 512, 256);
    const gguf_tensor *t = gguf_tensor_at(g, 2);
    ASSERT_EQ_STR(t->name, "token_embd.weight");
    ASSERT_EQ_INT(t->offset, 74752);
    ASSERT_EQ_INT(t->nbytes, 512 * 144);
    ASSERT_TRUE((const char *)t->data == (const char *)gguf_tensor_at(g, 0)->data + 74752);
    ASSERT_EQ_INT(((uintptr_t)t->data) % 32, 0);
    ASSERT_NULL(gguf_tensor_at(g, 21));
    ASSERT_NULL(gguf_tensor_at(g, -1));
    ASSERT_NULL(gguf_find_tensor(g, "blk.2.attn_q.weight"));
    ASSERT_NULL(gguf_find_tensor(g, ""));
    ASSERT_EQ_INT(gguf_find_key(g, "llama.block_count"), 4);
    ASSERT_EQ_INT(gguf_find_key(g, "llama.block_coun"), -1);
    gguf_close(g);
}

TEST(gguf_read_lookup_errors) {
    gguf *g = open_shared("golden/models/llama-F32.gguf");
    err_buf eb = {0};
    uint32_t u = 7;
    ASSERT_EQ_INT(gguf_get_u32(g, "llama.no_such_key", &u, &eb), BASE_ENOTFOUND);
    ASSERT_EQ_INT(eb.code, BASE_ENOTFOUND);
    ASSERT_CONTAINS(eb.msg, "llama.no_such_key");
    ASSERT_EQ_INT(u, 7); /* untouched on error */

    eb = (err_buf){0};
    ASSERT_EQ_INT(gguf_get_u32(g, "general.architecture", &u, &eb), BASE_ETYPE);
    ASSERT_CONTAINS(eb.msg, "general.architecture");
    ASSERT_CONTAINS(eb.msg, "has type string, expected u32");
    str_slice s;
    ASSERT_EQ_INT(gguf_get_str(g, "llama.block_count", &s, &eb), BASE_ETYPE);
    ASSERT_CONTAINS(eb.msg, "has type u32, expected string");
    float f;
    ASSERT_EQ_INT(gguf_get_f32(g, "llama.block_count", &f, &eb), BASE_ETYPE);
    bool b;
    ASSERT_EQ_INT(gguf_get_bool(g, "llama.block_count", &b, &eb), BASE_ETYPE);
    ASSERT_CONTAINS(eb.msg, "expected bool");
    gguf_arr a;
    ASSERT_EQ_INT(gguf_get_arr(g, "llama.block_count", -1, &a, &eb), BASE_ETYPE);
    ASSERT_EQ_INT(gguf_get_arr(g, "tokenizer.ggml.tokens", GGUF_VT_F32, &a, &eb), BASE_ETYPE);
    ASSERT_CONTAINS(eb.msg, "array of string, expected an array of f32");
    ASSERT_EQ_INT(gguf_get_u32(g, "llama.rope.freq_base", &u, &eb), BASE_ETYPE);
    ASSERT_CONTAINS(eb.msg, "has type f32");

    /* 0xFFFFFFFF stored as u32: fits u32/u64/i64, not i32. */
    ASSERT_OK(gguf_get_u32(g, "tokenizer.ggml.seperator_token_id", &u, &eb), EB(&eb));
    ASSERT_EQ_UINT(u, 4294967295u);
    int32_t i32;
    eb = (err_buf){0};
    ASSERT_EQ_INT(gguf_get_i32(g, "tokenizer.ggml.seperator_token_id", &i32, &eb), BASE_ERANGE);
    ASSERT_CONTAINS(eb.msg, "4294967295");
    ASSERT_CONTAINS(eb.msg, "does not fit i32");
    int64_t i64;
    ASSERT_OK(gguf_get_i64(g, "tokenizer.ggml.seperator_token_id", &i64, &eb), EB(&eb));
    ASSERT_EQ_INT(i64, 4294967295ll);
    uint64_t u64;
    ASSERT_OK(gguf_get_u64(g, "llama.block_count", &u64, &eb), EB(&eb));
    ASSERT_EQ_INT(u64, 2);
    ASSERT_OK(gguf_get_i32(g, "llama.block_count", &i32, &eb), EB(&eb));
    ASSERT_EQ_INT(i32, 2);
    gguf_close(g);
}

/* Type of every matrix, from the file name ("llama-Q4_K.gguf" -> Q4_K). */
static int type_from_name(const char *fname) {
    const char *dash = strrchr(fname, '-');
    if (!dash) return -1;
    char t[16] = {0};
    size_t n = strcspn(dash + 1, ".");
    if (n >= sizeof t) return -1;
    memcpy(t, dash + 1, n);
    for (int i = 0; i < GGUF_TYPE_COUNT; i++)
        if (gguf_type_name(i) && strcmp(gguf_type_name(i), t) == 0) return i;
    return -1;
}

TEST(gguf_read_all_golden_models) {
    const char *dir = test_shared_file("golden/models");
    char dpath[1024];
    snprintf(dpath, sizeof dpath, "%s", dir);
    DIR *d = opendir(dpath);
    ASSERT_NOT_NULL(d);
    int n_files = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".gguf") != 0) continue;
        char path[1400];
        snprintf(path, sizeof path, "%s/%s", dpath, e->d_name);
        gguf *g = NULL;
        err_buf eb = {0};
        ASSERT_OK(gguf_open(path, &g, &eb), EB(&eb));
        n_files++;
        /* The architecture is the name's prefix ("llama3rope" is arch llama). */
        str_slice arch;
        ASSERT_OK(gguf_get_str(g, "general.architecture", &arch, &eb), EB(&eb));
        ASSERT_TRUE(arch.len > 0 && strncmp(e->d_name, arch.ptr, arch.len) == 0);
        char key[64];
        snprintf(key, sizeof key, "%.*s.block_count", (int)arch.len, arch.ptr);
        uint32_t n_layer = get_u32(g, key);
        ASSERT_EQ_INT(n_layer, strncmp(e->d_name, "gemma2", 6) == 0 ? 26 : 2);
        gguf_arr toks;
        ASSERT_OK(gguf_get_arr(g, "tokenizer.ggml.tokens", GGUF_VT_STRING, &toks, &eb), EB(&eb));
        ASSERT_EQ_INT(toks.n, 512);
        ASSERT_TRUE(str_eq_cstr(gguf_arr_str(&toks, 1), "<s>"));
        int mtype = type_from_name(e->d_name);
        ASSERT_CMP_INT(mtype, >=, 0);
        expect_shape(g, "token_embd.weight", mtype, 256, 512);
        if (strncmp(e->d_name, "phi3", 4) == 0) { /* fused q|k|v */
            expect_shape(g, "blk.0.attn_qkv.weight", mtype, 256, 512);
            ASSERT_NULL(gguf_find_tensor(g, "blk.0.attn_q.weight"));
        } else {
            expect_shape(g, "blk.0.attn_q.weight", mtype, 256, 256);
            expect_shape(g, "blk.1.attn_k.weight", mtype, 256, 128);
        }
        expect_shape(g, "output_norm.weight", GGUF_TYPE_F32, 256, 0);
        /* Every tensor is found by name, in the file, and aligned. */
        size_t end = 0;
        for (int64_t i = 0; i < gguf_n_tensors(g); i++) {
            const gguf_tensor *t = gguf_tensor_at(g, i);
            ASSERT_TRUE(gguf_find_tensor(g, t->name) == t);
            ASSERT_EQ_INT(t->offset % 32, 0);
            size_t te = gguf_data_offset(g) + t->offset + t->nbytes;
            ASSERT_CMP_INT(te, <=, gguf_file_size(g));
            if (te > end) end = te;
        }
        for (int64_t i = 0; i < gguf_n_kv(g); i++)
            ASSERT_EQ_INT(gguf_find_key(g, gguf_kv_key(g, i)), i);
        /* The last tensor ends the file (after its padding). */
        ASSERT_CMP_INT(gguf_file_size(g) - end, <, 32);
        gguf_close(g);
    }
    closedir(d);
    ASSERT_EQ_INT(n_files, 28);
}

TEST(gguf_read_stories260k) {
    gguf *g = open_shared("testdata/llm/stories260K.gguf");
    ASSERT_EQ_INT(gguf_n_tensors(g), 48);
    ASSERT_EQ_INT(get_u32(g, "llama.block_count"), 5);
    ASSERT_EQ_INT(get_u32(g, "llama.embedding_length"), 64);
    ASSERT_EQ_INT(get_u32(g, "llama.feed_forward_length"), 172);
    ASSERT_EQ_INT(get_u32(g, "llama.context_length"), 2048);
    ASSERT_EQ_INT(get_u32(g, "llama.attention.head_count"), 8);
    expect_str(g, "general.architecture", "llama");
    expect_shape(g, "token_embd.weight", GGUF_TYPE_F32, 64, 512);
    expect_shape(g, "blk.0.ffn_gate.weight", GGUF_TYPE_F32, 64, 172);
    expect_shape(g, "blk.4.ffn_down.weight", GGUF_TYPE_F32, 172, 64);
    const gguf_tensor *t = gguf_find_tensor(g, "output_norm.weight");
    ASSERT_NOT_NULL(t);
    ASSERT_EQ_INT(t->offset, 131072);
    gguf_close(g);
}

TEST(gguf_read_tokenizer_vocabs) {
    err_buf eb = {0};
    gguf_arr a;
    gguf *g = open_shared("testdata/tokenizer/ggml-vocab-qwen2.gguf");
    ASSERT_EQ_INT(gguf_n_tensors(g), 0);
    ASSERT_OK(gguf_get_arr(g, "tokenizer.ggml.tokens", GGUF_VT_STRING, &a, &eb), EB(&eb));
    ASSERT_EQ_INT(a.n, 151936);
    ASSERT_TRUE(str_eq_cstr(gguf_arr_str(&a, 0), "!"));
    ASSERT_TRUE(str_eq_cstr(gguf_arr_str(&a, 151935), "[PAD151935]"));
    ASSERT_OK(gguf_get_arr(g, "tokenizer.ggml.merges", GGUF_VT_STRING, &a, &eb), EB(&eb));
    ASSERT_EQ_INT(a.n, 151387);
    ASSERT_TRUE(str_eq_cstr(gguf_arr_str(&a, 0), "\xc4\xa0 \xc4\xa0")); /* "Ġ Ġ" */
    ASSERT_EQ_INT(get_u32(g, "tokenizer.ggml.eos_token_id"), 151645);
    expect_str(g, "tokenizer.ggml.pre", "qwen2");
    str_slice tmpl;
    ASSERT_OK(gguf_get_str(g, "tokenizer.chat_template", &tmpl, &eb), EB(&eb));
    ASSERT_TRUE(str_starts_with(tmpl, "{% for message in messages %}"));
    gguf_close(g);

    g = open_shared("testdata/tokenizer/ggml-vocab-bert-bge.gguf");
    bool causal = true;
    ASSERT_OK(gguf_get_bool(g, "bert.attention.causal", &causal, &eb), EB(&eb));
    ASSERT_FALSE(causal);
    float eps;
    ASSERT_OK(gguf_get_f32(g, "bert.attention.layer_norm_epsilon", &eps, &eb), EB(&eb));
    ASSERT_NEAR(eps, 1e-12, 1e-18);
    ASSERT_OK(gguf_get_arr(g, "tokenizer.ggml.tokens", GGUF_VT_STRING, &a, &eb), EB(&eb));
    ASSERT_EQ_INT(a.n, 30522);
    ASSERT_TRUE(str_eq_cstr(gguf_arr_str(&a, 0), "[PAD]"));
    ASSERT_EQ_INT(get_u32(g, "tokenizer.ggml.cls_token_id"), 101);
    gguf_close(g);

    g = open_shared("testdata/tokenizer/ggml-vocab-llama-spm.gguf");
    bool add_bos = false;
    ASSERT_OK(gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &add_bos, &eb), EB(&eb));
    ASSERT_TRUE(add_bos);
    ASSERT_OK(gguf_get_arr(g, "tokenizer.ggml.scores", GGUF_VT_F32, &a, &eb), EB(&eb));
    ASSERT_EQ_INT(a.n, 32000);
    ASSERT_NEAR(gguf_arr_float(&a, 31999), -31740.0, 0);
    gguf_close(g);
}

TEST(gguf_read_open_errors) {
    gguf *g = (gguf *)1;
    err_buf eb = {0};
    ASSERT_EQ_INT(gguf_open("/nonexistent/x.gguf", &g, &eb), BASE_EIO);
    ASSERT_NULL(g);
    ASSERT_CONTAINS(eb.msg, "/nonexistent/x.gguf");
    ASSERT_EQ_INT(gguf_open(test_tmpdir(), &g, &eb), BASE_EIO); /* a directory */
    ASSERT_CONTAINS(eb.msg, "not a regular file");
    char path[512];
    snprintf(path, sizeof path, "%s/empty.gguf", test_tmpdir());
    FILE *f = fopen(path, "wb");
    ASSERT_NOT_NULL(f);
    fclose(f);
    ASSERT_EQ_INT(gguf_open(path, &g, &eb), BASE_EFORMAT);
    ASSERT_CONTAINS(eb.msg, "empty file");
    snprintf(path, sizeof path, "%s/text.gguf", test_tmpdir());
    f = fopen(path, "wb");
    fputs("hello, world", f);
    fclose(f);
    ASSERT_EQ_INT(gguf_open(path, &g, &eb), BASE_EFORMAT);
    ASSERT_CONTAINS(eb.msg, "bad magic 68 65 6c 6c at offset 0");
    ASSERT_NULL(g);
}
