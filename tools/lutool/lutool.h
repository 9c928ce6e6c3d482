/* lutool.h -- the commands of lutool, one file each in tools/lutool/.
 *
 * Each command takes the arguments after its name, prints what it did to
 * stdout and errors to stderr ("lutool <command>: ..."), and returns the
 * process exit status: 0 on success, 1 on a failure, 2 on bad arguments.
 */
#ifndef LUTOOL_H
#define LUTOOL_H

#include <stdbool.h>
#include <stddef.h>

int lutool_bundle(int argc, char **argv);
int lutool_inspect(int argc, char **argv);
int lutool_verify(int argc, char **argv);
int lutool_keygen(int argc, char **argv);
int lutool_sign(int argc, char **argv);
int lutool_console(int argc, char **argv);

/* True when argv holds --help or -h. */
bool lutool_wants_help(int argc, char **argv);

#endif
