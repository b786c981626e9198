/* Error codes and the caller-supplied message buffer. */
#include "base.h"

#include <stdio.h>

const char *base_err_str(int code) {
    switch (code) {
    case BASE_OK: return "ok";
    case BASE_ENOMEM: return "out of memory";
    case BASE_EINVAL: return "invalid argument";
    case BASE_EIO: return "i/o error";
    case BASE_EFORMAT: return "malformed data";
    case BASE_EUNSUPPORTED: return "not supported";
    case BASE_ENOTFOUND: return "not found";
    case BASE_ERANGE: return "out of range";
    case BASE_ETYPE: return "wrong type";
    case BASE_EBUSY: return "busy";
    case BASE_EPERM: return "not permitted";
    case BASE_ETIMEDOUT: return "timed out";
    case BASE_EFULL: return "capacity exhausted";
    case BASE_ECANCELED: return "canceled";
    case BASE_EINTERNAL: return "internal error";
    default: return "unknown error";
    }
}

int err_set(err_buf *eb, int code, const char *fmt, ...) {
    if (!eb) return code;
    eb->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(eb->msg, sizeof eb->msg, fmt, ap);
    va_end(ap);
    return code;
}

const char *err_msg(const err_buf *eb) {
    if (!eb) return "";
    if (eb->msg[0]) return eb->msg;
    return base_err_str(eb->code);
}
