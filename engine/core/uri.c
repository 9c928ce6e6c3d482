/* uri.c -- volume URIs ("zip:<path>", "dir:<path>", "file:<path>").
 *
 * A relative path is relative to the save directory; the form written to
 * the mounts file is relative again when the volume lies inside the save
 * directory, so an app container that moves (iOS updates) keeps its mounts.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static const struct {
    const char *given, *format;
} schemes[] = {{"zip", "zip"}, {"dir", "dir"}, {"file", "dir"}};

/* One spelling per path, so "zip:./volumes/a.zip", "zip:volumes//a.zip"
 * and "zip:<save>/volumes/a.zip" name the same mount: empty and "."
 * components and a trailing '/' go (".." stays: a symlink may make it
 * mean something else than the lexical parent). In place. */
static void tidy(char *path)
{
    char *w = path + 1;   /* always absolute here; w never passes r */
    for (const char *r = path + 1;;) {
        const char *end = strchr(r, '/');
        size_t n = end ? (size_t)(end - r) : strlen(r);
        if (n && !(n == 1 && r[0] == '.')) {
            memmove(w, r, n);
            w += n;
            if (end) *w++ = '/';
        }
        if (!end) break;
        r = end + 1;
    }
    if (w > path + 1 && w[-1] == '/') w--;
    *w = '\0';
}

lu_status lu__uri_parse(const lu_env *env, const char *uri, const char *save_dir, lu_uri *out,
                        lu_error *err)
{
    memset(out, 0, sizeof *out);
    if (!uri) return lu__fail(err, LU_INVAL, "missing URI");
    const char *colon = strchr(uri, ':');
    if (!colon) return lu__fail(err, LU_SCHEME_MISMATCH, "URI '%s' has no scheme (zip:, dir:, file:)", uri);
    size_t slen = (size_t)(colon - uri);
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        if (strlen(schemes[i].given) == slen && strncmp(uri, schemes[i].given, slen) == 0) {
            strcpy(out->given, schemes[i].given);
            strcpy(out->format, schemes[i].format);
        }
    }
    if (!out->format[0])
        return lu__fail(err, LU_SCHEME_MISMATCH, "URI '%s': unknown scheme '%.*s' (zip:, dir:, file:)",
                        uri, (int)slen, uri);
    const char *path = colon + 1;
    if (path[0] == '/' && path[1] == '/') path += 2;   /* file:///abs */
    if (!*path) return lu__fail(err, LU_INVAL, "URI '%s' has an empty path", uri);
    size_t plen = strlen(path);
    if (path[0] != '/' && !save_dir)
        return lu__fail(err, LU_INVAL, "URI '%s': a relative path needs a save directory", uri);
    size_t dlen = path[0] == '/' ? 0 : strlen(save_dir) + 1;
    if (dlen + plen >= PATH_MAX)
        return lu__fail(err, LU_INVAL, "URI '%s': path longer than %d bytes", uri, PATH_MAX - 1);
    out->path = path[0] == '/' ? lu__strdup(env, path) : lu__path_join(env, save_dir, path);
    if (!out->path) return lu__fail(err, LU_MEM_ERROR, "URI '%s': out of memory", uri);
    tidy(out->path);
    return LU_OK;
}

void lu__uri_free(const lu_env *env, lu_uri *u)
{
    lu__free(env, u->path);
    u->path = NULL;
}

char *lu__uri_for_storage(const lu_env *env, const lu_uri *u, const char *save_dir)
{
    const char *p = u->path;
    size_t dlen = save_dir ? strlen(save_dir) : 0;
    while (dlen > 1 && save_dir[dlen - 1] == '/') dlen--;
    if (dlen && strncmp(p, save_dir, dlen) == 0 && p[dlen] == '/' && p[dlen + 1]) p += dlen + 1;
    size_t n = strlen(u->given) + 1 + strlen(p) + 1;
    char *s = lu__malloc(env, n);
    if (s) snprintf(s, n, "%s:%s", u->given, p);
    return s;
}
