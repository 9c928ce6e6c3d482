/* args.c -- what every lutool command shares: reading its arguments (by
 * the rule of tools/common/options.c) and making its output folders.
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
    char prefix[64];
    snprintf(prefix, sizeof prefix, "lutool %s", cmd);
    return luopt_value(prefix, argc, argv, i, name, value);
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
