/* multipart/form-data parsing: fields and files found in place, and every malformed body a
 * 400 with a message rather than a crash or a read past the end. */
#include "api_int.h"
#include "test.h"

static const char ct[] = "multipart/form-data; boundary=XyZ";

static int parse(const char *type, const char *body, size_t len, api_part **p, int *n, api_err *e) {
    static arena *a;
    if (!a) a = arena_new(0);
    return api_multipart_parse(type, (str_slice){body, len}, a, p, n, e);
}

TEST(api_multipart_fields_and_file) {
    static const char body[] =
        "--XyZ\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n"
        "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a b.wav\"\r\n"
        "Content-Type: audio/wav\r\n\r\nRIFF\0\r\n--Xy\r\nbinary\r\n"
        "--XyZ\r\ncontent-disposition: form-data; filename=\"x\"; "
        "name=timestamp_granularities[]\r\n\r\nword\r\n"
        "--XyZ--\r\n";
    api_part *p;
    int n;
    api_err e = {0};
    ASSERT_EQ_INT(parse(ct, body, sizeof body - 1, &p, &n, &e), 0);
    ASSERT_EQ_INT(n, 3);
    ASSERT_TRUE(str_eq_cstr(p[0].name, "model") && str_eq_cstr(p[0].data, "whisper-1"));
    const api_part *f = api_multipart_get(p, n, "file");
    ASSERT_NOT_NULL(f);
    ASSERT_TRUE(str_eq_cstr(f->filename, "a b.wav"));
    ASSERT_TRUE(str_eq_cstr(f->content_type, "audio/wav"));
    /* Binary data, with a NUL and a near-boundary inside, kept whole. */
    ASSERT_EQ_INT(f->data.len, 19);
    ASSERT_EQ_INT(memcmp(f->data.ptr, "RIFF\0\r\n--Xy\r\nbinary", 19), 0);
    ASSERT_TRUE(str_eq_cstr(p[2].name, "timestamp_granularities[]")); /* not filename= */
    ASSERT_NULL(api_multipart_get(p, n, "nope"));
}

TEST(api_multipart_malformed) {
    api_part *p;
    int n;
    api_err e = {0};
    ASSERT_NE_INT(parse("application/json", "{}", 2, &p, &n, &e), 0);
    ASSERT_CONTAINS(e.msg, "multipart/form-data");
    ASSERT_NE_INT(parse(NULL, "", 0, &p, &n, &e), 0);
    ASSERT_NE_INT(parse("multipart/form-data", "--a\r\n", 5, &p, &n, &e), 0);
    ASSERT_CONTAINS(e.msg, "boundary");
    static const char *bad[] = {
        "",                                                             /* empty */
        "no boundary at all",                                           /* no delimiter */
        "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv", /* no closing */
        "--XyZ\r\nContent-Disposition: form-data; name=\"a\"",          /* headers never end */
        "--XyZ\r\nContent-Type: text/plain\r\n\r\nv\r\n--XyZ--",        /* no name */
        "--XyZjunk",                                                    /* junk after boundary */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        memset(&e, 0, sizeof e);
        ASSERT_NE_INT(parse(ct, bad[i], strlen(bad[i]), &p, &n, &e), 0);
        ASSERT_EQ_INT(e.status, 400);
        ASSERT_TRUE(e.msg[0] != 0);
    }
    /* Every prefix of a good body: an error or a parse, never a read past its end (ASan). */
    static const char good[] =
        "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"q\"\r\n\r\nabc\r\n--XyZ--";
    for (size_t k = 0; k < sizeof good - 1; k++) {
        char *copy = mem_alloc(k ? k : 1);
        memcpy(copy, good, k);
        parse(ct, copy, k, &p, &n, &e);
        mem_free(copy);
    }
}
