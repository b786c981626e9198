/*
 * gguf: read and write GGUF files (versions 2 and 3), the model format of llama.cpp.
 *
 * The reader maps the file read-only; tensor data and metadata strings point into the
 * mapping and stay valid until gguf_close. Every count, length, offset and size is checked
 * against the file size with overflow-safe arithmetic, so a truncated, corrupted or hostile
 * file gives an error naming the field and its offset, never a crash.
 *
 *   gguf *g;
 *   err_buf eb = {0};
 *   if (gguf_open("model.gguf", &g, &eb)) { fprintf(stderr, "%s\n", eb.msg); return; }
 *   uint32_t n_layer;
 *   if (gguf_get_u32(g, "llama.block_count", &n_layer, &eb)) ...;   // missing or wrong type
 *   const gguf_tensor *t = gguf_find_tensor(g, "token_embd.weight");
 *   // t->type, t->ne[0..3], t->data (t->nbytes bytes)
 *   gguf_close(g);
 *
 * The writer builds a file in memory (tests and tools use it to make small models):
 *
 *   gguf_writer *w = gguf_writer_new();
 *   gguf_writer_set_str(w, "general.architecture", "llama");
 *   gguf_writer_add_tensor(w, "token_embd.weight", GGUF_TYPE_F32, 2, ne, data, nbytes);
 *   gguf_writer_write_file(w, "out.gguf", &eb);
 *   gguf_writer_free(w);
 */
#ifndef GGUF_H
#define GGUF_H

#include "base/base.h"

/* Tensor types, numbered as ggml numbers them (these ids are what files store). */
typedef enum gguf_type {
    GGUF_TYPE_F32 = 0,
    GGUF_TYPE_F16 = 1,
    GGUF_TYPE_Q4_0 = 2,
    GGUF_TYPE_Q4_1 = 3,
    GGUF_TYPE_Q5_0 = 6,
    GGUF_TYPE_Q5_1 = 7,
    GGUF_TYPE_Q8_0 = 8,
    GGUF_TYPE_Q8_1 = 9,
    GGUF_TYPE_Q2_K = 10,
    GGUF_TYPE_Q3_K = 11,
    GGUF_TYPE_Q4_K = 12,
    GGUF_TYPE_Q5_K = 13,
    GGUF_TYPE_Q6_K = 14,
    GGUF_TYPE_Q8_K = 15,
    GGUF_TYPE_IQ2_XXS = 16,
    GGUF_TYPE_IQ2_XS = 17,
    GGUF_TYPE_IQ3_XXS = 18,
    GGUF_TYPE_IQ1_S = 19,
    GGUF_TYPE_IQ4_NL = 20,
    GGUF_TYPE_IQ3_S = 21,
    GGUF_TYPE_IQ2_S = 22,
    GGUF_TYPE_IQ4_XS = 23,
    GGUF_TYPE_I8 = 24,
    GGUF_TYPE_I16 = 25,
    GGUF_TYPE_I32 = 26,
    GGUF_TYPE_I64 = 27,
    GGUF_TYPE_F64 = 28,
    GGUF_TYPE_IQ1_M = 29,
    GGUF_TYPE_BF16 = 30,
    GGUF_TYPE_TQ1_0 = 34,
    GGUF_TYPE_TQ2_0 = 35,
    GGUF_TYPE_MXFP4 = 39, /* gpt-oss: 32 elements, an E8M0 scale and 16 bytes of FP4 */
    GGUF_TYPE_COUNT = 40, /* ids at or above this are unknown */
} gguf_type;

/* Metadata value types. */
typedef enum gguf_vtype {
    GGUF_VT_U8 = 0,
    GGUF_VT_I8 = 1,
    GGUF_VT_U16 = 2,
    GGUF_VT_I16 = 3,
    GGUF_VT_U32 = 4,
    GGUF_VT_I32 = 5,
    GGUF_VT_F32 = 6,
    GGUF_VT_BOOL = 7,
    GGUF_VT_STRING = 8,
    GGUF_VT_ARRAY = 9,
    GGUF_VT_U64 = 10,
    GGUF_VT_I64 = 11,
    GGUF_VT_F64 = 12,
    GGUF_VT_COUNT = 13,
} gguf_vtype;

#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_DIMS 4

/* ---- type facts ---- */

/* "Q4_K", "F32", ... or NULL for an id this build does not know. */
const char *gguf_type_name(int type);
/* Elements per block (1 for F32/F16/BF16, 32 or 256 for quantized) and bytes per block;
 * both 0 for an unknown id. */
int gguf_type_block_size(int type);
size_t gguf_type_size(int type);
/* Bytes a tensor of this type and shape takes; BASE_EINVAL when ne[0] is not a multiple of
 * the block size, BASE_ERANGE on overflow, BASE_EUNSUPPORTED for an unknown type. */
int gguf_tensor_nbytes(int type, int n_dims, const int64_t *ne, size_t *out);
const char *gguf_vtype_name(int vtype);

/* ---- reader ---- */

typedef struct gguf gguf;

typedef struct gguf_tensor {
    const char *name;  /* NUL-terminated, owned by the gguf */
    int type;          /* gguf_type */
    int n_dims;        /* 1..4 */
    int64_t ne[GGUF_MAX_DIMS]; /* elements per dimension, ne[0] fastest; unused dims are 1 */
    uint64_t offset;   /* from the start of the data section */
    size_t nbytes;
    const void *data;  /* into the mapping, aligned to the file's alignment */
} gguf_tensor;

/* Map and validate a file. On error *out is NULL and eb says what and where. */
int gguf_open(const char *path, gguf **out, err_buf *eb);
/* Parse a file image already in memory (fuzzing, tests). data must outlive the gguf. Tensor
 * data is aligned in memory only as far as data itself is (mem_alloc_aligned it if needed). */
int gguf_open_memory(const void *data, size_t size, gguf **out, err_buf *eb);
void gguf_close(gguf *g);

uint32_t gguf_version(const gguf *g);
size_t gguf_alignment(const gguf *g);
size_t gguf_file_size(const gguf *g);
/* Tell the mapping that the bytes [p, p + n) of its tensor data will not be read again (a
 * copy of them is used instead): the whole pages inside are dropped from this process's
 * resident memory, and read back from the file if they are touched after all. No-op for
 * gguf_open_memory images and for ranges outside the mapping. */
void gguf_release_range(const gguf *g, const void *p, size_t n);
size_t gguf_data_offset(const gguf *g); /* where the tensor data section starts */
/* The file behind g as gguf_open found it (what caches derived from it are keyed on). */
typedef struct gguf_file_id {
    uint64_t dev, ino, size;
    int64_t mtime_ns;
} gguf_file_id;
/* The absolute path gguf_open resolved, and the file's identity: false (path NULL) for
 * gguf_open_memory images. */
bool gguf_file_identity(const gguf *g, const char **path, gguf_file_id *id);

/* Metadata by index: 0 <= i < gguf_n_kv(g). */
int64_t gguf_n_kv(const gguf *g);
const char *gguf_kv_key(const gguf *g, int64_t i); /* NUL-terminated, owned by the gguf */
int gguf_kv_type(const gguf *g, int64_t i);        /* gguf_vtype */
/* The index of a key, or -1 when absent. */
int64_t gguf_find_key(const gguf *g, const char *key);

/* Typed lookups. They return 0, BASE_ENOTFOUND when the key is absent, BASE_ETYPE when it
 * holds another type, or BASE_ERANGE when an integer does not fit; eb names the key and the
 * type found. Integer getters accept any integer type whose value fits. gguf_get_f32 also
 * accepts F64. */
int gguf_get_u32(const gguf *g, const char *key, uint32_t *out, err_buf *eb);
int gguf_get_i32(const gguf *g, const char *key, int32_t *out, err_buf *eb);
int gguf_get_u64(const gguf *g, const char *key, uint64_t *out, err_buf *eb);
int gguf_get_i64(const gguf *g, const char *key, int64_t *out, err_buf *eb);
int gguf_get_f32(const gguf *g, const char *key, float *out, err_buf *eb);
int gguf_get_bool(const gguf *g, const char *key, bool *out, err_buf *eb);
/* A string value, not NUL-terminated: points into the mapping. */
int gguf_get_str(const gguf *g, const char *key, str_slice *out, err_buf *eb);

/* An array value. Elements are read with the accessors below (the file does not align them). */
typedef struct gguf_arr {
    int type;           /* element gguf_vtype (never ARRAY: nested arrays are rejected by
                           gguf_get_arr, though the reader accepts and skips them) */
    uint64_t n;         /* element count */
    const void *data;   /* first element in the mapping */
    const uint64_t *str_offsets; /* STRING arrays: byte offset of each element from data */
} gguf_arr;

/* elem_type is the required element type, or -1 for any. */
int gguf_get_arr(const gguf *g, const char *key, int elem_type, gguf_arr *out, err_buf *eb);
/* Element i (i < a->n) of an integer or BOOL array, as int64 (U64 above INT64_MAX wraps). */
int64_t gguf_arr_int(const gguf_arr *a, uint64_t i);
/* Element i of an F32, F64 or integer array, as double. */
double gguf_arr_float(const gguf_arr *a, uint64_t i);
/* Element i of a STRING array: a slice into the mapping. */
str_slice gguf_arr_str(const gguf_arr *a, uint64_t i);

/* Tensors by index or by name (hash lookup). */
int64_t gguf_n_tensors(const gguf *g);
const gguf_tensor *gguf_tensor_at(const gguf *g, int64_t i);
const gguf_tensor *gguf_find_tensor(const gguf *g, const char *name); /* NULL when absent */

/* ---- writer ---- */

typedef struct gguf_writer gguf_writer;

gguf_writer *gguf_writer_new(void); /* NULL when out of memory */
void gguf_writer_free(gguf_writer *w);
/* Setting a key that exists replaces it (in place: key order is kept). Strings and data are
 * copied. Setting "general.alignment" (u32, power of two) changes the alignment used for
 * tensor data; any other type or value for it is BASE_EINVAL. Setters return 0, BASE_ENOMEM,
 * or BASE_EINVAL for a NULL or empty key. */
int gguf_writer_set_u8(gguf_writer *w, const char *key, uint8_t v);
int gguf_writer_set_i8(gguf_writer *w, const char *key, int8_t v);
int gguf_writer_set_u16(gguf_writer *w, const char *key, uint16_t v);
int gguf_writer_set_i16(gguf_writer *w, const char *key, int16_t v);
int gguf_writer_set_u32(gguf_writer *w, const char *key, uint32_t v);
int gguf_writer_set_i32(gguf_writer *w, const char *key, int32_t v);
int gguf_writer_set_u64(gguf_writer *w, const char *key, uint64_t v);
int gguf_writer_set_i64(gguf_writer *w, const char *key, int64_t v);
int gguf_writer_set_f32(gguf_writer *w, const char *key, float v);
int gguf_writer_set_f64(gguf_writer *w, const char *key, double v);
int gguf_writer_set_bool(gguf_writer *w, const char *key, bool v);
int gguf_writer_set_str(gguf_writer *w, const char *key, const char *v);
int gguf_writer_set_strn(gguf_writer *w, const char *key, const char *v, size_t len);
/* An array of n numeric elements of elem_type, packed little-endian in data. */
int gguf_writer_set_arr(gguf_writer *w, const char *key, int elem_type, const void *data,
                        uint64_t n);
int gguf_writer_set_arr_str(gguf_writer *w, const char *key, const char *const *strs, uint64_t n);
/* Copy every key of g (tokenizer metadata, for example) into w. */
int gguf_writer_copy_kv(gguf_writer *w, const gguf *g, const char *prefix /* NULL: all */);
/* Add a tensor; data (nbytes, which must equal gguf_tensor_nbytes) is copied. BASE_EINVAL
 * for an empty or duplicate name, a bad shape or a wrong nbytes; BASE_EUNSUPPORTED for an
 * unknown type. */
int gguf_writer_add_tensor(gguf_writer *w, const char *name, int type, int n_dims,
                           const int64_t *ne, const void *data, size_t nbytes);
/* Serialize (version 3). Each tensor's data is padded to the alignment; a file without
 * tensors ends right after the metadata (as gguf-py writes it). write_buf appends to out. */
int gguf_writer_write_file(gguf_writer *w, const char *path, err_buf *eb);
int gguf_writer_write_buf(gguf_writer *w, buf *out, err_buf *eb);

#endif
