/*
 * AVX2 (+FMA, F16C) kernels. Placeholder table patch; filled in below as kernels land.
 */
#include "kernels_int.h"

void kern_patch_avx2(kern_traits *t) { (void)t; }
