/* Word error rate for the speech tests: (substitutions + deletions + insertions) / reference
 * words, after lower-casing, dropping punctuation and spelling out "mr", so "And so, my fellow Americans" and
 * "and so my fellow americans" are the same words. */
#ifndef WER_H
#define WER_H

/* Edit distance in words between ref and hyp into *errors, reference word count into *words. */
void wer_count(const char *ref, const char *hyp, int *errors, int *words);
/* errors / words, or 1 when ref has no words. */
double wer(const char *ref, const char *hyp);

#endif
