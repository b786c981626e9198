/*
 * AVX-512 kernels. Placeholder table patch.
 */
#include "kernels_int.h"

void kern_patch_avx512(kern_traits *t, bool vnni) { (void)t; (void)vnni; }
