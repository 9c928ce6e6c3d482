/* manifest.c -- the manifest model: parse, build from a project, ask what
 * a collection proxy is missing (see liveupdate/manifest.h).
 *
 * Memory: a manifest does not belong to a context, so the manifest and its
 * strings come from lu__default_env() (the C library's allocator) and are
 * freed by lu_manifest_free. lu_manifest_missing has a context and
 * allocates through it (the caller frees with lu_free).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "internal.h"
#include "liveupdate/crypto.h"
#include "liveupdate/manifest.h"
#include "project_internal.h"

/* ---- globs ----------------------------------------------------------
 * '*' matches a run of characters within one path component, '**' any run
 * ('/' included; a double star takes the slash after it along, so
 * "/a/" + double star + "/b" also matches "/a/b"), '?' one character but
 * '/', anything else itself.
 * The pattern is run as a state machine over its tokens: the set of
 * pattern positions reachable after each path character, so the work is
 * at most 2 * (path length + 1) * (pattern length + 1) steps whatever the
 * stars (a backtracking matcher is exponential in their number). */

/* How many bytes the token at pat[i] spans. */
static size_t glob_token(const char *pat, size_t i)
{
    if (pat[i] == '*' && pat[i + 1] == '*') return pat[i + 2] == '/' ? 3 : 2;
    return 1;
}

/* What each pattern position is, as a state of the matcher. A token of
 * two stars and a slash (whole components, docs/BUNDLER.md) has two
 * states: at its own position, "at the start of a component" (it may
 * match nothing, or eat whole components), and at the next, "inside a
 * component" (it must reach a '/' first). So the pattern "a", "/", that
 * token, "b" matches a/b and a/x/b but not a/xb. */
enum { G_CHAR, G_STAR, G_DSTAR, G_DSTAR_SLASH, G_INSIDE, G_UNUSED };

static void glob_roles(const char *pat, size_t m, unsigned char *role)
{
    for (size_t i = 0; i < m;) {
        size_t k = glob_token(pat, i);
        role[i] = pat[i] != '*' ? G_CHAR : k == 1 ? G_STAR : k == 2 ? G_DSTAR : G_DSTAR_SLASH;
        for (size_t j = 1; j < k; j++) role[i + j] = j == 1 && k == 3 ? G_INSIDE : G_UNUSED;
        i += k;
    }
}

/* Stars match the empty run: a star's state reaches the state after it
 * (a stars-and-slash token only from its start-of-component state). */
static void glob_close(const unsigned char *role, size_t m, unsigned char *set, uint64_t *steps)
{
    for (size_t i = 0; i < m; i++) {
        (*steps)++;
        if (!set[i]) continue;
        if (role[i] == G_STAR) set[i + 1] = 1;
        else if (role[i] == G_DSTAR) set[i + 2] = 1;
        else if (role[i] == G_DSTAR_SLASH) set[i + 3] = 1;
    }
}

int lu__glob_match_counted(const char *pat, const char *s, uint64_t *steps)
{
    size_t m = strlen(pat);
    lu_env env = lu__default_env();
    unsigned char small[3][257], *heap = NULL, *cur = small[0], *next = small[1], *role = small[2];
    if (m + 1 > sizeof small[0]) {
        if (!(heap = lu__malloc(&env, 3 * (m + 1)))) return 0;
        cur = heap;
        next = heap + m + 1;
        role = heap + 2 * (m + 1);
    }
    glob_roles(pat, m, role);
    memset(cur, 0, m + 1);
    cur[0] = 1;
    glob_close(role, m, cur, steps);
    int match = 1;
    for (const char *c = s; *c && match; c++) {
        memset(next, 0, m + 1);
        match = 0;
        for (size_t i = 0; i < m; i++) {
            (*steps)++;
            if (!cur[i]) continue;
            size_t to = m + 1;   /* none */
            switch (role[i]) {
            case G_CHAR: if (pat[i] == '?' ? *c != '/' : pat[i] == *c) to = i + 1; break;
            case G_STAR: if (*c != '/') to = i; break;
            case G_DSTAR: to = i; break;
            case G_DSTAR_SLASH: to = *c == '/' ? i : i + 1; break;   /* a component starts */
            case G_INSIDE: to = *c == '/' ? i - 1 : i; break;        /* a '/' ends it */
            }
            if (to <= m) next[to] = 1, match = 1;
        }
        glob_close(role, m, next, steps);
        unsigned char *t = cur;
        cur = next;
        next = t;
    }
    match = match && cur[m];
    lu__free(&env, heap);
    return match;
}

int lu_glob_match(const char *pat, const char *s)
{
    uint64_t steps = 0;
    return lu__glob_match_counted(pat, s, &steps);
}

/* ---- model ---------------------------------------------------------- */

static void free_strv(const lu_env *env, char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) lu__free(env, v[i]);
    lu__free(env, v);
}

/* The strings of one item (the item itself lives in its array). */
static void resource_free(const lu_env *env, lu_manifest_resource *r)
{
    lu__free(env, r->path);
    lu__free(env, r->sha256);
}

static void proxy_free(const lu_env *env, lu_manifest_proxy *p)
{
    lu__free(env, p->id);
    lu__free(env, p->collection);
    lu__free(env, p->volume);
    free_strv(env, p->resources, p->nresources);
    free_strv(env, p->proxies, p->nproxies);
}

static void volume_free(const lu_env *env, lu_manifest_volume *v)
{
    lu__free(env, v->name);
    lu__free(env, v->file);
    lu__free(env, v->sha256);
}

static void manifest_free(const lu_env *env, lu_manifest *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->nresources; i++) resource_free(env, &m->resources[i]);
    for (size_t i = 0; i < m->nproxies; i++) proxy_free(env, &m->proxies[i]);
    for (size_t i = 0; i < m->nvolumes; i++) volume_free(env, &m->volumes[i]);
    lu__free(env, m->resources);
    lu__free(env, m->proxies);
    lu__free(env, m->volumes);
    lu__free(env, m->proxy_index);
    lu__free(env, m);
}

void lu_manifest_free(lu_manifest *m)
{
    lu_env env = lu__default_env();
    manifest_free(&env, m);
}

static int cmp_resource(const void *a, const void *b)
{
    return strcmp(((const lu_manifest_resource *)a)->path, ((const lu_manifest_resource *)b)->path);
}

static void index_proxies(const lu_env *env, lu_manifest *m);

lu_status lu_manifest_overlay(lu_manifest *m, lu_manifest *top, lu_error *err)
{
    lu_env env = lu__default_env();
    /* grow first: a failure leaves m as it was */
    lu_manifest_resource *r = lu__realloc(&env, m->resources, (m->nresources + top->nresources + 1) * sizeof *r);
    if (r) m->resources = r;
    lu_manifest_proxy *p = r ? lu__realloc(&env, m->proxies, (m->nproxies + top->nproxies + 1) * sizeof *p) : NULL;
    if (p) m->proxies = p;
    lu_manifest_volume *v = p ? lu__realloc(&env, m->volumes, (m->nvolumes + top->nvolumes + 1) * sizeof *v) : NULL;
    if (v) m->volumes = v;
    if (!v) {
        manifest_free(&env, top);
        return lu__fail(err, LU_MEM_ERROR, "out of memory merging manifests");
    }
    qsort(m->resources, m->nresources, sizeof *m->resources, cmp_resource);
    size_t n0 = m->nresources;
    for (size_t i = 0; i < top->nresources; i++) {
        lu_manifest_resource *t = &top->resources[i], *old = bsearch(t, m->resources, n0, sizeof *t, cmp_resource);
        if (old) {
            resource_free(&env, old);
            *old = *t;
        } else {
            m->resources[m->nresources++] = *t;
        }
    }
    for (size_t i = 0; i < top->nproxies; i++) {
        lu_manifest_proxy *t = &top->proxies[i], *old = NULL;
        for (size_t k = 0; k < m->nproxies && !old; k++)
            if (strcmp(m->proxies[k].id, t->id) == 0) old = &m->proxies[k];
        if (old) {
            proxy_free(&env, old);
            *old = *t;
        } else {
            m->proxies[m->nproxies++] = *t;
        }
    }
    for (size_t i = 0; i < top->nvolumes; i++) {
        lu_manifest_volume *t = &top->volumes[i], *old = NULL;
        for (size_t k = 0; k < m->nvolumes && !old; k++)
            if (strcmp(m->volumes[k].name, t->name) == 0) old = &m->volumes[k];
        if (old) {
            volume_free(&env, old);
            *old = *t;
        } else {
            m->volumes[m->nvolumes++] = *t;
        }
    }
    index_proxies(&env, m);   /* ids replaced and added */
    /* every item moved: free only the arrays */
    lu__free(&env, top->resources);
    lu__free(&env, top->proxies);
    lu__free(&env, top->volumes);
    lu__free(&env, top->proxy_index);
    lu__free(&env, top);
    return LU_OK;
}

void lu_manifest_proxy_id(const char *id, char *buf, size_t cap)
{
    const char *hash = strrchr(id, '#');
    snprintf(buf, cap, "%s", hash ? hash + 1 : id);
}

/* ---- proxy index ------------------------------------------------------
 * Open addressing over the proxies' positions (slot = position + 1, 0 is
 * empty), at most half full; the first proxy of an id wins, as a scan finds
 * it. And the nested ids resolved once: edges[first[k] .. first[k + 1])
 * are the positions (+1; 0: no such proxy) of proxy k's nested proxies in
 * its order, so a recursive lu_manifest_missing hashes no id. Positions,
 * not pointers, so the index survives a realloc of the array, but not a
 * change of its ids or nesting: whoever changes them builds it again. */
struct lu__proxy_index {
    uint32_t mask;
    uint32_t *slot;    /* mask + 1 */
    uint32_t *first;   /* nproxies + 1 */
    uint32_t *edges;
};

#define PROXY_KEY_MAX 255   /* lu_manifest_find_proxy's key buffer holds 255 bytes */

/* The normalised key of `id` ("main:/loader#level1" -> "level1"), in place. */
static const char *proxy_key(const char *id, size_t *len)
{
    const char *hash = strrchr(id, '#'), *key = hash ? hash + 1 : id;
    size_t n = strlen(key);
    *len = n < PROXY_KEY_MAX ? n : PROXY_KEY_MAX;
    return key;
}

static bool id_is(const char *id, const char *key, size_t len)
{
    return strncmp(id, key, len) == 0 && id[len] == '\0';
}

/* The position of the proxy whose id is key[0..len), or -1. */
static ptrdiff_t proxy_lookup(const lu_manifest *m, const char *key, size_t len)
{
    const struct lu__proxy_index *ix = m->proxy_index;
    if (!ix) {
        for (size_t i = 0; i < m->nproxies; i++)
            if (id_is(m->proxies[i].id, key, len)) return (ptrdiff_t)i;
        return -1;
    }
    for (size_t h = lu__hash_path(key, len) & ix->mask; ix->slot[h]; h = (h + 1) & ix->mask)
        if (id_is(m->proxies[ix->slot[h] - 1].id, key, len)) return (ptrdiff_t)ix->slot[h] - 1;
    return -1;
}

/* Builds m's index again from its proxies: one allocation. Out of memory
 * (or more than 2^31 proxies or nested ids) leaves none: lookups scan,
 * slower, with the same answers. */
static void index_proxies(const lu_env *env, lu_manifest *m)
{
    lu__free(env, m->proxy_index);
    m->proxy_index = NULL;
    size_t nedges = 0, cap = 8;
    for (size_t i = 0; i < m->nproxies; i++) nedges += m->proxies[i].nproxies;
    if (!m->nproxies || m->nproxies > INT32_MAX || nedges > INT32_MAX) return;
    while (cap < 2 * m->nproxies) cap *= 2;
    struct lu__proxy_index *ix = lu__calloc(env, 1, sizeof *ix + (cap + m->nproxies + 1 + nedges) * sizeof(uint32_t));
    if (!ix) return;
    ix->mask = (uint32_t)(cap - 1);
    ix->slot = (uint32_t *)(ix + 1);
    ix->first = ix->slot + cap;
    ix->edges = ix->first + m->nproxies + 1;
    for (size_t i = 0; i < m->nproxies; i++) {
        const char *id = m->proxies[i].id;
        size_t len = strlen(id), h = lu__hash_path(id, len) & ix->mask;
        while (ix->slot[h] && strcmp(m->proxies[ix->slot[h] - 1].id, id) != 0) h = (h + 1) & ix->mask;
        if (!ix->slot[h]) ix->slot[h] = (uint32_t)i + 1;
    }
    m->proxy_index = ix;   /* proxy_lookup uses the slots from here */
    uint32_t e = 0;
    for (size_t i = 0; i < m->nproxies; i++) {
        ix->first[i] = e;
        for (size_t c = 0; c < m->proxies[i].nproxies; c++) {
            size_t len;
            const char *key = proxy_key(m->proxies[i].proxies[c], &len);
            ix->edges[e++] = (uint32_t)(proxy_lookup(m, key, len) + 1);
        }
    }
    ix->first[m->nproxies] = e;
}

const lu_manifest_proxy *lu_manifest_find_proxy(const lu_manifest *m, const char *id)
{
    if (!m || !id) return NULL;
    size_t len;
    const char *key = proxy_key(id, &len);
    ptrdiff_t k = proxy_lookup(m, key, len);
    return k < 0 ? NULL : &m->proxies[k];
}

/* ---- parsing -------------------------------------------------------- */

static char *dup_or_null(const lu_env *env, const char *s)
{
    return s ? lu__strdup(env, s) : NULL;
}

static const char *get_str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A whole number in [lo, hi] (doubles are checked before any conversion). */
static bool get_num(const cJSON *o, const char *k, double lo, double hi, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi)) return false;
    if (v->valuedouble != (double)(long long)v->valuedouble) return false;
    *out = v->valuedouble;
    return true;
}

#define MAX_EXACT 9007199254740992.0   /* 2^53: sizes and versions above are not exact in JSON */

/* Copies an array of strings; false when it is not one. */
static bool get_strv(const lu_env *env, const cJSON *o, const char *k, char ***out, size_t *n)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, k);
    *out = NULL;
    *n = 0;
    if (!a) return true;
    if (!cJSON_IsArray(a)) return false;
    size_t count = (size_t)cJSON_GetArraySize(a);
    *out = lu__calloc(env, count ? count : 1, sizeof **out);
    if (!*out) return false;
    const cJSON *it;
    cJSON_ArrayForEach(it, a) {
        if (!cJSON_IsString(it) || !((*out)[*n] = lu__strdup(env, it->valuestring))) return false;
        (*n)++;
    }
    return true;
}

static lu_status parse_resources(const lu_env *env, const cJSON *root, lu_manifest *m, lu_error *err)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "resources"), *it;
    if (!cJSON_IsArray(arr)) return lu__fail(err, LU_FORMAT_ERROR, "manifest: 'resources' must be an array");
    m->resources = lu__calloc(env, (size_t)cJSON_GetArraySize(arr) + 1, sizeof *m->resources);
    if (!m->resources) return lu__fail(err, LU_MEM_ERROR, "manifest: out of memory");
    cJSON_ArrayForEach(it, arr) {
        lu_manifest_resource *r = &m->resources[m->nresources];
        double size;
        const char *path = get_str(it, "path");
        if (!path || !get_num(it, "size", 0, MAX_EXACT, &size))
            return lu__fail(err, LU_FORMAT_ERROR, "manifest: resources[%zu] needs 'path' and a whole 'size' >= 0",
                            m->nresources);
        r->path = lu__strdup(env, path);
        r->sha256 = lu__strdup(env, get_str(it, "sha256") ? get_str(it, "sha256") : "");
        r->size = (uint64_t)size;
        m->nresources++;
        if (!r->path || !r->sha256) return lu__fail(err, LU_MEM_ERROR, "manifest: out of memory");
    }
    return LU_OK;
}

static lu_status parse_proxies(const lu_env *env, const cJSON *root, lu_manifest *m, lu_error *err)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "proxies"), *it;
    if (!arr) return LU_OK;
    if (!cJSON_IsArray(arr)) return lu__fail(err, LU_FORMAT_ERROR, "manifest: 'proxies' must be an array");
    m->proxies = lu__calloc(env, (size_t)cJSON_GetArraySize(arr) + 1, sizeof *m->proxies);
    if (!m->proxies) return lu__fail(err, LU_MEM_ERROR, "manifest: out of memory");
    cJSON_ArrayForEach(it, arr) {
        lu_manifest_proxy *p = &m->proxies[m->nproxies++];
        const char *id = get_str(it, "id"), *coll = get_str(it, "collection");
        if (!id || !coll)
            return lu__fail(err, LU_FORMAT_ERROR, "manifest: proxies[%zu] needs 'id' and 'collection'", m->nproxies - 1);
        p->id = lu__strdup(env, id);
        p->collection = lu__strdup(env, coll);
        p->volume = dup_or_null(env, get_str(it, "volume"));
        p->excluded = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "excluded"));
        if (!get_strv(env, it, "resources", &p->resources, &p->nresources) ||
            !get_strv(env, it, "proxies", &p->proxies, &p->nproxies))
            return lu__fail(err, LU_FORMAT_ERROR, "manifest: proxy '%s': 'resources' and 'proxies' must be arrays of strings", id);
        if (!p->id || !p->collection) return lu__fail(err, LU_MEM_ERROR, "manifest: out of memory");
    }
    return LU_OK;
}

static lu_status parse_volumes(const lu_env *env, const cJSON *root, lu_manifest *m, lu_error *err)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "volumes"), *it;
    if (!arr) return LU_OK;
    if (!cJSON_IsArray(arr)) return lu__fail(err, LU_FORMAT_ERROR, "manifest: 'volumes' must be an array");
    m->volumes = lu__calloc(env, (size_t)cJSON_GetArraySize(arr) + 1, sizeof *m->volumes);
    if (!m->volumes) return lu__fail(err, LU_MEM_ERROR, "manifest: out of memory");
    cJSON_ArrayForEach(it, arr) {
        lu_manifest_volume *v = &m->volumes[m->nvolumes++];
        const char *name = get_str(it, "name"), *file = get_str(it, "file");
        double size = 0, version = 0, prio = 0;
        if (!name || !file)
            return lu__fail(err, LU_FORMAT_ERROR, "manifest: volumes[%zu] needs 'name' and 'file'", m->nvolumes - 1);
        if ((cJSON_GetObjectItemCaseSensitive(it, "size") && !get_num(it, "size", 0, MAX_EXACT, &size)) ||
            (cJSON_GetObjectItemCaseSensitive(it, "version") && !get_num(it, "version", -MAX_EXACT, MAX_EXACT, &version)) ||
            (cJSON_GetObjectItemCaseSensitive(it, "priority") && !get_num(it, "priority", 0, 2147483647.0, &prio)))
            return lu__fail(err, LU_FORMAT_ERROR, "manifest: volume '%s': size, version and priority must be whole numbers in range",
                            name);
        v->name = lu__strdup(env, name);
        v->file = lu__strdup(env, file);
        v->sha256 = lu__strdup(env, get_str(it, "sha256") ? get_str(it, "sha256") : "");
        v->size = (uint64_t)size;
        v->version = (long long)version;
        v->priority = (int)prio;
        if (!v->name || !v->file || !v->sha256) return lu__fail(err, LU_MEM_ERROR, "manifest: out of memory");
    }
    return LU_OK;
}

/* Parses a manifest, or with `catalog` a catalog (volumes only). */
static lu_status parse_document(const char *json, size_t len, bool catalog, lu_manifest **out, lu_error *err)
{
    const char *what = catalog ? "catalog" : "manifest";
    lu_env envv = lu__default_env(), *env = &envv;   /* no context: see the top of the file */
    *out = NULL;
    lu_status st = LU_OK;
    lu_manifest *m = lu__calloc(env, 1, sizeof *m);
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!m) {
        st = lu__fail(err, LU_MEM_ERROR, "%s: out of memory", what);
        goto cleanup;
    }
    if (!root && lu__json_syntax_ok(json, len)) {   /* good JSON: cJSON ran out of memory */
        st = lu__fail(err, LU_MEM_ERROR, "%s: out of memory parsing it", what);
        goto cleanup;
    }
    if (!cJSON_IsObject(root)) {
        st = lu__fail(err, LU_FORMAT_ERROR, "%s: not a JSON object", what);
        goto cleanup;
    }
    if (catalog && !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(root, "volumes"))) {
        st = lu__fail(err, LU_FORMAT_ERROR, "catalog: 'volumes' must be an array");
        goto cleanup;
    }
    if ((!catalog && ((st = parse_resources(env, root, m, err)) != LU_OK ||
                      (st = parse_proxies(env, root, m, err)) != LU_OK)) ||
        (st = parse_volumes(env, root, m, err)) != LU_OK)
        goto cleanup;
    index_proxies(env, m);
    *out = m;
    m = NULL;
cleanup:
    cJSON_Delete(root);
    manifest_free(env, m);
    return st;
}

lu_status lu_manifest_parse(const char *json, size_t len, lu_manifest **out, lu_error *err)
{
    return parse_document(json, len, false, out, err);
}

lu_status lu_catalog_parse(const char *json, size_t len, lu_manifest **out, lu_error *err)
{
    return parse_document(json, len, true, out, err);
}

/* ---- from a project ------------------------------------------------- */

/* Splits a list on spaces and commas into a new string vector. */
static char **split_list(const lu_env *env, const char *s, size_t *n)
{
    *n = 0;
    size_t cap = 1;
    for (const char *c = s; c && *c; c++) cap += (*c == ' ' || *c == ',');
    char **v = lu__calloc(env, cap + 1, sizeof *v);
    while (v && s && *s) {
        while (*s == ' ' || *s == ',') s++;
        size_t len = strcspn(s, " ,");
        if (len && !(v[(*n)++] = lu__strndup(env, s, len))) {
            free_strv(env, v, *n);
            return NULL;
        }
        s += len;
    }
    return v;
}

static lu_status add_proxy(const lu_env *env, const lu_project *p, const char *id, char *const *paths, size_t n,
                           lu_manifest_proxy *px, lu_error *err)
{
    char key[300];
    snprintf(key, sizeof key, "proxy.%s.collection", id);
    const char *coll = lu_project_get(p, key);
    if (!coll || coll[0] != '/')
        return lu__fail(err, LU_FORMAT_ERROR, "game.project: [proxy.%s] needs collection = /path/to.collection", id);
    size_t npat = 0, nres = 0;
    snprintf(key, sizeof key, "proxy.%s.resources", id);
    char **pats = split_list(env, lu_project_get(p, key), &npat);
    snprintf(key, sizeof key, "proxy.%s.proxies", id);
    const char *nested = lu_project_get(p, key);
    px->proxies = split_list(env, nested, &px->nproxies);
    px->id = lu__strdup(env, id);
    px->collection = lu__strdup(env, coll);
    px->resources = lu__calloc(env, n + 1, sizeof *px->resources);
    snprintf(key, sizeof key, "proxy.%s.volume", id);
    px->volume = dup_or_null(env, lu_project_get(p, key));
    snprintf(key, sizeof key, "proxy.%s.exclude", id);
    bool excluded = false;
    lu_status st = lu_project_get_bool(p, key, false, &excluded, err);
    px->excluded = excluded;
    if (st != LU_OK || !pats || !px->proxies || !px->id || !px->collection || !px->resources) {
        free_strv(env, pats, npat);
        return st != LU_OK ? st : lu__fail(err, LU_MEM_ERROR, "out of memory");
    }
    bool have_coll = false;
    for (size_t i = 0; i < n; i++) {
        bool match = strcmp(paths[i], coll) == 0;
        have_coll |= match;
        for (size_t k = 0; !match && k < npat; k++) match = lu_glob_match(pats[k], paths[i]);
        if (match && !(px->resources[nres++] = lu__strdup(env, paths[i]))) {
            px->nresources = nres - 1;
            free_strv(env, pats, npat);
            return lu__fail(err, LU_MEM_ERROR, "out of memory");
        }
    }
    px->nresources = nres;
    free_strv(env, pats, npat);
    snprintf(key, sizeof key, "proxy.%s.collection", id);
    if (!have_coll)
        return lu__fail(err, LU_NOT_FOUND, "%s:%d: [proxy.%s] collection '%s' is not in the content", lu_project_name(p),
                        lu_project_line(p, key), id, coll);
    return LU_OK;
}

lu_status lu_manifest_from_project(const lu_project *p, char *const *paths, const uint64_t *sizes,
                                   size_t n, lu_manifest **out, lu_error *err)
{
    lu_env envv = lu__default_env(), *env = &envv;   /* no context: see the top of the file */
    *out = NULL;
    lu_status st = LU_OK;
    size_t nkeys = lu_project_count(p);
    lu_manifest *m = lu__calloc(env, 1, sizeof *m);
    if (m) {
        m->resources = lu__calloc(env, n + 1, sizeof *m->resources);
        m->proxies = lu__calloc(env, nkeys + 1, sizeof *m->proxies);
    }
    if (!m || !m->resources || !m->proxies) {
        st = lu__fail(err, LU_MEM_ERROR, "out of memory building the manifest");
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        m->resources[i].path = lu__strdup(env, paths[i]);
        m->resources[i].sha256 = lu__strdup(env, "");
        m->resources[i].size = sizes ? sizes[i] : 0;
        m->nresources++;
        if (!m->resources[i].path || !m->resources[i].sha256) {
            st = lu__fail(err, LU_MEM_ERROR, "out of memory building the manifest");
            goto cleanup;
        }
    }
    for (size_t i = 0; i < nkeys; i++) {
        /* every [proxy.<id>] section is a proxy, with or without its
         * collection key (add_proxy refuses one without) */
        const char *key = lu_project_key_at(p, i, NULL);
        const char *dot = strncmp(key, "proxy.", 6) == 0 ? strrchr(key + 6, '.') : NULL;
        if (!dot || dot == key + 6) continue;
        char id[256];
        snprintf(id, sizeof id, "%.*s", (int)(dot - (key + 6)), key + 6);
        if (lu_manifest_find_proxy(m, id)) continue;
        st = add_proxy(env, p, id, paths, n, &m->proxies[m->nproxies++], err);
        if (st != LU_OK) goto cleanup;
    }
    index_proxies(env, m);
    *out = m;
    m = NULL;
cleanup:
    manifest_free(env, m);
    return st;
}

/* ---- missing resources ---------------------------------------------- */

/* A growing list of strings with a hash set, so each path appears once
 * even when nested proxies share resources: one hash and, nearly always,
 * one probe a path. The set holds positions in v (+1; 0 is empty), and v
 * keeps each string's hash and length, so growing rehashes no string and
 * the answer is copied without measuring them again. */
typedef struct strref {
    const char *s;
    uint32_t hash;
    size_t len;
} strref;

typedef struct strlist {
    const lu_env *env;
    strref *v;
    size_t n, cap, bytes;   /* bytes: the strings' lengths + NULs */
    uint32_t *set;
    size_t mask;
} strlist;

static bool rehash(strlist *l, size_t cap)
{
    uint32_t *set = lu__calloc(l->env, cap, sizeof *set);
    if (!set) return false;
    for (size_t i = 0; i < l->n; i++) {
        size_t h = l->v[i].hash & (cap - 1);
        while (set[h]) h = (h + 1) & (cap - 1);
        set[h] = (uint32_t)i + 1;
    }
    lu__free(l->env, l->set);
    l->set = set;
    l->mask = cap - 1;
    return true;
}

static bool push(strlist *l, const char *s)
{
    if (!l->set && !rehash(l, 64)) return false;
    size_t len = strlen(s);
    uint32_t hash = lu__hash_path(s, len);
    size_t h = hash & l->mask;
    for (; l->set[h]; h = (h + 1) & l->mask) {
        const strref *r = &l->v[l->set[h] - 1];
        if (r->hash == hash && r->len == len && memcmp(r->s, s, len) == 0) return true;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        strref *v = l->n >= UINT32_MAX - 1 ? NULL : lu__realloc(l->env, l->v, cap * sizeof *v);
        if (!v) return false;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = (strref){s, hash, len};
    l->bytes += len + 1;
    l->set[h] = (uint32_t)l->n;
    return 2 * l->n <= l->mask + 1 || rehash(l, 2 * (l->mask + 1));
}

static void strlist_free(strlist *l)
{
    lu__free(l->env, l->v);
    lu__free(l->env, l->set);
}

/* The visit of lu_manifest_missing: an explicit stack of proxy positions
 * (a chain of nested proxies as deep as the manifest costs no C stack) and
 * one visited flag per proxy. A proxy is marked when it is popped and its
 * nested proxies are pushed in reverse, so the order is the depth-first
 * pre-order of the recursive definition (manifest.h). */
typedef struct visit {
    const lu_env *env;
    size_t *stack;
    size_t n, cap;
    unsigned char *seen;   /* m->nproxies flags */
} visit;

static bool stack_push(visit *v, size_t k)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 64;
        size_t *s = lu__realloc(v->env, v->stack, cap * sizeof *s);
        if (!s) return false;
        v->stack = s;
        v->cap = cap;
    }
    v->stack[v->n++] = k;
    return true;
}

/* Collects the missing paths of the proxy at position `root` and (when
 * `recursive`) of the proxies it nests, each once; counts the work. */
static bool collect_missing(lu_context *ctx, const lu_manifest *m, size_t root, int recursive, strlist *out,
                            lu__missing_work *work)
{
    visit v = {.env = &ctx->env};
    bool ok = (v.seen = lu__calloc(v.env, m->nproxies, 1)) && stack_push(&v, root);
    while (ok && v.n) {
        size_t k = v.stack[--v.n];
        if (v.seen[k]) continue;
        v.seen[k] = 1;
        const lu_manifest_proxy *px = &m->proxies[k];
        work->proxies++;
        for (size_t i = 0; ok && i < px->nresources; i++) {
            work->checks++;
            ok = lu_exists(ctx, px->resources[i]) || push(out, px->resources[i]);
        }
        const struct lu__proxy_index *ix = m->proxy_index;
        for (size_t i = recursive ? px->nproxies : 0; ok && i-- > 0;) {
            ptrdiff_t child;
            work->lookups++;
            if (ix) {
                child = (ptrdiff_t)ix->edges[ix->first[k] + i] - 1;   /* resolved when the index was built */
            } else {
                size_t len;
                const char *key = proxy_key(px->proxies[i], &len);
                child = proxy_lookup(m, key, len);
            }
            if (child >= 0 && !v.seen[child]) ok = stack_push(&v, (size_t)child);
        }
    }
    lu__free(v.env, v.stack);
    lu__free(v.env, v.seen);
    return ok;
}

lu_status lu__manifest_missing_counted(lu_context *ctx, const lu_manifest *m, const char *proxy, int recursive,
                                       char ***out, size_t *count, lu__missing_work *work, lu_error *err)
{
    *out = NULL;
    *count = 0;
    const lu_manifest_proxy *px = lu_manifest_find_proxy(m, proxy);
    if (!px) return lu__fail(err, LU_NOT_FOUND, "no collection proxy '%s' in the manifest", proxy ? proxy : "(null)");
    strlist list = {.env = &ctx->env};
    lu_status st = LU_OK;
    if (!collect_missing(ctx, m, (size_t)(px - m->proxies), recursive, &list, work)) {
        st = lu__fail(err, LU_MEM_ERROR, "out of memory");
        goto cleanup;
    }
    char **res = lu__malloc(&ctx->env, (list.n + 1) * sizeof(char *) + list.bytes);
    if (!res) {
        st = lu__fail(err, LU_MEM_ERROR, "out of memory");
        goto cleanup;
    }
    char *p = (char *)(res + list.n + 1);
    for (size_t i = 0; i < list.n; i++) {
        memcpy(p, list.v[i].s, list.v[i].len + 1);
        res[i] = p;
        p += list.v[i].len + 1;
    }
    res[list.n] = NULL;
    *out = res;
    *count = list.n;
cleanup:
    strlist_free(&list);
    return st;
}

lu_status lu_manifest_missing(lu_context *ctx, const lu_manifest *m, const char *proxy,
                              int recursive, char ***out, size_t *count, lu_error *err)
{
    lu__missing_work work = {0};
    return lu__manifest_missing_counted(ctx, m, proxy, recursive, out, count, &work, err);
}

static int cmp_resource_path(const void *a, const void *b)
{
    return strcmp(((const lu_manifest_resource *)a)->path, ((const lu_manifest_resource *)b)->path);
}

/* lu_manifest_verify_volume (manifest.h): the manifest and /version_*.json
 * files are not listed; listed resources the volume lacks are allowed (they
 * ship in other volumes). */
lu_status lu_manifest_verify_volume(lu_context *ctx, const char *path, lu_error *err)
{
    if (!ctx) return lu__fail(err, LU_NOT_INITIALIZED, "no context");
    const lu_env *env = &ctx->env;
    lu_archive *a = NULL;
    lu_manifest *m = NULL;
    void *data = NULL;
    static const char mpath[] = "/liveupdate.manifest.json";
    lu_status st = lu__archive_open(env, "zip", path, &a, err);
    if (st != LU_OK) return st == LU_SCHEME_MISMATCH ? LU_FORMAT_ERROR : st;
    const lu_entry *me = lu__entries_find_once(&a->entries, mpath, sizeof mpath - 1);
    if (!me) {
        st = lu__fail(err, LU_FORMAT_ERROR, "it has no %s to check its entries against", mpath);
        goto cleanup;
    }
    if ((st = lu__archive_read(a, me, &data, err)) != LU_OK) goto cleanup;
    st = lu_manifest_parse(data, (size_t)me->size, &m, err);
    lu__free(env, data);
    data = NULL;
    if (st != LU_OK) {
        lu__error_prefix(err, "%s", mpath);
        goto cleanup;
    }
    qsort(m->resources, m->nresources, sizeof *m->resources, cmp_resource_path);
    const uint32_t *order = lu__entries_order(&a->entries);   /* by path: the first failing one is reported */
    for (size_t i = 0; i < a->entries.count && st == LU_OK; i++) {
        const lu_entry *e = &a->entries.items[order ? order[i] : i];
        const char *name = lu__entry_name(&a->entries, e);
        size_t nl = strlen(name);
        if (strcmp(name, mpath) == 0 || (strncmp(name, "/version_", 9) == 0 && nl > 14 && strcmp(name + nl - 5, ".json") == 0))
            continue;
        lu_manifest_resource key = {.path = (char *)name};
        const lu_manifest_resource *r = bsearch(&key, m->resources, m->nresources, sizeof key, cmp_resource_path);
        if (!r) {
            st = lu__fail(err, LU_HASH_MISMATCH, "entry '%s' is not in its manifest", name);
            break;
        }
        if ((st = lu__archive_read(a, e, &data, err)) != LU_OK) break;
        char sha[LU_SHA256_HEX];
        lu_sha256_hex(data, (size_t)e->size, sha);
        lu__free(env, data);
        data = NULL;
        if (e->size != r->size)
            st = lu__fail(err, LU_HASH_MISMATCH, "entry '%s' has %llu bytes, its manifest says %llu", name,
                          (unsigned long long)e->size, (unsigned long long)r->size);
        else if (r->sha256[0] && strcmp(sha, r->sha256) != 0)
            st = lu__fail(err, LU_HASH_MISMATCH, "entry '%s' has sha256 %s, its manifest says %s", name, sha, r->sha256);
    }
cleanup:
    lu_manifest_free(m);
    lu__archive_release(a);
    return st;
}
