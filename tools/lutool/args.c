/* args.c -- what every lutool command shares for reading its arguments.
 *
 * A leaf: main.c dispatches to the commands and the commands call in here,
 * so no command calls back into main.c.
 */
#include <string.h>

#include "lutool.h"

bool lutool_wants_help(int argc, char **argv)
{
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return true;
    return false;
}
