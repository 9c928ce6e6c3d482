/* verify.c -- `lutool verify`: is this volume or bundle what it claims?
 *
 *   lutool verify <zip> [--key <public-key>]
 *   lutool verify <bundle-dir> [--key <public-key>]
 *
 * For a zip: opens it with the library (the safety checks of docs/FORMATS.md), reads
 * every entry (CRC and declared size checked), and compares each entry's
 * size and SHA-256 with the zip's own /liveupdate.manifest.json. An entry
 * the manifest does not list is a problem (the manifest and
 * /version_*.json excepted); so is a listed resource the zip lacks, unless
 * only excluded proxies need it (it ships in a volume). With --key the
 * detached signature <zip>.sig must verify.
 *
 * For a bundle folder: game.zip as above (without a signature: it ships in
 * the store build), then every volume of liveupdate/catalog.json: its file
 * must have the catalog's size and SHA-256 and verify as a zip; with --key
 * each volume's and the catalog's .sig must verify.
 *
 * Each problem is one line naming the file and the entry. The last line is
 * "verify: <path>: OK (...)" or "verify: <path>: N problem(s)"; the exit
 * status is 0 only when there is no problem.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "liveupdate/crypto.h"
#include "lutool.h"

typedef struct tally {
    size_t problems, entries, checked;
} tally;

static void problem(tally *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(tally *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("  PROBLEM: ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    t->problems++;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_res(const void *a, const void *b)
{
    return strcmp(((const lu_manifest_resource *)a)->path, ((const lu_manifest_resource *)b)->path);
}

static bool is_version_file(const char *p)
{
    size_t len = strlen(p);
    return strncmp(p, "/version_", 9) == 0 && len > 14 && strcmp(p + len - 5, ".json") == 0 && !strchr(p + 1, '/');
}

static bool in_sorted(char **v, size_t n, const char *s)
{
    return n && bsearch(&s, v, n, sizeof *v, cmp_str) != NULL;
}

/* Checks one entry's data against its manifest record (if any). */
static void check_entry(tally *t, const char *zip, const char *path, const void *data, size_t size,
                        const lu_manifest *m)
{
    if (!m || strcmp(path, LUTOOL_MANIFEST) == 0 || is_version_file(path)) return;
    lu_manifest_resource key = {.path = (char *)path};
    const lu_manifest_resource *r = bsearch(&key, m->resources, m->nresources, sizeof key, cmp_res);
    if (!r) {
        problem(t, "%s: %s: not in the manifest", zip, path);
        return;
    }
    t->checked++;
    char sha[LU_SHA256_HEX];
    lu_sha256_hex(data, size, sha);
    if (r->size != size)
        problem(t, "%s: %s: size %zu, manifest says %llu", zip, path, size, (unsigned long long)r->size);
    else if (r->sha256[0] && strcmp(r->sha256, sha) != 0)
        problem(t, "%s: %s: sha256 %s, manifest says %s", zip, path, sha, r->sha256);
}

/* Manifest resources the zip lacks that no excluded proxy accounts for. */
static void check_absent(tally *t, const char *zip, const lu_manifest *m, char **paths, size_t n)
{
    size_t nexcl = 0;
    for (size_t i = 0; i < m->nproxies; i++)
        if (m->proxies[i].excluded) nexcl += m->proxies[i].nresources;
    char **excl = malloc((nexcl + 1) * sizeof *excl);
    if (!excl) {
        problem(t, "%s: out of memory", zip);
        return;
    }
    nexcl = 0;
    for (size_t i = 0; i < m->nproxies; i++)
        if (m->proxies[i].excluded)
            for (size_t k = 0; k < m->proxies[i].nresources; k++) excl[nexcl++] = m->proxies[i].resources[k];
    qsort(excl, nexcl, sizeof *excl, cmp_str);
    for (size_t i = 0; i < m->nresources; i++) {
        const char *p = m->resources[i].path;
        if (!in_sorted(paths, n, p) && !in_sorted(excl, nexcl, p))
            problem(t, "%s: %s: in the manifest but not in the zip", zip, p);
    }
    free(excl);
}

static void check_signature(tally *t, const char *path, const unsigned char *key)
{
    lu_error err;
    if (key && lu_verify_file_signature(path, key, &err) != LU_OK) problem(t, "%s", err.message);
}

/* Verifies one zip; adds to *t. */
static void verify_zip(tally *t, const char *zip, const unsigned char *key)
{
    lu_context *ctx;
    if (lutool_open_zip("verify", zip, &ctx)) {
        t->problems++;
        return;
    }
    char **paths = NULL;
    size_t n = 0;
    lu_manifest *m = NULL;
    lu_error err;
    if (lu_list_paths(ctx, "/", NULL, &paths, &n, &err) != LU_OK) {
        problem(t, "%s: %s", zip, err.message);
        goto cleanup;
    }
    if (lutool_read_manifest("verify", ctx, zip, &m)) t->problems++;
    if (m) qsort(m->resources, m->nresources, sizeof *m->resources, cmp_res);
    else printf("  %s: no %s; only CRCs checked\n", zip, LUTOOL_MANIFEST);
    for (size_t i = 0; i < n; i++) {
        void *data;
        size_t size;
        t->entries++;
        if (lu_read(ctx, paths[i], &data, &size, &err) != LU_OK) {
            problem(t, "%s: %s", zip, err.message);
            continue;
        }
        check_entry(t, zip, paths[i], data, size, m);
        lu_free(ctx, data);
    }
    if (m) check_absent(t, zip, m, paths, n);
    check_signature(t, zip, key);
cleanup:
    lu_manifest_free(m);
    lu_free(ctx, paths);
    lu_context_close(ctx);
}

static void verify_bundle(tally *t, const char *dir, const unsigned char *key)
{
    char path[PATH_MAX], why[300];
    snprintf(path, sizeof path, "%s/game.zip", dir);
    verify_zip(t, path, NULL);
    lu_manifest *cat;
    if (lutool_read_catalog("verify", dir, &cat)) {
        t->problems++;
        return;
    }
    if (!cat) return;
    snprintf(path, sizeof path, "%s/liveupdate/catalog.json", dir);
    check_signature(t, path, key);
    for (size_t i = 0; i < cat->nvolumes; i++) {
        int state = lutool_check_volume(dir, &cat->volumes[i], path, sizeof path, why, sizeof why);
        if (state != LUTOOL_VOLUME_OK) problem(t, "%s: volume '%s': %s", path, cat->volumes[i].name, why);
        if (state != LUTOOL_VOLUME_MISSING) verify_zip(t, path, key);
    }
    lu_manifest_free(cat);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: lutool verify <zip|bundle-dir> [--key <public-key>]\n"
               "Reads every entry (CRC checked), compares sizes and SHA-256 with the zip's manifest, and with\n"
               "--key checks <zip>.sig. On a bundle folder: game.zip, then each catalog volume (size and\n"
               "SHA-256 against the catalog, then as a zip) and, with --key, the catalog's signature.\n"
               "Exit status 0 only when nothing is wrong.\n");
}

int lutool_verify(int argc, char **argv)
{
    const char *target = NULL, *keyfile = NULL;
    const luopt opts[] = {LUOPT_STR("--key", &keyfile)};
    const luopt_cmd cmd = {"lutool", "lutool verify", usage, opts, 1, &target, 1, NULL};
    int status = luopt_parse(&cmd, argc, argv);
    if (status != LUOPT_RUN) return status;
    if (!target) return luopt_usage_error("lutool verify", "missing <zip|bundle-dir>");
    unsigned char key[32];
    lu_error err;
    if (lu_crypto_init(&err) != LU_OK || (keyfile && lu_hex_file_read(keyfile, key, sizeof key, &err) != LU_OK)) {
        fprintf(stderr, "lutool verify: %s\n", err.message);
        return 1;
    }
    tally t = {0};
    if (lutool_is_dir(target)) verify_bundle(&t, target, keyfile ? key : NULL);
    else verify_zip(&t, target, keyfile ? key : NULL);
    if (t.problems) {
        printf("verify: %s: %zu problem(s)\n", target, t.problems);
        return 1;
    }
    printf("verify: %s: OK (%zu entries, %zu checked against the manifest%s)\n", target, t.entries, t.checked,
           keyfile ? ", signatures OK" : "");
    return 0;
}
