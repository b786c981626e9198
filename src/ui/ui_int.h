/* Internals of ui/: the table of embedded files, written by scripts/embed-assets into
 * build/gen/ui_assets.c at build time. */
#ifndef UI_INT_H
#define UI_INT_H

#include <stddef.h>

typedef struct ui_asset {
    const char *path;          /* URL path: "/ui/app.js" */
    const char *content_type;  /* "text/javascript; charset=utf-8" */
    const unsigned char *data; /* the file's bytes */
    size_t len;
    const unsigned char *gz; /* the same, gzip-compressed; NULL when that is not smaller */
    size_t gz_len;
    const char *etag; /* strong ETag of data, quotes included: "\"0123abcd\"" */
} ui_asset;

/* Ends with an all-NULL row; ui_n_assets rows before it. */
extern const ui_asset ui_assets[];
extern const size_t ui_n_assets;

#endif
