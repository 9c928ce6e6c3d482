/* release.c -- `lutool release`: the update manager's version document for
 * a folder of volume zips (format: docs/FORMATS.md, liveupdate/release.h).
 *
 *   lutool release <dir> --version V [--min-version V] [--prefer-local-from V]
 *                  [--mandatory] [--priority N] [--sign <secret-key>]
 *
 * Every .zip file in <dir> becomes one volume: its mount name is the file name
 * without ".zip", with its size and SHA-256, listed by "file" (so the
 * document and the volumes upload together). Writes <dir>/release.json;
 * with --sign also release.json.sig and a .sig per volume.
 */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "liveupdate/crypto.h"
#include "liveupdate/release.h"
#include "lutool.h"

#define ERR(...) (fprintf(stderr, "lutool release: " __VA_ARGS__), fputc('\n', stderr), 1)

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.zip names of `dir`, sorted (one allocation each; free with free). */
static char **zips_of(const char *dir, size_t *n)
{
    DIR *d = opendir(dir);
    *n = 0;
    if (!d) return NULL;
    char **v = NULL;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len < 5 || strcmp(de->d_name + len - 4, ".zip") != 0) continue;
        char **bigger = realloc(v, (*n + 1) * sizeof *v);
        if (!bigger) break;
        v = bigger;
        if ((v[*n] = strdup(de->d_name))) (*n)++;
    }
    closedir(d);
    if (v) qsort(v, *n, sizeof *v, cmp_str);
    return v;
}

int lutool_release(int argc, char **argv)
{
    const char *dir = NULL, *version = NULL, *min = NULL, *prefer = NULL, *key = NULL;
    long priority = 10;
    bool mandatory = false;
    if (lutool_wants_help(argc, argv)) {
        printf("usage: lutool release <dir> --version V [--min-version V] [--prefer-local-from V] [--mandatory]\n"
               "                      [--priority N] [--sign <secret-key>]\n"
               "Writes <dir>/release.json, the update manager's version document, listing every <dir>/*.zip\n"
               "(mount name = file name without .zip) with its size and SHA-256; --sign also signs it and\n"
               "each volume (.sig files). Upload the folder and set [update] url to its release.json.\n");
        return 0;
    }
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        if (strcmp(a, "--version") == 0 && has) version = argv[++i];
        else if (strcmp(a, "--min-version") == 0 && has) min = argv[++i];
        else if (strcmp(a, "--prefer-local-from") == 0 && has) prefer = argv[++i];
        else if (strcmp(a, "--priority") == 0 && has) priority = strtol(argv[++i], NULL, 10);
        else if (strcmp(a, "--sign") == 0 && has) key = argv[++i];
        else if (strcmp(a, "--mandatory") == 0) mandatory = true;
        else if (a[0] != '-' && !dir) dir = a;
        else {
            fprintf(stderr, "lutool release: unexpected argument '%s'\n", a);
            return 2;
        }
    }
    if (!dir || !version) {
        fprintf(stderr, "usage: lutool release <dir> --version V [options]   (lutool release --help)\n");
        return 2;
    }
    const char *versions[] = {version, min, prefer};
    for (int i = 0; i < 3; i++)
        if (versions[i] && !lu_version_valid(versions[i]))
            return ERR("'%s' is not a version (1-64 characters of [0-9A-Za-z.+-])", versions[i]);
    if (priority < 0 || priority > 2147483647L) return ERR("--priority must be a whole number >= 0");
    lu_error err;
    unsigned char sk[64];
    if (lu_crypto_init(&err) != LU_OK || (key && lu_hex_file_read(key, sk, sizeof sk, &err) != LU_OK))
        return ERR("%s", err.message);
    size_t n;
    char **zips = zips_of(dir, &n);
    if (!zips && !lutool_is_dir(dir)) return ERR("cannot read folder '%s'", dir);
    cJSON *doc = cJSON_CreateObject(), *vols;
    cJSON_AddStringToObject(doc, "version", version);
    vols = cJSON_AddArrayToObject(doc, "volumes");
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        char path[PATH_MAX], name[256], sha[LU_SHA256_HEX];
        uint64_t size;
        snprintf(path, sizeof path, "%s/%s", dir, zips[i]);
        snprintf(name, sizeof name, "%.*s", (int)(strlen(zips[i]) - 4), zips[i]);
        if (lu_mount_name_check(name, &err) != LU_OK) rc = ERR("%s: %s", zips[i], err.message);
        else if (lu_sha256_file(path, sha, &size, &err) != LU_OK) rc = ERR("%s", err.message);
        else if (key && lu_sign_file(path, sk, &err) != LU_OK) rc = ERR("%s", err.message);
        if (rc) break;
        cJSON *v = cJSON_CreateObject();
        cJSON_AddStringToObject(v, "name", name);
        cJSON_AddStringToObject(v, "file", zips[i]);
        cJSON_AddNumberToObject(v, "size", (double)size);
        cJSON_AddStringToObject(v, "sha256", sha);
        cJSON_AddNumberToObject(v, "priority", (double)priority);
        cJSON_AddItemToArray(vols, v);
        printf("release: %-16s %s  %llu bytes\n", name, zips[i], (unsigned long long)size);
    }
    if (min) cJSON_AddStringToObject(doc, "min_version", min);
    if (prefer) cJSON_AddStringToObject(doc, "prefer_local_from", prefer);
    cJSON_AddBoolToObject(doc, "mandatory", mandatory);
    char *text = rc ? NULL : cJSON_Print(doc);
    cJSON_Delete(doc);
    for (size_t i = 0; i < n; i++) free(zips[i]);
    free(zips);
    if (rc) return rc;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/release.json", dir);
    FILE *f = fopen(path, "wb");
    bool ok = f && text && fputs(text, f) >= 0 && fputc('\n', f) != EOF;
    if (f && fclose(f) != 0) ok = false;
    cJSON_free(text);
    if (!ok) return ERR("cannot write '%s'", path);
    if (key && lu_sign_file(path, sk, &err) != LU_OK) return ERR("%s", err.message);
    printf("release: %s lists %zu volume(s) for version %s%s\n", path, n, version, key ? " (signed)" : "");
    return 0;
}
