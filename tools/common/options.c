/* options.c -- the one command-line rule of lutool, lurun and lubench
 * (options.h): a table of options in, checked destinations or one usage
 * error out.
 *
 * A leaf: it calls nothing of the tools and only lu_version() of the
 * library, so lutool's commands, lurun (engine/host) and lubench all
 * compile it in without a cycle or a call into a higher layer.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "liveupdate/liveupdate.h"
#include "options.h"

/* The length of an option's name in `arg`: up to its '=' or its end. */
static size_t name_len(const char *arg)
{
    const char *eq = strchr(arg, '=');
    return eq ? (size_t)(eq - arg) : strlen(arg);
}

static bool is_named(const char *arg, size_t len, const char *name)
{
    return strlen(name) == len && strncmp(arg, name, len) == 0;
}

bool luopt_number(const char *s, long long min, long long max, long long *out, char *why, size_t cap)
{
    const char *d = s && *s == '-' && min < 0 ? s + 1 : s;
    bool digits = d && *d >= '0' && *d <= '9';
    for (const char *p = d; digits && *p; p++) digits = *p >= '0' && *p <= '9';
    if (!digits) {
        if (why) snprintf(why, cap, "'%s' is not a whole number", s ? s : "");
        return false;
    }
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno == ERANGE || *end || v < min || v > max) {
        if (why) snprintf(why, cap, "'%s' is out of range (%lld..%lld)", s, min, max);
        return false;
    }
    *out = v;
    return true;
}

int luopt_usage_error(const char *prefix, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prefix);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (%s --help)\n", prefix);
    va_end(ap);
    return 2;
}

/* The value of the option at argv[*i] (its name `len` bytes long): after
 * its '=', else the next argument unless that starts with "--". NULL when
 * there is none: an empty "=" or an empty next argument included (an unset
 * variable in `-o "$OUT"` must not make "" a folder, whose files would be
 * "/game.zip"). */
static const char *take_value(int argc, char **argv, int *i, size_t len)
{
    const char *a = argv[*i];
    if (a[len] == '=') return a[len + 1] ? a + len + 1 : NULL;
    if (*i + 1 < argc && strncmp(argv[*i + 1], "--", 2) != 0) {
        const char *v = argv[++*i];
        return *v ? v : NULL;
    }
    return NULL;
}

int luopt_value(const char *prefix, int argc, char **argv, int *i, const char *name, const char **value)
{
    size_t len = name_len(argv[*i]);
    if (!is_named(argv[*i], len, name)) return 0;
    const char *v = take_value(argc, argv, i, len);
    if (!v) {
        luopt_usage_error(prefix, "option %s needs a value", name);
        return -1;
    }
    *value = v;
    return 1;
}

/* One option of the table at argv[*i]. Returns false with `err` set on a
 * usage error. */
static bool apply(const luopt *o, int argc, char **argv, int *i, size_t len, char *err, size_t cap)
{
    const char *a = argv[*i];
    if (o->kind == LUOPT_FLAG) {
        if (a[len] == '=') return snprintf(err, cap, "option %s takes no value", o->name), false;
        *(bool *)o->dest = true;
        return true;
    }
    const char *v = take_value(argc, argv, i, len);
    if (!v) return snprintf(err, cap, "option %s needs a value", o->name), false;
    if (o->kind == LUOPT_STRING) {
        *(const char **)o->dest = v;
    } else if (o->kind == LUOPT_LIST) {
        ((const char **)o->dest)[(*o->count)++] = v;
    } else {
        char why[200];
        if (!luopt_number(v, o->min, o->max, (long long *)o->dest, why, sizeof why))
            return snprintf(err, cap, "%s: %s", o->name, why), false;
    }
    return true;
}

int luopt_parse(const luopt_cmd *c, int argc, char **argv)
{
    enum { NONE, HELP, VERSION } wants = NONE;
    char err[400] = "";
    bool options_end = false;
    int npos = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!options_end && strcmp(a, "--") == 0) {
            options_end = true;
            continue;
        }
        if (options_end || a[0] != '-' || a[1] == '\0') {   /* "-" alone is an argument (stdin) */
            if (!*a) {   /* a folder or file named "" is "/"'s files: never what was meant */
                if (!*err) snprintf(err, sizeof err, "an empty argument where a file or folder is expected");
            } else if (npos < c->max_pos) c->pos[npos++] = a;
            else if (!*err) snprintf(err, sizeof err, "unexpected argument '%s'", a);
            continue;
        }
        size_t len = name_len(a);
        const luopt *o = NULL;
        for (size_t k = 0; !o && k < c->nopts; k++)
            if (is_named(a, len, c->opts[k].name)) o = &c->opts[k];
        char e[sizeof err];
        if (o) {
            if (!apply(o, argc, argv, &i, len, e, sizeof e) && !*err) memcpy(err, e, sizeof err);
        } else if (is_named(a, len, "--help") || is_named(a, len, "-h") || is_named(a, len, "--version")) {
            if (a[len] == '=' && !*err) snprintf(err, sizeof err, "option %.*s takes no value", (int)len, a);
            else if (wants == NONE) wants = a[2] == 'v' ? VERSION : HELP;
        } else if (!*err) {
            snprintf(err, sizeof err, "unknown option '%.*s'", (int)len, a);
        }
    }
    if (wants == HELP) {
        c->usage(stdout);
        return 0;
    }
    if (wants == VERSION) {
        printf("%s (liveupdate) %s\n", c->tool, lu_version());
        return 0;
    }
    if (*err) return luopt_usage_error(c->prefix, "%s", err);
    if (c->npos) *c->npos = npos;
    return LUOPT_RUN;
}
