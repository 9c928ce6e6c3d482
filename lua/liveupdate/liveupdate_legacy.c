/* liveupdate_legacy.c -- Defold <= 1.12's legacy live-update API, on top of
 * mounts (docs/LUA_API.md, "Legacy API (Defold <= 1.12)").
 *
 * In the liveupdate table (and, through luaopen_liveupdate_resource, as the
 * deprecated resource.* aliases with the LIVEUPDATE_* constants):
 *   get_current_manifest() -> manifest reference (a number; the other
 *       functions ignore it, as Defold 1.6+ does)
 *   is_using_liveupdate_data() -> boolean: a user mount (priority >= 0) is
 *       mounted, Defold 1.12's rule
 *   store_resource(manifest_reference, data, hexdigest, callback)
 *       hexdigest: a resource path (what our missing_resources gives) or
 *       the hex SHA-256 of a resource of the manifest. The data is checked
 *       against the manifest's size and SHA-256, written durably to
 *       <save>/liveupdate-legacy/<path>, and that folder is (re)mounted as
 *       "liveupdate" at priority 10 (Defold's legacy mount).
 *       callback(self, hexdigest, stored, message) from poll()
 *   store_manifest(manifest_buffer, callback)
 *       our manifest JSON only (Defold's protobuf .dmanifest gives
 *       LIVEUPDATE_FORMAT_ERROR); kept as <save>/liveupdate-legacy.
 *       manifest.json, where store_resource also looks hexdigests up.
 *       callback(self, status, message) from poll()
 *   store_archive(path, callback[, {verify = true}])
 *       verify: every entry against the zip's own /liveupdate.manifest.json;
 *       the zip is copied to <save>/volumes/liveupdate-<sha256>.zip,
 *       mounted as "liveupdate" at priority 10 (replacing the legacy mount),
 *       then the file at `path` is removed ("moved", as Defold's manual
 *       says) and so is the previous legacy archive.
 *       callback(self, path, stored, message) from poll()
 *
 * The callbacks get Defold's arguments (booleans where Defold gives them;
 * Defold's own reference shows store_archive's as (self, status), but its
 * engine passes (self, path, boolean), which is what scripts test), then a
 * message on failure, nil on success. Every store runs as a task on the
 * context's worker (lu_task_async: hashing, copying and mounting stay off
 * the game's thread); a failure found at call time (an unknown digest) is
 * delivered the same way, from poll(), as Defold does. On any failure
 * nothing is mounted or changed on disk but a stored resource whose mount
 * could not be reopened (it is mounted by the next store).
 * Caller mistakes raise; before init (or with live update off, for the
 * stores) each answers nil, message, LIVEUPDATE_NOT_INITIALIZED; a task that cannot be queued answers nil,
 * message, status and its callback never runs. Queued: true.
 */
#include <lauxlib.h>
#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "liveupdate/crypto.h"
#include "liveupdate/manifest.h"
#include "liveupdate_lua.h"
#include "liveupdate_state.h"

#define LEGACY_NAME "liveupdate"
#define LEGACY_PRIORITY 10
#define LEGACY_DIR "liveupdate-legacy"
#define LEGACY_URI "dir:" LEGACY_DIR
#define LEGACY_MANIFEST "liveupdate-legacy.manifest.json"
#define LEGACY_ARCHIVE_PREFIX "liveupdate-"
/* What get_current_manifest answers: there is one manifest. */
#define MANIFEST_REFERENCE 1

enum { TASK_RESOURCE, TASK_MANIFEST, TASK_ARCHIVE };

/* The argument block of a task (copied by lu_task_async; the worker reads
 * it, the completion reads it back). */
typedef struct task {
    int kind;
    lu_status early;          /* a failure found at call time */
    char early_msg[600];
    char reply[PATH_MAX];     /* callback argument: the hexdigest or path as given */
    char path[PATH_MAX];      /* resource path, or the archive's file */
    char sha256[LU_SHA256_HEX]; /* expected; "" checks the size only */
    uint64_t size;
    int verify;
    size_t len;
    unsigned char data[];     /* the resource or the manifest */
} task;

/* ---- the worker's side (no Lua here) -------------------------------- */

/* The current "liveupdate" mount: its format and path (empty when none). */
static lu_status legacy_mount(lu_context *ctx, char *format, size_t fcap, char *path, size_t pcap, lu_error *err)
{
    lu_mount_info *m;
    size_t n;
    format[0] = path[0] = '\0';
    if (lu_mounts_get(ctx, &m, &n, err) != LU_OK) return err->status;
    for (size_t i = 0; i < n; i++)
        if (strcmp(m[i].name, LEGACY_NAME) == 0) {
            snprintf(format, fcap, "%s", m[i].format);
            snprintf(path, pcap, "%s", m[i].path);
        }
    lu_free(ctx, m);
    return LU_OK;
}

static lu_status fail(lu_error *err, lu_status st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static lu_status fail(lu_error *err, lu_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    err->status = st;
    return st;
}

static lu_status store_resource_work(lu_context *ctx, task *t, lu_error *err)
{
    char sha[LU_SHA256_HEX], dir[PATH_MAX], format[16], mounted[PATH_MAX], rel[PATH_MAX + 32];
    if (t->len != t->size)
        return fail(err, LU_INVALID_RESOURCE, "resource '%.1000s': the data has %zu bytes, the manifest says %llu",
                    t->path, t->len, (unsigned long long)t->size);
    lu_sha256_hex(t->data, t->len, sha);
    if (t->sha256[0] && strcmp(sha, t->sha256) != 0)
        return fail(err, LU_INVALID_RESOURCE, "resource '%.1000s': the data's sha256 is %s, the manifest says %s",
                    t->path, sha, t->sha256);
    if (lu_save_file_path(ctx, LEGACY_DIR, dir, sizeof dir, err) != LU_OK) return err->status;
    if (legacy_mount(ctx, format, sizeof format, mounted, sizeof mounted, err) != LU_OK) return err->status;
    if (mounted[0] && (strcmp(format, "dir") != 0 || strcmp(mounted, dir) != 0))
        return fail(err, LU_NAME_EXISTS,
                    "mount '" LEGACY_NAME "' holds '%.1000s' (store_archive); remove_mount(\"" LEGACY_NAME
                    "\") before storing single resources",
                    mounted);
    snprintf(rel, sizeof rel, LEGACY_DIR "%s", t->path);
    if (lu_save_file_write(ctx, rel, t->data, t->len, err) != LU_OK) return err->status;
    /* a folder's entries are listed when it is opened: reopen it */
    return lu_mount_add(ctx, LEGACY_NAME, LEGACY_URI, LEGACY_PRIORITY, LU_MOUNT_REPLACE, err);
}

static lu_status store_manifest_work(lu_context *ctx, task *t, lu_error *err)
{
    lu_manifest *m;
    if (lu_manifest_parse((const char *)t->data, t->len, &m, err) != LU_OK) {
        char why[2000];
        snprintf(why, sizeof why, "%.1999s", err->message);
        return fail(err, LU_FORMAT_ERROR,
                    "not a liveupdate manifest (JSON, docs/FORMATS.md; Defold's .dmanifest is not accepted): %s", why);
    }
    lu_manifest_free(m);
    return lu_save_file_write(ctx, LEGACY_MANIFEST, t->data, t->len, err);
}

static lu_status store_archive_work(lu_context *ctx, task *t, lu_error *err)
{
    char sha[LU_SHA256_HEX], file[64], rel[80], dest[PATH_MAX], format[16], prev[PATH_MAX], uri[100];
    if (t->verify && lu_manifest_verify_volume(ctx, t->path, err) != LU_OK) {
        char why[2000];
        snprintf(why, sizeof why, "%.1999s", err->message);
        return fail(err, err->status, "archive '%.1000s' failed verification: %s", t->path, why);
    }
    if (lu_sha256_file(t->path, sha, NULL, err) != LU_OK) return err->status;
    snprintf(file, sizeof file, LEGACY_ARCHIVE_PREFIX "%.16s.zip", sha);
    snprintf(rel, sizeof rel, "volumes/%s", file);
    snprintf(uri, sizeof uri, "zip:%s", rel);
    if (lu_save_file_path(ctx, rel, dest, sizeof dest, err) != LU_OK) return err->status;
    if (legacy_mount(ctx, format, sizeof format, prev, sizeof prev, err) != LU_OK) return err->status;
    char src[PATH_MAX];
    bool same = realpath(t->path, src) && strcmp(src, dest) == 0;
    bool existed = same || strcmp(prev, dest) == 0;
    if (!same && lu_save_file_copy(ctx, t->path, rel, err) != LU_OK) return err->status;
    if (lu_mount_add(ctx, LEGACY_NAME, uri, LEGACY_PRIORITY, LU_MOUNT_REPLACE, err) != LU_OK) {
        if (!existed) remove(dest);
        return err->status;
    }
    if (!same) remove(t->path);   /* moved into the save directory, as Defold's manual says */
    /* the archive this one replaces, when it is one of ours */
    char volumes[PATH_MAX];
    const char *base = strrchr(prev, '/');
    if (prev[0] && strcmp(prev, dest) != 0 && base && strncmp(base + 1, LEGACY_ARCHIVE_PREFIX, strlen(LEGACY_ARCHIVE_PREFIX)) == 0 &&
        lu_save_file_path(ctx, "volumes", volumes, sizeof volumes, err) == LU_OK &&
        strncmp(prev, volumes, strlen(volumes)) == 0 && prev[strlen(volumes)] == '/')
        remove(prev);
    err->status = LU_OK;
    return LU_OK;
}

static lu_status task_work(lu_context *ctx, void *arg, lu_error *err)
{
    task *t = arg;
    if (t->early != LU_OK) return fail(err, t->early, "%s", t->early_msg);
    lu_error cerr;
    if (lu_crypto_init(&cerr) != LU_OK) {
        *err = cerr;
        return cerr.status;
    }
    switch (t->kind) {
    case TASK_RESOURCE: return store_resource_work(ctx, t, err);
    case TASK_MANIFEST: return store_manifest_work(ctx, t, err);
    default: return store_archive_work(ctx, t, err);
    }
}

/* ---- the completion (Lua, from poll) -------------------------------- */

typedef struct done_args {
    state *st;
    int cb, self;
    const task *t;
    const lu_error *err;
} done_args;

static int done_body(lua_State *L)
{
    const done_args *d = lua_touserdata(L, 1);
    int n = 2;
    if (d->t->kind == TASK_MANIFEST) {
        lua_pushinteger(L, d->err->status);
    } else {
        lua_pushstring(L, d->t->reply);
        lua_pushboolean(L, d->err->status == LU_OK);
        n = 3;
    }
    if (d->err->status == LU_OK) lua_pushnil(L);
    else lua_pushstring(L, d->err->message);
    lu_lua__call(d->st, d->cb, d->self, n);
    return 0;
}

/* The record is freed here; a dead one (the module let go of its context)
 * runs no Lua. */
static void task_done(void *ud, void *arg, const lu_error *err)
{
    pending *p = ud;
    done_args d = {p->st, p->cb_ref, p->self_ref, arg, err};
    bool live = !p->dead && !p->orphan;
    p->cb_ref = p->self_ref = LUA_NOREF;
    lu_lua__pending_free(p);
    if (live) lu_lua__protected(d.st, done_body, &d);
    luaL_unref(d.st->L, LUA_REGISTRYINDEX, d.cb);
    luaL_unref(d.st->L, LUA_REGISTRYINDEX, d.self);
}

/* Queues `t` (len bytes of data included) with the callback at `cb_idx`:
 * true, or nil, message, status (the callback never runs then). */
static int queue(lua_State *L, state *st, const task *t, int cb_idx)
{
    lu_error err;
    pending *p = lu_lua__pending_new(L, st, cb_idx);
    lu_status s = lu_task_async(st->ctx, task_work, t, sizeof *t + t->len, task_done, p, &err);
    if (s != LU_OK) {
        lu_lua__pending_free(p);
        return lu_lua__fail_err(L, &err);
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* A zeroed task in a Lua userdata (pushed), so a raise leaks nothing;
 * lu_task_async copies it. */
static task *task_new(lua_State *L, int kind, size_t len)
{
    task *t = lua_newuserdatauv(L, sizeof *t + len, 0);
    memset(t, 0, sizeof *t);
    t->kind = kind;
    t->len = len;
    return t;
}

/* ---- resolving a hexdigest ------------------------------------------ */

static bool is_hex_digest(const char *s, size_t len)
{
    if (len != 64) return false;
    for (size_t i = 0; i < len; i++)
        if (!isxdigit((unsigned char)s[i])) return false;
    return true;
}

/* The entry of `m` named by `key` (a path, or a lower-case hex SHA-256). */
static const lu_manifest_resource *find(const lu_manifest *m, const char *key, bool by_path)
{
    for (size_t i = 0; m && i < m->nresources; i++) {
        const lu_manifest_resource *r = &m->resources[i];
        if (by_path ? strcmp(r->path, key) == 0 : strcmp(r->sha256, key) == 0) return r;
    }
    return NULL;
}

/* The manifest store_manifest kept, or NULL. */
static lu_manifest *stored_manifest(state *st)
{
    char path[PATH_MAX];
    lu_error err;
    if (lu_save_file_path(st->ctx, LEGACY_MANIFEST, path, sizeof path, &err) != LU_OK) return NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    lu_manifest *m = NULL;
    char *text = NULL;
    long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (text = malloc((size_t)n + 1)) &&
        fread(text, 1, (size_t)n, f) == (size_t)n && lu_manifest_parse(text, (size_t)n, &m, &err) != LU_OK)
        m = NULL;
    free(text);
    fclose(f);
    return m;
}

/* Fills t->path, size and sha256 from the entry `key` names, or sets
 * t->early. */
static void resolve(state *st, task *t, const char *key, size_t klen)
{
    char lower[LU_SHA256_HEX];
    bool by_path = key[0] == '/';
    if (!by_path && is_hex_digest(key, klen)) {
        for (size_t i = 0; i < 64; i++) lower[i] = (char)tolower((unsigned char)key[i]);
        lower[64] = '\0';
        key = lower;
    } else if (!by_path) {
        t->early = LU_INVALID_RESOURCE;
        snprintf(t->early_msg, sizeof t->early_msg,
                 "'%.200s' is neither a resource path nor a hex SHA-256 of the manifest", key);
        return;
    }
    lu_manifest *stored = NULL;
    const lu_manifest_resource *r = find(st->manifest, key, by_path);
    if (!r) r = find(stored = stored_manifest(st), key, by_path);
    if (r) {
        snprintf(t->path, sizeof t->path, "%s", r->path);
        snprintf(t->sha256, sizeof t->sha256, "%s", r->sha256);
        t->size = r->size;
    } else {
        t->early = LU_INVALID_RESOURCE;
        snprintf(t->early_msg, sizeof t->early_msg, "%s '%.200s' is not in the manifest",
                 by_path ? "resource" : "no resource has sha256", key);
    }
    lu_manifest_free(stored);
}

/* ---- the functions -------------------------------------------------- */

int lu_lua__get_current_manifest(lua_State *L)
{
    state *st = lu_lua__state(L);
    if (!st->ctx) return lu_lua__not_initialized(L);
    lua_pushinteger(L, MANIFEST_REFERENCE);
    return 1;
}

int lu_lua__is_using_liveupdate_data(lua_State *L)
{
    state *st = lu_lua__state(L);
    if (!st->ctx) return lu_lua__not_initialized(L);
    lu_mount_info *m;
    size_t n;
    lu_error err;
    if (lu_mounts_get(st->ctx, &m, &n, &err) != LU_OK) return lu_lua__fail_err(L, &err);
    bool any = false;
    for (size_t i = 0; i < n && !any; i++) any = m[i].priority >= 0;
    lu_free(st->ctx, m);
    lua_pushboolean(L, any);
    return 1;
}

int lu_lua__store_resource(lua_State *L)
{
    state *st = lu_lua__state(L);
    if (!lu_lua__can_change(st)) return lu_lua__not_initialized(L);
    luaL_checkany(L, 1);   /* the manifest reference: one manifest, so any value */
    size_t len, klen;
    const char *data = luaL_checklstring(L, 2, &len);
    const char *key = luaL_checklstring(L, 3, &klen);
    luaL_argcheck(L, klen > 0 && klen < PATH_MAX && strlen(key) == klen, 3, "expected a resource path or a hex SHA-256");
    luaL_checktype(L, 4, LUA_TFUNCTION);
    task *t = task_new(L, TASK_RESOURCE, len);
    memcpy(t->data, data, len);
    snprintf(t->reply, sizeof t->reply, "%s", key);
    resolve(st, t, key, klen);
    return queue(L, st, t, 4);
}

int lu_lua__store_manifest(lua_State *L)
{
    state *st = lu_lua__state(L);
    if (!lu_lua__can_change(st)) return lu_lua__not_initialized(L);
    size_t len;
    const char *data = luaL_checklstring(L, 1, &len);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    task *t = task_new(L, TASK_MANIFEST, len);
    memcpy(t->data, data, len);
    return queue(L, st, t, 2);
}

int lu_lua__store_archive(lua_State *L)
{
    static const char *const options[] = {"verify", NULL};
    state *st = lu_lua__state(L);
    if (!lu_lua__can_change(st)) return lu_lua__not_initialized(L);
    size_t plen;
    const char *path = luaL_checklstring(L, 1, &plen);
    luaL_argcheck(L, plen > 0 && plen < PATH_MAX && strlen(path) == plen, 1, "expected the path of a zip file");
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lu_lua__check_options(L, 3, 3, "", options);
    int verify = 1;   /* Defold's default */
    if (!lua_isnoneornil(L, 3)) {
        if (lua_getfield(L, 3, "verify") != LUA_TNIL) verify = lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    task *t = task_new(L, TASK_ARCHIVE, 0);
    t->verify = verify;
    snprintf(t->reply, sizeof t->reply, "%s", path);
    snprintf(t->path, sizeof t->path, "%s", path);
    return queue(L, st, t, 2);
}

/* ---- the resource module -------------------------------------------- */

int luaopen_liveupdate_resource(lua_State *L)
{
    static const char *const aliases[] = {"get_current_manifest", "is_using_liveupdate_data", "store_resource",
                                          "store_manifest", "store_archive"};
    /* the liveupdate module as loaded (lurun opens it first), else require'd */
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    if (lua_getfield(L, -1, "liveupdate") != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_getglobal(L, "require");
        lua_pushliteral(L, "liveupdate");
        lua_call(L, 1, 1);
    }
    luaL_checktype(L, -1, LUA_TTABLE);
    lua_newtable(L);
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++) {
        lua_getfield(L, -2, aliases[i]);
        lua_setfield(L, -2, aliases[i]);
    }
    lua_pushnil(L);
    while (lua_next(L, -3)) {   /* the LIVEUPDATE_* constants */
        if (lua_type(L, -2) == LUA_TSTRING && strncmp(lua_tostring(L, -2), "LIVEUPDATE_", 11) == 0) {
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_rawset(L, -4);
        } else {
            lua_pop(L, 1);
        }
    }
    return 1;
}
