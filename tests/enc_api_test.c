/*
 * End to end: POST /v1/embeddings and /v1/rerank on `local-ai run` with the golden BERT
 * models (symlinked into the models directory) and a tiny cross-encoder written at run time.
 */
#include <limits.h>
#include <pthread.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "api_util.h"
#include "enc_util.h"
#include "tokenizer/tokenizer.h"

static void link_model(const char *rel, const char *name) {
    char abs[PATH_MAX], path[PATH_MAX + 64];
    if (!realpath(test_shared_file(rel), abs)) test_fail(__FILE__, __LINE__, "cannot resolve %s", rel);
    snprintf(path, sizeof path, "%s/%s", test_tmpdir(), name);
    ASSERT_EQ_INT(symlink(abs, path), 0);
}

static void start(api_server *s) {
    link_model("golden/embeddings/models/bert-mean-F32.gguf", "bert-mean.gguf");
    link_model("golden/embeddings/models/bert-cls-Q8_0.gguf", "bert-cls.gguf");
    const char *extra[] = {"--threads", "2", NULL};
    api_server_start(s, extra);
}

static float *golden(const char *name) {
    char rel[128];
    snprintf(rel, sizeof rel, "golden/embeddings/%s.embeddings.f32", name);
    FILE *f = fopen(test_shared_file(rel), "rb");
    ASSERT_NOT_NULL(f);
    float *v = malloc(5 * 256 * sizeof *v);
    ASSERT_EQ_UINT(fread(v, sizeof *v, 5 * 256, f), 5 * 256);
    fclose(f);
    return v;
}

static void post(api_server *s, const char *path, const char *body, long status, api_resp *r) {
    api_http(s, "POST", path, body, NULL, r);
    if (r->status != status)
        test_fail(__FILE__, __LINE__, "POST %s %s: status %ld, wanted %ld: %s", path, body,
                  r->status, status, r->body.data ? r->body.data : "");
    if (!r->json) test_fail(__FILE__, __LINE__, "POST %s: not JSON: %s", path, r->body.data);
}

/* Max |a - b| of a JSON array of numbers against floats. */
static double max_diff(json_t *arr, const float *want, int n) {
    ASSERT_EQ_INT(json_array_size(arr), n);
    double mx = 0;
    for (int i = 0; i < n; i++) {
        double d = fabs(json_number_value(json_array_get(arr, i)) - want[i]);
        if (d > mx) mx = d;
    }
    return mx;
}

static const char *texts_json =
    "[\"Hello, world!\", \"The quick brown fox jumps over the lazy dog.\","
    " \"Sentence embeddings map text to vectors of numbers.\","
    " \"Café prices rose 3.5% in 2024; nobody was amused.\","
    " \"What's the capital of France? Paris, of course.\"]";

TEST(enc_api_embeddings) {
    api_server s;
    start(&s);
    float *mean = golden("bert-mean-F32"), *cls = golden("bert-cls-Q8_0");
    char body[1024];
    api_resp r;
    /* One string, both paths; the vector is llama.cpp's within the F32 bound. */
    const char *paths[] = {"/v1/embeddings", "/embeddings"};
    for (int i = 0; i < 2; i++) {
        post(&s, paths[i], "{\"model\":\"bert-mean\",\"input\":\"Hello, world!\"}", 200, &r);
        ASSERT_EQ_STR(api_jstr(r.json, "object"), "list");
        ASSERT_EQ_STR(api_jstr(r.json, "model"), "bert-mean");
        ASSERT_EQ_STR(api_jstr(r.json, "data.0.object"), "embedding");
        ASSERT_EQ_INT(api_jint(r.json, "data.0.index"), 0);
        ASSERT_TRUE(max_diff(api_jget(r.json, "data.0.embedding"), mean, 256) < 1.6e-4);
        ASSERT_EQ_INT(api_jint(r.json, "usage.prompt_tokens"), 6);
        ASSERT_EQ_INT(api_jint(r.json, "usage.total_tokens"), 6);
        api_resp_free(&r);
    }
    /* Five strings in one request, on the CLS model. */
    snprintf(body, sizeof body, "{\"model\":\"bert-cls\",\"input\":%s}", texts_json);
    post(&s, "/v1/embeddings", body, 200, &r);
    ASSERT_EQ_INT(json_array_size(api_jget(r.json, "data")), 5);
    for (int i = 0; i < 5; i++) {
        char p[32];
        snprintf(p, sizeof p, "data.%d.embedding", i);
        ASSERT_TRUE(max_diff(api_jget(r.json, p), cls + i * 256, 256) < 6.7e-3);
    }
    ASSERT_EQ_INT(api_jint(r.json, "usage.prompt_tokens"), 64);
    api_resp_free(&r);
    /* Token ids, one array and an array of arrays. */
    post(&s, "/v1/embeddings", "{\"model\":\"bert-mean\",\"input\":[101,7592,1010,2088,999,102]}", 200, &r);
    ASSERT_TRUE(max_diff(api_jget(r.json, "data.0.embedding"), mean, 256) < 1.6e-4);
    api_resp_free(&r);
    post(&s, "/v1/embeddings",
         "{\"model\":\"bert-mean\",\"input\":[[101,7592,1010,2088,999,102],[101,7592,1010,2088,999,102]]}",
         200, &r);
    ASSERT_TRUE(max_diff(api_jget(r.json, "data.1.embedding"), mean, 256) < 1.6e-4);
    ASSERT_EQ_INT(api_jint(r.json, "data.1.index"), 1);
    api_resp_free(&r);
    /* base64: little-endian float32 bytes. */
    post(&s, "/v1/embeddings",
         "{\"model\":\"bert-mean\",\"input\":\"Hello, world!\",\"encoding_format\":\"base64\"}", 200, &r);
    const char *b64 = api_jstr(r.json, "data.0.embedding");
    ASSERT_NOT_NULL(b64);
    ASSERT_EQ_INT(strlen(b64), 1368); /* 1024 bytes */
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char bytes[1026];
    size_t nb = 0;
    for (size_t i = 0; i + 3 < strlen(b64); i += 4) {
        uint32_t w = 0;
        for (int k = 0; k < 4; k++)
            w = w << 6 | (b64[i + k] == '=' ? 0 : (uint32_t)(strchr(tbl, b64[i + k]) - tbl));
        bytes[nb++] = (unsigned char)(w >> 16), bytes[nb++] = (unsigned char)(w >> 8), bytes[nb++] = (unsigned char)w;
    }
    for (int i = 0; i < 256; i++) {
        uint32_t u = bytes[4 * i] | bytes[4 * i + 1] << 8 | bytes[4 * i + 2] << 16 | (uint32_t)bytes[4 * i + 3] << 24;
        float f;
        memcpy(&f, &u, 4);
        ASSERT_NEAR(f, mean[i], 1.6e-4);
    }
    api_resp_free(&r);
    /* dimensions: the first 64, normalized again. */
    post(&s, "/v1/embeddings", "{\"model\":\"bert-mean\",\"input\":\"Hello, world!\",\"dimensions\":64}", 200, &r);
    json_t *v = api_jget(r.json, "data.0.embedding");
    ASSERT_EQ_INT(json_array_size(v), 64);
    double ss = 0, ref = 0;
    for (int i = 0; i < 64; i++) ss += pow(json_number_value(json_array_get(v, i)), 2), ref += (double)mean[i] * mean[i];
    ASSERT_NEAR(ss, 1.0, 1e-4);
    ASSERT_NEAR(json_number_value(json_array_get(v, 3)), mean[3] / sqrt(ref), 1e-3);
    api_resp_free(&r);
    /* 100 inputs in one request (several chunks). */
    buf big = {0};
    buf_append_str(&big, "{\"model\":\"bert-mean\",\"input\":[");
    for (int i = 0; i < 100; i++) buf_printf(&big, "%s\"Hello, world!\"", i ? "," : "");
    buf_append_str(&big, "]}");
    post(&s, "/v1/embeddings", big.data, 200, &r);
    ASSERT_EQ_INT(json_array_size(api_jget(r.json, "data")), 100);
    ASSERT_EQ_INT(api_jint(r.json, "data.99.index"), 99);
    ASSERT_TRUE(max_diff(api_jget(r.json, "data.99.embedding"), mean, 256) < 1.6e-4);
    ASSERT_EQ_INT(api_jint(r.json, "usage.prompt_tokens"), 600);
    api_resp_free(&r);
    buf_free(&big);
    free(mean), free(cls);
    api_server_stop(&s);
}

TEST(enc_api_embeddings_errors) {
    api_server s;
    start(&s);
    const struct {
        const char *body, *param, *needle;
        int status;
    } cases[] = {
        {"{\"model\":\"bert-mean\",\"input\":\"\"}", "input", "empty", 400},
        {"{\"model\":\"bert-mean\",\"input\":[]}", "input", "empty", 400},
        {"{\"model\":\"bert-mean\",\"input\":[[]]}", "input", "empty", 400},
        {"{\"model\":\"bert-mean\"}", "input", "required", 400},
        {"{\"model\":\"bert-mean\",\"input\":5}", "input", "must be", 400},
        {"{\"model\":\"bert-mean\",\"input\":[1.5]}", "input", "must be", 400},
        {"{\"model\":\"bert-mean\",\"input\":[\"a\",7]}", "input", "must be", 400},
        {"{\"model\":\"bert-mean\",\"input\":[99999999]}", "input", "token id", 400},
        {"{\"model\":\"bert-mean\",\"input\":\"a\",\"encoding_format\":\"hex\"}", "encoding_format", "base64", 400},
        {"{\"model\":\"bert-mean\",\"input\":\"a\",\"dimensions\":257}", "dimensions", "256", 400},
        {"{\"model\":\"bert-mean\",\"input\":\"a\",\"dimensions\":0}", "dimensions", "positive", 400},
        {"{\"model\":5,\"input\":\"a\"}", "model", "string", 400},
        {"{\"model\":\"nope\",\"input\":\"a\"}", "model", "does not exist", 404},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        api_resp r;
        post(&s, "/v1/embeddings", cases[i].body, cases[i].status, &r);
        ASSERT_EQ_STR(api_jstr(r.json, "error.param"), cases[i].param);
        ASSERT_CONTAINS(api_jstr(r.json, "error.message"), cases[i].needle);
        api_resp_free(&r);
    }
    /* Longer than the context (128 tokens). */
    buf b = {0};
    buf_append_str(&b, "{\"model\":\"bert-mean\",\"input\":\"");
    for (int i = 0; i < 200; i++) buf_append_str(&b, "word ");
    buf_append_str(&b, "\"}");
    api_resp r;
    post(&s, "/v1/embeddings", b.data, 400, &r);
    ASSERT_CONTAINS(api_jstr(r.json, "error.message"), "context of 128");
    ASSERT_EQ_STR(api_jstr(r.json, "error.code"), "context_length_exceeded");
    api_resp_free(&r);
    /* truncate: the first 127 tokens and the closing [SEP], the same vector as those ids. */
    b.len = b.len - 1;
    buf_append_str(&b, ",\"truncate\":true}");
    post(&s, "/v1/embeddings", b.data, 200, &r);
    ASSERT_EQ_INT(api_jint(r.json, "usage.prompt_tokens"), 128);
    buf ids = {0};
    buf_append_str(&ids, "{\"model\":\"bert-mean\",\"input\":[101");
    for (int i = 1; i < 127; i++) buf_append_str(&ids, ",2773"); /* "word" */
    buf_append_str(&ids, ",102]}");
    api_resp r2;
    post(&s, "/v1/embeddings", ids.data, 200, &r2);
    ASSERT_TRUE(json_equal(api_jget(r.json, "data.0.embedding"), api_jget(r2.json, "data.0.embedding")));
    api_resp_free(&r2);
    api_resp_free(&r);
    buf_free(&ids);
    b.len = b.len - 17;
    buf_append_str(&b, ",\"truncate\":1}");
    post(&s, "/v1/embeddings", b.data, 400, &r);
    ASSERT_EQ_STR(api_jstr(r.json, "error.param"), "truncate");
    api_resp_free(&r);
    buf_free(&b);
    /* An encoder cannot chat. */
    post(&s, "/v1/chat/completions",
         "{\"model\":\"bert-mean\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", 400, &r);
    ASSERT_CONTAINS(api_jstr(r.json, "error.message"), "embedding model");
    api_resp_free(&r);
    api_server_stop(&s);
}

static double score_of(json_t *results, int index) {
    for (size_t i = 0; i < json_array_size(results); i++) {
        json_t *o = json_array_get(results, i);
        if (json_integer_value(json_object_get(o, "index")) == index)
            return json_number_value(json_object_get(o, "relevance_score"));
    }
    test_fail(__FILE__, __LINE__, "no result for index %d", index);
}

TEST(enc_api_rerank) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/ranker.gguf", test_tmpdir());
    enc_tiny *w = enc_tiny_write(path, true, 5);
    api_server s;
    start(&s);
    const char *docs[] = {"Paris is the capital of France.", "The quick brown fox.", "Bananas are yellow."};
    api_resp r;
    post(&s, "/v1/rerank",
         "{\"model\":\"ranker\",\"query\":\"What is the capital of France?\",\"documents\":"
         "[\"Paris is the capital of France.\",{\"text\":\"The quick brown fox.\"},\"Bananas are yellow.\"]}",
         200, &r);
    json_t *res = api_jget(r.json, "results");
    ASSERT_EQ_INT(json_array_size(res), 3);
    ASSERT_EQ_STR(api_jstr(r.json, "model"), "ranker");
    /* Scores: the scalar model on [CLS] query [SEP] doc [SEP] with types 0 / 1. */
    err_buf eb = {0};
    gguf *g;
    ASSERT_OK(gguf_open(path, &g, &eb), &eb);
    tok *t;
    ASSERT_OK(tok_load(g, &t, &eb), &eb);
    gguf_close(g);
    int32_t *qi;
    size_t nq;
    const char *query = "What is the capital of France?";
    ASSERT_OK(tok_encode(t, query, strlen(query), true, false, &qi, &nq, &eb), &eb);
    long total = 0;
    for (int d = 0; d < 3; d++) {
        int32_t *di, ids[128], types[128];
        size_t nd;
        ASSERT_OK(tok_encode(t, docs[d], strlen(docs[d]), false, false, &di, &nd, &eb), &eb);
        int n = 0;
        for (size_t i = 0; i < nq; i++) ids[n] = qi[i], types[n++] = 0;
        for (size_t i = 0; i < nd; i++) ids[n] = di[i], types[n++] = 1;
        ids[n] = tok_sep(t), types[n++] = 1;
        total += n;
        double want = enc_tiny_ref_rank(w, ids, types, n);
        ASSERT_NEAR(score_of(res, d), want, 1e-4 + 1e-4 * fabs(want));
        mem_free(di);
    }
    mem_free(qi);
    tok_free(t);
    ASSERT_EQ_INT(api_jint(r.json, "usage.prompt_tokens"), total);
    for (int i = 0; i + 1 < 3; i++)
        ASSERT_TRUE(api_jget(res, "0") && json_number_value(json_object_get(json_array_get(res, i), "relevance_score")) >=
                                              json_number_value(json_object_get(json_array_get(res, i + 1), "relevance_score")));
    int first = (int)api_jint(res, "0.index");
    ASSERT_EQ_STR(api_jstr(res, "0.document.text"), docs[first]);
    api_resp_free(&r);
    /* top_n and return_documents, on the path without /v1. */
    post(&s, "/rerank",
         "{\"model\":\"ranker\",\"query\":\"What is the capital of France?\",\"documents\":"
         "[\"Paris is the capital of France.\",\"The quick brown fox.\",\"Bananas are yellow.\"],"
         "\"top_n\":1,\"return_documents\":false}",
         200, &r);
    ASSERT_EQ_INT(json_array_size(api_jget(r.json, "results")), 1);
    ASSERT_EQ_INT(api_jint(r.json, "results.0.index"), first);
    ASSERT_NULL(api_jget(r.json, "results.0.document"));
    api_resp_free(&r);
    /* Without a rank head: cosine similarity of the embeddings; the same text scores 1. */
    post(&s, "/v1/rerank",
         "{\"model\":\"bert-mean\",\"query\":\"Hello, world!\",\"documents\":"
         "[\"Bananas are yellow.\",\"Hello, world!\"]}",
         200, &r);
    ASSERT_EQ_INT(api_jint(r.json, "results.0.index"), 1);
    ASSERT_NEAR(json_number_value(api_jget(r.json, "results.0.relevance_score")), 1.0, 1e-4);
    ASSERT_TRUE(json_number_value(api_jget(r.json, "results.1.relevance_score")) < 0.9999);
    api_resp_free(&r);
    /* Errors. */
    const struct {
        const char *body, *param;
    } bad[] = {
        {"{\"model\":\"ranker\",\"query\":\"\",\"documents\":[\"a\"]}", "query"},
        {"{\"model\":\"ranker\",\"query\":\"q\",\"documents\":[]}", "documents"},
        {"{\"model\":\"ranker\",\"query\":\"q\",\"documents\":[5]}", "documents"},
        {"{\"model\":\"ranker\",\"query\":\"q\",\"documents\":[\"a\"],\"top_n\":-1}", "top_n"},
        {"{\"model\":\"tiny\",\"query\":\"q\",\"documents\":[\"a\"]}", "model"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        post(&s, "/v1/rerank", bad[i].body, 400, &r);
        ASSERT_EQ_STR(api_jstr(r.json, "error.param"), bad[i].param);
        api_resp_free(&r);
    }
    /* A pair longer than the context (64 tokens) is a 400 that says so. */
    buf b = {0};
    buf_append_str(&b, "{\"model\":\"ranker\",\"query\":\"q\",\"documents\":[\"short\",\"");
    for (int i = 0; i < 80; i++) buf_append_str(&b, "word ");
    buf_append_str(&b, "\"]}");
    post(&s, "/v1/rerank", b.data, 400, &r);
    ASSERT_CONTAINS(api_jstr(r.json, "error.message"), "context of 64");
    api_resp_free(&r);
    buf_free(&b);
    api_server_stop(&s);
    enc_tiny_free(w);
}

/* Several clients at once on one encoder model: each gets its own, correct vectors. */
typedef struct conc_arg {
    api_server *s;
    const float *ref;
    int text; /* which golden text this client sends */
    int ok;
} conc_arg;

static const char *golden_texts[5] = {
    "Hello, world!", "The quick brown fox jumps over the lazy dog.",
    "Sentence embeddings map text to vectors of numbers.",
    "Café prices rose 3.5% in 2024; nobody was amused.",
    "What's the capital of France? Paris, of course.",
};

static void *conc_client(void *p) {
    conc_arg *a = p;
    char body[256];
    snprintf(body, sizeof body, "{\"model\":\"bert-mean\",\"input\":[\"%s\",\"%s\"]}",
             golden_texts[a->text], golden_texts[(a->text + 1) % 5]);
    for (int k = 0; k < 4; k++) {
        api_resp r;
        api_http(a->s, "POST", "/v1/embeddings", body, NULL, &r);
        if (r.status == 200 && r.json &&
            max_diff(api_jget(r.json, "data.0.embedding"), a->ref + a->text * 256, 256) < 1.6e-4 &&
            max_diff(api_jget(r.json, "data.1.embedding"), a->ref + (a->text + 1) % 5 * 256, 256) < 1.6e-4)
            a->ok++;
        api_resp_free(&r);
    }
    return NULL;
}

TEST(enc_api_concurrent) {
    api_server s;
    start(&s);
    float *ref = golden("bert-mean-F32");
    pthread_t th[5];
    conc_arg args[5];
    for (int i = 0; i < 5; i++) {
        args[i] = (conc_arg){&s, ref, i, 0};
        ASSERT_EQ_INT(pthread_create(&th[i], NULL, conc_client, &args[i]), 0);
    }
    for (int i = 0; i < 5; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < 5; i++) ASSERT_EQ_INT(args[i].ok, 4);
    free(ref);
    api_server_stop(&s);
}
