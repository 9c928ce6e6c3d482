/* names.c -- the naming rules, each defined once: mount names, resource
 * paths and plain file names (the files of <save>/volumes/ and downloads).
 *
 * A leaf of the core. Every layer that accepts one of these names checks it
 * here, so a name one call accepts is never refused by another.
 */
#include <string.h>

#include "internal.h"

lu_status lu_mount_name_check(const char *name, lu_error *err)
{
    if (!name) return lu__fail(err, LU_INVAL, "missing mount name");
    size_t n = strlen(name);
    if (n == 0 || n > LU_NAME_MAX)
        return lu__fail(err, LU_INVAL, "mount name '%s' must be 1-%d bytes", name, LU_NAME_MAX);
    if (name[0] == '_')
        return lu__fail(err, LU_INVAL, "mount name '%s' is reserved (names starting with '_' are built-in)", name);
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return lu__fail(err, LU_INVAL, "mount name '%s': character %zu is not one of [A-Za-z0-9_.-]",
                            name, i + 1);
    }
    return LU_OK;
}

lu_status lu_path_check(const char *path, size_t len, lu_error *err)
{
    if (!path) return lu__fail(err, LU_INVAL, "missing resource path");
    if (len == 0 || path[0] != '/')
        return lu__fail(err, LU_INVAL, "resource path '%.*s' must start with '/'", (int)len, path);
    if (memchr(path, '\0', len)) return lu__fail(err, LU_INVAL, "resource path contains a NUL byte");
    if (memchr(path, '\\', len))
        return lu__fail(err, LU_INVAL, "resource path '%.*s' contains a backslash", (int)len, path);
    size_t start = 1;
    for (size_t i = 1; i <= len; i++) {
        if (i < len && path[i] != '/') continue;
        size_t n = i - start;
        const char *c = path + start;
        if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
            return lu__fail(err, LU_INVAL,
                            "resource path '%.*s' has an empty, '.' or '..' component", (int)len, path);
        start = i + 1;
    }
    return LU_OK;
}

lu_status lu_file_name_check(const char *file, lu_error *err)
{
    if (!file || !file[0]) return lu__fail(err, LU_INVAL, "'' is not a plain file name: it is empty");
    size_t n = strlen(file);
    if (n > LU_FILE_NAME_MAX)
        return lu__fail(err, LU_INVAL, "'%.40s...' is not a plain file name: %zu bytes, over %d", file,
                        n, LU_FILE_NAME_MAX);
    if (file[0] == '.')
        return lu__fail(err, LU_INVAL, "'%s' is not a plain file name: it starts with '.'", file);
    if (strpbrk(file, "/\\"))
        return lu__fail(err, LU_INVAL, "'%s' is not a plain file name: it holds '/' or '\\'", file);
    return LU_OK;
}
