/* host_collection.c -- the collection files lurun reads (a collection
 * proxy's root collection, untrusted content from a volume): the scripts
 * they name. Kept apart from host_proxy.c, which needs Lua, so that the
 * parser builds and is fuzzed on its own (tests/fuzz/fuzz_collection.c).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "host.h"

bool lu_host_collection_scripts(const char *proxy, const char *text, lu_host_script_fn fn, void *ud)
{
    bool ok = true;
    for (const char *line = text; line && *line;) {
        const char *next = strchr(line, '\n');
        size_t len = next ? (size_t)(next - line) : strlen(line);
        const char *end = line + len;
        while (line < end && isspace((unsigned char)*line)) line++;
        /* ` script: "<path>"`: the path is at most 1023 bytes, so the rest
         * of a longer line never matters */
        char buf[1100], path[1024];
        size_t n = (size_t)(end - line) < sizeof buf - 1 ? (size_t)(end - line) : sizeof buf - 1;
        memcpy(buf, line, n);
        buf[n] = '\0';
        if (sscanf(buf, "script: \"%1023[^\"]\"", path) == 1) {
            char url[2200], base[1024];
            const char *slash = strrchr(path, '/');
            snprintf(base, sizeof base, "%s", slash ? slash + 1 : path);
            char *dot = strrchr(base, '.');
            if (dot) *dot = '\0';
            snprintf(url, sizeof url, "%s:/%s#script", proxy, base);
            if (!fn(ud, path, url)) ok = false;
        }
        line = next ? next + 1 : NULL;
    }
    return ok;
}
