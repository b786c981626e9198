/* stt: option defaults and result ownership shared by every speech-to-text backend. */
#include "stt/stt.h"

#include <string.h>

void stt_opts_init(stt_opts *o)
{
    memset(o, 0, sizeof *o);
    o->use_vad = 1;
}

void stt_result_free(stt_result *r)
{
    if (!r) return;
    for (int i = 0; i < r->n_segs; i++) {
        stt_segment *s = &r->segs[i];
        mem_free(s->text);
        mem_free(s->tokens);
        for (int w = 0; w < s->n_words; w++) mem_free(s->words[w].text);
        mem_free(s->words);
    }
    mem_free(r->segs);
    mem_free(r->text);
    mem_free(r->language);
    memset(r, 0, sizeof *r);
}
