/*
 * Tokenizer behaviour beyond the llama.cpp vectors: BOS/EOS and special ids, special-token
 * parsing, byte fallback, the streaming decoder (characters split across tokens, invalid
 * bytes), hostile metadata, and out-of-memory at every allocation.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "test.h"
#include "tokenizer/tok_int.h"

static tok *load(const char *rel) {
    err_buf eb = {0}, *e = &eb; /* a pointer: ASSERT_OK(rc, &eb) trips -Waddress */
    gguf *g = NULL;
    ASSERT_OK(gguf_open(test_shared_file(rel), &g, e), e);
    tok *t = NULL;
    ASSERT_OK(tok_load(g, &t, e), e);
    gguf_close(g);
    return t;
}

#define STORIES "testdata/llm/stories260K.gguf"
#define VOCAB(name) "testdata/tokenizer/ggml-vocab-" name ".gguf"

/* Encode and compare with an expected list. */
static void expect_ids(const tok *t, const char *text, bool add_special, bool parse_special,
                       const int32_t *want, size_t n_want) {
    err_buf eb = {0}, *e = &eb;
    int32_t *ids = NULL;
    size_t n = 0;
    ASSERT_OK(tok_encode(t, text, strlen(text), add_special, parse_special, &ids, &n, e), e);
    ASSERT_NOT_NULL(ids);
    for (size_t i = 0; i < n && i < n_want; i++) {
        if (ids[i] != want[i]) fprintf(stderr, "  \"%s\": id %zu differs\n", text, i);
        ASSERT_EQ_INT(ids[i], want[i]);
    }
    ASSERT_EQ_INT(n, n_want);
    mem_free(ids);
}
#define EXPECT_IDS(t, text, add, parse, ...)                                     \
    do {                                                                         \
        const int32_t want_[] = {__VA_ARGS__};                                   \
        expect_ids(t, text, add, parse, want_, sizeof want_ / sizeof *want_);    \
    } while (0)

static char *detok(const tok *t, const int32_t *ids, size_t n, bool special) {
    static char out[1024];
    buf b = {0};
    ASSERT_EQ_INT(tok_detokenize(t, ids, n, special, &b), 0);
    snprintf(out, sizeof out, "%s", b.data ? b.data : "");
    buf_free(&b);
    return out;
}

TEST(tok_stories_once_upon_a_time) {
    tok *t = load(STORIES);
    ASSERT_EQ_INT(tok_get_type(t), TOK_VOCAB_SPM);
    ASSERT_EQ_INT(tok_n_vocab(t), 512);
    ASSERT_EQ_INT(tok_bos(t), 1);
    ASSERT_EQ_INT(tok_eos(t), 2);
    ASSERT_EQ_INT(tok_unk(t), 0);
    ASSERT_EQ_INT(tok_sep(t), TOK_NULL); /* 4294967295 in the file: out of range, ignored */
    ASSERT_TRUE(tok_add_bos(t));
    ASSERT_FALSE(tok_add_eos(t));
    EXPECT_IDS(t, "Once upon a time", true, false, 1, 403, 407, 261, 378);
    EXPECT_IDS(t, "Once upon a time", false, false, 403, 407, 261, 378);
    EXPECT_IDS(t, "", true, false, 1);
    expect_ids(t, "", false, false, NULL, 0);

    size_t len;
    ASSERT_EQ_STR(tok_piece(t, 403, &len), "\xe2\x96\x81Once");
    ASSERT_EQ_INT(len, 7);
    ASSERT_NULL(tok_piece(t, 512, NULL));
    ASSERT_NULL(tok_piece(t, -1, NULL));
    ASSERT_EQ_INT(tok_find(t, "\xe2\x96\x81Once", 7), 403);
    ASSERT_EQ_INT(tok_find(t, "no such piece", 13), TOK_NULL);
    ASSERT_EQ_INT(tok_find(t, NULL, 0), TOK_NULL);
    ASSERT_EQ_INT(tok_find(t, "", 0), TOK_NULL);
    int32_t *none;
    size_t n_none;
    ASSERT_EQ_INT(tok_encode(t, NULL, 0, false, false, &none, &n_none, NULL), 0);
    ASSERT_EQ_INT(n_none, 0);
    mem_free(none);
    ASSERT_EQ_INT(tok_encode(t, NULL, 3, false, false, &none, &n_none, NULL), BASE_EINVAL);
    ASSERT_NULL(none);
    ASSERT_TRUE(tok_is_eog(t, 2));
    ASSERT_FALSE(tok_is_eog(t, 1));
    ASSERT_FALSE(tok_is_eog(t, 9999));

    /* Decoding drops BOS and the space SentencePiece put in front. */
    const int32_t ids[] = {1, 403, 407, 261, 378};
    ASSERT_EQ_STR(detok(t, ids, 5, false), "Once upon a time");
    ASSERT_EQ_STR(detok(t, ids + 1, 4, false), "Once upon a time");
    ASSERT_EQ_STR(detok(t, ids, 5, true), "<s> Once upon a time");
    const int32_t eos[] = {403, 2};
    ASSERT_EQ_STR(detok(t, eos, 2, false), "Once");
    ASSERT_EQ_STR(detok(t, eos, 2, true), "Once</s>");
    tok_free(t);
}

/* Characters outside a small vocabulary fall back to <0xNN> tokens, and come back whole. */
TEST(tok_spm_byte_fallback_and_stream) {
    tok *t = load(STORIES);
    /* 🦙 is F0 9F A6 99; byte tokens start at id 3. */
    EXPECT_IDS(t, "\xf0\x9f\xa6\x99", false, false, tok_find(t, "\xe2\x96\x81", 3), 3 + 0xF0,
               3 + 0x9F, 3 + 0xA6, 3 + 0x99);
    EXPECT_IDS(t, "\xff", false, false, tok_find(t, "\xe2\x96\x81", 3), 3 + 0xFF);

    tok_decoder *d = tok_decoder_new(t, false);
    ASSERT_NOT_NULL(d);
    buf out = {0};
    const int32_t ids[] = {1, 403, 3 + 0xF0, 3 + 0x9F, 3 + 0xA6, 3 + 0x99, 378};
    ASSERT_EQ_INT(tok_decoder_push(d, ids[0], &out), 0);
    ASSERT_EQ_INT(out.len, 0);
    ASSERT_EQ_INT(tok_decoder_push(d, ids[1], &out), 0);
    ASSERT_EQ_STR(out.data, "Once");
    for (int i = 2; i < 5; i++) { /* the first three bytes of the emoji: nothing yet */
        ASSERT_EQ_INT(tok_decoder_push(d, ids[i], &out), 0);
        ASSERT_EQ_STR(out.data, "Once");
    }
    ASSERT_EQ_INT(tok_decoder_push(d, ids[5], &out), 0);
    ASSERT_EQ_STR(out.data, "Once\xf0\x9f\xa6\x99");
    ASSERT_EQ_INT(tok_decoder_push(d, ids[6], &out), 0);
    ASSERT_EQ_STR(out.data, "Once\xf0\x9f\xa6\x99 time");
    ASSERT_EQ_INT(tok_decoder_flush(d, &out), 0);
    ASSERT_EQ_STR(out.data, "Once\xf0\x9f\xa6\x99 time");
    ASSERT_EQ_INT(tok_decoder_push(d, 4000, &out), BASE_EINVAL);
    buf_free(&out);
    tok_decoder_free(d);
    tok_free(t);
}

/* Invalid and unfinished sequences become U+FFFD: at once when they can never complete,
 * at flush when the stream ends inside one. */
TEST(tok_decoder_invalid_utf8) {
    tok *t = load(STORIES);
    const int32_t b = 3; /* <0x00> */
    struct {
        int32_t ids[6];
        int n;
        const char *before_flush, *after_flush;
    } cases[] = {
        {{b + 0xFF}, 1, "\xef\xbf\xbd", "\xef\xbf\xbd"},
        {{b + 0xE2, b + 0x82}, 2, "", "\xef\xbf\xbd"},
        {{b + 0xE2, b + 0x82, b + 0xAC}, 3, "\xe2\x82\xac", "\xe2\x82\xac"},
        {{b + 0xE2, b + 'A'}, 2, "\xef\xbf\xbd" "A", "\xef\xbf\xbd" "A"},
        {{b + 0xC3, b + 0xC3, b + 0xA9}, 3, "\xef\xbf\xbd\xc3\xa9", "\xef\xbf\xbd\xc3\xa9"},
        {{b + 0xED, b + 0xA0, b + 0x80}, 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd",
         "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* a surrogate: never valid */
        {{b + 0x80, b + 'x'}, 2, "\xef\xbf\xbdx", "\xef\xbf\xbdx"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        tok_decoder *d = tok_decoder_new(t, false);
        buf out = {0};
        for (int i = 0; i < cases[c].n; i++) ASSERT_EQ_INT(tok_decoder_push(d, cases[c].ids[i], &out), 0);
        ASSERT_EQ_STR(out.data ? out.data : "", cases[c].before_flush);
        ASSERT_EQ_INT(tok_decoder_flush(d, &out), 0);
        ASSERT_EQ_STR(out.data ? out.data : "", cases[c].after_flush);
        buf_free(&out);
        tok_decoder_free(d);
    }
    tok_free(t);
}

/* Byte-level BPE splits an emoji across tokens; the decoder holds the pieces back. */
TEST(tok_bpe_stream_split_character) {
    tok *t = load(VOCAB("gpt-2"));
    const char *text = "a \xf0\x9f\xa6\x99!";
    err_buf eb = {0}, *e = &eb;
    int32_t *ids;
    size_t n;
    ASSERT_OK(tok_encode(t, text, strlen(text), false, false, &ids, &n, e), e);
    ASSERT_CMP_INT(n, >=, 4);
    tok_decoder *d = tok_decoder_new(t, false);
    buf out = {0};
    size_t partial = 0; /* pushes after which the output ended inside nothing but held bytes */
    for (size_t i = 0; i < n; i++) {
        size_t before = out.len;
        ASSERT_EQ_INT(tok_decoder_push(d, ids[i], &out), 0);
        if (out.len == before) partial++;
        /* Whatever was emitted so far is a prefix of the text and ends on a character. */
        ASSERT_TRUE(out.len <= strlen(text) && memcmp(out.data, text, out.len) == 0);
        ASSERT_TRUE(out.len == 0 || (out.data[out.len - 1] & 0xC0) != 0xC0);
    }
    ASSERT_CMP_INT(partial, >=, 1);
    ASSERT_EQ_INT(tok_decoder_flush(d, &out), 0);
    ASSERT_EQ_STR(out.data, text);
    /* Token bytes: 'Ġ' is a space in GPT-2's alphabet. */
    buf b = {0};
    ASSERT_EQ_INT(tok_token_bytes(t, tok_find(t, "\xc4\xa0world", 7), false, &b), 0);
    ASSERT_EQ_STR(b.data, " world");
    buf_free(&b);
    buf_free(&out);
    tok_decoder_free(d);
    mem_free(ids);
    tok_free(t);
}

/* Invalid UTF-8 input still encodes byte by byte and round-trips through byte-level BPE. */
TEST(tok_bpe_invalid_utf8_input) {
    tok *t = load(VOCAB("qwen2"));
    const char text[] = "ok \xff\xfe\xc3 done \xe2\x82";
    err_buf eb = {0}, *e = &eb;
    int32_t *ids;
    size_t n;
    ASSERT_OK(tok_encode(t, text, sizeof text - 1, false, false, &ids, &n, e), e);
    buf out = {0};
    ASSERT_EQ_INT(tok_detokenize(t, ids, n, false, &out), 0);
    /* The decoder replaces the invalid bytes; the raw token bytes are exact. */
    buf raw = {0};
    for (size_t i = 0; i < n; i++) ASSERT_EQ_INT(tok_token_bytes(t, ids[i], false, &raw), 0);
    ASSERT_EQ_INT(raw.len, sizeof text - 1);
    ASSERT_TRUE(memcmp(raw.data, text, raw.len) == 0);
    ASSERT_CONTAINS(out.data, "ok \xef\xbf\xbd");
    ASSERT_CONTAINS(out.data, " done \xef\xbf\xbd");
    buf_free(&raw);
    buf_free(&out);
    mem_free(ids);
    tok_free(t);
}

/* Control tokens are matched only with parse_special; decoding renders them only if asked. */
TEST(tok_special_parsing_qwen2) {
    tok *t = load(VOCAB("qwen2"));
    const char *text = "<|im_start|>user\nHi<|im_end|>";
    EXPECT_IDS(t, text, false, true, 151644, 872, 198, 13048, 151645);
    err_buf eb = {0}, *e = &eb;
    int32_t *ids;
    size_t n;
    ASSERT_OK(tok_encode(t, text, strlen(text), false, false, &ids, &n, e), e);
    for (size_t i = 0; i < n; i++) ASSERT_CMP_INT(ids[i], <, 151643); /* no special ids */
    ASSERT_EQ_STR(detok(t, ids, n, false), text); /* plain text round trip */
    mem_free(ids);
    const int32_t sp[] = {151644, 872, 198, 13048, 151645};
    ASSERT_EQ_STR(detok(t, sp, 5, true), text);
    ASSERT_EQ_STR(detok(t, sp, 5, false), "user\nHi");
    /* qwen2 adds no BOS by default; ids and end-of-generation set. */
    ASSERT_FALSE(tok_add_bos(t));
    EXPECT_IDS(t, "Hi", true, false, 13048);
    ASSERT_EQ_INT(tok_eos(t), 151645);
    ASSERT_TRUE(tok_is_eog(t, 151645)); /* <|im_end|> */
    ASSERT_TRUE(tok_is_eog(t, 151643)); /* <|endoftext|> */
    ASSERT_FALSE(tok_is_eog(t, 151644));
    ASSERT_FALSE(tok_is_eog(t, 13048));
    ASSERT_TRUE(tok_attr(t, 151644) & TOK_ATTR_CONTROL);
    ASSERT_TRUE(tok_attr(t, 13048) & TOK_ATTR_NORMAL);
    tok_free(t);
}

TEST(tok_special_llama3) {
    tok *t = load(VOCAB("llama-bpe"));
    ASSERT_TRUE(tok_add_bos(t)); /* llama.cpp's default for llama-bpe */
    ASSERT_EQ_INT(tok_eot(t), 128009);
    ASSERT_TRUE(tok_is_eog(t, 128009));
    ASSERT_TRUE(tok_is_eog(t, 128001));
    EXPECT_IDS(t, "<|start_header_id|>user<|end_header_id|>", true, true, 128000, 128006, 882,
               128007);
    /* Longest special token first: "<|eot_id|>" is not split by a shorter one. */
    EXPECT_IDS(t, "Hi<|eot_id|>", false, true, 13347, 128009);
    tok_free(t);
}

/* Phi-3's special tokens eat the whitespace to their right (llama.cpp's RSTRIP), and the SPM
 * space prefix comes back after each special token. */
TEST(tok_special_phi3_rstrip) {
    tok *t = load(VOCAB("phi-3"));
    int32_t hello = tok_find(t, "\xe2\x96\x81hello", 8);
    ASSERT_NE_INT(hello, TOK_NULL);
    EXPECT_IDS(t, "<|user|>\n  hello<|end|>\n", true, true, 1, 32010, hello, 32007);
    ASSERT_TRUE(tok_is_eog(t, 32007)); /* <|end|> */
    ASSERT_TRUE(tok_is_eog(t, 32000)); /* eos <|endoftext|> */
    tok_free(t);
}

/* User-defined tokens match even without parse_special (MPT's runs of spaces). */
TEST(tok_user_defined_always_matched) {
    tok *t = load(VOCAB("mpt"));
    int32_t four = tok_find(t, "    ", 4);
    ASSERT_NE_INT(four, TOK_NULL);
    ASSERT_TRUE(tok_attr(t, four) & TOK_ATTR_USER_DEFINED);
    err_buf eb = {0}, *e = &eb;
    int32_t *ids;
    size_t n;
    ASSERT_OK(tok_encode(t, "a    b", 6, false, false, &ids, &n, e), e);
    bool found = false;
    for (size_t i = 0; i < n; i++) found |= ids[i] == four;
    ASSERT_TRUE(found);
    ASSERT_EQ_STR(detok(t, ids, n, false), "a    b");
    mem_free(ids);
    tok_free(t);
}

TEST(tok_wordpiece_cls_sep) {
    tok *t = load(VOCAB("bert-bge"));
    ASSERT_EQ_INT(tok_get_type(t), TOK_VOCAB_WPM);
    EXPECT_IDS(t, "Hello world", true, false, 101, 7592, 2088, 102);
    EXPECT_IDS(t, "Hello world", false, false, 7592, 2088);
    EXPECT_IDS(t, "HELLO, WÖRLD", false, false, 7592, 1010, 2088); /* lowercase, accent gone */
    EXPECT_IDS(t, "[CLS]", false, true, 101);
    const int32_t ids[] = {101, 7592, 1010, 2088, 102};
    /* Lossy and without llama.cpp's clean-up pass: each piece keeps its word-start space. */
    ASSERT_EQ_STR(detok(t, ids, 5, false), "hello , world");
    tok_free(t);
}

/* Build a GGUF in memory with the given tokenizer keys. */
typedef struct mini {
    buf file;
    gguf *g;
} mini;

static void mini_open(mini *m, gguf_writer *w) {
    err_buf eb = {0}, *e = &eb;
    memset(&m->file, 0, sizeof m->file);
    ASSERT_OK(gguf_writer_write_buf(w, &m->file, e), e);
    gguf_writer_free(w);
    ASSERT_OK(gguf_open_memory(m->file.data, m->file.len, &m->g, e), e);
}

static void mini_close(mini *m) {
    gguf_close(m->g);
    buf_free(&m->file);
}

static int try_load(gguf_writer *w, err_buf *eb) {
    mini m;
    mini_open(&m, w);
    tok *t = NULL;
    int rc = tok_load(m.g, &t, eb);
    if (rc) ASSERT_NULL(t);
    tok_free(t);
    mini_close(&m);
    return rc;
}

TEST(tok_load_rejects_bad_metadata) {
    static const char *const toks[] = {"a", "b", "ab"};
    static const float scores[] = {0, 0};
    err_buf eb = {0};

    gguf_writer *w = gguf_writer_new();
    ASSERT_EQ_INT(try_load(w, &eb), BASE_ENOTFOUND); /* no tokenizer.ggml.model */

    w = gguf_writer_new();
    gguf_writer_set_str(w, "tokenizer.ggml.model", "klingon");
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, 3);
    ASSERT_EQ_INT(try_load(w, &eb), BASE_EUNSUPPORTED);
    ASSERT_CONTAINS(eb.msg, "klingon");

    w = gguf_writer_new();
    gguf_writer_set_str(w, "tokenizer.ggml.model", "llama");
    ASSERT_EQ_INT(try_load(w, &eb), BASE_ENOTFOUND); /* no tokens */

    w = gguf_writer_new();
    gguf_writer_set_str(w, "tokenizer.ggml.model", "llama");
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, 3);
    gguf_writer_set_arr(w, "tokenizer.ggml.scores", GGUF_VT_F32, scores, 2);
    ASSERT_EQ_INT(try_load(w, &eb), BASE_EFORMAT); /* 2 scores for 3 tokens */

    w = gguf_writer_new();
    gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2");
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, 3);
    ASSERT_EQ_INT(try_load(w, &eb), BASE_ENOTFOUND); /* BPE without merges */

    static const char *const merges[] = {"a b", "nospace"};
    w = gguf_writer_new();
    gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2");
    gguf_writer_set_str(w, "tokenizer.ggml.pre", "no-such-pre");
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, 3);
    gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", merges, 2);
    ASSERT_EQ_INT(try_load(w, &eb), BASE_EUNSUPPORTED);
    ASSERT_CONTAINS(eb.msg, "no-such-pre");

    w = gguf_writer_new();
    gguf_writer_set_str(w, "tokenizer.ggml.model", "llama");
    gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 7); /* out of range: default kept */
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, 3);
    mini m;
    mini_open(&m, w);
    tok *t = NULL;
    err_buf eb2 = {0}, *e = &eb2;
    ASSERT_OK(tok_load(m.g, &t, e), e);
    mini_close(&m); /* the tokenizer copied what it needs */
    ASSERT_EQ_INT(tok_bos(t), 1);
    /* "ab" is one token; the '▁' in front is neither a token nor byte tokens: <unk> (id 0). */
    EXPECT_IDS(t, "ab", false, false, 0, 2);
    EXPECT_IDS(t, "ab", true, false, 1, 0, 2);
    tok_free(t);
}

/* A tiny BPE vocabulary: merges apply by rank, not by order of appearance. */
TEST(tok_bpe_merge_ranks) {
    static const char *const toks[] = {"a", "b", "c", "ab", "bc", "abc"};
    static const char *const merges[] = {"b c", "a b", "a bc"};
    gguf_writer *w = gguf_writer_new();
    gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2");
    gguf_writer_set_str(w, "tokenizer.ggml.pre", "gpt-2");
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, 6);
    gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", merges, 3);
    mini m;
    mini_open(&m, w);
    tok *t = NULL;
    err_buf eb = {0}, *e = &eb;
    ASSERT_OK(tok_load(m.g, &t, e), e);
    mini_close(&m);
    EXPECT_IDS(t, "abc", false, false, 5); /* b+c first (rank 0), then a+bc */
    EXPECT_IDS(t, "ab", false, false, 3);
    EXPECT_IDS(t, "cab", false, false, 2, 3);
    EXPECT_IDS(t, "ab cab", false, false, 3, 2, 3); /* ' ' is not in the vocab: dropped */
    tok_free(t);
}

/* Out of memory at every allocation of load and encode: a clean error, nothing leaked
 * (ASan checks the leaks). */
TEST(tok_oom_loop) {
    err_buf eb = {0}, *e = &eb;
    gguf *g = NULL;
    ASSERT_OK(gguf_open(test_shared_file(VOCAB("qwen2")), &g, e), e);
    const char *text = "<|im_start|>Hello, world! \xf0\x9f\xa6\x99 123<|im_end|>";
    for (long n = 0;; n++) {
        mem_fail_after(n);
        tok *t = NULL;
        int32_t *ids = NULL;
        size_t n_ids = 0;
        int rc = tok_load(g, &t, NULL);
        if (!rc) rc = tok_encode(t, text, strlen(text), true, true, &ids, &n_ids, NULL);
        buf out = {0};
        if (!rc) rc = tok_detokenize(t, ids, n_ids, true, &out);
        mem_fail_after(-1);
        if (!rc) ASSERT_EQ_STR(out.data, text);
        buf_free(&out);
        mem_free(ids);
        tok_free(t);
        if (rc == 0) break;
        ASSERT_EQ_INT(rc, BASE_ENOMEM);
        ASSERT_CMP_INT(n, <, 1000);
    }
    gguf_close(g);
}

/* End of generation beyond eos: fill-in-the-middle pad tokens and DeepSeek's end token. */
TEST(tok_eog_detection) {
    tok *t = load(VOCAB("starcoder"));
    ASSERT_EQ_INT(tok_find(t, "<fim_pad>", 9), 4);
    ASSERT_TRUE(tok_is_eog(t, 4));
    ASSERT_TRUE(tok_is_eog(t, 0)); /* <|endoftext|>, also eos */
    ASSERT_FALSE(tok_is_eog(t, 1)); /* <fim_prefix> */
    tok_free(t);
    t = load(VOCAB("deepseek-coder"));
    ASSERT_EQ_INT(tok_eos(t), 32014);
    ASSERT_EQ_INT(tok_eot(t), 32014);
    ASSERT_EQ_INT(tok_bos(t), 32013);
    ASSERT_TRUE(tok_add_bos(t));
    EXPECT_IDS(t, "x", true, false, 32013, tok_find(t, "x", 1));
    tok_free(t);
}

static void *encode_many(void *arg) {
    const tok *t = arg;
    const char *text = "Hello, world! \xf0\x9f\xa6\x99 <|im_end|> 12345 caf\xc3\xa9";
    int32_t *first = NULL;
    size_t n_first = 0;
    for (int i = 0; i < 200; i++) {
        int32_t *ids;
        size_t n;
        if (tok_encode(t, text, strlen(text), true, true, &ids, &n, NULL)) return (void *)1;
        if (!first) {
            first = ids, n_first = n;
            continue;
        }
        bool same = n == n_first && memcmp(ids, first, n * sizeof *ids) == 0;
        mem_free(ids);
        if (!same) return (void *)1;
    }
    mem_free(first);
    return NULL;
}

/* A loaded tokenizer is shared read-only: threads encode at once and agree. */
TEST(tok_concurrent_encode) {
    tok *t = load(VOCAB("qwen2"));
    pthread_t th[3];
    for (int i = 0; i < 3; i++) ASSERT_EQ_INT(pthread_create(&th[i], NULL, encode_many, t), 0);
    for (int i = 0; i < 3; i++) {
        void *r;
        pthread_join(th[i], &r);
        ASSERT_NULL(r);
    }
    tok_free(t);
}

/* The real model's greedy output decodes to the reference text (llama2.c's decoding rule:
 * BOS skipped, the first piece's leading space dropped), streamed one id at a time. */
TEST(tok_stories_greedy_text) {
    json_error_t jerr;
    json_t *root = json_load_file(test_shared_file("testdata/llm/stories260K.greedy.json"), 0, &jerr);
    ASSERT_NOT_NULL(root);
    json_t *gen = json_object_get(root, "generated_ids");
    const char *want = json_string_value(json_object_get(root, "generated_text"));
    ASSERT_NOT_NULL(want);
    ASSERT_CMP_INT(json_array_size(gen), >, 100);
    tok *t = load(STORIES);
    tok_decoder *d = tok_decoder_new(t, false);
    buf out = {0};
    ASSERT_EQ_INT(tok_decoder_push(d, 1, &out), 0); /* the prompt: BOS */
    for (size_t i = 0; i < json_array_size(gen); i++)
        ASSERT_EQ_INT(tok_decoder_push(d, (int32_t)json_integer_value(json_array_get(gen, i)), &out), 0);
    ASSERT_EQ_INT(tok_decoder_flush(d, &out), 0);
    ASSERT_EQ_STR(out.data, want);
    buf_free(&out);
    tok_decoder_free(d);
    tok_free(t);
    json_decref(root);
}

/* Spot checks of the generated tables (scripts/gen_tok_unicode.py; the whole range was
 * compared with Python's unicodedata when they were generated) and the GPT-2 byte map. */
TEST(tok_unicode_tables) {
    ASSERT_EQ_INT(tok_cpt_lower('A'), 'a');
    ASSERT_EQ_INT(tok_cpt_lower('z'), 'z');
    ASSERT_EQ_INT(tok_cpt_lower(0xD6), 0xF6);     /* Ö -> ö */
    ASSERT_EQ_INT(tok_cpt_lower(0x100), 0x101);   /* Ā -> ā (stride-2 range) */
    ASSERT_EQ_INT(tok_cpt_lower(0x101), 0x101);
    ASSERT_EQ_INT(tok_cpt_lower(0x130), 'i');     /* İ -> i (first of "i̇") */
    ASSERT_EQ_INT(tok_cpt_lower(0x411), 0x431);   /* Б -> б */
    ASSERT_EQ_INT(tok_cpt_lower(0x1E9E), 0xDF);   /* ẞ -> ß (negative delta) */
    ASSERT_EQ_INT(tok_cpt_lower(0x10400), 0x10428);
    ASSERT_EQ_INT(tok_cpt_nfd(0xE9), 'e');        /* é */
    ASSERT_EQ_INT(tok_cpt_nfd(0x1EED), 'u');      /* ử */
    ASSERT_EQ_INT(tok_cpt_nfd(0xAC00), 0x1100);   /* 가 -> ᄀ */
    ASSERT_EQ_INT(tok_cpt_nfd('x'), 'x');
    ASSERT_EQ_INT(tok_cpt_nfd(0x4E2D), 0x4E2D);   /* 中 */
    size_t n;
    ASSERT_EQ_STR(tok_byte_to_unicode(' ', &n), "\xc4\xa0"); /* Ġ */
    ASSERT_EQ_INT(n, 2);
    ASSERT_EQ_STR(tok_byte_to_unicode('a', &n), "a");
    ASSERT_EQ_INT(tok_unicode_to_byte(0x120), ' ');
    ASSERT_EQ_INT(tok_unicode_to_byte(0x10A), '\n'); /* Ċ */
    ASSERT_EQ_INT(tok_unicode_to_byte(0x4E2D), -1);
    for (int b = 0; b < 256; b++) {
        const char *u = tok_byte_to_unicode((uint8_t)b, &n);
        size_t i = 0;
        ASSERT_EQ_INT(tok_unicode_to_byte(tok_utf8_decode(u, n, &i)), b);
    }
}

/* The fuzz seeds (tests/corpus/tokenizer, see tok_fuzz.c) hold the target's properties:
 * byte-level BPE gives back the input, and decoding yields complete UTF-8 only. */
TEST(tok_corpus_seeds) {
    static const char *const seeds[] = {"gpt2_hello", "bpe_special", "spm_bytes",
                                        "bert_cjk",   "mpt_spaces",  "phi3_special"};
    static const char *const vocabs[] = {"llama-spm", "gpt-2", "llama-bpe",
                                         "bert-bge",  "mpt",   "phi-3"};
    for (size_t s = 0; s < sizeof seeds / sizeof *seeds; s++) {
        char path[256];
        snprintf(path, sizeof path, "tests/corpus/tokenizer/%s", seeds[s]);
        char *data;
        size_t size;
        err_buf eb = {0}, *e = &eb;
        ASSERT_OK(file_read_all(path, &data, &size, e), e);
        ASSERT_CMP_INT(size, >, 1);
        char vpath[128];
        snprintf(vpath, sizeof vpath, "testdata/tokenizer/ggml-vocab-%s.gguf",
                 vocabs[(data[0] & 0x0F) % 6]);
        tok *t = load(vpath);
        int32_t *ids;
        size_t n;
        bool parse = data[0] & 0x20;
        ASSERT_OK(tok_encode(t, data + 1, size - 1, data[0] & 0x10, parse, &ids, &n, e), e);
        ASSERT_CMP_INT(n, >, 0);
        buf out = {0};
        ASSERT_EQ_INT(tok_detokenize(t, ids, n, true, &out), 0);
        if (tok_get_type(t) == TOK_VOCAB_BPE) ASSERT_EQ_STR(out.data, data + 1); /* lossless */
        else ASSERT_TRUE(out.len > 0);
        buf_free(&out);
        mem_free(ids);
        mem_free(data);
        tok_free(t);
    }
}

/* Jina v2's <mask> eats the whitespace on its left (llama.cpp's LSTRIP), other pres do not. */
TEST(tok_special_lstrip_jina) {
    static const char *const toks[] = {"a", "\xc4\xa0", "<mask>"};
    static const int32_t types[] = {1, 1, 3};
    static const char *const merges[] = {"a a"};
    const char *pres[] = {"jina-v2-es", "gpt-2"};
    for (int i = 0; i < 2; i++) {
        gguf_writer *w = gguf_writer_new();
        gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2");
        gguf_writer_set_str(w, "tokenizer.ggml.pre", pres[i]);
        gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, 3);
        gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_VT_I32, types, 3);
        gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", merges, 1);
        mini m;
        mini_open(&m, w);
        tok *t = NULL;
        err_buf eb = {0}, *e = &eb;
        ASSERT_OK(tok_load(m.g, &t, e), e);
        mini_close(&m);
        if (i == 0) EXPECT_IDS(t, "a  <mask>", false, true, 0, 2);
        else EXPECT_IDS(t, "a  <mask>", false, true, 0, 1, 1, 2);
        tok_free(t);
    }
}
