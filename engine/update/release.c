/* release.c -- the update manager's version document and dotted version
 * comparison (contract: liveupdate/release.h).
 *
 * Memory: lu__release_parse allocates through the caller's lu_env (the
 * update manager passes its context's); the public lu_release_parse and
 * lu_release_free, which have no context, use lu__default_env().
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "internal.h"
#include "liveupdate/release.h"
#include "release_internal.h"

#define MAX_EXACT 9007199254740992.0   /* 2^53 */

int lu_version_valid(const char *v)
{
    size_t n = v ? strlen(v) : 0;
    if (n == 0 || n > LU_VERSION_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)v[i]) && !strchr(".+-", v[i])) return 0;
    return 1;
}

/* Compares one component [a, a+la) with [b, b+lb). */
static int compare_component(const char *a, size_t la, const char *b, size_t lb)
{
    bool da = la > 0, db = lb > 0;
    for (size_t i = 0; i < la; i++) da = da && isdigit((unsigned char)a[i]);
    for (size_t i = 0; i < lb; i++) db = db && isdigit((unsigned char)b[i]);
    if (da && db) {
        while (la > 1 && *a == '0') a++, la--;
        while (lb > 1 && *b == '0') b++, lb--;
        if (la != lb) return la < lb ? -1 : 1;
    }
    int c = memcmp(a, b, la < lb ? la : lb);
    if (c) return c < 0 ? -1 : 1;
    return la == lb ? 0 : la < lb ? -1 : 1;
}

int lu_version_compare(const char *a, const char *b)
{
    a = a ? a : "";
    b = b ? b : "";
    while (*a || *b) {
        size_t la = strcspn(a, "."), lb = strcspn(b, ".");
        const char *ca = la ? a : "0", *cb = lb ? b : "0";
        int c = compare_component(ca, la ? la : 1, cb, lb ? lb : 1);
        if (c) return c;
        a += la + (a[la] == '.');
        b += lb + (b[lb] == '.');
    }
    return 0;
}

static void free_volume(const lu_env *env, lu_release_volume *v)
{
    lu__free(env, v->name);
    lu__free(env, v->url);
    lu__free(env, v->file);
    lu__free(env, v->sha256);
}

void lu__release_free(const lu_env *env, lu_release *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->nvolumes; i++) free_volume(env, &r->volumes[i]);
    lu__free(env, r->volumes);
    lu__free(env, r->version);
    lu__free(env, r->min_version);
    lu__free(env, r->prefer_local_from);
    lu__free(env, r->binary_min);
    lu__free(env, r->binary_max);
    lu__free(env, r);
}

void lu_release_free(lu_release *r)
{
    lu_env env = lu__default_env();
    lu__release_free(&env, r);
}

static bool is_sha256(const char *s)
{
    if (!s || strlen(s) != 64) return false;
    for (int i = 0; i < 64; i++)
        if (!isxdigit((unsigned char)s[i])) return false;
    return true;
}

/* An optional version field: absent, or a valid version string. */
static lu_status opt_version(const lu_env *env, const cJSON *root, const char *key, char **out, lu_error *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!it || cJSON_IsNull(it)) return LU_OK;
    if (!cJSON_IsString(it) || !lu_version_valid(it->valuestring))
        return lu__fail(err, LU_FORMAT_ERROR, "version document: '%s' must be a version string like \"1.4.0\"", key);
    *out = lu__strdup(env, it->valuestring);
    return *out ? LU_OK : lu__fail(err, LU_MEM_ERROR, "version document: out of memory");
}

/* "binary": "1.2" (exactly that binary) or {"min": "1.0", "max": "1.9"}
 * (either may be absent), into r->binary_min / r->binary_max. */
static lu_status parse_binary(const lu_env *env, const cJSON *root, lu_release *r, lu_error *err)
{
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(root, "binary");
    if (!b || cJSON_IsNull(b)) return LU_OK;
    if (cJSON_IsString(b)) {
        if (!lu_version_valid(b->valuestring))
            return lu__fail(err, LU_FORMAT_ERROR, "version document: 'binary' must be a version string or {\"min\", \"max\"}");
        r->binary_min = lu__strdup(env, b->valuestring);
        r->binary_max = lu__strdup(env, b->valuestring);
        if (!r->binary_min || !r->binary_max) return lu__fail(err, LU_MEM_ERROR, "version document: out of memory");
        return LU_OK;
    }
    if (!cJSON_IsObject(b))
        return lu__fail(err, LU_FORMAT_ERROR, "version document: 'binary' must be a version string or {\"min\", \"max\"}");
    lu_status st = opt_version(env, b, "min", &r->binary_min, err);
    if (st == LU_OK) st = opt_version(env, b, "max", &r->binary_max, err);
    if (st != LU_OK) {
        lu__error_prefix(err, "'binary'");
        return st;
    }
    if (r->binary_min && r->binary_max && lu_version_compare(r->binary_min, r->binary_max) > 0)
        return lu__fail(err, LU_FORMAT_ERROR, "version document: 'binary' min %s is above max %s", r->binary_min,
                        r->binary_max);
    return LU_OK;
}

lu_status lu__release_file_name(const char *version, const char *file, char *out, size_t cap,
                                lu_error *err)
{
    LU_TRY(lu_file_name_check(file, err));
    int n = snprintf(out, cap, LU_RELEASE_FILE_PREFIX "%s-%s", version, file);
    if (n < 0 || (size_t)n >= cap || (size_t)n > LU_FILE_NAME_MAX)
        return lu__fail(err, LU_INVAL, "its stored name 'rel-%s-%.40s...' is not a plain file name: over %d bytes",
                        version, file, LU_FILE_NAME_MAX);
    return lu_file_name_check(out, err);
}

static lu_status parse_volume(const lu_env *env, const char *version, const cJSON *it, size_t i,
                              lu_release_volume *v, lu_error *err)
{
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "name"));
    const char *url = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "url"));
    const char *file = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "file"));
    const char *sha = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "sha256"));
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(it, "size");
    const cJSON *prio = cJSON_GetObjectItemCaseSensitive(it, "priority");
    lu_error nerr;
    if (!name || lu_mount_name_check(name, &nerr) != LU_OK)
        return lu__fail(err, LU_FORMAT_ERROR, "version document: volumes[%zu] needs a valid 'name'", i);
    if (!url && !file)
        return lu__fail(err, LU_FORMAT_ERROR, "version document: volume '%s' needs 'url' or 'file'", name);
    if (!file) {
        const char *slash = strrchr(url, '/');
        file = slash ? slash + 1 : url;
    }
    size_t fl = strcspn(file, "?#");
    char plain[LU_FILE_NAME_MAX + 1], stored[LU_FILE_NAME_MAX + 1];
    if ((!url && file[fl]) || fl > LU_FILE_NAME_MAX)
        return lu__fail(err, LU_FORMAT_ERROR, "version document: volume '%s': '%.200s' is not a plain file name", name, file);
    snprintf(plain, sizeof plain, "%.*s", (int)fl, file);
    if (lu__release_file_name(version, plain, stored, sizeof stored, &nerr) != LU_OK)
        return lu__fail(err, LU_FORMAT_ERROR, "version document: volume '%s': %s", name, nerr.message);
    if (!is_sha256(sha))
        return lu__fail(err, LU_FORMAT_ERROR, "version document: volume '%s' needs a 64-hex 'sha256'", name);
    if (!cJSON_IsNumber(size) || size->valuedouble < 0 || size->valuedouble > MAX_EXACT ||
        size->valuedouble != (double)(uint64_t)size->valuedouble)
        return lu__fail(err, LU_FORMAT_ERROR, "version document: volume '%s' needs a whole 'size' >= 0", name);
    if (prio && (!cJSON_IsNumber(prio) || prio->valuedouble < 0 || prio->valuedouble > 2147483647.0 ||
                 prio->valuedouble != (double)(int)prio->valuedouble))
        return lu__fail(err, LU_FORMAT_ERROR, "version document: volume '%s': 'priority' must be a whole number >= 0", name);
    v->name = lu__strdup(env, name);
    v->url = url ? lu__strdup(env, url) : NULL;
    v->file = lu__strndup(env, file, fl);
    v->sha256 = lu__strdup(env, sha);
    v->size = (uint64_t)size->valuedouble;
    v->priority = prio ? (int)prio->valuedouble : 10;
    if (!v->name || (url && !v->url) || !v->file || !v->sha256)
        return lu__fail(err, LU_MEM_ERROR, "version document: out of memory");
    for (char *c = v->sha256; *c; c++) *c = (char)tolower((unsigned char)*c);
    return LU_OK;
}

lu_status lu__release_parse(const lu_env *env, const char *json, size_t len, lu_release **out, lu_error *err)
{
    *out = NULL;
    lu_status st = LU_OK;
    lu_release *r = lu__calloc(env, 1, sizeof *r);
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!r) {
        st = lu__fail(err, LU_MEM_ERROR, "version document: out of memory");
        goto cleanup;
    }
    if (!root && lu__json_syntax_ok(json, len)) {   /* good JSON: cJSON ran out of memory */
        st = lu__fail(err, LU_MEM_ERROR, "version document: out of memory parsing it");
        goto cleanup;
    }
    if (!cJSON_IsObject(root)) {
        st = lu__fail(err, LU_FORMAT_ERROR, "version document: not a JSON object");
        goto cleanup;
    }
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "version");
    if (!cJSON_IsString(ver) || !lu_version_valid(ver->valuestring)) {
        st = lu__fail(err, LU_FORMAT_ERROR, "version document: 'version' must be a version string like \"1.4.0\"");
        goto cleanup;
    }
    if (!(r->version = lu__strdup(env, ver->valuestring))) {
        st = lu__fail(err, LU_MEM_ERROR, "version document: out of memory");
        goto cleanup;
    }
    if ((st = opt_version(env, root, "min_version", &r->min_version, err)) != LU_OK ||
        (st = opt_version(env, root, "prefer_local_from", &r->prefer_local_from, err)) != LU_OK)
        goto cleanup;
    if (r->min_version && lu_version_compare(r->min_version, r->version) > 0) {
        st = lu__fail(err, LU_FORMAT_ERROR, "version document: 'min_version' %s is above 'version' %s", r->min_version,
                      r->version);
        goto cleanup;
    }
    r->mandatory = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "mandatory"));
    if ((st = parse_binary(env, root, r, err)) != LU_OK) goto cleanup;
    const cJSON *vols = cJSON_GetObjectItemCaseSensitive(root, "volumes"), *it;
    if (!cJSON_IsArray(vols)) {
        st = lu__fail(err, LU_FORMAT_ERROR, "version document: 'volumes' must be an array");
        goto cleanup;
    }
    r->volumes = lu__calloc(env, (size_t)cJSON_GetArraySize(vols) + 1, sizeof *r->volumes);
    if (!r->volumes) {
        st = lu__fail(err, LU_MEM_ERROR, "version document: out of memory");
        goto cleanup;
    }
    if (cJSON_GetArraySize(vols) == 0) {
        st = lu__fail(err, LU_FORMAT_ERROR, "version document: 'volumes' is empty (a release needs at least one volume)");
        goto cleanup;
    }
    cJSON_ArrayForEach(it, vols) {
        lu_release_volume *v = &r->volumes[r->nvolumes++];
        if ((st = parse_volume(env, r->version, it, r->nvolumes - 1, v, err)) != LU_OK) goto cleanup;
        for (size_t k = 0; k + 1 < r->nvolumes; k++)
            if (strcmp(r->volumes[k].name, v->name) == 0 || strcmp(r->volumes[k].file, v->file) == 0) {
                st = lu__fail(err, LU_FORMAT_ERROR, "version document: volume '%s' is listed twice (name or file)", v->name);
                goto cleanup;
            }
    }
    *out = r;
    r = NULL;
cleanup:
    cJSON_Delete(root);
    lu__release_free(env, r);
    return st;
}

lu_status lu_release_parse(const char *json, size_t len, lu_release **out, lu_error *err)
{
    lu_env env = lu__default_env();
    return lu__release_parse(&env, json, len, out, err);
}
