/* options.h -- the one command-line rule of lutool, lurun and lubench.
 *
 * Each program describes its options in a table and hands argv to
 * luopt_parse, so every tool reads its arguments the same way:
 *
 *   --help, -h        usage to stdout, exit 0 (anywhere before "--")
 *   --version         "<tool> (liveupdate) <lu_version()>", exit 0, unless
 *                     the command has an option of that name
 *   --opt value       and --opt=value; a following argument that starts
 *   --opt=value       with "--" is not taken as the value (write --opt=--x)
 *   --                ends the options: what follows is positional
 *   numbers           the whole argument, decimal, no sign unless negative
 *                     values are allowed, range checked
 *
 * Usage errors print one line "<prefix>: <what> (<prefix> --help)" on
 * stderr and give exit status 2: an unknown option ("unknown option
 * '--x'"), a missing value ("option --priority needs a value"), a value
 * given to a flag ("option --force takes no value"), a number that is not
 * one ("--priority: 'abc' is not a whole number") or out of range
 * ("--frames: '99999999999' is out of range (0..2147483647)") and one
 * positional argument too many ("unexpected argument 'x'").
 *
 * Compiled into each program (premake5.lua); it uses lu_version() only.
 * Nothing here keeps state between calls. docs/BUNDLER.md, "Tool options",
 * is the user's view of the same rule.
 */
#ifndef LUOPT_OPTIONS_H
#define LUOPT_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef enum luopt_kind {
    LUOPT_FLAG,     /* no value; dest: bool *, set to true */
    LUOPT_STRING,   /* one value; dest: const char **, the last one given wins */
    LUOPT_NUMBER,   /* a whole number in [min, max]; dest: long long * */
    LUOPT_LIST      /* a value, repeatable; dest: const char ** with room for argc
                       entries, *count: how many so far */
} luopt_kind;

typedef struct luopt {
    const char *name;   /* as typed: "--frames", "-o" */
    luopt_kind kind;
    void *dest;
    long long min, max; /* LUOPT_NUMBER */
    int *count;         /* LUOPT_LIST */
} luopt;

/* Table entries, one per kind. */
#define LUOPT_BOOL(name, bool_ptr) {(name), LUOPT_FLAG, (bool_ptr), 0, 0, NULL}
#define LUOPT_STR(name, str_ptr) {(name), LUOPT_STRING, (str_ptr), 0, 0, NULL}
#define LUOPT_NUM(name, ll_ptr, min, max) {(name), LUOPT_NUMBER, (ll_ptr), (min), (max), NULL}
#define LUOPT_STRS(name, str_array, int_ptr) {(name), LUOPT_LIST, (str_array), 0, 0, (int_ptr)}

typedef struct luopt_cmd {
    const char *tool;        /* "lutool": what --version names */
    const char *prefix;      /* "lutool bundle": starts every message */
    void (*usage)(FILE *);   /* prints the usage; --help sends it to stdout */
    const luopt *opts;
    size_t nopts;
    const char **pos;        /* gets the positional arguments in order */
    int max_pos;             /* how many `pos` holds; one more is an error */
    int *npos;               /* how many were given (may be NULL when max_pos is 0) */
} luopt_cmd;

/* luopt_parse's answer when the program should go on. */
#define LUOPT_RUN (-1)

/* Reads argv[0..argc-1] (the arguments after the program or command name)
 * by the table of `c`. Returns LUOPT_RUN when they are all good (the
 * destinations set), else the exit status: 0 after --help or --version
 * printed what they print (they win over any error on the line), 2 after a
 * usage error was printed to stderr. Values point into argv. Checking that
 * a required option or positional argument is present is the caller's
 * (luopt_usage_error). Cannot fail otherwise; allocates nothing. */
int luopt_parse(const luopt_cmd *c, int argc, char **argv);

/* Reads option `name` at argv[*i] as "name value" or "name=value" for a
 * caller walking argv itself. Returns 1 and sets *value (advancing *i past
 * a separate value); 0 when argv[*i] is another argument; -1, after
 * printing "<prefix>: option <name> needs a value (<prefix> --help)", when the value is
 * missing (the end of argv, an empty "=", an empty next argument, or a
 * next argument that starts with "--"). */
int luopt_value(const char *prefix, int argc, char **argv, int *i, const char *name, const char **value);

/* True when `s` is entirely a decimal whole number from `min` to `max` (a
 * '-' only when min < 0; no '+', no spaces, nothing after it); then *out
 * gets it. Otherwise false, and `why` (cap bytes, may be NULL) gets
 * "'<s>' is not a whole number" or "'<s>' is out of range (<min>..<max>)". */
bool luopt_number(const char *s, long long min, long long max, long long *out, char *why, size_t cap);

/* Prints "<prefix>: <message> (<prefix> --help)" to stderr; returns 2, the
 * exit status of a usage error. */
int luopt_usage_error(const char *prefix, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
