/*
 * Facts about ggml tensor types and GGUF metadata types: names, block sizes, bytes per
 * block, and the byte size of a tensor. The numbers are ggml's (they define the file
 * format); the table is indexed by the id stored in files.
 */
#include "gguf_int.h"

typedef struct type_info {
    const char *name;
    int block;    /* elements per block */
    size_t bytes; /* bytes per block */
} type_info;

/* Ids 4, 5 (old Q4_2/Q4_3) and 31..33, 36..38 (repacked layouts) were removed from ggml
 * and stay unknown here. */
static const type_info types[GGUF_TYPE_COUNT] = {
    [GGUF_TYPE_F32] = {"F32", 1, 4},
    [GGUF_TYPE_F16] = {"F16", 1, 2},
    [GGUF_TYPE_Q4_0] = {"Q4_0", 32, 18},
    [GGUF_TYPE_Q4_1] = {"Q4_1", 32, 20},
    [GGUF_TYPE_Q5_0] = {"Q5_0", 32, 22},
    [GGUF_TYPE_Q5_1] = {"Q5_1", 32, 24},
    [GGUF_TYPE_Q8_0] = {"Q8_0", 32, 34},
    [GGUF_TYPE_Q8_1] = {"Q8_1", 32, 36},
    [GGUF_TYPE_Q2_K] = {"Q2_K", 256, 84},
    [GGUF_TYPE_Q3_K] = {"Q3_K", 256, 110},
    [GGUF_TYPE_Q4_K] = {"Q4_K", 256, 144},
    [GGUF_TYPE_Q5_K] = {"Q5_K", 256, 176},
    [GGUF_TYPE_Q6_K] = {"Q6_K", 256, 210},
    [GGUF_TYPE_Q8_K] = {"Q8_K", 256, 292},
    [GGUF_TYPE_IQ2_XXS] = {"IQ2_XXS", 256, 66},
    [GGUF_TYPE_IQ2_XS] = {"IQ2_XS", 256, 74},
    [GGUF_TYPE_IQ3_XXS] = {"IQ3_XXS", 256, 98},
    [GGUF_TYPE_IQ1_S] = {"IQ1_S", 256, 50},
    [GGUF_TYPE_IQ4_NL] = {"IQ4_NL", 32, 18},
    [GGUF_TYPE_IQ3_S] = {"IQ3_S", 256, 110},
    [GGUF_TYPE_IQ2_S] = {"IQ2_S", 256, 82},
    [GGUF_TYPE_IQ4_XS] = {"IQ4_XS", 256, 136},
    [GGUF_TYPE_I8] = {"I8", 1, 1},
    [GGUF_TYPE_I16] = {"I16", 1, 2},
    [GGUF_TYPE_I32] = {"I32", 1, 4},
    [GGUF_TYPE_I64] = {"I64", 1, 8},
    [GGUF_TYPE_F64] = {"F64", 1, 8},
    [GGUF_TYPE_IQ1_M] = {"IQ1_M", 256, 56},
    [GGUF_TYPE_BF16] = {"BF16", 1, 2},
    [GGUF_TYPE_TQ1_0] = {"TQ1_0", 256, 54},
    [GGUF_TYPE_TQ2_0] = {"TQ2_0", 256, 66},
    [GGUF_TYPE_MXFP4] = {"MXFP4", 32, 17},
};

static const type_info *type_get(int type) {
    if (type < 0 || type >= GGUF_TYPE_COUNT || !types[type].name) return NULL;
    return &types[type];
}

const char *gguf_type_name(int type) {
    const type_info *t = type_get(type);
    return t ? t->name : NULL;
}

int gguf_type_block_size(int type) {
    const type_info *t = type_get(type);
    return t ? t->block : 0;
}

size_t gguf_type_size(int type) {
    const type_info *t = type_get(type);
    return t ? t->bytes : 0;
}

int gguf_tensor_nbytes(int type, int n_dims, const int64_t *ne, size_t *out) {
    const type_info *t = type_get(type);
    if (!t) return BASE_EUNSUPPORTED;
    if (n_dims < 1 || n_dims > GGUF_MAX_DIMS || !ne) return BASE_EINVAL;
    for (int d = 0; d < n_dims; d++)
        if (ne[d] <= 0) return BASE_EINVAL;
    if (ne[0] % t->block != 0) return BASE_EINVAL;
    /* The row in bytes, then times every other dimension; also keep the element count
     * within int64 so that callers may multiply ne freely. */
    size_t n = (size_t)(ne[0] / t->block), nel = (size_t)ne[0];
    if (!size_mul(n, t->bytes, &n)) return BASE_ERANGE;
    for (int d = 1; d < n_dims; d++) {
        if (!size_mul(n, (size_t)ne[d], &n)) return BASE_ERANGE;
        if (!size_mul(nel, (size_t)ne[d], &nel)) return BASE_ERANGE;
    }
    if (nel > (size_t)INT64_MAX || n > (size_t)INT64_MAX) return BASE_ERANGE;
    *out = n;
    return BASE_OK;
}

static const char *const vtype_names[GGUF_VT_COUNT] = {
    [GGUF_VT_U8] = "u8",     [GGUF_VT_I8] = "i8",         [GGUF_VT_U16] = "u16",
    [GGUF_VT_I16] = "i16",   [GGUF_VT_U32] = "u32",       [GGUF_VT_I32] = "i32",
    [GGUF_VT_F32] = "f32",   [GGUF_VT_BOOL] = "bool",     [GGUF_VT_STRING] = "string",
    [GGUF_VT_ARRAY] = "array", [GGUF_VT_U64] = "u64",     [GGUF_VT_I64] = "i64",
    [GGUF_VT_F64] = "f64",
};

const char *gguf_vtype_name(int vtype) {
    if (vtype < 0 || vtype >= GGUF_VT_COUNT) return NULL;
    return vtype_names[vtype];
}

size_t gguf_vtype_size(int vtype) {
    switch (vtype) {
    case GGUF_VT_U8: case GGUF_VT_I8: case GGUF_VT_BOOL: return 1;
    case GGUF_VT_U16: case GGUF_VT_I16: return 2;
    case GGUF_VT_U32: case GGUF_VT_I32: case GGUF_VT_F32: return 4;
    case GGUF_VT_U64: case GGUF_VT_I64: case GGUF_VT_F64: return 8;
    default: return 0;
    }
}
