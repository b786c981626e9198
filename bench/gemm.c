/*
 * GEMM kernels against the vec_dot path, on one thread, timed in CPU time of the thread
 * (CLOCK_THREAD_CPUTIME_ID) rather than wall time: on a shared machine a process that loses
 * its core stops the clock too, so the figures move far less with the load than bench/kernels'
 * wall-clock ones (other processes still share caches and the memory bus). The two paths
 * (LOCALAI_GEMM=off and on, switched with kern_init) are timed alternately, best of each, and
 * a third, "r8", where the type has a repacked form (kern_repack).
 * The matrices are small enough to stay in L2/L3: this is the kernels' compute speed.
 *
 *   build/bench/gemm [N_IN N_OUT N_TOK [TYPE]]   (default 4096 256 32, every type; N_TOK 1:
 *                                                 the mat-vec; TYPE: q4_0, q8_0, ...)
 */
#include "base/base.h"
#include "kernels/kernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>

static double thread_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const int types[] = {GGUF_TYPE_Q8_0, GGUF_TYPE_Q4_0, GGUF_TYPE_Q5_0, GGUF_TYPE_Q4_1,
                            GGUF_TYPE_Q5_1, GGUF_TYPE_IQ4_NL, GGUF_TYPE_Q4_K, GGUF_TYPE_Q5_K,
                            GGUF_TYPE_Q6_K, GGUF_TYPE_IQ4_XS, GGUF_TYPE_Q3_K, GGUF_TYPE_Q2_K};

int main(int argc, char **argv) {
    int64_t n_in = 4096, n_out = 256, n_tok = 32;
    if (argc >= 4) n_in = atoll(argv[1]), n_out = atoll(argv[2]), n_tok = atoll(argv[3]);
    const char *only = argc >= 5 ? argv[4] : NULL;
    if (n_in <= 0 || n_in % 256 || n_out <= 0 || n_tok <= 0) {
        fprintf(stderr, "usage: %s [N_IN (a multiple of 256) N_OUT N_TOK [TYPE]]\n", argv[0]);
        return 2;
    }
    printf("one thread, CPU time, %lld x %lld weights by %lld tokens, best of 40 x 10 products "
           "per path, alternately\n",
           (long long)n_out, (long long)n_in, (long long)n_tok);
    uint64_t rng = 12345;
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        const kern_traits *t = kern_traits_of(types[ti]);
        if (only && strcasecmp(only, t->name) != 0) continue;
        const size_t rb = (size_t)(n_in / t->block_size) * t->type_size;
        uint8_t *W = mem_alloc(rb * (size_t)n_out);
        float *X = mem_alloc(sizeof(float) * (size_t)(n_in * n_tok));
        float *Y = mem_alloc(sizeof(float) * (size_t)(n_out * n_tok));
        /* The repacked copy (kern_repack), timed as a third path where the type has one. */
        const int ptype = kern_repack_type(types[ti], n_in, n_out);
        size_t scs = kern_matmul_scratch_size(types[ti], n_in, n_tok);
        if (ptype >= 0 && kern_matmul_scratch_size(ptype, n_in, n_tok) > scs)
            scs = kern_matmul_scratch_size(ptype, n_in, n_tok);
        void *sc = mem_alloc(scs ? scs : 1);
        if (!W || !X || !Y || !sc) return 1;
        /* Bytes 0x40-0x7f: any two read as a half are a finite, normal scale. */
        for (size_t i = 0; i < rb * (size_t)n_out; i++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            W[i] = (uint8_t)(0x40 | (rng >> 58));
        }
        for (int64_t i = 0; i < n_in * n_tok; i++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            X[i] = (float)((int)(rng >> 53) % 2001 - 1000) / 1000.0f;
        }
        uint8_t *P = ptype >= 0 ? mem_alloc(rb * (size_t)n_out) : NULL;
        if (P && kern_repack(types[ti], W, n_in, n_out, P, 0, n_out) != 0) return 1;
        const int paths = P ? 3 : 2;
        double best[3] = {1e30, 1e30, 1e30};
        for (int r = 0; r < 40 * paths; r++) {
            const int path = r % paths;
            if (path == 0)
                setenv("LOCALAI_GEMM", "off", 1);
            else
                unsetenv("LOCALAI_GEMM");
            kern_init(KERN_ISA_AUTO);
            const double t0 = thread_seconds();
            for (int k = 0; k < 10; k++)
                if (path == 2) kern_matmul(NULL, ptype, P, n_in, n_out, X, n_tok, Y, sc);
                else kern_matmul(NULL, types[ti], W, n_in, n_out, X, n_tok, Y, sc);
            const double s = (thread_seconds() - t0) / 10;
            if (s < best[path]) best[path] = s;
        }
        unsetenv("LOCALAI_GEMM");
        kern_init(KERN_ISA_AUTO);
        const double flop = 2.0 * (double)n_in * (double)n_out * (double)n_tok;
        printf("%-6s vec_dot %6.1f GFLOP/s   GEMM %6.1f GFLOP/s   x%.2f", t->name,
               flop / best[0] / 1e9, flop / best[1] / 1e9, best[0] / best[1]);
        if (P) printf("   r8 %6.1f GFLOP/s   x%.2f", flop / best[2] / 1e9, best[0] / best[2]);
        printf("\n");
        mem_free(P);
        mem_free(W);
        mem_free(X);
        mem_free(Y);
        mem_free(sc);
    }
    return 0;
}
