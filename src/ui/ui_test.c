/* The page stays light: everything embedded (all of it is what a first load fetches) is under
 * 300 KB as sent compressed, and index.html loads nothing from another host (no CDN). */
#include <stdio.h>
#include <string.h>

#include "test.h"
#include "ui_int.h"

TEST(ui_first_load_under_300k) {
    size_t sent = 0, raw = 0;
    const ui_asset *index = NULL;
    for (size_t i = 0; i < ui_n_assets; i++) {
        const ui_asset *a = &ui_assets[i];
        raw += a->len;
        sent += a->gz ? a->gz_len : a->len;
        if (!strcmp(a->path, "/ui/index.html")) index = a;
    }
    fprintf(stderr, "web UI: %zu files, %zu bytes, %zu bytes as sent with gzip\n", ui_n_assets, raw,
            sent);
    ASSERT_CMP_INT((long)sent, <, 300 * 1024);
    ASSERT_NOT_NULL(index);
    char *html = mem_strndup((const char *)index->data, index->len);
    ASSERT_NOT_NULL(html);
    /* Every src= and href= is this server's (a path) or a data:/fragment URL. */
    for (const char *p = html; (p = strstr(p, "=\"")); p += 2) {
        bool attr = (p - html >= 3 && !strncmp(p - 3, "src", 3)) ||
                    (p - html >= 4 && !strncmp(p - 4, "href", 4));
        if (!attr) continue;
        const char *v = p + 2;
        if (!(v[0] == '/' && v[1] != '/') && v[0] != '#' && strncmp(v, "data:", 5))
            test_fail(__FILE__, __LINE__, "index.html loads %.40s", v);
    }
    mem_free(html);
}
