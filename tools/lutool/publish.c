/* publish.c -- `lutool publish`: upload a release folder (lutool release's
 * output) to S3-compatible object storage (docs/BUNDLER.md, "publish").
 *
 *   lutool publish <release-dir> s3://<bucket>[/<prefix>] [--endpoint URL]
 *                  [--region R] [--addressing path|virtual] [--head-alias NAME]
 *
 * Everything is checked before the first request: release.json parses, and
 * every volume it names by "file" is in the folder with the size and
 * SHA-256 the document lists (volumes named by an absolute "url" live
 * elsewhere and are not uploaded); a signed release (release.json.sig
 * present) has each volume's .sig, and no two files go to one key. Then the
 * objects go up in an order that never lets a client see a document whose
 * files are missing: each volume's .sig and the volume, the HEAD-flow
 * alias's .sig and the alias, release.json.sig, and release.json last. A signature goes before the file it signs, so a
 * client that already reads the new file never pairs it with the old
 * signature. The first failure stops the run (exit 1) before the document,
 * so clients keep the previous release; running it again resumes.
 *
 * Every object carries x-amz-meta-sha256. An object already stored with the
 * same SHA-256 and size is not sent again (a HEAD first), so publishing
 * again, or a release that keeps a volume, uploads only what changed.
 *
 * Credentials come from the environment as the AWS tools read them:
 * AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (optional);
 * the region from --region, AWS_REGION, AWS_DEFAULT_REGION, else us-east-1;
 * the endpoint from --endpoint, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else
 * AWS's https://s3.<region>.amazonaws.com. Requests are signed by s3.c.
 */
#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "liveupdate/crypto.h"
#include "liveupdate/release.h"
#include "lutool.h"
#include "s3.h"

#define ERR(...) (fprintf(stderr, "lutool publish: " __VA_ARGS__), fputc('\n', stderr), 1)
#define USAGE(...) luopt_usage_error("lutool publish", __VA_ARGS__)

/* Seconds without progress before a request is given up. */
#define STALL_SECONDS 60

typedef struct options {
    const char *pos[2];   /* release dir, s3 URL */
    int npos;
    const char *endpoint, *region, *addressing, *alias;
} options;

/* One object to upload. */
typedef struct object {
    char path[PATH_MAX];         /* the local file */
    char key[1024];              /* its key in the bucket */
    char sha256[LU_SHA256_HEX];
    uint64_t size;
    const char *type;            /* Content-Type */
    bool mutable_name;           /* a name whose bytes change between releases: not cached by a CDN */
    bool immutable_name;         /* a content-derived name: cached for good */
    bool alias;                  /* the HEAD-flow alias: also x-amz-meta-version */
    bool volume;                 /* a volume of release.json or its .sig (not the alias) */
} object;

typedef struct plan {
    options o;
    char bucket[256], prefix[1024];
    char endpoint[512], region[128];
    bool virtual_host;
    lu_release *rel;
    object *objs;
    size_t n, cap;
} plan;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: lutool publish <release-dir> s3://<bucket>[/<prefix>] [options]\n"
            "options: --endpoint URL   S3-compatible service (default: AWS, https://s3.<region>.amazonaws.com)\n"
            "         --region R       signing region (default: $AWS_REGION, $AWS_DEFAULT_REGION, us-east-1)\n"
            "         --addressing path|virtual  bucket in the path or in the host name (default: virtual\n"
            "                          for AWS, path with --endpoint)\n"
            "         --head-alias NAME  also upload the release's one volume as <prefix>/NAME with\n"
            "                          x-amz-meta-version and x-amz-meta-sha256, for [update] head_url\n"
            "Uploads what lutool release wrote: the volumes (and .sig files) first, release.json last;\n"
            "objects already stored with the same SHA-256 are skipped. Credentials: AWS_ACCESS_KEY_ID,\n"
            "AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (optional).\n");
}

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static bool file_name_ok(const char *s)
{
    if (!*s || strcmp(s, ".") == 0 || strcmp(s, "..") == 0 || strlen(s) > 255) return false;
    for (; *s; s++)
        if (*s == '/' || (unsigned char)*s < 0x20 || *s == 0x7f) return false;
    return true;
}

/* s3://bucket[/prefix]: the bucket is 1-255 of [A-Za-z0-9._-]; the
 * prefix has no empty, "." or ".." segment (a trailing '/' is dropped). */
static int parse_target(plan *p, const char *url)
{
    if (strncmp(url, "s3://", 5) != 0) return USAGE("'%s' is not an s3://<bucket>[/<prefix>] URL", url);
    const char *b = url + 5;
    size_t blen = strcspn(b, "/");
    if (blen == 0 || blen >= sizeof p->bucket) return USAGE("'%s' names no bucket (s3://<bucket>[/<prefix>])", url);
    for (size_t i = 0; i < blen; i++) {
        char c = b[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
              c == '_'))
            return USAGE("bucket '%.*s' in '%s': a bucket name is letters, digits, '.', '-' and '_'", (int)blen, b,
                         url);
    }
    snprintf(p->bucket, sizeof p->bucket, "%.*s", (int)blen, b);
    const char *pre = b[blen] ? b + blen + 1 : "";
    size_t plen = strlen(pre);
    while (plen && pre[plen - 1] == '/') plen--;
    if (plen >= sizeof p->prefix - 300) return USAGE("the prefix of '%s' is too long", url);
    snprintf(p->prefix, sizeof p->prefix, "%.*s", (int)plen, pre);
    for (const char *s = p->prefix; *s;) {
        size_t seg = strcspn(s, "/");
        if (seg == 0 || (seg == 1 && s[0] == '.') || (seg == 2 && s[0] == '.' && s[1] == '.'))
            return USAGE("the prefix of '%s' has an empty, '.' or '..' part", url);
        s += seg + (s[seg] == '/');
    }
    return 0;
}

/* Returns 0, or the exit status. */
static int parse_args(int argc, char **argv, plan *p)
{
    options *o = &p->o;
    const luopt opts[] = {
        LUOPT_STR("--endpoint", &o->endpoint), LUOPT_STR("--region", &o->region),
        LUOPT_STR("--addressing", &o->addressing), LUOPT_STR("--head-alias", &o->alias),
    };
    const luopt_cmd cmd = {"lutool", "lutool publish", usage, opts, sizeof opts / sizeof *opts, o->pos, 2, &o->npos};
    int status = luopt_parse(&cmd, argc, argv);
    if (status != LUOPT_RUN) return status == 0 ? -1 : status;
    if (o->npos < 1) return USAGE("missing <release-dir>");
    if (o->npos < 2) return USAGE("missing s3://<bucket>[/<prefix>]");
    int rc = parse_target(p, o->pos[1]);
    if (rc) return rc;
    if (o->addressing && strcmp(o->addressing, "path") != 0 && strcmp(o->addressing, "virtual") != 0)
        return USAGE("--addressing: '%s' is not path or virtual", o->addressing);
    if (o->alias && !file_name_ok(o->alias))
        return USAGE("--head-alias: '%s' is not a plain file name (it goes beside release.json)", o->alias);
    const char *region = o->region ? o->region : env("AWS_REGION") ? env("AWS_REGION") : env("AWS_DEFAULT_REGION");
    if (!region) region = "us-east-1";
    /* libcurl reads at most 63 characters of it (and then guesses from the host name) */
    if (!*region || strlen(region) > 63 || strcspn(region, ":/ \t\r\n") != strlen(region))
        return USAGE("'%s' is not a region (1-63 characters, no ':', '/' or spaces)", region);
    snprintf(p->region, sizeof p->region, "%s", region);
    const char *ep = o->endpoint ? o->endpoint : env("AWS_ENDPOINT_URL_S3") ? env("AWS_ENDPOINT_URL_S3")
                                                                           : env("AWS_ENDPOINT_URL");
    if (ep) {
        const char *host = strncmp(ep, "https://", 8) == 0 ? ep + 8 : strncmp(ep, "http://", 7) == 0 ? ep + 7 : NULL;
        size_t hlen = host ? strcspn(host, "/?#") : 0;
        if (!host || hlen == 0 || (host[hlen] && strcmp(host + hlen, "/") != 0) || strlen(ep) >= sizeof p->endpoint ||
            memchr(host, '@', hlen))
            return USAGE("endpoint '%s' is not http(s)://host[:port]", ep);
        snprintf(p->endpoint, sizeof p->endpoint, "%.*s", (int)(host + hlen - ep), ep);
    } else {
        snprintf(p->endpoint, sizeof p->endpoint, "https://s3.%s.amazonaws.com", p->region);
    }
    /* The default: the bucket in the host name for AWS, unless its name has a '.', which AWS's
     * wildcard certificate does not cover; in the path for any other endpoint. */
    p->virtual_host = o->addressing ? strcmp(o->addressing, "virtual") == 0 : !ep && !strchr(p->bucket, '.');
    if (p->virtual_host && strcspn(p->bucket, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_") != strlen(p->bucket))
        return USAGE("bucket '%s' cannot be a host name (upper case or '_'): use --addressing path", p->bucket);
    return 0;
}

static const char *content_type(const char *name)
{
    size_t n = strlen(name);
    if (n > 4 && strcmp(name + n - 4, ".zip") == 0) return "application/zip";
    if (n > 5 && strcmp(name + n - 5, ".json") == 0) return "application/json";
    if (n > 4 && strcmp(name + n - 4, ".sig") == 0) return "text/plain";
    return "application/octet-stream";
}

/* "<name>-<16 hex of its SHA-256>.zip", as lutool release names a bundle's
 * volume: a name that never changes meaning. */
static bool content_named(const char *file, const char *sha256)
{
    size_t n = strlen(file);
    if (n < 22 || strcmp(file + n - 4, ".zip") != 0 || file[n - 21] != '-') return false;
    return strncmp(file + n - 20, sha256, 16) == 0;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Adds <dir>/<file> as object <prefix>/<key_name>, hashing it. */
static int add_object(plan *p, const char *file, const char *key_name, object **out)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 8;
        object *bigger = realloc(p->objs, cap * sizeof *bigger);
        if (!bigger) return ERR("out of memory");
        p->objs = bigger;
        p->cap = cap;
    }
    object *ob = &p->objs[p->n];
    memset(ob, 0, sizeof *ob);
    if (snprintf(ob->path, sizeof ob->path, "%s/%s", p->o.pos[0], file) >= (int)sizeof ob->path ||
        snprintf(ob->key, sizeof ob->key, "%s%s%s", p->prefix, *p->prefix ? "/" : "", key_name) >=
            (int)sizeof ob->key)
        return ERR("path too long: '%s/%s'", p->o.pos[0], file);
    lu_error err;
    if (lu_sha256_file(ob->path, ob->sha256, &ob->size, &err) != LU_OK) return ERR("%s", err.message);
    ob->type = content_type(key_name);
    p->n++;
    if (out) *out = ob;
    return 0;
}

/* True when key `a` is the signature of key `b` (b + ".sig"). */
static bool signs(const char *a, const char *b)
{
    size_t bl = strlen(b);
    return strncmp(a, b, bl) == 0 && strcmp(a + bl, ".sig") == 0;
}

/* Adds the file of object `src` again as object <prefix>/<key_name>
 * (the alias): its hash is already known. */
static int add_copy(plan *p, size_t src, const char *key_name, object **out)
{
    char file[PATH_MAX];
    snprintf(file, sizeof file, "%s", strrchr(p->objs[src].path, '/') + 1);
    if (p->n == p->cap) {
        object *bigger = realloc(p->objs, 2 * p->cap * sizeof *bigger);
        if (!bigger) return ERR("out of memory");
        p->objs = bigger;
        p->cap *= 2;
    }
    object *ob = &p->objs[p->n];
    *ob = p->objs[src];
    ob->immutable_name = ob->volume = false;
    if (snprintf(ob->key, sizeof ob->key, "%s%s%s", p->prefix, *p->prefix ? "/" : "", key_name) >=
        (int)sizeof ob->key)
        return ERR("path too long: '%s/%s'", p->o.pos[0], file);
    ob->type = content_type(key_name);
    p->n++;
    *out = ob;
    return 0;
}

/* Reads release.json and lists the objects in upload order. */
static int make_plan(plan *p)
{
    const char *dir = p->o.pos[0];
    char path[PATH_MAX], sig[PATH_MAX + 8];
    if (!lutool_is_dir(dir)) return ERR("cannot read folder '%s'", dir);
    if (snprintf(path, sizeof path, "%s/release.json", dir) >= (int)sizeof path) return ERR("path too long: '%s'", dir);
    FILE *f = fopen(path, "rb");
    if (!f)
        return ERR("cannot read '%s': %s (the folder lutool release writes holds it)", path, strerror(errno));
    char *text = NULL;
    size_t len = 0;
    bool bad = lutool_read_all(f, &text, &len) != 0;
    fclose(f);
    lu_error err = {0};
    lu_status st = bad ? LU_IO_ERROR : lu_release_parse(text, len, &p->rel, &err);
    free(text);
    if (bad) return ERR("cannot read '%s'", path);
    if (st != LU_OK) return ERR("%s: %s", path, err.message);

    snprintf(sig, sizeof sig, "%s.sig", path);
    bool signed_release = exists(sig);
    size_t uploads = 0, first = 0;
    for (size_t i = 0; i < p->rel->nvolumes; i++) {
        const lu_release_volume *v = &p->rel->volumes[i];
        if (v->url) {
            printf("not uploaded: volume '%s' is at %s\n", v->name, v->url);
            continue;
        }
        if (!file_name_ok(v->file)) return ERR("%s: volume '%s': '%s' is not a plain file name", path, v->name, v->file);
        if (p->o.alias && strcmp(p->o.alias, v->file) == 0)
            return ERR("--head-alias %s is volume '%s''s own file: the alias needs a name of its own", p->o.alias,
                       v->name);
        object *ob;
        if (snprintf(sig, sizeof sig, "%s/%s", dir, v->file) >= (int)sizeof sig || !exists(sig))
            return ERR("%s lists volume '%s' as '%s', which is not in '%s'", path, v->name, v->file, dir);
        int rc = add_object(p, v->file, v->file, &ob);
        if (rc) return rc;
        if (ob->size != v->size || strcmp(ob->sha256, v->sha256) != 0)
            return ERR("%s: volume '%s' is %llu bytes with SHA-256 %.16s...; '%s' is %llu bytes with SHA-256 %.16s... "
                       "(run lutool release again)",
                       path, v->name, (unsigned long long)v->size, v->sha256, ob->path, (unsigned long long)ob->size,
                       ob->sha256);
        /* a name that a later release may reuse ("content.zip" from a folder of zips) is as
         * mutable as release.json: no CDN may keep it */
        ob->immutable_name = content_named(v->file, v->sha256);
        ob->mutable_name = !ob->immutable_name;
        ob->volume = true;
        char vsig[300];
        snprintf(vsig, sizeof vsig, "%s.sig", v->file);
        snprintf(sig, sizeof sig, "%s/%s", dir, vsig);
        if (exists(sig)) {   /* the signature goes first: swapped in front of its volume */
            if ((rc = add_object(p, vsig, vsig, &ob))) return rc;
            object vol = p->objs[p->n - 2];
            ob->immutable_name = vol.immutable_name;
            ob->mutable_name = vol.mutable_name;
            ob->volume = true;
            p->objs[p->n - 2] = *ob;
            p->objs[p->n - 1] = vol;
        } else if (signed_release) {
            return ERR("release.json is signed but '%s' is missing: a game with a public key would refuse the volume",
                       sig);
        }
        if (uploads++ == 0) first = p->n - 1;
    }
    if (p->o.alias) {
        if (uploads != 1)
            return ERR("--head-alias: the HEAD flow serves one package, and %s lists %zu volume(s) to upload", path,
                       uploads);
        if (strcmp(p->o.alias, "release.json") == 0 || strcmp(p->o.alias, "release.json.sig") == 0)
            return ERR("--head-alias %s would overwrite the version document", p->o.alias);
        char asig[300];
        snprintf(asig, sizeof asig, "%s.sig", p->o.alias);
        object *ob;
        int rc;
        if (first > 0 && signs(p->objs[first - 1].key, p->objs[first].key)) {
            /* the game checks <head_url>.sig when it has a public key */
            if ((rc = add_copy(p, first - 1, asig, &ob))) return rc;
            ob->mutable_name = true;
        }
        if ((rc = add_copy(p, first, p->o.alias, &ob))) return rc;
        ob->mutable_name = ob->alias = true;
    }
    object *ob;
    int rc;
    if (signed_release) {
        if ((rc = add_object(p, "release.json.sig", "release.json.sig", &ob))) return rc;
        ob->mutable_name = true;
    }
    if ((rc = add_object(p, "release.json", "release.json", &ob))) return rc;
    ob->mutable_name = true;
    for (size_t i = 0; i < p->n; i++)   /* e.g. --head-alias naming a volume's .sig */
        for (size_t j = i + 1; j < p->n; j++)
            if (strcmp(p->objs[i].key, p->objs[j].key) == 0)
                return ERR("'%s' and '%s' would both be uploaded as '%s'%s", p->objs[i].path, p->objs[j].path,
                           p->objs[i].key, p->objs[i].alias || p->objs[j].alias ? " (choose another --head-alias)" : "");
    return 0;
}

/* Stored already with the same bytes? 1 yes, 0 no (any other answer: a
 * missing object, or one S3 will not show; the PUT then says what is
 * wrong), -1 no answer. */
static int stored(const lutool_s3 *s3, const object *ob, const char *version, lutool_s3_reply *r)
{
    if (!lutool_s3_request(s3, "HEAD", ob->key, NULL, LUTOOL_S3_EMPTY_SHA256, NULL, r)) return -1;
    return r->status == 200 && r->has_length && r->length == ob->size && strcmp(r->meta_sha256, ob->sha256) == 0 &&
           (!ob->alias || strcmp(r->meta_version, version) == 0);
}

static bool put(const lutool_s3 *s3, const object *ob, const char *version, lutool_s3_reply *r)
{
    char sha[100], type[100], cache[100], ver[100];
    const char *headers[5];
    size_t n = 0;
    snprintf(sha, sizeof sha, "x-amz-meta-sha256: %s", ob->sha256);
    headers[n++] = sha;
    snprintf(type, sizeof type, "Content-Type: %s", ob->type);
    headers[n++] = type;
    if (ob->mutable_name || ob->immutable_name) {
        snprintf(cache, sizeof cache, "Cache-Control: %s",
                 ob->mutable_name ? "no-cache" : "public, max-age=31536000, immutable");
        headers[n++] = cache;
    }
    if (ob->alias) {
        snprintf(ver, sizeof ver, "x-amz-meta-version: %s", version);
        headers[n++] = ver;
    }
    headers[n] = NULL;
    return lutool_s3_request(s3, "PUT", ob->key, ob->path, ob->sha256, headers, r) && r->status >= 200 &&
           r->status < 300;
}

static int upload(plan *p)
{
    const char *access = env("AWS_ACCESS_KEY_ID"), *secret = env("AWS_SECRET_ACCESS_KEY");
    if (!access || !secret)
        return ERR("no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for "
                   "temporary ones)");
    const char *names[] = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"};
    for (size_t i = 0; i < 3; i++) {   /* each goes into a header line: a line break would add headers */
        const char *v = env(names[i]);
        for (const char *c = v; c && *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f) return ERR("%s holds a control character", names[i]);
    }
    const lutool_s3 s3 = {
        .endpoint = p->endpoint,
        .region = p->region,
        .bucket = p->bucket,
        .virtual_host = p->virtual_host,
        .access_key = access,
        .secret_key = secret,
        .session_token = env("AWS_SESSION_TOKEN"),
        .stall_s = STALL_SECONDS,
    };
    char where[1400];
    snprintf(where, sizeof where, "s3://%s%s%s", p->bucket, *p->prefix ? "/" : "", p->prefix);
    size_t sent = 0, kept = 0;
    uint64_t bytes = 0;
    bool refused_head = false, sig_sent = false;
    for (size_t i = 0; i < p->n; i++) {
        const object *ob = &p->objs[i];
        lutool_s3_reply r;
        int have = stored(&s3, ob, p->rel->version, &r);
        if (have == 1) {
            printf("unchanged %s\n", ob->key);
            kept++;
            sig_sent = false;
            continue;
        }
        if (have == 0 && r.status == 403 && !refused_head) {
            refused_head = true;
            fprintf(stderr, "lutool publish: note: HEAD %s was refused (403): without read permission "
                            "(s3:GetObject) nothing already stored is recognised, so every file is sent\n", ob->key);
        }
        if (have == 0 && r.status == 200 && ob->volume && ob->mutable_name)
            fprintf(stderr, "lutool publish: warning: %s holds other bytes and a published release.json may still "
                            "name it; until release.json is replaced, clients get the new file against the old "
                            "document and refuse it (content-derived names avoid this: lutool release "
                            "<bundle-dir>)\n", ob->key);
        if (have < 0 || !put(&s3, ob, p->rel->version, &r)) {
            fprintf(stderr, "lutool publish: cannot upload '%s' to %s (%s): %s\n", ob->path, where, p->endpoint,
                    *r.error ? r.error : "no answer");
            if (sig_sent)   /* its signature went up just before it */
                fprintf(stderr, "lutool publish: %s was replaced already: until the command runs again, games "
                                "that check signatures refuse the old %s with it\n", p->objs[i - 1].key, ob->key);
            fprintf(stderr, "lutool publish: release.json was not uploaded, so clients still see the previous "
                            "release; run the command again to finish (what is stored already is skipped)\n");
            return 1;
        }
        sig_sent = i + 1 < p->n && signs(ob->key, p->objs[i + 1].key);
        char human[32];
        lutool_human_size(ob->size, human, sizeof human);
        printf("uploaded %s (%s)\n", ob->key, human);
        sent++;
        bytes += ob->size;
    }
    char human[32];
    lutool_human_size(bytes, human, sizeof human);
    printf("published release %s to %s at %s: %zu uploaded (%s), %zu unchanged\n", p->rel->version, where,
           p->endpoint, sent, human, kept);
    return 0;
}

int lutool_publish(int argc, char **argv)
{
    plan p = {0};
    int rc = parse_args(argc, argv, &p);
    if (rc) return rc < 0 ? 0 : rc;
    lu_error err;
    if (lu_crypto_init(&err) != LU_OK) return ERR("%s", err.message);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return ERR("cannot start libcurl");
    rc = make_plan(&p);
    if (!rc) rc = upload(&p);
    lu_release_free(p.rel);
    free(p.objs);
    curl_global_cleanup();
    return rc;
}
