/* bundle.c -- `lutool bundle`: a game project to a base bundle and volumes.
 *
 *   lutool bundle <project-dir> -o <out-dir> [--sign <secret-key>]
 *
 * Reads game.project and the content tree, assigns every resource to the
 * base or to the volumes of the excluded proxies that need it, and writes
 * <out>/game.project, <out>/game.zip (with /liveupdate.manifest.json),
 * <out>/liveupdate/<volume>.zip (with its own manifest and
 * /version_<volume>.json) and <out>/liveupdate/catalog.json; with --sign
 * also a .sig beside each volume and the catalog. The same input gives
 * byte-identical output: entries and JSON keys in a fixed order, fixed zip
 * timestamps.
 *
 * A [liveupdate] public_key that names a file (anything but 64 hex
 * characters) is copied into the bundle, so the bundle starts on its own:
 * a path relative to the project folder keeps its place relative to the
 * bundle folder (lurun resolves it against the game folder); an absolute
 * path, or one that climbs out with "..", is copied to the bundle root
 * under its base name and the bundle's game.project names that copy. A key
 * file that is missing or does not hold a key is an error before anything
 * is written.
 *
 * Assignment: a resource goes into the base unless every proxy that needs
 * it is excluded; then it goes into each of those proxies' volumes. A
 * resource an excluded proxy needs but a non-excluded one needs too stays in
 * the base, and the bundler says so. With [bundle] strict = 1, a resource
 * that no proxy needs (other than the main script and what [bundle] base
 * globs match) is an error.
 *
 * Compression: [bundle] compression = deflate (the default) or zstd (zip
 * method 93, level LU_ZIP_ZSTD_LEVEL) for the base and every volume;
 * [volume.<name>] compression overrides it for one volume. Any other value
 * is an error naming file, line and key, found before anything is written.
 *
 * Checks, all before anything is written: game.project against the schema
 * (lu_project_check: unknown keys, values of the wrong type), the main
 * script and every proxy's collection in the content, every `resources`
 * and [bundle] base pattern matching at least one file, and no symbolic
 * link anywhere under the content root.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "liveupdate/crypto.h"
#include "liveupdate/liveupdate.h"
#include "liveupdate/manifest.h"
#include "liveupdate/project.h"
#include "lutool.h"

#define ERR(...) (fprintf(stderr, "lutool bundle: " __VA_ARGS__), fputc('\n', stderr), 1)

typedef struct resource {
    const char *path;
    uint64_t size;
    char sha256[LU_SHA256_HEX];
    bool in_base;
    char **volumes;     /* names of the volumes that carry it (not in base) */
    size_t nvolumes;
} resource;

typedef struct volume {
    const char *name;
    long long version, priority;
    int method;         /* LU_ZIP_DEFLATE or LU_ZIP_ZSTD */
    char file[300];
    char sha256[LU_SHA256_HEX];
    uint64_t size;
    size_t nresources;
} volume;

typedef struct bundle {
    const char *project_dir, *out;
    lu_project *project;
    lu_context *content;      /* the content tree mounted as _base */
    lu_manifest *manifest;
    resource *res;
    size_t nres;
    volume *vols;
    size_t nvols;
    unsigned char secret[64];
    bool sign;
    int method;               /* [bundle] compression: the base's, and the volumes' default */
    /* [liveupdate] public_key when it names a file (see the file comment) */
    const char *key_value;    /* as game.project says it; NULL: nothing to copy */
    char key_rel[PATH_MAX];   /* where the copy goes, relative to the bundle */
    bool key_renamed;         /* the bundle's game.project names key_rel instead */
    char key_text[300];       /* the file's bytes (a valid key file is shorter) */
    size_t key_len;
} bundle;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: lutool bundle <project-dir> -o <out-dir> [--sign <secret-key>]\n"
            "Writes <out>/game.project, <out>/game.zip and <out>/liveupdate/{<volume>.zip,catalog.json}.\n"
            "Proxies come from [proxy.<id>] (collection, resources globs, exclude, volume, proxies),\n"
            "volumes from [volume.<name>] (version, priority, compression). --sign adds Ed25519 .sig files.\n"
            "[bundle] compression = deflate (default) or zstd compresses the base and the volumes.\n"
            "A [liveupdate] public_key file is copied into the bundle (an absolute path to its root).\n");
}

/* The compression game.project's `key` chooses (`def` when absent) into
 * *method; 1 (reported) when the value is not one the bundler knows. */
static int read_compression(bundle *b, const char *key, int def, int *method)
{
    static const char *const names[] = {"deflate", "zstd", NULL};
    static const int methods[] = {LU_ZIP_DEFLATE, LU_ZIP_ZSTD};
    int i;
    lu_error err;
    if (lu_project_get_choice(b->project, key, names, def == LU_ZIP_ZSTD, &i, &err) != LU_OK)
        return ERR("%s", err.message);
    *method = methods[i];
    return 0;
}

static bool in_list(char **v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0) return true;
    return false;
}

/* ---- reading the project --------------------------------------------- */

static void print_warning(void *ud, const char *message)
{
    (void)ud;
    fprintf(stderr, "lutool bundle: %s\n", message);
}

/* Refuses every symbolic link under the content root `root` (its first
 * `rlen` bytes are the root; the rest, the folder being walked): the
 * runtime's folder mounts skip them, so a bundle that followed one would
 * differ from the project run, and one leaving the root would ship a file
 * from outside the game. 1 (reported) on the first link. */
static int check_links(char *root, size_t rlen, int depth)
{
    DIR *d = opendir(root);
    if (!d) return 0;   /* a missing root is the content layer's error to report */
    size_t len = strlen(root);
    int rc = 0;
    for (struct dirent *de; !rc && (de = readdir(d));) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
        if (len + 1 + strlen(de->d_name) >= PATH_MAX) continue;   /* the content layer reports it */
        snprintf(root + len, PATH_MAX - len, "/%s", de->d_name);
        struct stat sb;
        if (lstat(root, &sb) != 0) continue;
        if (S_ISLNK(sb.st_mode)) {
            char target[PATH_MAX], real[PATH_MAX];
            ssize_t n = readlink(root, target, sizeof target - 1);
            target[n > 0 ? n : 0] = '\0';
            char saved = root[rlen], top[PATH_MAX];
            root[rlen] = '\0';
            bool have_top = realpath(root, top) != NULL;
            root[rlen] = saved;
            bool resolves = realpath(root, real) != NULL;
            bool inside = resolves && have_top && strncmp(real, top, strlen(top)) == 0 && real[strlen(top)] == '/';
            rc = ERR("content file %s is a symbolic link to '%s', %s: the bundler takes no symbolic links (the "
                     "runtime's folder mounts skip them); put a copy of the file there", root, target,
                     !resolves ? "which points to nothing" : inside ? "inside the content root"
                                                                     : "which leaves the content root");
        } else if (S_ISDIR(sb.st_mode) && depth < 64) {
            rc = check_links(root, rlen, depth + 1);
        }
        root[len] = '\0';
    }
    closedir(d);
    return rc;
}

static int open_content(bundle *b)
{
    char path[PATH_MAX + 32], uri[PATH_MAX + 40];
    lu_error err;
    snprintf(path, sizeof path, "%s/game.project", b->project_dir);
    if (lu_project_load(path, &b->project, &err) != LU_OK) return ERR("%s", err.message);
    if (lu_project_check(b->project, print_warning, NULL, &err) != LU_OK) return ERR("%s", err.message);
    if (read_compression(b, "bundle.compression", LU_ZIP_DEFLATE, &b->method)) return 1;
    const char *root = lu_project_get(b->project, "project.content_root");
    char abs[PATH_MAX];
    if (!realpath(b->project_dir, abs)) return ERR("cannot open '%s': %s", b->project_dir, strerror(errno));
    if (snprintf(uri, sizeof uri, "dir:%s/%s", abs, root && *root ? root : "content") >= (int)sizeof uri)
        return ERR("path too long: %s", abs);
    if (check_links(uri + 4, strlen(uri + 4), 0)) return 1;
    lu_config cfg;
    lu_config_init(&cfg);
    cfg.base_uri = uri;
    if (lu_context_open(&cfg, &b->content, &err) != LU_OK) return ERR("content: %s", err.message);
    return 0;
}

static int list_resources(bundle *b)
{
    char **paths;
    size_t n;
    lu_error err;
    if (lu_list_paths(b->content, "/", NULL, &paths, &n, &err) != LU_OK) return ERR("%s", err.message);
    uint64_t *sizes = calloc(n + 1, sizeof *sizes);
    b->res = calloc(n + 1, sizeof *b->res);
    if (!sizes || !b->res) return ERR("out of memory");
    for (size_t i = 0; i < n; i++) {
        lu_stat_info si;
        lu_stat(b->content, paths[i], &si, NULL);
        sizes[i] = si.size;
    }
    lu_status st = lu_manifest_from_project(b->project, paths, sizes, n, &b->manifest, &err);
    free(sizes);
    lu_free(b->content, paths);
    if (st != LU_OK) return ERR("%s", err.message);
    b->nres = b->manifest->nresources;
    for (size_t i = 0; i < b->nres; i++) {
        b->res[i].path = b->manifest->resources[i].path;
        b->res[i].size = b->manifest->resources[i].size;
    }
    return 0;
}

/* [bootstrap] main_script, or lurun's default. */
static const char *main_script_of(const bundle *b)
{
    const char *m = lu_project_get(b->project, "bootstrap.main_script");
    return m && *m ? m : "/main/main.lua";
}

static bool have_resource(const bundle *b, const char *path)
{
    for (size_t i = 0; i < b->nres; i++)
        if (strcmp(b->res[i].path, path) == 0) return true;
    return false;
}

/* Every pattern of the glob list `key` matches some resource; else 1
 * (reported, naming the pattern, file and line). */
static int check_globs(const bundle *b, const char *key, const char *what)
{
    const char *list = lu_project_get(b->project, key);
    for (const char *c = list ? list : ""; *c;) {
        c += strspn(c, " ,");
        size_t k = strcspn(c, " ,"), i;
        if (!k) break;
        char pat[PATH_MAX];
        snprintf(pat, sizeof pat, "%.*s", (int)(k < sizeof pat ? k : sizeof pat - 1), c);
        for (i = 0; i < b->nres && !lu_glob_match(pat, b->res[i].path); i++) {}
        if (i == b->nres)
            return ERR("%s:%d: %s pattern '%s' matches no file in the content", lu_project_name(b->project),
                       lu_project_line(b->project, key), what, pat);
        c += k;
    }
    return 0;
}

/* What must be in the content: the main script, a file for every glob. */
static int check_content(bundle *b)
{
    const char *main_script = main_script_of(b);
    if (!have_resource(b, main_script)) {
        int line = lu_project_line(b->project, "bootstrap.main_script");
        if (line)
            return ERR("%s:%d: [bootstrap] main_script = %s is not in the content", lu_project_name(b->project), line,
                       main_script);
        return ERR("%s: the main script %s (the default: [bootstrap] main_script is not set) is not in the content",
                   lu_project_name(b->project), main_script);
    }
    char key[300], what[300];
    for (size_t i = 0; i < b->manifest->nproxies; i++) {
        snprintf(key, sizeof key, "proxy.%s.resources", b->manifest->proxies[i].id);
        snprintf(what, sizeof what, "[proxy.%s] resources", b->manifest->proxies[i].id);
        if (check_globs(b, key, what)) return 1;
    }
    return check_globs(b, "bundle.base", "[bundle] base");
}

static int check_proxies(bundle *b)
{
    lu_error err;
    for (size_t i = 0; i < b->manifest->nproxies; i++) {
        const lu_manifest_proxy *p = &b->manifest->proxies[i];
        for (size_t k = 0; k < p->nproxies; k++)
            if (!lu_manifest_find_proxy(b->manifest, p->proxies[k]))
                return ERR("game.project: [proxy.%s] proxies = %s, but there is no [proxy.%s]", p->id, p->proxies[k],
                           p->proxies[k]);
        if (!p->excluded) continue;
        if (!p->volume || !*p->volume)
            return ERR("game.project: [proxy.%s] has exclude = 1 but no volume = <name>", p->id);
        char key[300];
        snprintf(key, sizeof key, "volume.%s.version", p->volume);
        if (!lu_project_get(b->project, key))
            return ERR("game.project: [proxy.%s] volume = %s, but there is no [volume.%s] with a version", p->id,
                       p->volume, p->volume);
        bool known = false;
        for (size_t v = 0; v < b->nvols; v++) known |= strcmp(b->vols[v].name, p->volume) == 0;
        if (known) continue;
        volume *vol = &b->vols[b->nvols++];
        vol->name = p->volume;
        snprintf(key, sizeof key, "volume.%s.version", p->volume);
        if (lu_project_get_int(b->project, key, 1, &vol->version, &err) != LU_OK) return ERR("%s", err.message);
        snprintf(key, sizeof key, "volume.%s.priority", p->volume);
        if (lu_project_get_int(b->project, key, 10, &vol->priority, &err) != LU_OK) return ERR("%s", err.message);
        if (vol->priority < 0) return ERR("game.project: [volume.%s] priority must be >= 0", p->volume);
        if (lu_mount_name_check(p->volume, &err) != LU_OK) return ERR("game.project: [volume.%s]: %s", p->volume, err.message);
        snprintf(key, sizeof key, "volume.%s.compression", p->volume);
        if (read_compression(b, key, b->method, &vol->method)) return 1;
        snprintf(vol->file, sizeof vol->file, "%s.zip", p->volume);
    }
    /* volumes in name order, so output does not depend on section order */
    for (size_t i = 1; i < b->nvols; i++)
        for (size_t k = i; k > 0 && strcmp(b->vols[k - 1].name, b->vols[k].name) > 0; k--) {
            volume t = b->vols[k];
            b->vols[k] = b->vols[k - 1];
            b->vols[k - 1] = t;
        }
    return 0;
}

static bool is_hex_key(const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i])) return false;
    return n == 64;
}

/* True when the relative path `p` has a ".." component. */
static bool climbs_out(const char *p)
{
    for (const char *s = p; s; s = strchr(s, '/'), s = s ? s + 1 : NULL)
        if (s[0] == '.' && s[1] == '.' && (s[2] == '/' || s[2] == '\0')) return true;
    return false;
}

/* Finds the public key file game.project names, checks it holds a key and
 * keeps its bytes for write_key (see the file comment). */
static int read_key(bundle *b)
{
    const char *pk = lu_project_get(b->project, "liveupdate.public_key");
    if (!pk || !*pk || is_hex_key(pk)) return 0;
    char src[PATH_MAX];
    bool outside = pk[0] == '/' || climbs_out(pk);
    if ((pk[0] == '/' ? snprintf(src, sizeof src, "%s", pk) : snprintf(src, sizeof src, "%s/%s", b->project_dir, pk)) >=
        (int)sizeof src)
        return ERR("game.project: [liveupdate] public_key = %s: path too long", pk);
    const char *base = strrchr(pk, '/');
    snprintf(b->key_rel, sizeof b->key_rel, "%s", outside ? (base ? base + 1 : pk) : pk);
    if (!b->key_rel[0]) return ERR("game.project: [liveupdate] public_key = %s: names a folder, not a key file", pk);
    unsigned char key[32];
    lu_error err;
    if (lu_public_key_parse(src, key, &err) != LU_OK)
        return ERR("game.project: [liveupdate] public_key = %s: the key file '%s' cannot be used: %s", pk, src,
                   err.message);
    FILE *f = fopen(src, "rb");
    if (!f) return ERR("game.project: [liveupdate] public_key = %s: cannot read '%s': %s", pk, src, strerror(errno));
    b->key_len = fread(b->key_text, 1, sizeof b->key_text, f);
    fclose(f);
    b->key_value = pk;
    b->key_renamed = outside;
    return 0;
}

/* Decides base or volumes for every resource (see the file comment). */
static int assign(bundle *b)
{
    const char *main_script = main_script_of(b);
    bool strict;
    lu_error err;
    if (lu_project_get_bool(b->project, "bundle.strict", false, &strict, &err) != LU_OK) return ERR("%s", err.message);
    size_t nbase = 0;
    char **base_globs = NULL;
    const char *bg = lu_project_get(b->project, "bundle.base");
    if (bg) {
        base_globs = calloc(strlen(bg) + 2, sizeof *base_globs);
        for (char *s = strdup(bg), *tok = strtok(s, " ,"); tok; tok = strtok(NULL, " ,")) base_globs[nbase++] = tok;
    }
    for (size_t i = 0; i < b->nres; i++) {
        resource *r = &b->res[i];
        bool claimed = false, needed_in_base = false;
        const char *base_needer = NULL, *excl_needer = NULL;
        r->volumes = calloc(b->nvols + 1, sizeof *r->volumes);
        for (size_t k = 0; k < b->manifest->nproxies; k++) {
            const lu_manifest_proxy *p = &b->manifest->proxies[k];
            if (!in_list(p->resources, p->nresources, r->path)) continue;
            claimed = true;
            if (!p->excluded) {
                needed_in_base = true;
                base_needer = p->id;
            } else {
                excl_needer = p->id;
                if (!in_list(r->volumes, r->nvolumes, p->volume)) r->volumes[r->nvolumes++] = p->volume;
            }
        }
        bool base_glob = false;
        for (size_t k = 0; k < nbase; k++) base_glob |= lu_glob_match(base_globs[k], r->path);
        if (!claimed && strict && !base_glob && !(main_script && strcmp(main_script, r->path) == 0))
            return ERR("game.project: [bundle] strict = 1, but %s is needed by no proxy (add it to a proxy's "
                       "resources or to [bundle] base)", r->path);
        r->in_base = !claimed || needed_in_base;
        if (r->in_base && excl_needer) {
            fprintf(stderr, "lutool bundle: note: %s is needed by excluded proxy '%s' and by proxy '%s', so it stays in the base\n",
                    r->path, excl_needer, base_needer);
            r->nvolumes = 0;
        }
    }
    free(base_globs);
    return 0;
}

/* ---- writing ---------------------------------------------------------- */

static int read_resource(bundle *b, const char *path, void **data, size_t *size)
{
    lu_error err;
    if (lu_read(b->content, path, data, size, &err) != LU_OK) return ERR("%s", err.message);
    return 0;
}

static int hash_resources(bundle *b)
{
    for (size_t i = 0; i < b->nres; i++) {
        void *data;
        size_t size;
        if (read_resource(b, b->res[i].path, &data, &size)) return 1;
        lu_sha256_hex(data, size, b->res[i].sha256);
        lu_free(b->content, data);
    }
    return 0;
}

static cJSON *resource_json(const resource *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "path", r->path);
    cJSON_AddNumberToObject(o, "size", (double)r->size);
    cJSON_AddStringToObject(o, "sha256", r->sha256);
    return o;
}

static cJSON *strings_json(char *const *v, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateString(v[i]));
    return a;
}

static cJSON *proxy_json(const lu_manifest_proxy *p)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", p->id);
    cJSON_AddStringToObject(o, "collection", p->collection);
    cJSON_AddItemToObject(o, "resources", strings_json(p->resources, p->nresources));
    cJSON_AddItemToObject(o, "proxies", strings_json(p->proxies, p->nproxies));
    cJSON_AddBoolToObject(o, "excluded", p->excluded);
    if (p->volume) cJSON_AddStringToObject(o, "volume", p->volume);
    return o;
}

static cJSON *volumes_json(const bundle *b)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < b->nvols; i++) {
        const volume *v = &b->vols[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", v->name);
        cJSON_AddStringToObject(o, "file", v->file);
        cJSON_AddNumberToObject(o, "size", (double)v->size);
        cJSON_AddStringToObject(o, "sha256", v->sha256);
        cJSON_AddNumberToObject(o, "version", (double)v->version);
        cJSON_AddNumberToObject(o, "priority", (double)v->priority);
        cJSON_AddItemToArray(a, o);
    }
    return a;
}

/* Adds `len` bytes as entry `name` with `method` (deflate at level 6, or
 * zstd at LU_ZIP_ZSTD_LEVEL). */
static lu_status add_entry(lu_zip_writer *w, int method, const char *name, const void *data, size_t len, lu_error *err)
{
    return lu_zip_writer_add_method(w, name, data, len, method, method == LU_ZIP_ZSTD ? -1 : 6, err);
}

/* Adds a JSON document as a zip entry (pretty-printed, stable). */
static int add_json(lu_zip_writer *w, int method, const char *name, cJSON *doc)
{
    char *text = cJSON_Print(doc);
    lu_error err;
    int rc = text && add_entry(w, method, name, text, strlen(text), &err) == LU_OK ? 0 : ERR("writing %s failed", name);
    cJSON_free(text);
    cJSON_Delete(doc);
    return rc;
}

static int add_resource(bundle *b, lu_zip_writer *w, int method, const resource *r)
{
    void *data;
    size_t size;
    lu_error err;
    if (read_resource(b, r->path, &data, &size)) return 1;
    lu_status st = add_entry(w, method, r->path + 1, data, size, &err);
    lu_free(b->content, data);
    return st == LU_OK ? 0 : ERR("%s", err.message);
}

static bool carries(const resource *r, const char *vol)
{
    return !r->in_base && in_list(r->volumes, r->nvolumes, vol);
}

static int write_volume(bundle *b, volume *v)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/liveupdate/%s", b->out, v->file);
    lu_zip_writer *w;
    lu_error err;
    if (lu_zip_writer_open(path, &w, &err) != LU_OK) return ERR("%s", err.message);
    cJSON *m = cJSON_CreateObject(), *res = cJSON_AddArrayToObject(m, "resources"),
          *prox = cJSON_AddArrayToObject(m, "proxies");
    int rc = 0;
    for (size_t i = 0; i < b->nres && !rc; i++) {
        if (!carries(&b->res[i], v->name)) continue;
        cJSON_AddItemToArray(res, resource_json(&b->res[i]));
        rc = add_resource(b, w, v->method, &b->res[i]);
        v->nresources++;
    }
    for (size_t i = 0; i < b->manifest->nproxies; i++) {
        const lu_manifest_proxy *p = &b->manifest->proxies[i];
        if (p->excluded && strcmp(p->volume, v->name) == 0) cJSON_AddItemToArray(prox, proxy_json(p));
    }
    char vname[300];
    snprintf(vname, sizeof vname, "version_%s.json", v->name);
    cJSON *ver = cJSON_CreateObject();
    cJSON_AddNumberToObject(ver, "version", (double)v->version);
    if (!rc) rc = add_json(w, v->method, "liveupdate.manifest.json", m);
    else cJSON_Delete(m);
    if (!rc) rc = add_json(w, v->method, vname, ver);
    else cJSON_Delete(ver);
    if (lu_zip_writer_close(w, &err) != LU_OK && !rc) rc = ERR("%s", err.message);
    if (!rc && lu_sha256_file(path, v->sha256, &v->size, &err) != LU_OK) rc = ERR("%s", err.message);
    if (!rc && b->sign && lu_sign_file(path, b->secret, &err) != LU_OK) rc = ERR("%s", err.message);
    return rc;
}

static int write_base(bundle *b, size_t *count)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/game.zip", b->out);
    lu_zip_writer *w;
    lu_error err;
    if (lu_zip_writer_open(path, &w, &err) != LU_OK) return ERR("%s", err.message);
    int rc = 0;
    *count = 0;
    for (size_t i = 0; i < b->nres && !rc; i++)
        if (b->res[i].in_base) {
            rc = add_resource(b, w, b->method, &b->res[i]);
            (*count)++;
        }
    cJSON *m = cJSON_CreateObject(), *res = cJSON_AddArrayToObject(m, "resources"),
          *prox = cJSON_AddArrayToObject(m, "proxies");
    for (size_t i = 0; i < b->nres; i++) cJSON_AddItemToArray(res, resource_json(&b->res[i]));
    for (size_t i = 0; i < b->manifest->nproxies; i++) cJSON_AddItemToArray(prox, proxy_json(&b->manifest->proxies[i]));
    cJSON_AddItemToObject(m, "volumes", volumes_json(b));
    if (!rc) rc = add_json(w, b->method, "liveupdate.manifest.json", m);
    else cJSON_Delete(m);
    if (lu_zip_writer_close(w, &err) != LU_OK && !rc) rc = ERR("%s", err.message);
    return rc;
}

static int write_file(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(text, 1, len, f) != len) {
        if (f) fclose(f);
        return ERR("cannot write '%s': %s", path, strerror(errno));
    }
    return fclose(f) == 0 ? 0 : ERR("cannot write '%s'", path);
}

static int write_catalog(bundle *b)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/liveupdate/catalog.json", b->out);
    cJSON *c = cJSON_CreateObject();
    cJSON_AddNumberToObject(c, "version", 1);
    cJSON_AddItemToObject(c, "volumes", volumes_json(b));
    char *text = cJSON_Print(c);
    cJSON_Delete(c);
    int rc = text ? write_file(path, text, strlen(text)) : ERR("out of memory");
    cJSON_free(text);
    lu_error err;
    if (!rc && b->sign && lu_sign_file(path, b->secret, &err) != LU_OK) rc = ERR("%s", err.message);
    return rc;
}

/* The line `line` (without its newline, `len` bytes) with the value of a
 * public_key key replaced by `value` when it is one; else NULL. `section`
 * tracks the [section] as lu_project_parse reads it. */
static char *rewrite_key_line(const char *line, size_t len, char *section, size_t cap, const char *value)
{
    const char *s = line, *e = line + len;
    while (s < e && (*s == ' ' || *s == '\t')) s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r')) e--;
    if (s < e && *s == '[' && e[-1] == ']') {
        snprintf(section, cap, "%.*s", (int)(e - s - 2), s + 1);
        return NULL;
    }
    const char *eq = s < e && *s != '#' && *s != ';' ? memchr(s, '=', (size_t)(e - s)) : NULL;
    if (!eq || strcmp(section, "liveupdate") != 0) return NULL;
    const char *ke = eq;
    while (ke > s && (ke[-1] == ' ' || ke[-1] == '\t')) ke--;
    if ((size_t)(ke - s) != strlen("public_key") || strncmp(s, "public_key", (size_t)(ke - s)) != 0) return NULL;
    size_t n = (size_t)(eq + 1 - line) + 1 + strlen(value) + 2;
    char *out = malloc(n);
    if (out) snprintf(out, n, "%.*s %s%s", (int)(eq + 1 - line), line, value, len && line[len - 1] == '\r' ? "\r" : "");
    return out;
}

/* game.project's text with every [liveupdate] public_key naming `value`.
 * Frees `text`; NULL when out of memory. */
static char *rewrite_key(char *text, size_t *len, const char *value)
{
    size_t cap = *len + 1, n = 0;
    char *out = malloc(cap), section[256] = "";
    for (size_t at = 0; out && at < *len;) {
        const char *nl = memchr(text + at, '\n', *len - at);
        size_t ll = nl ? (size_t)(nl - (text + at)) : *len - at;
        char *line = rewrite_key_line(text + at, ll, section, sizeof section, value);
        const char *src = line ? line : text + at;
        size_t sl = line ? strlen(line) : ll, need = n + sl + 2;
        if (need > cap) {
            char *bigger = realloc(out, cap = need * 2);
            if (!bigger) free(out);
            out = bigger;
        }
        if (out) {
            memcpy(out + n, src, sl);
            n += sl;
            if (nl) out[n++] = '\n';
        }
        free(line);
        at += ll + (nl ? 1 : 0);
    }
    free(text);
    *len = n;
    return out;
}

/* Copies the public key file into the bundle (read_key found it) and
 * checks the copy reads as a key. */
static int write_key(bundle *b)
{
    if (!b->key_value) return 0;
    char path[PATH_MAX * 2 + 2];
    snprintf(path, sizeof path, "%s/%s", b->out, b->key_rel);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    int rc = lutool_mkdir_p("bundle", path);
    *slash = '/';
    if (!rc) rc = write_file(path, b->key_text, b->key_len);
    unsigned char key[32];
    lu_error err;
    if (!rc && lu_public_key_parse(path, key, &err) != LU_OK) rc = ERR("the copied key: %s", err.message);
    return rc;
}

static int copy_project(bundle *b)
{
    char from[PATH_MAX], to[PATH_MAX];
    snprintf(from, sizeof from, "%s/game.project", b->project_dir);
    snprintf(to, sizeof to, "%s/game.project", b->out);
    FILE *f = fopen(from, "rb");
    if (!f) return ERR("cannot read '%s'", from);
    char *buf = NULL;
    size_t len = 0;
    int bad = lutool_read_all(f, &buf, &len);
    fclose(f);
    if (bad) return ERR("cannot read '%s' (or out of memory)", from);
    if (b->key_renamed && !(buf = rewrite_key(buf, &len, b->key_rel))) return ERR("out of memory");
    int rc = write_file(to, buf, len);
    free(buf);
    return rc;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Creates <out>/liveupdate and removes what an earlier bundle left there
 * (only files it writes: *.zip, *.sig, catalog.json), so a volume that no
 * longer exists does not linger. */
static int prepare_out(bundle *b)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/liveupdate", b->out);
    if (lutool_mkdir_p("bundle", path)) return 1;
    DIR *d = opendir(path);
    for (struct dirent *de; d && (de = readdir(d));) {
        if (!ends_with(de->d_name, ".zip") && !ends_with(de->d_name, ".sig") && strcmp(de->d_name, "catalog.json") != 0)
            continue;
        char f[PATH_MAX + 256];
        snprintf(f, sizeof f, "%s/%s", path, de->d_name);
        remove(f);
    }
    if (d) closedir(d);
    return 0;
}

int lutool_bundle(int argc, char **argv)
{
    bundle b;
    memset(&b, 0, sizeof b);
    const char *key = NULL;
    int npos = 0;
    const luopt opts[] = {LUOPT_STR("-o", &b.out), LUOPT_STR("--sign", &key)};
    const luopt_cmd cmd = {"lutool", "lutool bundle", usage, opts, 2, &b.project_dir, 1, &npos};
    int status = luopt_parse(&cmd, argc, argv);
    if (status != LUOPT_RUN) return status;
    if (!b.project_dir) return luopt_usage_error("lutool bundle", "missing <project-dir>");
    if (!b.out) return luopt_usage_error("lutool bundle", "missing -o <out-dir>");
    lu_error err;
    if (lu_crypto_init(&err) != LU_OK) return ERR("%s", err.message);
    int rc = 0;
    if (key) {
        if (lu_secret_key_read(key, b.secret, &err) != LU_OK) return ERR("--sign: %s", err.message);
        b.sign = true;
    }
    size_t nbase = 0;
    b.vols = calloc(64, sizeof *b.vols);
    if (!(rc = open_content(&b)) && !(rc = list_resources(&b))) {
        b.vols = realloc(b.vols, (b.manifest->nproxies + 1) * sizeof *b.vols);
        rc = check_proxies(&b);
    }
    if (!rc) rc = check_content(&b);
    if (!rc) rc = read_key(&b);
    if (!rc) rc = assign(&b);
    if (!rc) rc = hash_resources(&b);
    if (!rc) rc = prepare_out(&b);
    for (size_t i = 0; !rc && i < b.nvols; i++) rc = write_volume(&b, &b.vols[i]);
    if (!rc) rc = write_base(&b, &nbase);
    if (!rc) rc = write_catalog(&b);
    if (!rc) rc = write_key(&b);
    if (!rc) rc = copy_project(&b);
    if (!rc) {
        printf("bundle: %s/game.zip: %zu of %zu resources in the base\n", b.out, nbase, b.nres);
        for (size_t i = 0; i < b.nvols; i++)
            printf("bundle: %s/liveupdate/%s: volume '%s', %zu resources, version %lld, priority %lld, %llu bytes%s\n", b.out,
                   b.vols[i].file, b.vols[i].name, b.vols[i].nresources, b.vols[i].version, b.vols[i].priority,
                   (unsigned long long)b.vols[i].size, b.sign ? ", signed" : "");
        printf("bundle: %s/liveupdate/catalog.json lists %zu volume(s)\n", b.out, b.nvols);
        if (b.key_value)
            printf("bundle: %s/%s: the public key ([liveupdate] public_key = %s%s)\n", b.out, b.key_rel, b.key_value,
                   b.key_renamed ? ", renamed in the bundle's game.project" : "");
    }
    for (size_t i = 0; i < b.nres; i++) free(b.res[i].volumes);
    free(b.res);
    free(b.vols);
    lu_manifest_free(b.manifest);
    lu_context_close(b.content);
    lu_project_free(b.project);
    return rc;
}
