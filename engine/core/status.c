/* status.c -- the run-time version, status names, error messages, errno
 * mapping and logging.
 *
 * Every failure in the library goes through lu__fail so the caller's
 * lu_error gets the status and a message; messages that do not fit end in
 * "..." rather than being cut silently.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

const char *lu_version(void)
{
    return LU_VERSION_STR;
}

unsigned lu_version_number(void)
{
    return LU_VERSION_NUM;
}

const char *lu_status_name(int status)
{
    switch (status) {
    case LU_OK: return "OK";
    case LU_INVALID_HEADER: return "INVALID_HEADER";
    case LU_MEM_ERROR: return "MEM_ERROR";
    case LU_INVALID_RESOURCE: return "INVALID_RESOURCE";
    case LU_VERSION_MISMATCH: return "VERSION_MISMATCH";
    case LU_ENGINE_VERSION_MISMATCH: return "ENGINE_VERSION_MISMATCH";
    case LU_SIGNATURE_MISMATCH: return "SIGNATURE_MISMATCH";
    case LU_SCHEME_MISMATCH: return "SCHEME_MISMATCH";
    case LU_BUNDLED_RESOURCE_MISMATCH: return "BUNDLED_RESOURCE_MISMATCH";
    case LU_FORMAT_ERROR: return "FORMAT_ERROR";
    case LU_IO_ERROR: return "IO_ERROR";
    case LU_INVAL: return "INVAL";
    case LU_NOT_INITIALIZED: return "NOT_INITIALIZED";
    case LU_NAME_EXISTS: return "NAME_EXISTS";
    case LU_NOT_FOUND: return "NOT_FOUND";
    case LU_LOCKED: return "LOCKED";
    case LU_NO_SPACE: return "NO_SPACE";
    case LU_NETWORK_ERROR: return "NETWORK_ERROR";
    case LU_TIMEOUT: return "TIMEOUT";
    case LU_CANCELLED: return "CANCELLED";
    case LU_HASH_MISMATCH: return "HASH_MISMATCH";
    case LU_UNSAFE_ARCHIVE: return "UNSAFE_ARCHIVE";
    default: return "UNKNOWN";
    }
}

static void mark_truncated(char *buf, size_t cap, int wrote)
{
    if (wrote >= 0 && (size_t)wrote >= cap && cap > 4) memcpy(buf + cap - 4, "...", 4);
}

lu_status lu__vfail(lu_error *err, lu_status status, const char *fmt, va_list ap)
{
    if (err) {
        err->status = status;
        int n = vsnprintf(err->message, sizeof err->message, fmt, ap);
        mark_truncated(err->message, sizeof err->message, n);
    }
    return status;
}

lu_status lu__fail(lu_error *err, lu_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lu__vfail(err, status, fmt, ap);
    va_end(ap);
    return status;
}

void lu__error_prefix(lu_error *err, const char *fmt, ...)
{
    if (!err) return;
    char prefix[512], old[LU_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->message, sizeof old);
    int n = snprintf(err->message, sizeof err->message, "%s: %s", prefix, old);
    mark_truncated(err->message, sizeof err->message, n);
}

lu_status lu__errno_status(int e)
{
    switch (e) {
    case ENOENT:
    case ENOTDIR: return LU_NOT_FOUND;
    case ENOSPC:
    case EDQUOT: return LU_NO_SPACE;
    case ENOMEM: return LU_MEM_ERROR;
    case EINVAL:
    case ENAMETOOLONG: return LU_INVAL;
    default: return LU_IO_ERROR;
    }
}

void lu__log(const lu_env *env, lu_log_level level, const char *fmt, ...)
{
    if (!env || !env->log) return;
    char buf[LU_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    mark_truncated(buf, sizeof buf, n);
    env->log(env->log_ud, level, buf);
}
