#!/bin/sh
# A/B of two versions of one packed-kernel file (src/kernels/gemm_r8*_avx2.c) on a mat-vec:
#   git show HEAD:src/kernels/gemm_r8k_avx2.c > /tmp/old.c
#   bench/ab/run.sh q4_k /tmp/old.c src/kernels/gemm_r8k_avx2.c [THREADS [ROUNDS]]
# Run from the repository root after `make` (it links build/liblocalai.a). Extra compiler
# flags for one side: CFLAGS_A / CFLAGS_B (e.g. CFLAGS_B=-DSOME_KNOB=2).
set -e
[ $# -ge 3 ] || { sed -n '2,6p' "$0"; exit 2; }
type=$1 a=$2 b=$3
shift 3
sym=$(grep -o '^void kern_patch_avx2_r8[a-z0-9]*' "$b" | cut -d' ' -f2)
[ -n "$sym" ] || { echo "$b: no kern_patch_avx2_r8* function" >&2; exit 2; }
skip=""
for s in kern_patch_avx2_r8q6k kern_patch_avx2_r8k kern_patch_avx2_r8q5k \
         kern_patch_avx2_r8iq4xs kern_patch_avx2_r8q3k; do
    [ "$s" = "$sym" ] || skip="$skip -D$s=ab_skip_${s#kern_patch_avx2_}"
done
one=""
case $sym in
kern_patch_avx2_r8k | kern_patch_avx2_r8q5k | kern_patch_avx2_r8iq4xs | kern_patch_avx2_r8q3k)
    one=-DAB_NO_BATCH ;;
esac
out=build/bench/ab
mkdir -p $out
flags="-std=c11 -D_GNU_SOURCE -pthread -O2 -march=x86-64-v2 -mavx2 -mfma -mf16c -mbmi2 -Isrc -Isrc/kernels"
cc $flags $skip $CFLAGS_A -D$sym=patch_A -c "$a" -o $out/a.o
cc $flags $skip $CFLAGS_B -D$sym=patch_B -c "$b" -o $out/b.o
libs=$(make -s --no-print-directory --eval 'print-ldlibs: ; @echo $(LDLIBS)' print-ldlibs)
cc $flags $one -Wall -Wextra -Werror -o $out/matvec_ab bench/ab/matvec_ab.c $out/a.o $out/b.o build/liblocalai.a $libs
$out/matvec_ab "$type" "$@"
