/*
 * Rotary position embedding with llama.cpp's exact semantics (ggml's rope op): the angle of
 * pair i is built by repeated float multiplication, theta_i = pos * base^(-2i/n_rot), divided
 * by freq_factors[i], interpolated by freq_scale and, with YaRN (ext_factor != 0), blended
 * back towards extrapolation on a ramp between the correction dims, with the magnitude scaled
 * by attn_factor (and YaRN's 1 + 0.1 ln(1/freq_scale)). Normal mode rotates pairs (2i, 2i+1),
 * NeoX mode pairs (i, i + n_rot/2); dimensions past n_rot are left as they are.
 */
#include "kernels.h"

#include <math.h>

kern_rope_params kern_rope_default_params(void) {
    return (kern_rope_params){
        .n_rot = 0,
        .neox = false,
        .freq_base = 10000.0f,
        .freq_scale = 1.0f,
        .freq_factors = NULL,
        .ext_factor = 0.0f,
        .attn_factor = 1.0f,
        .beta_fast = 32.0f,
        .beta_slow = 1.0f,
        .n_ctx_orig = 0,
    };
}

/* The dimension at which a frequency completes n_rot_turns turns over n_ctx_orig positions. */
static float yarn_corr_dim(int n_dims, int n_ctx_orig, float n_rot_turns, float base) {
    return n_dims * logf((float)n_ctx_orig / (n_rot_turns * 2 * (float)M_PI)) / (2 * logf(base));
}

static void yarn_corr_dims(int n_dims, int n_ctx_orig, float base, float beta_fast,
                           float beta_slow, float dims[2]) {
    float start = floorf(yarn_corr_dim(n_dims, n_ctx_orig, beta_fast, base));
    float end = ceilf(yarn_corr_dim(n_dims, n_ctx_orig, beta_slow, base));
    dims[0] = start > 0 ? start : 0;
    dims[1] = end < (float)(n_dims - 1) ? end : (float)(n_dims - 1);
}

static float yarn_ramp(float low, float high, int i0) {
    const float d = high - low > 0.001f ? high - low : 0.001f;
    const float y = ((float)(i0 / 2) - low) / d;
    return 1.0f - fminf(1.0f, fmaxf(0.0f, y));
}

/* cos and sin of pair i0/2's angle, scaled by the magnitude correction. */
static void rope_yarn(float theta_extrap, float freq_scale, const float corr[2], int i0,
                      float ext_factor, float mscale, float *c, float *s) {
    const float theta_interp = freq_scale * theta_extrap;
    float theta = theta_interp;
    if (ext_factor != 0.0f) {
        const float mix = yarn_ramp(corr[0], corr[1], i0) * ext_factor;
        theta = theta_interp * (1 - mix) + theta_extrap * mix;
        mscale *= 1.0f + 0.1f * logf(1.0f / freq_scale);
    }
    *c = cosf(theta) * mscale;
    *s = sinf(theta) * mscale;
}

/* Pairs are processed in chunks so that the cos/sin table lives on the stack. */
#define ROPE_CHUNK 128

void kern_rope(float *x, int64_t n_heads, int64_t head_dim, int64_t pos,
               const kern_rope_params *p) {
    const int n_rot = p->n_rot;
    if (n_rot <= 0 || n_rot > head_dim) return;
    const int half = n_rot / 2;
    const float theta_scale = powf(p->freq_base, -2.0f / (float)n_rot);
    float corr[2] = {0, 0};
    if (p->ext_factor != 0.0f)
        yarn_corr_dims(n_rot, p->n_ctx_orig, p->freq_base, p->beta_fast, p->beta_slow, corr);

    float theta = (float)pos;
    float cs[ROPE_CHUNK], sn[ROPE_CHUNK];
    for (int i0 = 0; i0 < half; i0 += ROPE_CHUNK) {
        const int m = half - i0 < ROPE_CHUNK ? half - i0 : ROPE_CHUNK;
        for (int k = 0; k < m; k++) {
            const int i = i0 + k;
            const float ff = p->freq_factors ? p->freq_factors[i] : 1.0f;
            rope_yarn(theta / ff, p->freq_scale, corr, 2 * i, p->ext_factor, p->attn_factor,
                      &cs[k], &sn[k]);
            theta *= theta_scale;
        }
        for (int64_t h = 0; h < n_heads; h++) {
            float *v = x + h * head_dim;
            for (int k = 0; k < m; k++) {
                const int i = i0 + k;
                float *a = p->neox ? &v[i] : &v[2 * i];
                float *b = p->neox ? &v[i + half] : &v[2 * i + 1];
                const float x0 = *a, x1 = *b;
                *a = x0 * cs[k] - x1 * sn[k];
                *b = x0 * sn[k] + x1 * cs[k];
            }
        }
    }
}
