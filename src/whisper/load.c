/*
 * Loader for whisper.cpp's legacy ggml .bin: magic, 11 hyper-parameters, the mel filter bank,
 * the vocabulary, then tensors (header + data, no alignment) until the end of the file.
 *
 * The file is mapped read-only while loading, but the tensors are copied out: the format has no
 * alignment, so an F32 tensor may start at an odd offset and could not be read in place without
 * unaligned loads. Every tensor is checked by name, shape and type against what the
 * hyper-parameters say; every length is checked against the bytes left.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "whisper_int.h"

#define WH_MAGIC 0x67676d6cu
#define MAX_DIM (1 << 20)

typedef struct rd {
    const uint8_t *p;
    size_t len, off;
} rd;

static bool rd_i32(rd *r, int32_t *v) {
    if (r->len - r->off < 4) return false;
    memcpy(v, r->p + r->off, 4);
    r->off += 4;
    return true;
}

enum { K_VEC, K_MAT, K_CONV };

/* What the file must contain: one entry per tensor name. */
typedef struct slot {
    char name[64];
    int kind;
    int64_t ne[3];     /* expected ggml ne (ne[0] fastest); unused dims are 1 */
    const float **vec; /* K_VEC: where the F32 copy goes */
    wh_mat *mat;       /* K_MAT / K_CONV */
    bool seen;
    size_t off, bytes; /* data in the file */
    int type;
} slot;

typedef struct slots {
    slot *v;
    int n, cap;
} slots;

static slot *add(slots *s, int kind, const float **vec, wh_mat *mat, int64_t ne0, int64_t ne1,
                 int64_t ne2, const char *fmt, int layer) {
    slot *e = &s->v[s->n++];
    memset(e, 0, sizeof *e);
    snprintf(e->name, sizeof e->name, fmt, layer);
    e->kind = kind;
    e->ne[0] = ne0, e->ne[1] = ne1, e->ne[2] = ne2;
    e->vec = vec;
    e->mat = mat;
    return e;
}

static void add_block(slots *s, wh_layer *L, const char *pre, int i, int64_t D, bool cross) {
    char f[64];
#define V(field, name, n)                                                                          \
    (snprintf(f, sizeof f, "%s.%%d.%s", pre, name), add(s, K_VEC, &L->field, NULL, n, 1, 1, f, i))
#define M(field, name, in, out)                                                                    \
    (snprintf(f, sizeof f, "%s.%%d.%s", pre, name),                                                \
     add(s, K_MAT, NULL, &L->field, in, out, 1, f, i))
    M(q, "attn.query.weight", D, D);
    V(q_b, "attn.query.bias", D);
    M(k, "attn.key.weight", D, D);
    M(v, "attn.value.weight", D, D);
    V(v_b, "attn.value.bias", D);
    M(o, "attn.out.weight", D, D);
    V(o_b, "attn.out.bias", D);
    V(attn_ln_w, "attn_ln.weight", D);
    V(attn_ln_b, "attn_ln.bias", D);
    if (cross) {
        M(cq, "cross_attn.query.weight", D, D);
        V(cq_b, "cross_attn.query.bias", D);
        M(ck, "cross_attn.key.weight", D, D);
        M(cv, "cross_attn.value.weight", D, D);
        V(cv_b, "cross_attn.value.bias", D);
        M(co, "cross_attn.out.weight", D, D);
        V(co_b, "cross_attn.out.bias", D);
        V(cross_ln_w, "cross_attn_ln.weight", D);
        V(cross_ln_b, "cross_attn_ln.bias", D);
    }
    M(mlp0, "mlp.0.weight", D, 4 * D);
    V(mlp0_b, "mlp.0.bias", 4 * D);
    M(mlp2, "mlp.2.weight", 4 * D, D);
    V(mlp2_b, "mlp.2.bias", D);
    V(mlp_ln_w, "mlp_ln.weight", D);
    V(mlp_ln_b, "mlp_ln.bias", D);
#undef V
#undef M
}

static int check_hparams(const whisper_hparams *h, err_buf *eb) {
    const int *v = &h->n_vocab;
    for (int i = 0; i < 10; i++)
        if (v[i] <= 0 || v[i] > MAX_DIM)
            return err_set(eb, BASE_EFORMAT, "whisper: hyper-parameter %d out of range (%d)", i,
                           v[i]);
    if (h->n_audio_state != h->n_text_state)
        return err_set(eb, BASE_EUNSUPPORTED, "whisper: encoder width %d != decoder width %d",
                       h->n_audio_state, h->n_text_state);
    if (h->n_audio_state % h->n_audio_head || h->n_text_state % h->n_text_head)
        return err_set(eb, BASE_EFORMAT, "whisper: width not a multiple of the head count");
    if (h->n_audio_state > 16384 || h->n_audio_layer > 256 || h->n_text_layer > 256 ||
        h->n_text_ctx > 8192 || h->n_mels > 512)
        return err_set(eb, BASE_EFORMAT, "whisper: hyper-parameters too large");
    if (h->n_audio_ctx * 2 != WHISPER_WINDOW_FRAMES)
        return err_set(eb, BASE_EUNSUPPORTED, "whisper: n_audio_ctx %d (only 1500 supported)",
                       h->n_audio_ctx);
    if (h->n_vocab < 51864 || h->n_vocab > 51866)
        return err_set(eb, BASE_EUNSUPPORTED, "whisper: n_vocab %d is not a Whisper vocabulary",
                       h->n_vocab);
    if (h->n_text_ctx < 8)
        return err_set(eb, BASE_EFORMAT, "whisper: n_text_ctx %d too small", h->n_text_ctx);
    return 0;
}

/* whisper.cpp's special token ids: English-only vocabularies start at 50256, multilingual ones
 * one later and shifted by the number of languages past 98. */
static void set_tokens(whisper_model *m) {
    whisper_tokens *t = &m->tok;
    bool multi = m->hp.n_vocab >= 51865;
    t->eot = 50256, t->sot = 50257, t->translate = 50357, t->transcribe = 50358;
    t->solm = 50359, t->prev = 50360, t->nosp = 50361, t->notimestamps = 50362, t->beg = 50363;
    t->n_lang = m->hp.n_vocab - 51765 - (multi ? 1 : 0);
    if (multi) {
        int dt = t->n_lang - 98;
        t->eot++, t->sot++;
        t->translate += dt, t->transcribe += dt, t->solm += dt, t->prev += dt;
        t->nosp += dt, t->notimestamps += dt, t->beg += dt;
    }
}

static int read_header(whisper_model *m, rd *r, err_buf *eb) {
    int32_t magic, v;
    if (!rd_i32(r, &magic) || (uint32_t)magic != WH_MAGIC)
        return err_set(eb, BASE_EFORMAT, "whisper: not a ggml model (bad magic)");
    int *hp = &m->hp.n_vocab;
    for (int i = 0; i < 11; i++) {
        if (!rd_i32(r, &v)) return err_set(eb, BASE_EFORMAT, "whisper: truncated header");
        hp[i] = v;
    }
    int rc = check_hparams(&m->hp, eb);
    if (rc) return rc;
    set_tokens(m);
    int32_t n_mel, n_fft;
    if (!rd_i32(r, &n_mel) || !rd_i32(r, &n_fft))
        return err_set(eb, BASE_EFORMAT, "whisper: truncated mel filters");
    if (n_mel != m->hp.n_mels || n_fft != WHISPER_N_FFT / 2 + 1)
        return err_set(eb, BASE_EFORMAT, "whisper: mel filters %d x %d, expected %d x %d", n_mel,
                       n_fft, m->hp.n_mels, WHISPER_N_FFT / 2 + 1);
    size_t nb = (size_t)n_mel * (size_t)n_fft * 4;
    if (r->len - r->off < nb) return err_set(eb, BASE_EFORMAT, "whisper: truncated mel filters");
    m->n_fft_bins = n_fft;
    m->filters = mem_alloc(nb);
    if (!m->filters) return err_set(eb, BASE_ENOMEM, "whisper: out of memory");
    memcpy(m->filters, r->p + r->off, nb);
    r->off += nb;

    int32_t n_words;
    if (!rd_i32(r, &n_words) || n_words < 0 || n_words > m->hp.n_vocab)
        return err_set(eb, BASE_EFORMAT, "whisper: bad vocabulary size");
    /* Two passes over the words: sizes first (checked against the file), then copies. */
    size_t start = r->off, total = 0;
    for (int i = 0; i < n_words; i++) {
        int32_t len;
        if (!rd_i32(r, &len) || len < 0 || (size_t)len > r->len - r->off)
            return err_set(eb, BASE_EFORMAT, "whisper: truncated vocabulary at word %d", i);
        r->off += (size_t)len;
        total += (size_t)len;
    }
    m->n_words = n_words;
    m->words = mem_alloc(total + 1);
    m->word_off = mem_calloc((size_t)n_words + 1, sizeof *m->word_off);
    m->word_len = mem_calloc((size_t)n_words + 1, sizeof *m->word_len);
    if (!m->words || !m->word_off || !m->word_len)
        return err_set(eb, BASE_ENOMEM, "whisper: out of memory");
    size_t off = start, pos = 0;
    for (int i = 0; i < n_words; i++) {
        int32_t len;
        memcpy(&len, r->p + off, 4);
        off += 4;
        memcpy(m->words + pos, r->p + off, (size_t)len);
        m->word_off[i] = (uint32_t)pos, m->word_len[i] = (uint32_t)len;
        off += (size_t)len, pos += (size_t)len;
    }
    return 0;
}

static slot *find(slots *s, const char *name, size_t len) {
    for (int i = 0; i < s->n; i++)
        if (strlen(s->v[i].name) == len && memcmp(s->v[i].name, name, len) == 0) return &s->v[i];
    return NULL;
}

/* Read one tensor header and note where its data is. */
static int scan_tensor(slots *s, rd *r, err_buf *eb) {
    int32_t n_dims, name_len, type;
    if (!rd_i32(r, &n_dims) || !rd_i32(r, &name_len) || !rd_i32(r, &type))
        return err_set(eb, BASE_EFORMAT, "whisper: truncated tensor header at %zu", r->off);
    if (n_dims < 0 || n_dims > 4 || name_len <= 0 || name_len > 200)
        return err_set(eb, BASE_EFORMAT, "whisper: bad tensor header at %zu", r->off);
    int64_t ne[4] = {1, 1, 1, 1}, n = 1;
    for (int i = 0; i < n_dims; i++) {
        int32_t v;
        if (!rd_i32(r, &v)) return err_set(eb, BASE_EFORMAT, "whisper: truncated tensor header");
        if (v <= 0 || v > 1 << 28) return err_set(eb, BASE_EFORMAT, "whisper: bad tensor shape");
        ne[i] = v;
        n *= v;
        if (n > ((int64_t)1 << 34)) return err_set(eb, BASE_EFORMAT, "whisper: tensor too big");
    }
    if ((size_t)name_len > r->len - r->off)
        return err_set(eb, BASE_EFORMAT, "whisper: truncated tensor name");
    const char *name = (const char *)r->p + r->off;
    r->off += (size_t)name_len;
    slot *e = find(s, name, (size_t)name_len);
    if (!e) return err_set(eb, BASE_EFORMAT, "whisper: unexpected tensor '%.*s'", name_len, name);
    if (e->seen) return err_set(eb, BASE_EFORMAT, "whisper: tensor '%s' twice", e->name);
    /* Biases may be stored as [1, D] (conv) or [D]: compare element counts for vectors. */
    bool shape_ok = e->kind == K_VEC
                        ? n == e->ne[0] * e->ne[1] * e->ne[2]
                        : ne[0] == e->ne[0] && ne[1] == e->ne[1] && ne[2] == e->ne[2] && ne[3] == 1;
    if (!shape_ok)
        return err_set(eb, BASE_EFORMAT,
                       "whisper: tensor '%s' has shape [%lld, %lld, %lld], expected [%lld, %lld, "
                       "%lld]",
                       e->name, (long long)ne[0], (long long)ne[1], (long long)ne[2],
                       (long long)e->ne[0], (long long)e->ne[1], (long long)e->ne[2]);
    if (type < 0 || type >= GGUF_TYPE_COUNT)
        return err_set(eb, BASE_EFORMAT, "whisper: tensor '%s' has unknown type %d", e->name, type);
    int rc = kern_check_type(type, eb);
    if (rc) return rc;
    const kern_traits *tt = kern_traits_of(type);
    int64_t row = e->kind == K_CONV ? ne[0] * ne[1] : ne[0];
    if (e->kind == K_VEC) row = n;
    if (row % tt->block_size)
        return err_set(eb, BASE_EFORMAT, "whisper: tensor '%s': rows of %lld do not fit %s blocks",
                       e->name, (long long)row, tt->name);
    size_t bytes = (size_t)(n / tt->block_size) * tt->type_size;
    if (bytes > r->len - r->off)
        return err_set(eb, BASE_EFORMAT, "whisper: tensor '%s' truncated (%zu bytes, %zu left)",
                       e->name, bytes, r->len - r->off);
    e->seen = true, e->type = type, e->off = r->off, e->bytes = bytes;
    r->off += bytes;
    return 0;
}

static size_t align32(size_t n) { return (n + 31) & ~(size_t)31; }

/* Copy each tensor into the blob: vectors converted to F32, matrices kept in their type. */
static int place(whisper_model *m, slots *s, const uint8_t *file, err_buf *eb) {
    size_t total = 0;
    for (int i = 0; i < s->n; i++) {
        slot *e = &s->v[i];
        size_t n = e->kind == K_VEC ? (size_t)(e->ne[0] * e->ne[1] * e->ne[2]) * 4 : e->bytes;
        total += align32(n);
    }
    m->blob = mem_alloc_aligned(32, total ? total : 32);
    if (!m->blob) return err_set(eb, BASE_ENOMEM, "whisper: out of memory for %zu bytes", total);
    uint8_t *p = m->blob;
    for (int i = 0; i < s->n; i++) {
        slot *e = &s->v[i];
        const kern_traits *tt = kern_traits_of(e->type);
        if (e->kind == K_VEC) {
            int64_t n = e->ne[0] * e->ne[1] * e->ne[2];
            tt->to_float(file + e->off, (float *)p, n);
            *e->vec = (const float *)p;
            p += align32((size_t)n * 4);
        } else {
            memcpy(p, file + e->off, e->bytes);
            e->mat->type = e->type;
            e->mat->n_in = e->kind == K_CONV ? e->ne[0] * e->ne[1] : e->ne[0];
            e->mat->n_out = e->kind == K_CONV ? e->ne[2] : e->ne[1];
            e->mat->data = p;
            p += align32(e->bytes);
        }
    }
    return 0;
}

static int build_slots(whisper_model *m, slots *s, err_buf *eb) {
    const whisper_hparams *h = &m->hp;
    int64_t D = h->n_audio_state;
    s->cap = 16 + 15 * h->n_audio_layer + 24 * h->n_text_layer;
    s->v = mem_calloc((size_t)s->cap, sizeof *s->v);
    m->enc = mem_calloc((size_t)h->n_audio_layer, sizeof *m->enc);
    m->dec = mem_calloc((size_t)h->n_text_layer, sizeof *m->dec);
    if (!s->v || !m->enc || !m->dec) return err_set(eb, BASE_ENOMEM, "whisper: out of memory");
    add(s, K_VEC, &m->enc_pos, NULL, D, h->n_audio_ctx, 1, "encoder.positional_embedding", 0);
    add(s, K_CONV, NULL, &m->conv1, 3, h->n_mels, D, "encoder.conv1.weight", 0);
    add(s, K_VEC, &m->conv1_b, NULL, D, 1, 1, "encoder.conv1.bias", 0);
    add(s, K_CONV, NULL, &m->conv2, 3, D, D, "encoder.conv2.weight", 0);
    add(s, K_VEC, &m->conv2_b, NULL, D, 1, 1, "encoder.conv2.bias", 0);
    for (int i = 0; i < h->n_audio_layer; i++) add_block(s, &m->enc[i], "encoder.blocks", i, D, 0);
    add(s, K_VEC, &m->ln_post_w, NULL, D, 1, 1, "encoder.ln_post.weight", 0);
    add(s, K_VEC, &m->ln_post_b, NULL, D, 1, 1, "encoder.ln_post.bias", 0);
    add(s, K_VEC, &m->dec_pos, NULL, D, h->n_text_ctx, 1, "decoder.positional_embedding", 0);
    add(s, K_MAT, NULL, &m->tok_emb, D, h->n_vocab, 1, "decoder.token_embedding.weight", 0);
    for (int i = 0; i < h->n_text_layer; i++) add_block(s, &m->dec[i], "decoder.blocks", i, D, 1);
    add(s, K_VEC, &m->ln_w, NULL, D, 1, 1, "decoder.ln.weight", 0);
    add(s, K_VEC, &m->ln_b, NULL, D, 1, 1, "decoder.ln.bias", 0);
    return 0;
}

static int load_mapped(whisper_model *m, const uint8_t *p, size_t len, err_buf *eb) {
    rd r = {p, len, 0};
    int rc = read_header(m, &r, eb);
    if (rc) return rc;
    slots s = {0};
    rc = build_slots(m, &s, eb);
    while (!rc && r.off < r.len) rc = scan_tensor(&s, &r, eb);
    for (int i = 0; !rc && i < s.n; i++)
        if (!s.v[i].seen)
            rc = err_set(eb, BASE_EFORMAT, "whisper: tensor '%s' is missing", s.v[i].name);
    if (!rc) rc = place(m, &s, p, eb);
    mem_free(s.v);
    return rc;
}

int whisper_model_load(whisper_model **out, const char *path, err_buf *eb) {
    *out = NULL;
    kern_traits_of(GGUF_TYPE_F32); /* make sure the kernels are initialized */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return err_set(eb, BASE_EIO, "whisper: cannot open %s", path);
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < 4) {
        close(fd);
        return err_set(eb, BASE_EFORMAT, "whisper: %s is empty or unreadable", path);
    }
    size_t len = (size_t)st.st_size;
    void *p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return err_set(eb, BASE_EIO, "whisper: cannot map %s", path);
    int rc = wh_model_load_mem(out, p, len, eb);
    munmap(p, len);
    return rc;
}

int wh_model_load_mem(whisper_model **out, const void *data, size_t len, err_buf *eb) {
    *out = NULL;
    kern_traits_of(GGUF_TYPE_F32);
    whisper_model *m = mem_calloc(1, sizeof *m);
    int rc = m ? load_mapped(m, data, len, eb) : err_set(eb, BASE_ENOMEM, "whisper: out of memory");
    if (rc) {
        whisper_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

void whisper_model_free(whisper_model *m) {
    if (!m) return;
    mem_free(m->filters);
    mem_free(m->words);
    mem_free(m->word_off);
    mem_free(m->word_len);
    mem_free(m->enc);
    mem_free(m->dec);
    mem_free_aligned(m->blob);
    mem_free(m);
}

bool whisper_file_is_ggml(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    int32_t h[12];
    ssize_t n = read(fd, h, sizeof h);
    close(fd);
    if (n != (ssize_t)sizeof h || (uint32_t)h[0] != WH_MAGIC) return false;
    whisper_hparams hp;
    memcpy(&hp, h + 1, sizeof hp);
    return check_hparams(&hp, NULL) == 0;
}

void whisper_model_set_vad(whisper_model *m, const whisper_vad *vad) { m->vad = vad; }
const whisper_hparams *whisper_model_hparams(const whisper_model *m) { return &m->hp; }
bool whisper_model_is_multilingual(const whisper_model *m) { return m->hp.n_vocab >= 51865; }
const whisper_tokens *whisper_model_tokens(const whisper_model *m) { return &m->tok; }

str_slice whisper_token_text(const whisper_model *m, int id) {
    str_slice s = {"", 0};
    if (id >= 0 && id < m->n_words && id < m->tok.eot) {
        s.ptr = m->words + m->word_off[id];
        s.len = m->word_len[id];
    }
    return s;
}
