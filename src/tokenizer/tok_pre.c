/*
 * BPE pre-tokenizers: the split patterns llama.cpp uses for each tokenizer.ggml.pre value,
 * written as PCRE2 patterns (UTF + Unicode properties). The patterns of one pre-tokenizer are
 * applied in order, each splitting every piece the previous ones produced (matches and the
 * text between them both become pieces), which is how llama.cpp's unicode_regex_split works.
 */
#include <string.h>

#include "tok_int.h"

#define RE_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"
#define RE_CONTRACTIONS "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"
#define RE_LLAMA3                                                                        \
    RE_CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*" \
                    "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_QWEN2                                                                     \
    RE_CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*" \
                    "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
/* CJK ideographs, U+0800..U+4E00 and Hangul, as DeepSeek's tokenizer.json writes it. */
#define RE_DEEPSEEK_CJK "[\\x{4E00}-\\x{9FA5}\\x{800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+"
/* DeepSeek LLM's cased-letter class (Lu/Ll/Lt of an older Unicode), from its tokenizer.json. */
#define RE_DEEPSEEK_LETTERS \
    "A-Za-z\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA}\\x{1BC}-\\x{1BF}\\x{1C4}" \
    "-\\x{293}\\x{295}-\\x{2AF}\\x{370}-\\x{373}\\x{376}\\x{377}\\x{37B}-\\x{37D}\\x{37F}" \
    "\\x{386}\\x{388}-\\x{38A}\\x{38C}\\x{38E}-\\x{3A1}\\x{3A3}-\\x{3F5}\\x{3F7}-\\x{481}" \
    "\\x{48A}-\\x{52F}\\x{531}-\\x{556}\\x{10A0}-\\x{10C5}\\x{13A0}-\\x{13F5}\\x{13F8}-" \
    "\\x{13FD}\\x{1C90}-\\x{1CBA}\\x{1CBD}-\\x{1CBF}\\x{1D00}-\\x{1D2B}\\x{1D6B}-" \
    "\\x{1D77}\\x{1D79}-\\x{1D9A}\\x{1E00}-\\x{1F15}\\x{1F18}-\\x{1F1D}\\x{1F20}-" \
    "\\x{1F45}\\x{1F48}-\\x{1F4D}\\x{1F50}-\\x{1F57}\\x{1F59}\\x{1F5B}\\x{1F5D}\\x{1F5F}-" \
    "\\x{1F7D}\\x{1F80}-\\x{1FB4}\\x{1FB6}-\\x{1FBC}\\x{1FBE}\\x{1FC2}-\\x{1FC4}\\x{1FC6}" \
    "-\\x{1FCC}\\x{1FD0}-\\x{1FD3}\\x{1FD6}-\\x{1FDB}\\x{1FE0}-\\x{1FEC}\\x{1FF2}-" \
    "\\x{1FF4}\\x{1FF6}-\\x{1FFC}\\x{2102}\\x{2107}\\x{210A}-\\x{2113}\\x{2115}\\x{2119}-" \
    "\\x{211D}\\x{2124}\\x{2126}\\x{2128}\\x{212A}-\\x{212D}\\x{212F}-\\x{2134}\\x{2139}" \
    "\\x{213C}-\\x{213F}\\x{2145}-\\x{2149}\\x{214E}\\x{2183}\\x{2184}\\x{2C00}-\\x{2C7B}" \
    "\\x{2C7E}-\\x{2CE4}\\x{2CEB}-\\x{2CEE}\\x{2CF2}\\x{2CF3}\\x{A640}-\\x{A66D}\\x{A680}" \
    "-\\x{A69B}\\x{A722}-\\x{A76F}\\x{A771}-\\x{A787}\\x{A78B}-\\x{A78E}\\x{AB70}-" \
    "\\x{ABBF}\\x{FB00}-\\x{FB06}\\x{FB13}-\\x{FB17}\\x{FF21}-\\x{FF3A}\\x{FF41}-" \
    "\\x{FF5A}\\x{10400}-\\x{1044F}\\x{104B0}-\\x{104D3}\\x{104D8}-\\x{104FB}\\x{10C80}-" \
    "\\x{10CB2}\\x{10CC0}-\\x{10CF2}\\x{118A0}-\\x{118DF}\\x{1E900}-\\x{1E943}"
#define RE_BLOOM " ?[^(\\s|.,!?\\x{2026}\\x{3002}\\x{FF0C}\\x{3001}\\x{964}\\x{6D4}\\x{60C})]+"

typedef struct pre_def {
    const char *names; /* '|'-separated tokenizer.ggml.pre values */
    bool ignore_merges, add_bos, no_bos;
    const char *re[TOK_MAX_REGEX];
} pre_def;

static const pre_def pre_defs[] = {
    {"default", false, false, false,
     {"[\\p{P}\\$\\+<=>\\^~\\|]+", RE_GPT2, "\\p{N}+", "[0-9][0-9][0-9]"}},
    {"llama3|llama-v3|llama-bpe|falcon3", true, true, false, {RE_LLAMA3}},
    {"dbrx|smaug-bpe", false, false, false, {RE_LLAMA3}},
    {"chatglm-bpe", false, false, true, {RE_LLAMA3}},
    {"deepseek-llm", false, false, false,
     {"[\\r\\n]", "\\s?[" RE_DEEPSEEK_LETTERS "]+",
      "\\s?[!-/:-~\\x{FF01}-\\x{FF0F}\\x{FF1A}-\\x{FF5E}\\x{2018}-\\x{201F}\\x{3000}-\\x{3002}]+",
      "\\s+$", RE_DEEPSEEK_CJK, "\\p{N}+"}},
    {"deepseek-coder", false, false, false,
     {"[\\r\\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", RE_DEEPSEEK_CJK, "\\p{N}"}},
    {"deepseek-v3", false, false, false,
     {"\\p{N}{1,3}", "[\\x{4E00}-\\x{9FA5}\\x{3040}-\\x{309F}\\x{30A0}-\\x{30FF}]+",
      "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?"
      "[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}},
    {"falcon", false, false, false,
     {"[\\p{P}\\$\\+<=>\\^~\\|`]+", RE_GPT2, "[0-9][0-9][0-9]"}},
    {"starcoder|refact|command-r|smollm|codeshell|exaone|minerva-7b", false, false, false,
     {"\\p{N}", RE_GPT2}},
    {"gpt-2|phi-2|jina-es|jina-de|gigachat|jina-v1-en|jina-v2-es|jina-v2-de|jina-v2-code|"
     "roberta-bpe|mpt|olmo|jais",
     false, false, false, {RE_GPT2}},
    {"qwen2|deepseek-r1-qwen|megrez|stablelm2", false, false, false, {RE_QWEN2}},
    {"poro-chat|bloom|gpt3-finnish", false, false, false, {RE_BLOOM}},
    {"viking", false, false, false, {RE_BLOOM, "\\p{N}"}},
    {"tekken", true, true, false,
     {"[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+"
      "|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*"
      "|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}},
    {"chameleon", false, true, false,
     {"<sentinel:[0-9]+>", "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z", "([\\t\\n]|    |  )",
      "\\p{N}", "[\\p{P}!-/:-@\\[-`{-~]", RE_GPT2}},
};

static bool name_in(const char *names, const char *s, size_t n) {
    for (const char *p = names;;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && memcmp(p, s, n) == 0) return true;
        if (!bar) return false;
        p = bar + 1;
    }
}

static void *gctx_alloc(size_t n, void *ud) { (void)ud; return mem_alloc(n); }
static void gctx_free(void *p, void *ud) { (void)ud; mem_free(p); }

pcre2_code *tok_regex_compile(tok *t, const char *pattern, err_buf *eb) {
    if (!t->gctx) {
        t->gctx = pcre2_general_context_create(gctx_alloc, gctx_free, NULL);
        if (!t->gctx) {
            err_set(eb, BASE_ENOMEM, "out of memory");
            return NULL;
        }
    }
    pcre2_compile_context *cc = pcre2_compile_context_create(t->gctx);
    if (!cc) {
        err_set(eb, BASE_ENOMEM, "out of memory");
        return NULL;
    }
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF |
                                       PCRE2_DOLLAR_ENDONLY,
                                   &ec, &eo, cc);
    pcre2_compile_context_free(cc);
    if (!re) {
        PCRE2_UCHAR msg[128];
        pcre2_get_error_message(ec, msg, sizeof msg);
        err_set(eb, ec == PCRE2_ERROR_NOMEMORY ? BASE_ENOMEM : BASE_EINTERNAL,
                "pre-tokenizer pattern: %s at %zu", (const char *)msg, (size_t)eo);
        return NULL;
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* optional: the interpreter is the fallback */
    return re;
}

int tok_pre_setup(tok *t, const char *pre, size_t pre_len, err_buf *eb) {
    if (!pre || pre_len == 0) pre = "default", pre_len = 7;
    const pre_def *d = NULL;
    for (size_t i = 0; i < sizeof pre_defs / sizeof *pre_defs && !d; i++)
        if (name_in(pre_defs[i].names, pre, pre_len)) d = &pre_defs[i];
    if (!d)
        return err_set(eb, BASE_EUNSUPPORTED, "unknown pre-tokenizer '%.*s'", (int)pre_len, pre);
    t->ignore_merges = d->ignore_merges;
    if (d->add_bos) t->add_bos = true;
    if (d->no_bos) t->bos = TOK_NULL;
    for (int i = 0; i < TOK_MAX_REGEX && d->re[i]; i++) {
        t->re[i] = tok_regex_compile(t, d->re[i], eb);
        if (!t->re[i]) return eb ? eb->code : BASE_ENOMEM;
        t->n_re = i + 1;
    }
    return BASE_OK;
}
