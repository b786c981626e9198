/*
 * repack: how fast each packed type is made (kern_repack, one thread), which is what the first
 * load of a model spends before its repack cache exists. A 4096 x 8192 matrix of random
 * bytes per type, best of 3.
 *
 *   build/bench/repack          every type with a packed form on this CPU
 *   build/bench/repack q3_k     one
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "gguf/gguf.h"
#include "kernels/kernels.h"

#define N_IN 4096
#define N_OUT 8192

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int bench(int type) {
    const int64_t ne[2] = {N_IN, N_OUT};
    size_t bytes;
    if (gguf_tensor_nbytes(type, 2, ne, &bytes)) return 1;
    unsigned char *w = malloc(bytes), *p = malloc(bytes);
    if (!w || !p) {
        fprintf(stderr, "repack: out of memory\n");
        return 1;
    }
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < bytes; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        w[i] = (unsigned char)x;
    }
    memset(p, 0, bytes); /* the destination's pages backed before timing */
    double best = 1e30;
    for (int r = 0; r < 3; r++) {
        const double t0 = now();
        const int rc = kern_repack(type, w, N_IN, N_OUT, p, 0, N_OUT);
        const double t = now() - t0;
        if (rc) {
            fprintf(stderr, "repack: %s: error %d\n", gguf_type_name(type), rc);
            return 1;
        }
        if (t < best) best = t;
    }
    printf("%-7s | %7.1f MB | %8.2f ms | %6.0f MB/s\n", gguf_type_name(type), (double)bytes / 1e6,
           best * 1e3, (double)bytes / 1e6 / best);
    free(w);
    free(p);
    return 0;
}

int main(int argc, char **argv) {
    kern_init(KERN_ISA_AUTO);
    printf("repack bench: %d x %d matrix, one thread, best of 3\n", N_IN, N_OUT);
    printf("type    |  weights   |    time     | speed\n");
    int rc = 0, n = 0;
    for (int t = 0; t < GGUF_TYPE_COUNT; t++) {
        const char *name = gguf_type_name(t);
        if (!name || kern_repack_type(t, N_IN, N_OUT) < 0) continue;
        if (argc > 1 && strcasecmp(argv[1], name)) continue;
        rc |= bench(t);
        n++;
    }
    if (!n) printf("(no packed type%s on this CPU)\n", argc > 1 ? " of that name" : "s");
    return rc;
}
