/* stt output formats: each of OpenAI's response formats from one result, exactly. */
#include <stdlib.h>
#include <string.h>

#include "stt.h"
#include "test.h"

static void make(stt_result *r) {
    memset(r, 0, sizeof *r);
    r->text = mem_strdup(" Hello there. General Kenobi");
    r->language = mem_strdup("en");
    r->duration = 3725.5;
    r->n_segs = 2;
    r->segs = mem_calloc(2, sizeof *r->segs);
    r->segs[0] = (stt_segment){.id = 0, .start = 0.0, .end = 1.25, .text = mem_strdup(" Hello there.")};
    r->segs[0].tokens = mem_alloc(2 * sizeof(int));
    r->segs[0].tokens[0] = 2425, r->segs[0].tokens[1] = 456, r->segs[0].n_tokens = 2;
    r->segs[1] = (stt_segment){.id = 1, .start = 3723.5, .end = 3725.004, .text = mem_strdup(" General \xff Kenobi")};
    r->segs[1].words = mem_calloc(1, sizeof(stt_word));
    r->segs[1].words[0] = (stt_word){.start = 3723.5, .end = 3724.0, .text = mem_strdup(" General")};
    r->segs[1].n_words = 1;
}

TEST(stt_format_every_kind) {
    stt_result r;
    make(&r);
    buf b = {0};
    ASSERT_EQ_INT(stt_format_result(&r, STT_FMT_TEXT, NULL, &b), 0);
    ASSERT_EQ_STR(b.data, "Hello there. General Kenobi\n");
    b.len = 0;
    ASSERT_EQ_INT(stt_format_result(&r, STT_FMT_SRT, NULL, &b), 0);
    ASSERT_EQ_STR(b.data, "1\n00:00:00,000 --> 00:00:01,250\nHello there.\n\n"
                          "2\n01:02:03,500 --> 01:02:05,004\nGeneral \xff Kenobi\n\n");
    b.len = 0;
    ASSERT_EQ_INT(stt_format_result(&r, STT_FMT_VTT, NULL, &b), 0);
    ASSERT_EQ_INT(strncmp(b.data, "WEBVTT\n\n00:00:00.000 --> 00:00:01.250\nHello there.\n\n", 51), 0);
    b.len = 0;
    ASSERT_EQ_INT(stt_format_result(&r, STT_FMT_JSON, NULL, &b), 0);
    ASSERT_EQ_STR(b.data, "{\"text\":\"Hello there. General Kenobi\"}");
    b.len = 0;
    stt_format_opts o = {.translate = 1, .segments = 1, .words = 1};
    ASSERT_EQ_INT(stt_format_result(&r, STT_FMT_VERBOSE_JSON, &o, &b), 0);
    ASSERT_CONTAINS(b.data, "\"task\":\"translate\",\"language\":\"english\",\"duration\":3725.5");
    ASSERT_CONTAINS(b.data, "\"tokens\":[2425,456]");
    ASSERT_CONTAINS(b.data, "\"text\":\" General \xef\xbf\xbd Kenobi\""); /* bad byte replaced */
    ASSERT_CONTAINS(b.data, "\"words\":[{\"word\":\"General\",\"start\":3723.5,\"end\":3724.0}]");
    b.len = 0;
    o = (stt_format_opts){0};
    ASSERT_EQ_INT(stt_format_result(&r, STT_FMT_VERBOSE_JSON, &o, &b), 0);
    ASSERT_TRUE(!strstr(b.data, "segments") && !strstr(b.data, "words"));
    buf_free(&b);
    stt_result_free(&r);
    stt_format f;
    ASSERT_EQ_INT(stt_format_parse("verbose_json", &f), 0);
    ASSERT_EQ_INT(f, STT_FMT_VERBOSE_JSON);
    ASSERT_EQ_INT(stt_format_parse("docx", &f), BASE_EINVAL);
    ASSERT_EQ_STR(stt_language_name("de"), "german");
    ASSERT_EQ_STR(stt_language_name("xx"), "xx");
}

TEST(stt_wer_counts) {
    int e, n;
    stt_wer_count("And so, my fellow Americans", "and so my fellow americans", &e, &n);
    ASSERT_EQ_INT(e, 0);
    ASSERT_EQ_INT(n, 5);
    stt_wer_count("mister john dashwood", "mr john guess what", &e, &n);
    ASSERT_EQ_INT(e, 2); /* one substitution, one insertion */
    ASSERT_NEAR(stt_wer("a b c d", ""), 1.0, 1e-9);
    ASSERT_NEAR(stt_wer("", "x"), 1.0, 1e-9);
}
