/* gallery: internals shared by its files. */
#ifndef GALLERY_INT_H
#define GALLERY_INT_H

#include <jansson.h>

#include "gallery.h"

/* n bytes of d as lowercase hex into hex (2n+1 bytes). */
void gal_hex(const unsigned char *d, unsigned n, char *hex);
/* Whether name is safe as a file name in the models directory (no '/', not hidden). */
bool gal_safe_name(const char *name);
/* A heap copy of s with a trailing ".gguf" removed (case-insensitive). */
char *gal_strip_gguf(const char *s);

/* Parse a YAML document into JSON (new reference), or NULL with eb set. */
json_t *gal_yaml_parse(const char *text, size_t len, err_buf *eb);

#endif
