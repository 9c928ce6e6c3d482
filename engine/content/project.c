/* project.c -- the game.project INI reader (see liveupdate/project.h).
 *
 * Keeps keys in file order, each with the line it came from, so typed
 * reads can say "game.project:7: game.minimum_lu_version: 'x' is not an
 * integer". Later duplicates override earlier ones, as in Defold (the
 * schema check warns about a key set twice in a section the tools own).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "liveupdate/project.h"
#include "project_internal.h"

typedef struct item {
    char *key, *value;
    int line;          /* 0: set by the program */
    int earlier;       /* the line of an earlier value of the key in the file (0: none) */
    size_t sec_len;    /* key[0..sec_len) is the section */
} item;

struct lu_project {
    lu_env env;
    char *name;
    item *items;
    size_t count, cap;
};

void lu_project_free(lu_project *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->count; i++) {
        lu__free(&p->env, p->items[i].key);
        lu__free(&p->env, p->items[i].value);
    }
    lu__free(&p->env, p->items);
    lu__free(&p->env, p->name);
    lu_env env = p->env;
    lu__free(&env, p);
}

static item *find(const lu_project *p, const char *key)
{
    for (size_t i = p->count; i-- > 0;)
        if (strcmp(p->items[i].key, key) == 0) return &p->items[i];
    return NULL;
}

static lu_status put(lu_project *p, const char *key, size_t klen, size_t sec_len, const char *val, size_t vlen,
                     int line, lu_error *err)
{
    char *k = lu__strndup(&p->env, key, klen), *v = lu__strndup(&p->env, val, vlen);
    item *it = k ? find(p, k) : NULL;
    if (k && v && it) {
        lu__free(&p->env, it->value);
        lu__free(&p->env, k);
        if (line && it->line && !it->earlier) it->earlier = it->line;   /* the file set it twice */
        it->value = v;
        it->line = line;
        it->sec_len = sec_len;
        return LU_OK;
    }
    if (k && v && p->count == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 32;
        item *n = lu__realloc(&p->env, p->items, cap * sizeof *n);
        if (n) p->items = n, p->cap = cap;
    }
    if (!k || !v || p->count == p->cap) {
        lu__free(&p->env, k);
        lu__free(&p->env, v);
        return lu__fail(err, LU_MEM_ERROR, "out of memory reading %s", p->name);
    }
    p->items[p->count++] = (item){k, v, line, 0, sec_len};
    return LU_OK;
}

static void trim(const char **s, const char **e)
{
    while (*s < *e && (**s == ' ' || **s == '\t')) (*s)++;
    while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t' || (*e)[-1] == '\r')) (*e)--;
}

lu_status lu_project_parse(const char *name, const char *text, size_t len, lu_project **out,
                           lu_error *err)
{
    *out = NULL;
    lu_status st = LU_OK;
    lu_env env = lu__default_env();
    lu_project *p = lu__calloc(&env, 1, sizeof *p);
    if (!p) return lu__fail(err, LU_MEM_ERROR, "out of memory reading %s", name);
    p->env = env;
    p->name = lu__strdup(&env, name);
    if (!p->name) {
        st = lu__fail(err, LU_MEM_ERROR, "out of memory reading %s", name);
        goto cleanup;
    }
    char section[256] = "";
    int line = 0;
    const char *end = text + len;
    for (const char *s = text; s < end; line++) {
        const char *nl = memchr(s, '\n', (size_t)(end - s)), *e = nl ? nl : end;
        const char *next = nl ? nl + 1 : end;
        trim(&s, &e);
        if (s == e || *s == '#' || *s == ';') {
            s = next;
            continue;
        }
        if (*s == '[') {
            if (e[-1] != ']' || e - s < 3 || (size_t)(e - s - 2) >= sizeof section) {
                st = lu__fail(err, LU_FORMAT_ERROR, "%s:%d: bad section header '%.*s'", name, line + 1,
                              (int)(e - s), s);
                goto cleanup;
            }
            snprintf(section, sizeof section, "%.*s", (int)(e - s - 2), s + 1);
            s = next;
            continue;
        }
        const char *eq = memchr(s, '=', (size_t)(e - s));
        if (!eq || !section[0]) {
            st = lu__fail(err, LU_FORMAT_ERROR, "%s:%d: %s '%.*s'", name, line + 1,
                          section[0] ? "expected 'key = value', got" : "key outside any [section]:",
                          (int)(e - s), s);
            goto cleanup;
        }
        const char *ks = s, *ke = eq, *vs = eq + 1, *ve = e;
        trim(&ks, &ke);
        trim(&vs, &ve);
        if (ks == ke) {
            st = lu__fail(err, LU_FORMAT_ERROR, "%s:%d: empty key in [%s]", name, line + 1, section);
            goto cleanup;
        }
        char key[512];
        int klen = snprintf(key, sizeof key, "%s.%.*s", section, (int)(ke - ks), ks);
        if (klen < 0 || (size_t)klen >= sizeof key) {
            st = lu__fail(err, LU_FORMAT_ERROR, "%s:%d: key too long", name, line + 1);
            goto cleanup;
        }
        st = put(p, key, (size_t)klen, strlen(section), vs, (size_t)(ve - vs), line + 1, err);
        if (st != LU_OK) goto cleanup;
        s = next;
    }
    *out = p;
    p = NULL;
cleanup:
    lu_project_free(p);
    return st;
}

lu_status lu_project_load(const char *path, lu_project **out, lu_error *err)
{
    *out = NULL;
    lu_env env = lu__default_env();
    char *text;
    size_t len;
    LU_TRY(lu__fs_read_all(&env, path, &text, &len, err));
    lu_status st = lu_project_parse(path, text, len, out, err);
    lu__free(&env, text);
    return st;
}

const char *lu_project_get(const lu_project *p, const char *key)
{
    const item *it = p ? find(p, key) : NULL;
    return it ? it->value : NULL;
}

/* lu_project_set with a value of `vlen` bytes (not NUL-terminated). */
static lu_status set_n(lu_project *p, const char *key, const char *value, size_t vlen, lu_error *err)
{
    const char *dot = strchr(key, '.');
    if (!dot || dot == key || !dot[1])
        return lu__fail(err, LU_INVAL, "setting '%s' must be written section.key", key);
    return put(p, key, strlen(key), (size_t)(strrchr(key, '.') - key), value, vlen, 0, err);
}

lu_status lu_project_set(lu_project *p, const char *key, const char *value, lu_error *err)
{
    return set_n(p, key, value, strlen(value), err);
}

lu_status lu_project_set_assignment(lu_project *p, const char *assignment, lu_error *err)
{
    const char *eq = strchr(assignment, '=');
    if (!eq) return lu__fail(err, LU_INVAL, "'%s' is not section.key=value", assignment);
    /* spaces around the key and the value are dropped, as in the file:
     * "app.x = 1" sets app.x, not a key "x " nothing reads */
    const char *ks = assignment, *ke = eq, *vs = eq + 1, *ve = vs + strlen(vs);
    trim(&ks, &ke);
    trim(&vs, &ve);
    char key[512];
    if ((size_t)(ke - ks) >= sizeof key) return lu__fail(err, LU_INVAL, "key too long in '%.200s'", assignment);
    snprintf(key, sizeof key, "%.*s", (int)(ke - ks), ks);
    return set_n(p, key, vs, (size_t)(ve - vs), err);
}

static lu_status type_error(const lu_project *p, const char *key, const char *v, const char *type,
                            lu_error *err)
{
    const item *it = find(p, key);
    if (it && it->line)
        return lu__fail(err, LU_FORMAT_ERROR, "%s:%d: %s: '%s' is not %s", p->name, it->line, key, v, type);
    return lu__fail(err, LU_FORMAT_ERROR, "%s: %s (set on the command line): '%s' is not %s", p->name,
                    key, v, type);
}

lu_status lu_project_get_int(const lu_project *p, const char *key, long long def, long long *out,
                             lu_error *err)
{
    const char *v = lu_project_get(p, key);
    *out = def;
    if (!v) return LU_OK;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (end == v || *end || errno) return type_error(p, key, v, "an integer", err);
    *out = n;
    return LU_OK;
}

lu_status lu_project_get_number(const lu_project *p, const char *key, double def, double *out,
                                lu_error *err)
{
    const char *v = lu_project_get(p, key);
    *out = def;
    if (!v) return LU_OK;
    char *end;
    double d = strtod(v, &end);
    if (end == v || *end) return type_error(p, key, v, "a number", err);
    *out = d;
    return LU_OK;
}

lu_status lu_project_get_bool(const lu_project *p, const char *key, bool def, bool *out, lu_error *err)
{
    const char *v = lu_project_get(p, key);
    *out = def;
    if (!v) return LU_OK;
    if (strcmp(v, "1") == 0 || strcmp(v, "true") == 0) *out = true;
    else if (strcmp(v, "0") == 0 || strcmp(v, "false") == 0) *out = false;
    else return type_error(p, key, v, "a boolean (1, 0, true or false)", err);
    return LU_OK;
}

lu_status lu_project_get_choice(const lu_project *p, const char *key, const char *const *choices, int def,
                                int *out, lu_error *err)
{
    const char *v = lu_project_get(p, key);
    *out = def;
    if (!v) return LU_OK;
    char list[256] = "one of";
    size_t used = strlen(list);
    for (int i = 0; choices[i]; i++) {
        if (strcmp(v, choices[i]) == 0) {
            *out = i;
            return LU_OK;
        }
        int n = snprintf(list + used, sizeof list - used, "%s %s", i ? "," : "", choices[i]);
        if (n > 0) used += (size_t)n < sizeof list - used ? (size_t)n : sizeof list - used - 1;
    }
    return type_error(p, key, v, list, err);
}

size_t lu_project_count(const lu_project *p)
{
    return p ? p->count : 0;
}

const char *lu_project_key_at(const lu_project *p, size_t i, const char **value)
{
    if (!p || i >= p->count) return NULL;
    if (value) *value = p->items[i].value;
    return p->items[i].key;
}

int lu_project_line(const lu_project *p, const char *key)
{
    const item *it = p ? find(p, key) : NULL;
    return it ? it->line : 0;
}

const char *lu_project_name(const lu_project *p)
{
    return p ? p->name : NULL;
}

const char *lu__project_item(const lu_project *p, size_t i, const char **value, int *line, size_t *sec_len)
{
    if (!p || i >= p->count) return NULL;
    *value = p->items[i].value;
    *line = p->items[i].line;
    *sec_len = p->items[i].sec_len;
    return p->items[i].key;
}

int lu__project_item_earlier(const lu_project *p, size_t i)
{
    return p && i < p->count ? p->items[i].earlier : 0;
}
