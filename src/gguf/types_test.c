/* Tests of the type table against ggml's numbers and of gguf_tensor_nbytes' checks. */
#include "gguf/gguf.h"
#include "test.h"

TEST(gguf_types_table) {
    static const struct { int id; const char *name; int block; size_t bytes; } want[] = {
        {GGUF_TYPE_F32, "F32", 1, 4},          {GGUF_TYPE_F16, "F16", 1, 2},
        {GGUF_TYPE_Q4_0, "Q4_0", 32, 18},      {GGUF_TYPE_Q4_1, "Q4_1", 32, 20},
        {GGUF_TYPE_Q5_0, "Q5_0", 32, 22},      {GGUF_TYPE_Q5_1, "Q5_1", 32, 24},
        {GGUF_TYPE_Q8_0, "Q8_0", 32, 34},      {GGUF_TYPE_Q8_1, "Q8_1", 32, 36},
        {GGUF_TYPE_Q2_K, "Q2_K", 256, 84},     {GGUF_TYPE_Q3_K, "Q3_K", 256, 110},
        {GGUF_TYPE_Q4_K, "Q4_K", 256, 144},    {GGUF_TYPE_Q5_K, "Q5_K", 256, 176},
        {GGUF_TYPE_Q6_K, "Q6_K", 256, 210},    {GGUF_TYPE_Q8_K, "Q8_K", 256, 292},
        {GGUF_TYPE_IQ2_XXS, "IQ2_XXS", 256, 66}, {GGUF_TYPE_IQ2_XS, "IQ2_XS", 256, 74},
        {GGUF_TYPE_IQ3_XXS, "IQ3_XXS", 256, 98}, {GGUF_TYPE_IQ1_S, "IQ1_S", 256, 50},
        {GGUF_TYPE_IQ4_NL, "IQ4_NL", 32, 18},  {GGUF_TYPE_IQ3_S, "IQ3_S", 256, 110},
        {GGUF_TYPE_IQ2_S, "IQ2_S", 256, 82},   {GGUF_TYPE_IQ4_XS, "IQ4_XS", 256, 136},
        {GGUF_TYPE_I8, "I8", 1, 1},            {GGUF_TYPE_I16, "I16", 1, 2},
        {GGUF_TYPE_I32, "I32", 1, 4},          {GGUF_TYPE_I64, "I64", 1, 8},
        {GGUF_TYPE_F64, "F64", 1, 8},          {GGUF_TYPE_IQ1_M, "IQ1_M", 256, 56},
        {GGUF_TYPE_BF16, "BF16", 1, 2},        {GGUF_TYPE_TQ1_0, "TQ1_0", 256, 54},
        {GGUF_TYPE_TQ2_0, "TQ2_0", 256, 66},   {GGUF_TYPE_MXFP4, "MXFP4", 32, 17},
    };
    int known = 0;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        ASSERT_EQ_STR(gguf_type_name(want[i].id), want[i].name);
        ASSERT_EQ_INT(gguf_type_block_size(want[i].id), want[i].block);
        ASSERT_EQ_UINT(gguf_type_size(want[i].id), want[i].bytes);
    }
    for (int id = -3; id < GGUF_TYPE_COUNT + 5; id++) known += gguf_type_name(id) != NULL;
    ASSERT_EQ_INT(known, (int)(sizeof want / sizeof want[0]));
    /* Removed or never-assigned ids. */
    static const int unknown[] = {-1, 4, 5, 31, 32, 33, 36, 37, 38, 40, 1000};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        ASSERT_NULL(gguf_type_name(unknown[i]));
        ASSERT_EQ_INT(gguf_type_block_size(unknown[i]), 0);
        ASSERT_EQ_UINT(gguf_type_size(unknown[i]), 0);
    }
}

TEST(gguf_types_nbytes) {
    size_t n = 0;
    int64_t ne[4] = {256, 512, 1, 1};
    ASSERT_EQ_INT(gguf_tensor_nbytes(GGUF_TYPE_Q4_K, 2, ne, &n), 0);
    ASSERT_EQ_UINT(n, 512 * 144);
    ASSERT_EQ_INT(gguf_tensor_nbytes(GGUF_TYPE_F32, 2, ne, &n), 0);
    ASSERT_EQ_UINT(n, 256 * 512 * 4);
    int64_t ne3[3] = {64, 3, 5};
    ASSERT_EQ_INT(gguf_tensor_nbytes(GGUF_TYPE_Q8_0, 3, ne3, &n), 0);
    ASSERT_EQ_UINT(n, 2 * 34 * 15);
    /* ne[0] not a multiple of the block. */
    int64_t bad[1] = {100};
    ASSERT_EQ_INT(gguf_tensor_nbytes(GGUF_TYPE_Q4_0, 1, bad, &n), BASE_EINVAL);
    ASSERT_EQ_INT(gguf_tensor_nbytes(GGUF_TYPE_F16, 1, bad, &n), 0);
    ASSERT_EQ_UINT(n, 200);
    /* Non-positive sizes and bad dimension counts. */
    int64_t zero[2] = {32, 0}, neg[2] = {32, -1};
    ASSERT_EQ_INT(gguf_tensor_nbytes(GGUF_TYPE_F32, 2, zero, &n), BASE_EINVAL);
    ASSERT_EQ_INT(gguf_tensor_nbytes(GGUF_TYPE_F32, 2, neg, &n), BASE_EINVAL);
    ASSERT_EQ_INT(gguf_tensor_nbytes(GGUF_TYPE_F32, 0, ne, &n), BASE_EINVAL);
    ASSERT_EQ_INT(gguf_tensor_nbytes(GGUF_TYPE_F32, 5, ne, &n), BASE_EINVAL);
    /* Overflow: bytes, and elements (I8 has 1 byte per element, so only the count
     * overflows int64 first when the product is in (2^63, 2^64)). */
    int64_t big[2] = {INT64_C(1) << 40, INT64_C(1) << 40};
    ASSERT_EQ_INT(gguf_tensor_nbytes(GGUF_TYPE_F32, 2, big, &n), BASE_ERANGE);
    int64_t big2[2] = {INT64_C(1) << 32, INT64_C(1) << 31};
    ASSERT_EQ_INT(gguf_tensor_nbytes(GGUF_TYPE_I8, 2, big2, &n), BASE_ERANGE);
    int64_t ok2[2] = {INT64_C(1) << 32, INT64_C(1) << 30};
    ASSERT_EQ_INT(gguf_tensor_nbytes(GGUF_TYPE_I8, 2, ok2, &n), 0);
    ASSERT_EQ_UINT(n, UINT64_C(1) << 62);
    ASSERT_EQ_INT(gguf_tensor_nbytes(99, 2, ne, &n), BASE_EUNSUPPORTED);
}

TEST(gguf_types_vtype_names) {
    ASSERT_EQ_STR(gguf_vtype_name(GGUF_VT_U8), "u8");
    ASSERT_EQ_STR(gguf_vtype_name(GGUF_VT_STRING), "string");
    ASSERT_EQ_STR(gguf_vtype_name(GGUF_VT_ARRAY), "array");
    ASSERT_EQ_STR(gguf_vtype_name(GGUF_VT_F64), "f64");
    ASSERT_NULL(gguf_vtype_name(GGUF_VT_COUNT));
    ASSERT_NULL(gguf_vtype_name(-1));
}
