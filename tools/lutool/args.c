/* args.c -- what every lutool command shares beyond reading its arguments
 * (tools/common/options.c): making its output folders, reading a file whole.
 *
 * A leaf: main.c dispatches to the commands and the commands call in here,
 * so no command calls back into main.c.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lutool.h"

int lutool_read_all(FILE *f, char **text, size_t *len)
{
    char *buf = NULL, chunk[8192];
    size_t n, used = 0, cap = 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (used + n + 1 > cap) {
            cap = (used + n + 1) * 2;
            char *bigger = realloc(buf, cap);
            if (!bigger) break;
            buf = bigger;
        }
        memcpy(buf + used, chunk, n);
        used += n;
    }
    if (n > 0 || ferror(f) || (!buf && !(buf = malloc(1)))) {
        free(buf);
        *text = NULL;
        return -1;
    }
    buf[used] = '\0';
    *text = buf;
    *len = used;
    return 0;
}

int lutool_mkdir_p(const char *cmd, const char *path)
{
    char p[PATH_MAX];
    if (snprintf(p, sizeof p, "%s", path) >= (int)sizeof p) {
        fprintf(stderr, "lutool %s: path too long: '%s'\n", cmd, path);
        return 1;
    }
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0') continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            fprintf(stderr, "lutool %s: cannot create '%s': %s\n", cmd, p, strerror(errno));
            return 1;
        }
        if (!(*s = c)) return 0;
    }
}
