/* project_schema.c -- the keys of game.project that liveupdate reads, with
 * their types, and the check that names every mistake in them (see
 * lu_project_check in liveupdate/project.h).
 *
 * Sections the tools own ([project], [bootstrap], [liveupdate], [update],
 * [bundle], [proxy.<id>], [volume.<name>]) are closed: a key not in the
 * table is an error with the nearest known key. [game] is shared with the
 * game's own settings, as in Defold: its keys in the table are typed, the
 * others are free (a near miss of a known one gets a warning). Every other
 * section belongs to the game; a name close to an owned one gets a
 * warning. Values set with lu_project_set (lurun --set) get errors where
 * the file gets warnings: a command line has no reason to be near-miss.
 * docs/BUNDLER.md lists the same table; tests/unit/test_project_schema.c
 * checks the two agree.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "liveupdate/project.h"
#include "project_internal.h"
#include "project_schema.h"

/* The one table. Ranges are inclusive; choices are '|'-separated. */
static const lu__key_spec schema[] = {
    {"project", "title", LU__KEY_STRING, 0, 0, NULL},
    {"project", "content_root", LU__KEY_STRING, 0, 0, NULL},
    {"project", "version", LU__KEY_VERSION, 0, 0, NULL},
    {"bootstrap", "main_script", LU__KEY_RESOURCE, 0, 0, NULL},
    {"game", "http_url", LU__KEY_STRING, 0, 0, NULL},
    {"game", "minimum_lu_version", LU__KEY_INT, 0, LLONG_MAX, NULL},
    {"liveupdate", "enabled", LU__KEY_BOOL, 0, 0, NULL},
    {"liveupdate", "mount_on_start", LU__KEY_BOOL, 0, 0, NULL},
    {"liveupdate", "prune_stale", LU__KEY_BOOL, 0, 0, NULL},
    {"liveupdate", "minimum_version_key", LU__KEY_KEY, 0, 0, NULL},
    {"liveupdate", "console_port", LU__KEY_INT, 0, 65535, NULL},
    {"liveupdate", "public_key", LU__KEY_STRING, 0, 0, NULL},
    {"liveupdate", "ca_file", LU__KEY_STRING, 0, 0, NULL},
    {"liveupdate", "max_uncompressed", LU__KEY_INT, 1, LLONG_MAX, NULL},
    {"liveupdate", "max_downloads", LU__KEY_INT, 1, 64, NULL},
    {"liveupdate", "defold_api", LU__KEY_CHOICE, 0, 0, "1.12|1.13"},
    {"update", "url", LU__KEY_STRING, 0, 0, NULL},
    {"update", "mode", LU__KEY_CHOICE, 0, 0, "async|sync"},
    {"update", "download", LU__KEY_CHOICE, 0, 0, "auto|ask"},
    {"update", "sync_timeout_ms", LU__KEY_INT, 0, LLONG_MAX, NULL},
    {"update", "check_interval_s", LU__KEY_INT, 0, LLONG_MAX, NULL},
    {"update", "stale_after_days", LU__KEY_INT, 0, LLONG_MAX, NULL},
    {"update", "trial_frames", LU__KEY_INT, 0, LLONG_MAX, NULL},
    {"update", "version_compare", LU__KEY_RESOURCE, 0, 0, NULL},
    {"update", "local_version", LU__KEY_VERSION, 0, 0, NULL},
    {"update", "head_url", LU__KEY_STRING, 0, 0, NULL},
    {"update", "version_header", LU__KEY_STRING, 0, 0, NULL},
    {"update", "head_volume", LU__KEY_NAME, 0, 0, NULL},
    {"bundle", "compression", LU__KEY_CHOICE, 0, 0, "deflate|zstd"},
    {"bundle", "strict", LU__KEY_BOOL, 0, 0, NULL},
    {"bundle", "base", LU__KEY_GLOBS, 0, 0, NULL},
    {"proxy.*", "collection", LU__KEY_RESOURCE, 0, 0, NULL},
    {"proxy.*", "resources", LU__KEY_GLOBS, 0, 0, NULL},
    {"proxy.*", "exclude", LU__KEY_BOOL, 0, 0, NULL},
    {"proxy.*", "volume", LU__KEY_NAME, 0, 0, NULL},
    {"proxy.*", "proxies", LU__KEY_STRING, 0, 0, NULL},
    {"volume.*", "version", LU__KEY_INT, 0, LLONG_MAX, NULL},
    {"volume.*", "priority", LU__KEY_INT, 0, 2147483647, NULL},
    {"volume.*", "compression", LU__KEY_CHOICE, 0, 0, "deflate|zstd"},
    /* Defold's own keys of sections we own: accepted, not read */
    {"project", "publisher", LU__KEY_DEFOLD, 0, 0, NULL},
    {"project", "developer", LU__KEY_DEFOLD, 0, 0, NULL},
    {"project", "write_log", LU__KEY_DEFOLD, 0, 0, NULL},
    {"project", "minimum_log_level", LU__KEY_DEFOLD, 0, 0, NULL},
    {"project", "compress_archive", LU__KEY_DEFOLD, 0, 0, NULL},
    {"project", "dependencies", LU__KEY_DEFOLD, 0, 0, NULL},
    {"project", "custom_resources", LU__KEY_DEFOLD, 0, 0, NULL},
    {"project", "bundle_resources", LU__KEY_DEFOLD, 0, 0, NULL},
    {"project", "bundle_exclude_resources", LU__KEY_DEFOLD, 0, 0, NULL},
    {"bootstrap", "main_collection", LU__KEY_DEFOLD, 0, 0, NULL},
    {"bootstrap", "render", LU__KEY_DEFOLD, 0, 0, NULL},
    {"liveupdate", "settings", LU__KEY_DEFOLD, 0, 0, NULL},
};

const lu__key_spec *lu__project_schema(size_t *n)
{
    *n = sizeof schema / sizeof schema[0];
    return schema;
}

/* ---- names -------------------------------------------------------------- */

static const char *const closed_sections[] = {"project", "bootstrap", "liveupdate", "update", "bundle"};

/* "proxy.*" when `sec` (sec[0..len)) is [proxy.<id>], the section itself
 * when it is an owned plain one, else NULL. */
static const char *owned_pattern(const char *sec, size_t len)
{
    if (len > 6 && strncmp(sec, "proxy.", 6) == 0) return "proxy.*";
    if (len > 7 && strncmp(sec, "volume.", 7) == 0) return "volume.*";
    if (len == 4 && strncmp(sec, "game", 4) == 0) return "game";
    for (size_t i = 0; i < sizeof closed_sections / sizeof closed_sections[0]; i++)
        if (strlen(closed_sections[i]) == len && strncmp(sec, closed_sections[i], len) == 0) return closed_sections[i];
    return NULL;
}

/* Edit distance of a[0..la) and b[0..lb) (insertions, deletions,
 * substitutions and swaps of neighbours: "mdoe" is one from "mode"),
 * ASCII case ignored; names longer than 63 bytes are far from everything. */
static size_t distance(const char *a, size_t la, const char *b, size_t lb)
{
    if (la > 63 || lb > 63) return 99;
    size_t rows[3][64], *prev2 = rows[0], *prev = rows[1], *row = rows[2];
    for (size_t j = 0; j <= lb; j++) prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            int ai = tolower((unsigned char)a[i - 1]), bj = tolower((unsigned char)b[j - 1]);
            size_t best = prev[j - 1] + (ai != bj);
            if (prev[j] + 1 < best) best = prev[j] + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            if (i > 1 && j > 1 && ai == tolower((unsigned char)b[j - 2]) && tolower((unsigned char)a[i - 2]) == bj &&
                prev2[j - 2] + 1 < best)
                best = prev2[j - 2] + 1;
            row[j] = best;
        }
        size_t *t = prev2;
        prev2 = prev;
        prev = row;
        row = t;
    }
    return prev[lb];
}

/* Close enough to be a typo of a name of `len` bytes. */
static bool near(size_t d, size_t len)
{
    return d <= (len >= 6 ? 2u : 1u);
}

size_t lu__project_nearest_key(const char *pattern, const char *key, const char **best)
{
    size_t bd = 99;
    *best = NULL;
    for (size_t i = 0; i < sizeof schema / sizeof schema[0]; i++) {
        if (strcmp(schema[i].section, pattern) != 0) continue;
        size_t d = distance(key, strlen(key), schema[i].key, strlen(schema[i].key));
        if (d < bd) bd = d, *best = schema[i].key;
    }
    return bd;
}

/* The owned section a section name that is not one looks like a typo of,
 * written into `out` ("[liveupdate]", "[proxy.level1]"), or false. */
static bool near_section(const char *sec, size_t len, char *out, size_t cap)
{
    static const char *const all[] = {"project", "bootstrap", "game", "liveupdate", "update", "bundle"};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (near(distance(sec, len, all[i], strlen(all[i])), strlen(all[i]))) {
            snprintf(out, cap, "[%s]", all[i]);
            return true;
        }
    /* proxy_level1, proxies.level1, Volume.x, volumes, proxy */
    size_t head = strcspn(sec, "._-: ");
    if (head > len) head = len;
    static const char *const groups[] = {"proxy", "proxies", "volume", "volumes"};
    for (size_t i = 0; i < 4; i++)
        if (distance(sec, head, groups[i], strlen(groups[i])) <= 1) {
            const char *group = i < 2 ? "proxy" : "volume";
            size_t idlen = head < len ? len - head - 1 : 0;
            if (idlen) snprintf(out, cap, "[%s.%.*s]", group, (int)idlen, sec + head + 1);
            else snprintf(out, cap, "[%s.%s]", group, i < 2 ? "<id>" : "<name>");
            return true;
        }
    return false;
}

/* ---- values ------------------------------------------------------------- */

static bool is_int(const char *v, long long min, long long max)
{
    const char *d = v + (*v == '-');
    if (!*d || strlen(d) > 19) return false;
    for (const char *c = d; *c; c++)
        if (!isdigit((unsigned char)*c)) return false;
    errno = 0;
    char *end;
    long long n = strtoll(v, &end, 10);
    return !errno && !*end && n >= min && n <= max;
}

static bool in_choices(const char *v, const char *choices)
{
    size_t n = strlen(v);
    for (const char *c = choices; *c;) {
        size_t k = strcspn(c, "|");
        if (k == n && strncmp(c, v, n) == 0 && n) return true;
        c += k + (c[k] == '|');
    }
    return false;
}

/* Choices "a|b|c" as "a, b<last>c" into buf ("a, b or c", "a, b, c"). */
static const char *join_choices(const char *choices, const char *last, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (const char *c = choices; *c && used < cap;) {
        size_t k = strcspn(c, "|");
        const char *sep = c == choices ? "" : c[k] ? ", " : last;
        int n = snprintf(buf + used, cap - used, "%s%.*s", sep, (int)k, c);
        if (n > 0) used += (size_t)n;
        c += k + (c[k] == '|');
    }
    return buf;
}

const char *lu__key_type_text(const lu__key_spec *spec, char *buf, size_t cap)
{
    switch (spec->kind) {
    case LU__KEY_STRING: return "string";
    case LU__KEY_DEFOLD: return "Defold's, not read";
    case LU__KEY_BOOL: return "bool";
    case LU__KEY_RESOURCE: return "resource path";
    case LU__KEY_GLOBS: return "globs";
    case LU__KEY_NAME: return "mount name";
    case LU__KEY_KEY: return "key";
    case LU__KEY_VERSION: return "version";
    case LU__KEY_CHOICE: return join_choices(spec->choices, " or ", buf, cap);
    case LU__KEY_INT:
        if (spec->max == LLONG_MAX) snprintf(buf, cap, "int >= %lld", spec->min);
        else snprintf(buf, cap, "int %lld-%lld", spec->min, spec->max);
        return buf;
    }
    return "?";
}

/* Checks one value; on a mistake, why it is one into `why`. */
static bool value_ok(const lu__key_spec *spec, const char *v, char *why, size_t cap)
{
    char buf[96];
    lu_error err;
    switch (spec->kind) {
    case LU__KEY_STRING:
    case LU__KEY_DEFOLD: return true;
    case LU__KEY_INT:
        if (is_int(v, spec->min, spec->max)) return true;
        if (!is_int(v, LLONG_MIN, LLONG_MAX)) snprintf(why, cap, "'%.200s' is not an integer", v);
        else if (spec->max == LLONG_MAX) snprintf(why, cap, "'%.200s' is not an integer >= %lld", v, spec->min);
        else snprintf(why, cap, "'%.200s' is not an integer from %lld to %lld", v, spec->min, spec->max);
        return false;
    case LU__KEY_BOOL:
        if (in_choices(v, "0|1|true|false")) return true;
        snprintf(why, cap, "'%.200s' is not a boolean (1, 0, true or false)", v);
        return false;
    case LU__KEY_CHOICE:
        if (in_choices(v, spec->choices)) return true;
        snprintf(why, cap, "'%.200s' is not one of %s", v, join_choices(spec->choices, ", ", buf, sizeof buf));
        return false;
    case LU__KEY_RESOURCE:
        if (!*v || v[0] == '/') return true;
        snprintf(why, cap, "'%.200s' is not a resource path (one starts with '/', from content_root)", v);
        return false;
    case LU__KEY_VERSION: {
        bool ok = strlen(v) <= 64;
        for (const char *c = v; *c && ok; c++) ok = isalnum((unsigned char)*c) || strchr(".+-", *c);
        if (!ok) snprintf(why, cap, "'%.200s' is not a version (1-64 characters of 0-9, A-Z, a-z, '.', '+', '-')", v);
        return ok;
    }
    case LU__KEY_KEY: {
        const char *dot = strchr(v, '.');
        if (!*v || (dot && dot != v && dot[1])) return true;
        snprintf(why, cap, "'%.200s' is not a key (section.key)", v);
        return false;
    }
    case LU__KEY_NAME:
        if (!*v || lu_mount_name_check(v, &err) == LU_OK) return true;
        snprintf(why, cap, "%.300s", err.message);
        return false;
    case LU__KEY_GLOBS:
        for (const char *c = v; *c;) {
            c += strspn(c, " ,");
            size_t k = strcspn(c, " ,");
            if (k && c[0] != '/') {
                snprintf(why, cap, "pattern '%.*s' does not start with '/' (paths start at content_root)",
                         (int)(k < 200 ? k : 200), c);
                return false;
            }
            c += k;
        }
        return true;
    }
    return true;
}

/* ---- the check ---------------------------------------------------------- */

static void warn_f(lu_project_warn_fn warn, void *ud, const char *fmt, ...) LU_PRINTF(3, 4);
static void warn_f(lu_project_warn_fn warn, void *ud, const char *fmt, ...)
{
    if (!warn) return;
    char msg[LU_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    warn(ud, msg);
}

/* A key of an owned section: known and of its type, or an error. */
static lu_status check_key(const lu_project *p, const char *pattern, const char *sec, size_t slen, const char *name,
                           const char *value, int line, lu_project_warn_fn warn, void *ud, lu_error *err)
{
    char where[600], why[400];
    lu_status bad = line ? LU_FORMAT_ERROR : LU_INVAL;   /* LU_INVAL: the command line's mistake */
    if (line) snprintf(where, sizeof where, "%s:%d", lu_project_name(p), line);
    else snprintf(where, sizeof where, "%s: --set %.*s.%s", lu_project_name(p), (int)slen, sec, name);
    char full[400];   /* "section.key", as the typed reads name it */
    if (line) snprintf(full, sizeof full, "%s:%d: %.*s.%s", lu_project_name(p), line, (int)slen, sec, name);
    else snprintf(full, sizeof full, "%s: %.*s.%s (set on the command line)", lu_project_name(p), (int)slen, sec, name);
    size_t nlen = strcspn(name, "#");   /* Defold's list keys: dependencies#0 */
    for (size_t i = 0; i < sizeof schema / sizeof schema[0]; i++) {
        const lu__key_spec *s = &schema[i];
        if (strcmp(s->section, pattern) != 0) continue;
        bool same = strcmp(s->key, name) == 0 ||
                    (s->kind == LU__KEY_DEFOLD && strlen(s->key) == nlen && strncmp(s->key, name, nlen) == 0);
        if (!same) continue;
        if (value_ok(s, value, why, sizeof why)) return LU_OK;
        return lu__fail(err, bad, "%s: %s", full, why);
    }
    const char *best;
    size_t d = lu__project_nearest_key(pattern, name, &best);
    bool close = best && near(d, strlen(best));
    if (strcmp(pattern, "game") == 0) {   /* the game's own settings share [game] */
        if (!close) return LU_OK;
        if (line) {
            warn_f(warn, ud, "%s: warning: [game] %s is not a key liveupdate reads (did you mean '%s'?); left to the game",
                   where, name, best);
            return LU_OK;
        }
    }
    if (close)
        return lu__fail(err, bad, "%s: unknown key '%s' in [%.*s] (did you mean '%s'?)", where, name, (int)slen, sec, best);
    char known[400] = "";
    size_t used = 0;
    for (size_t i = 0; i < sizeof schema / sizeof schema[0]; i++)
        if (strcmp(schema[i].section, pattern) == 0 && schema[i].kind != LU__KEY_DEFOLD && used < sizeof known) {
            int n = snprintf(known + used, sizeof known - used, "%s%s", used ? ", " : "", schema[i].key);
            if (n > 0) used += (size_t)n;
        }
    return lu__fail(err, bad, "%s: unknown key '%s' in [%.*s] (known keys: %s)", where, name, (int)slen, sec, known);
}

/* True when key i is the first key of its section (file lines only). */
static bool first_of_section(const lu_project *p, size_t i, const char *key, size_t slen)
{
    const char *v;
    int line;
    size_t s;
    for (size_t k = 0; k < i; k++) {
        const char *other = lu__project_item(p, k, &v, &line, &s);
        if (line && s == slen && strncmp(other, key, slen) == 0) return false;
    }
    return true;
}

lu_status lu_project_check(const lu_project *p, lu_project_warn_fn warn, void *ud, lu_error *err)
{
    const char *key, *value;
    int line;
    size_t slen;
    for (size_t i = 0; (key = lu__project_item(p, i, &value, &line, &slen)) != NULL; i++) {
        const char *name = key + slen + 1;
        const char *pattern = owned_pattern(key, slen);
        if (pattern) {
            LU_TRY(check_key(p, pattern, key, slen, name, value, line, warn, ud, err));
            /* Defold keeps the later value (an appended override file relies
             * on it), but an exclude = 1 undone further down is a mistake
             * worth seeing */
            int earlier = lu__project_item_earlier(p, i);
            if (earlier && strcmp(pattern, "game") != 0)
                warn_f(warn, ud, "%s:%d: warning: %s is set again (first at line %d); the later value is used",
                       lu_project_name(p), line, key, earlier);
            continue;
        }
        char like[300];
        if (!near_section(key, slen, like, sizeof like)) continue;
        if (!line)
            return lu__fail(err, LU_INVAL, "%s: --set %s: [%.*s] is not a section liveupdate reads (did you mean %s?)",
                            lu_project_name(p), key, (int)slen, key, like);
        if (first_of_section(p, i, key, slen))   /* one warning per section */
            warn_f(warn, ud, "%s:%d: warning: section [%.*s] is not one liveupdate reads (did you mean %s?); its "
                   "keys are left to the game", lu_project_name(p), line, (int)slen, key, like);
    }
    return LU_OK;
}
