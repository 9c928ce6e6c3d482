/* inspect.c -- `lutool inspect`: what a volume or a bundle holds.
 *
 *   lutool inspect <zip>          entries with sizes, the manifest summary,
 *                                 the version files
 *   lutool inspect <bundle-dir>   game.zip as above, then the catalog with
 *                                 each volume's state (OK, MISSING,
 *                                 MISMATCH against size and sha256) and
 *                                 each present volume as above
 *
 * It reports, it does not judge: the exit status is 1 only when something
 * cannot be opened or parsed. `lutool verify` is the check.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "liveupdate/crypto.h"
#include "lutool.h"

static void print_manifest(const lu_manifest *m)
{
    if (!m) {
        printf("  manifest: none (%s absent)\n", LUTOOL_MANIFEST);
        return;
    }
    printf("  manifest: %zu resource(s), %zu proxy(ies), %zu volume(s)\n", m->nresources, m->nproxies, m->nvolumes);
    for (size_t i = 0; i < m->nproxies; i++) {
        const lu_manifest_proxy *p = &m->proxies[i];
        printf("    proxy %-16s %zu resource(s)", p->id, p->nresources);
        if (p->nproxies) printf(", %zu nested", p->nproxies);
        if (p->excluded) printf(", excluded, volume %s", p->volume ? p->volume : "(none)");
        printf("\n");
    }
    for (size_t i = 0; i < m->nvolumes; i++) {
        const lu_manifest_volume *v = &m->volumes[i];
        char hs[32];
        lutool_human_size(v->size, hs, sizeof hs);
        printf("    volume %-15s %s, %s, version %lld, priority %d\n", v->name, v->file, hs, v->version, v->priority);
    }
}

/* Prints /version_*.json files found at the top of the zip. */
static void print_versions(lu_context *ctx, char **paths, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *p = paths[i];
        size_t len = strlen(p);
        if (strncmp(p, "/version_", 9) != 0 || len < 15 || strcmp(p + len - 5, ".json") != 0 || strchr(p + 1, '/'))
            continue;
        void *data;
        size_t size;
        lu_error err;
        if (lu_read(ctx, p, &data, &size, &err) != LU_OK) {
            printf("  %s: unreadable: %s\n", p, err.message);
            continue;
        }
        cJSON *j = cJSON_ParseWithLength(data, size);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "version");
        if (cJSON_IsNumber(v)) printf("  %s: version %.0f\n", p, v->valuedouble);
        else printf("  %s: no numeric \"version\"\n", p);
        cJSON_Delete(j);
        lu_free(ctx, data);
    }
}

static int inspect_zip(const char *zip)
{
    lu_context *ctx;
    if (lutool_open_zip("inspect", zip, &ctx)) return 1;
    int rc = 1;
    char **paths = NULL;
    size_t n = 0;
    lu_manifest *m = NULL;
    lu_error err;
    if (lu_list_paths(ctx, "/", NULL, &paths, &n, &err) != LU_OK) {
        fprintf(stderr, "lutool inspect: %s: %s\n", zip, err.message);
        goto cleanup;
    }
    char sha[LU_SHA256_HEX], hs[32];
    uint64_t file_size = 0, total = 0;
    if (lu_sha256_file(zip, sha, &file_size, &err) != LU_OK) {
        fprintf(stderr, "lutool inspect: %s\n", err.message);
        goto cleanup;
    }
    lutool_human_size(file_size, hs, sizeof hs);
    printf("%s: %s, sha256 %s\n", zip, hs, sha);
    for (size_t i = 0; i < n; i++) {
        lu_stat_info info;
        if (lu_stat(ctx, paths[i], &info, &err) != LU_OK) continue;
        lutool_human_size(info.size, hs, sizeof hs);
        printf("  %10s  %s\n", hs, paths[i]);
        total += info.size;
    }
    lutool_human_size(total, hs, sizeof hs);
    printf("  %zu entr%s, %s uncompressed\n", n, n == 1 ? "y" : "ies", hs);
    if (lutool_read_manifest("inspect", ctx, zip, &m)) goto cleanup;
    print_manifest(m);
    print_versions(ctx, paths, n);
    rc = 0;
cleanup:
    lu_manifest_free(m);
    lu_free(ctx, paths);
    lu_context_close(ctx);
    return rc;
}

static int inspect_bundle(const char *dir)
{
    char path[PATH_MAX], why[300];
    snprintf(path, sizeof path, "%s/game.zip", dir);
    int rc = inspect_zip(path);
    lu_manifest *cat;
    if (lutool_read_catalog("inspect", dir, &cat)) return 1;
    if (!cat) {
        printf("%s/liveupdate/catalog.json: none (no volumes)\n", dir);
        return rc;
    }
    printf("%s/liveupdate/catalog.json: %zu volume(s)\n", dir, cat->nvolumes);
    bool *present = calloc(cat->nvolumes + 1, sizeof *present);
    for (size_t i = 0; i < cat->nvolumes; i++) {
        const lu_manifest_volume *v = &cat->volumes[i];
        char hs[32];
        lutool_human_size(v->size, hs, sizeof hs);
        int state = lutool_check_volume(dir, v, path, sizeof path, why, sizeof why);
        if (present) present[i] = state != LUTOOL_VOLUME_MISSING;
        printf("  %-16s %-20s %10s  version %lld  priority %d  %s\n", v->name, v->file, hs, v->version, v->priority, why);
    }
    for (size_t i = 0; i < cat->nvolumes; i++) {
        if (!present || !present[i]) continue;
        snprintf(path, sizeof path, "%s/liveupdate/%s", dir, cat->volumes[i].file);
        rc |= inspect_zip(path);
    }
    free(present);
    lu_manifest_free(cat);
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: lutool inspect <zip|bundle-dir>\n"
               "Lists a zip's entries with their sizes, its manifest (resources, proxies, volumes) and its\n"
               "/version_*.json files. On a bundle folder (lutool bundle's output): game.zip, then the\n"
               "catalog with each volume's state (OK, MISSING, MISMATCH) and each volume present.\n");
}

int lutool_inspect(int argc, char **argv)
{
    const char *target = NULL;
    const luopt_cmd cmd = {"lutool", "lutool inspect", usage, NULL, 0, &target, 1, NULL};
    int status = luopt_parse(&cmd, argc, argv);
    if (status != LUOPT_RUN) return status;
    if (!target) return luopt_usage_error("lutool inspect", "missing <zip|bundle-dir>");
    lu_error err;
    if (lu_crypto_init(&err) != LU_OK) {
        fprintf(stderr, "lutool inspect: %s\n", err.message);
        return 1;
    }
    return lutool_is_dir(target) ? inspect_bundle(target) : inspect_zip(target);
}
