/* liveupdate_lua.h -- the C side of the Lua `liveupdate` module, for hosts.
 *
 * Stock Lua loads the module with `require "liveupdate"` (build/lib/
 * liveupdate.so) and opens a context with liveupdate.init{...}. A host such
 * as lurun opens the module itself, hands it the context it already has,
 * and tells it which script instance is running so callbacks get `self`.
 */
#ifndef LIVEUPDATE_LUA_H
#define LIVEUPDATE_LUA_H

#include <lua.h>

#include "liveupdate/liveupdate.h"
#include "liveupdate/manifest.h"
#include "liveupdate/updater.h"

#include <stdbool.h>

/* Opens the module and returns its table (one value on the stack). No
 * globals are set. Raises a Lua error only on out-of-memory. */
int luaopen_liveupdate(lua_State *L);

/* Opens Defold's deprecated `resource` table of the legacy API: the
 * liveupdate module's get_current_manifest, is_using_liveupdate_data,
 * store_resource, store_manifest and store_archive (the same functions)
 * and its LIVEUPDATE_* constants. Uses the liveupdate module already
 * loaded, else require "liveupdate". Stock Lua: require "liveupdate.resource"
 * (the same liveupdate.so). No globals are set. Raises as require does. */
int luaopen_liveupdate_resource(lua_State *L);

/* Makes the module (already opened in L) use `ctx` and the base manifest
 * `manifest` (may be NULL), which the host owns and frees after lua_close.
 * Requests still in flight from an earlier binding (or shutdown()) stay
 * with the context that has them: it may deliver them later (their
 * callbacks do not run) or drop them. After lua_close the host closes its
 * context without calling lu_update on it again (the module's records of
 * its requests are freed with the Lua state). Returns 0, or -1 when the
 * module is not open. */
int lu_lua_use_context(lua_State *L, lu_context *ctx, const lu_manifest *manifest);

/* Points the update manager's event and version-compare hooks of `cfg` at
 * the module (get_update_manager's handlers) of the Lua state `*Lp` holds
 * at each call, before the host calls lu_updater_open: a host that
 * replaces its Lua state (a script-world restart) keeps its hooks. `*Lp`
 * must stay valid while the manager is open; NULL drops events. */
void lu_lua_updater_config(lua_State *const *Lp, lu_updater_config *cfg);

/* Hands the requests still in flight of `from`'s module (add_mount,
 * download_volume, the legacy store_*) to `to`'s, both bound to the same
 * context, before the host closes `from`: their work completes (a
 * download is verified and mounted as asked) but their callbacks never run
 * (the scripts that made them are gone); their records live until the
 * context delivers them or `to` is closed. Returns 0, or -1 when either
 * module is not open. */
int lu_lua_move_requests(lua_State *from, lua_State *to);

/* Hands the scripts an update failure found by the host (on_update_failed,
 * delivered once a handler is registered). */
void lu_lua_update_failed(lua_State *L, lu_status status, const char *message);

/* Replaces the manifest given to lu_lua_use_context (the host owns it and
 * keeps it alive while bound), keeping everything else: a release applied
 * while the game runs brings its own manifest. Returns 0, or -1 when the
 * module is not open. */
int lu_lua_set_manifest(lua_State *L, const lu_manifest *manifest);

/* Pops the function on top of the stack into the update manager's
 * version-compare hook (as um.set_version_compare does), so it decides
 * comparisons from lu_updater_open on: lurun's [update] version_compare.
 * Returns 0, or -1 when the module is not open (the value is popped). */
int lu_lua_set_version_compare(lua_State *L);

/* True once after a script called apply_update(): the host restarts its
 * script world on the new mounts. */
bool lu_lua_take_restart(lua_State *L);

/* Turns live update off for the module of L (lurun: [liveupdate]
 * enabled = 0), or on again with NULL: the bound context keeps serving
 * the reads (get_mounts, exists, which, load_resource, list, ...), and the
 * calls that change or download (init, add_mount, remove_mount,
 * download_volume, cancel_download, get_update_manager, store_resource,
 * store_manifest, store_archive) answer LIVEUPDATE_NOT_INITIALIZED with
 * `message` in their usual shape. Survives lu_lua_use_context and
 * shutdown(); `message` is copied. Returns 0, or -1 (module not open, or
 * out of memory: nothing changed). */
int lu_lua_set_live_update_off(lua_State *L, const char *message);

/* Sets the folder URL download_volume fetches volumes from when neither
 * the catalog entry nor the options give one (lurun: game.http_url).
 * `url` is copied; NULL clears it. Returns 0, or -1 (module not open, or
 * out of memory). */
int lu_lua_set_http_url(lua_State *L, const char *url);

/* Sets the value at `idx` (a script instance table, or nil) as the `self`
 * passed to callbacks registered from now on. */
void lu_lua_set_self(lua_State *L, int idx);

/* Pushes the current `self` (nil when none). */
void lu_lua_push_self(lua_State *L);

/* Hashes (liveupdate_hash.c): pushes the interned hash value of `s` (a
 * userdata printing as "hash: [s]"; equal strings give the same value).
 * Raises only on out-of-memory. */
void lu_lua_push_hash(lua_State *L, const char *s);

/* The string of the hash or string at `idx`, or NULL for anything else.
 * Valid while the value is alive. Never raises. */
const char *lu_lua_to_hashed(lua_State *L, int idx);

/* Which generation of Defold's API the scripts speak: "1.12" (mount names
 * given back as strings, the default) or "1.13" (as hashes). Every
 * function accepts both forms whatever the setting. Returns 0, or -1 when
 * `api` is neither or the module is not open. */
int lu_lua_set_defold_api(lua_State *L, const char *api);

/* 0 when `api` is a defold_api value lu_lua_set_defold_api takes ("1.12"
 * or "1.13"), else -1: for hosts that check their configuration before
 * opening anything. Thread-safe. */
int lu_lua_defold_api_check(const char *api);

#endif
