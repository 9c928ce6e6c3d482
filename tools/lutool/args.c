/* args.c -- what every lutool command shares: reading its arguments and
 * making its output folders.
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

bool lutool_wants_help(int argc, char **argv)
{
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return true;
    return false;
}

int lutool_option(const char *cmd, int argc, char **argv, int *i, const char *name, const char **value)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0) return 0;
    if (a[n] == '=') {
        *value = a + n + 1;
        if (**value) return 1;
    } else if (a[n] != '\0') {
        return 0;
    } else if (*i + 1 < argc && strncmp(argv[*i + 1], "--", 2) != 0) {
        *value = argv[++*i];
        return 1;
    }
    fprintf(stderr, "lutool %s: option %s needs a value\n", cmd, name);
    return -1;
}

bool lutool_parse_count(const char *s, long long max, long long *out)
{
    if (!s || *s < '0' || *s > '9') return false;   /* no sign, no space, not empty */
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v > max) return false;
    *out = v;
    return true;
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
