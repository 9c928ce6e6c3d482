/* release.c -- `lutool release`: the update manager's version document
 * (format: docs/FORMATS.md, liveupdate/release.h) and the files it names.
 *
 *   lutool release <bundle-dir> --version V [options] [-o <out>]
 *   lutool release <folder-of-zips> --version V [options]
 *   options: [--min-version V] [--prefer-local-from V] [--mandatory]
 *            [--priority N] [--binary-min V] [--binary-max V]
 *            [--sign <secret-key>]
 *
 * A bundle folder (lutool bundle's output: game.project and game.zip) gives
 * the folder to upload, <out> (default <bundle-dir>/release): game.zip
 * copied as game-<first 16 hex of its SHA-256>.zip, so a file's URL never
 * changes meaning behind a CDN cache, and release.json listing it as volume
 * "game" -- the only file whose name a later release reuses. Files of
 * earlier releases in <out> stay (clients may still fetch them).
 *
 * A folder of zips keeps the publisher's names: every .zip becomes one
 * volume named after the file (without ".zip"), and release.json is
 * written beside them.
 *
 * Every argument is checked before anything is written: a release with no
 * volumes, a --min-version or --prefer-local-from above --version and a
 * --binary-min above --binary-max are refused (exit 1), a --priority that
 * is not a whole number from 0 to INT_MAX too (a usage error: exit 2).
 * With --sign, each volume gets <file>.sig and release.json gets
 * release.json.sig; without it a release.json.sig left
 * by an earlier run is removed, since it no longer matches.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "liveupdate/crypto.h"
#include "liveupdate/release.h"
#include "lutool.h"

#define ERR(...) (fprintf(stderr, "lutool release: " __VA_ARGS__), fputc('\n', stderr), 1)

/* How many hex characters of the SHA-256 name a bundle's volume file. */
#define HASH_PREFIX 16

typedef struct options {
    const char *dir, *out, *version, *min, *prefer, *bin_min, *bin_max, *key;
    long long priority;
    bool mandatory;
} options;

typedef struct volume {
    char *name, *file;   /* mount name; file name in the upload folder */
    char src[PATH_MAX];  /* where its bytes are now */
    uint64_t size;
    char sha256[LU_SHA256_HEX];
} volume;

typedef struct release {
    options o;
    bool bundle;             /* <dir> is a bundle folder */
    char out[PATH_MAX];      /* the folder release.json goes to */
    volume *vols;
    size_t n;
    unsigned char secret[64];
} release;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: lutool release <bundle-dir> --version V [options] [-o <out>]\n"
            "       lutool release <folder-of-zips> --version V [options]\n"
            "options: --min-version V  --prefer-local-from V  --mandatory  --priority N (default 10)\n"
            "         --binary-min V  --binary-max V  --sign <secret-key>\n"
            "A bundle folder (game.project and game.zip, lutool bundle's output) gives <out> (default\n"
            "<bundle-dir>/release/): game-<sha256 prefix>.zip and release.json, the version document\n"
            "listing it as volume 'game'. A folder of zips gets <dir>/release.json listing every <dir>/*.zip\n"
            "(mount name = file name without .zip). --sign also signs the document and each volume\n"
            "(.sig files). Upload the folder and set [update] url to its release.json.\n");
}

static bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.zip names of `dir`, sorted (one allocation each; free with free).
 * NULL with *n == 0 when the folder cannot be read or holds none. */
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

/* ---- arguments -------------------------------------------------------- */

/* Returns 0, or the exit status (0 after --help, 2: usage, 1: a value
 * that is not a version or contradicts another). */
static int parse_args(int argc, char **argv, options *o)
{
    const luopt opts[] = {
        LUOPT_STR("--version", &o->version), LUOPT_STR("--min-version", &o->min),
        LUOPT_STR("--prefer-local-from", &o->prefer), LUOPT_STR("--binary-min", &o->bin_min),
        LUOPT_STR("--binary-max", &o->bin_max), LUOPT_STR("--sign", &o->key),
        LUOPT_STR("-o", &o->out), LUOPT_BOOL("--mandatory", &o->mandatory),
        LUOPT_NUM("--priority", &o->priority, 0, INT_MAX),
    };
    const luopt_cmd cmd = {"lutool", "lutool release", usage, opts, sizeof opts / sizeof *opts, &o->dir, 1, NULL};
    o->priority = 10;
    int status = luopt_parse(&cmd, argc, argv);
    if (status != LUOPT_RUN) return status == 0 ? -1 : status;
    if (!o->dir) return luopt_usage_error("lutool release", "missing <bundle-dir|folder-of-zips>");
    if (!o->version) return luopt_usage_error("lutool release", "missing --version V");
    const char *versions[] = {o->version, o->min, o->prefer, o->bin_min, o->bin_max};
    for (size_t i = 0; i < sizeof versions / sizeof *versions; i++)
        if (versions[i] && !lu_version_valid(versions[i]))
            return ERR("'%s' is not a version (1-64 characters of [0-9A-Za-z.+-])", versions[i]);
    if (o->min && lu_version_compare(o->min, o->version) > 0)
        return ERR("--min-version %s is above --version %s: no game could ever satisfy it", o->min, o->version);
    if (o->prefer && lu_version_compare(o->prefer, o->version) > 0)
        return ERR("--prefer-local-from %s is above --version %s", o->prefer, o->version);
    if (o->bin_min && o->bin_max && lu_version_compare(o->bin_min, o->bin_max) > 0)
        return ERR("--binary-min %s is above --binary-max %s: the release would target no binary", o->bin_min,
                   o->bin_max);
    return 0;
}

/* ---- the volumes ------------------------------------------------------ */

static int add_volume(release *r, const char *name, const char *file, const char *src)
{
    volume *bigger = realloc(r->vols, (r->n + 1) * sizeof *r->vols);
    if (!bigger) return ERR("out of memory");
    r->vols = bigger;
    volume *v = &r->vols[r->n];
    memset(v, 0, sizeof *v);
    lu_error err;
    if (snprintf(v->src, sizeof v->src, "%s", src) >= (int)sizeof v->src) return ERR("path too long: '%s'", src);
    if (lu_mount_name_check(name, &err) != LU_OK) return ERR("%s: %s", file, err.message);
    if (lu_sha256_file(src, v->sha256, &v->size, &err) != LU_OK) return ERR("%s", err.message);
    v->name = strdup(name);
    if (file) v->file = strdup(file);
    else if ((v->file = malloc(64))) snprintf(v->file, 64, "%s-%.*s.zip", name, HASH_PREFIX, v->sha256);
    r->n++;
    return v->name && v->file ? 0 : ERR("out of memory");
}

/* A bundle: its game.zip, under a content-derived name. */
static int bundle_volumes(release *r)
{
    char src[PATH_MAX];
    if (snprintf(src, sizeof src, "%s/game.zip", r->o.dir) >= (int)sizeof src ||
        (r->o.out ? snprintf(r->out, sizeof r->out, "%s", r->o.out)
                  : snprintf(r->out, sizeof r->out, "%s/release", r->o.dir)) >= (int)sizeof r->out)
        return ERR("path too long: '%s'", r->o.dir);
    return add_volume(r, "game", NULL, src);
}

/* A folder of zips: each under its own name. */
static int folder_volumes(release *r)
{
    if (r->o.out) {
        fprintf(stderr, "lutool release: -o applies to a bundle folder (game.project and game.zip); '%s' is a folder "
                        "of zips, whose release.json is written beside them\n", r->o.dir);
        return 2;
    }
    if (!lutool_is_dir(r->o.dir)) return ERR("cannot read folder '%s'", r->o.dir);
    snprintf(r->out, sizeof r->out, "%s", r->o.dir);
    size_t n;
    char **zips = zips_of(r->o.dir, &n);
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        char path[PATH_MAX], name[256];
        if (snprintf(path, sizeof path, "%s/%s", r->o.dir, zips[i]) >= (int)sizeof path)
            rc = ERR("path too long: '%s/%s'", r->o.dir, zips[i]);
        else if (snprintf(name, sizeof name, "%.*s", (int)(strlen(zips[i]) - 4), zips[i]) >= (int)sizeof name)
            rc = ERR("%s: the name is too long for a mount", zips[i]);
        else rc = add_volume(r, name, zips[i], path);
    }
    for (size_t i = 0; i < n; i++) free(zips[i]);
    free(zips);
    return rc;
}

/* ---- writing ---------------------------------------------------------- */

static char *document(const release *r)
{
    const options *o = &r->o;
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "version", o->version);
    cJSON *vols = cJSON_AddArrayToObject(doc, "volumes");
    for (size_t i = 0; i < r->n; i++) {
        const volume *v = &r->vols[i];
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "name", v->name);
        cJSON_AddStringToObject(j, "file", v->file);
        cJSON_AddNumberToObject(j, "size", (double)v->size);
        cJSON_AddStringToObject(j, "sha256", v->sha256);
        cJSON_AddNumberToObject(j, "priority", (double)o->priority);
        cJSON_AddItemToArray(vols, j);
    }
    if (o->min) cJSON_AddStringToObject(doc, "min_version", o->min);
    if (o->prefer) cJSON_AddStringToObject(doc, "prefer_local_from", o->prefer);
    cJSON_AddBoolToObject(doc, "mandatory", o->mandatory);
    if (o->bin_min || o->bin_max) {
        cJSON *bin = cJSON_AddObjectToObject(doc, "binary");
        if (o->bin_min) cJSON_AddStringToObject(bin, "min", o->bin_min);
        if (o->bin_max) cJSON_AddStringToObject(bin, "max", o->bin_max);
    }
    char *text = cJSON_Print(doc);
    cJSON_Delete(doc);
    return text;
}

/* Writes `len` bytes from `data` (or, when data is NULL, the file `src`)
 * to `path` through "<path>.tmp" and a rename, so `path` is never seen
 * half-written. */
static int write_atomically(const char *path, const char *data, size_t len, const char *src)
{
    char tmp[PATH_MAX + 8];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) return ERR("path too long: '%s'", path);
    FILE *in = src ? fopen(src, "rb") : NULL, *f = NULL;
    if (src && !in) return ERR("cannot read '%s': %s", src, strerror(errno));
    bool ok = (f = fopen(tmp, "wb")) != NULL;
    if (ok && data) ok = fwrite(data, 1, len, f) == len;
    char buf[1 << 16];
    for (size_t n; ok && in && (n = fread(buf, 1, sizeof buf, in)) > 0;) ok = fwrite(buf, 1, n, f) == n;
    if (ok && in) ok = !ferror(in);
    int e = errno;
    if (in) fclose(in);
    if (f && fclose(f) != 0 && ok) ok = false, e = errno;
    if (ok && rename(tmp, path) != 0) ok = false, e = errno;
    if (!ok) {
        remove(tmp);
        return ERR("cannot write '%s': %s", path, strerror(e));
    }
    return 0;
}

/* Puts each volume into the upload folder (a bundle's; a folder's already
 * are) and signs it. */
static int write_volumes(release *r)
{
    lu_error err;
    for (size_t i = 0; i < r->n; i++) {
        volume *v = &r->vols[i];
        char path[PATH_MAX + 300], sha[LU_SHA256_HEX];
        snprintf(path, sizeof path, "%s/%s", r->out, v->file);
        if (r->bundle && !(lu_sha256_file(path, sha, NULL, &err) == LU_OK && strcmp(sha, v->sha256) == 0) &&
            write_atomically(path, NULL, 0, v->src))
            return 1;
        if (r->o.key && lu_sign_file(path, r->secret, &err) != LU_OK) return ERR("%s", err.message);
        printf("release: %-16s %s  %llu bytes\n", v->name, v->file, (unsigned long long)v->size);
    }
    return 0;
}

static int write_release(release *r)
{
    char *text = document(r);
    if (!text) return ERR("out of memory");
    char path[PATH_MAX + 16], sig[PATH_MAX + 24];
    snprintf(path, sizeof path, "%s/release.json", r->out);
    snprintf(sig, sizeof sig, "%s.sig", path);
    size_t len = strlen(text);
    text[len] = '\n';   /* cJSON_Print's NUL becomes the trailing newline */
    int rc = write_atomically(path, text, len + 1, NULL);
    cJSON_free(text);
    lu_error err;
    if (!rc && r->o.key && lu_sign_file(path, r->secret, &err) != LU_OK) rc = ERR("%s", err.message);
    if (!rc && !r->o.key && remove(sig) == 0) printf("release: removed %s (it signed an earlier release.json)\n", sig);
    if (!rc)
        printf("release: %s lists %zu volume(s) for version %s%s\n", path, r->n, r->o.version,
               r->o.key ? " (signed)" : "");
    return rc;
}

int lutool_release(int argc, char **argv)
{
    release r;
    memset(&r, 0, sizeof r);
    int rc = parse_args(argc, argv, &r.o);
    if (rc) return rc < 0 ? 0 : rc;
    lu_error err;
    if (lu_crypto_init(&err) != LU_OK) return ERR("%s", err.message);
    if (r.o.key && lu_secret_key_read(r.o.key, r.secret, &err) != LU_OK)
        return ERR("--sign: %s", err.message);
    char probe[PATH_MAX + 16], probe2[PATH_MAX + 16];
    snprintf(probe, sizeof probe, "%s/game.project", r.o.dir);
    snprintf(probe2, sizeof probe2, "%s/game.zip", r.o.dir);
    r.bundle = is_file(probe) && is_file(probe2);
    rc = r.bundle ? bundle_volumes(&r) : folder_volumes(&r);
    if (!rc && r.n == 0)
        rc = ERR("'%s' holds no .zip files: a release with no volumes would claim version %s and change "
                 "nothing (nothing written)", r.o.dir, r.o.version);
    if (!rc && r.bundle) rc = lutool_mkdir_p("release", r.out);
    if (!rc) rc = write_volumes(&r);
    if (!rc) rc = write_release(&r);
    for (size_t i = 0; i < r.n; i++) {
        free(r.vols[i].name);
        free(r.vols[i].file);
    }
    free(r.vols);
    return rc;
}
