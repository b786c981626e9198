/* models: internals shared by config.c and registry.c. */
#ifndef MODELS_INT_H
#define MODELS_INT_H

#include "models.h"

/* The chat template used when a model carries none: ChatML. */
extern const char mdl_chatml_template[];

#endif
