/*
 * ui: the web UI (chat and models), served from files embedded at build time.
 *
 *   server *s;  ... server_new ...
 *   api_register(s, &ctx);
 *   ui_register(s);      // GET / and GET /ui/<file>; public, no API key needed
 *
 * The page itself needs no key; the API calls it makes send one (Authorization: Bearer)
 * when the server asks for it. Responses carry an ETag (If-None-Match gives 304),
 * Cache-Control: no-cache (revalidate each time: the file names carry no hash), and the gzip
 * copy made at build time when the client accepts gzip.
 */
#ifndef UI_H
#define UI_H

#include "server/server.h"

/* Add the UI's routes. Returns 0, or a negative base error when the route table is full. */
int ui_register(server *s);

#endif
