/* host_msg.c -- Defold's `msg` module and lurun's message queue.
 *
 *   msg.post(receiver, message_id[, message])  queues a message; delivered
 *       in this frame's dispatch, after update(). The receiver is a URL
 *       object, a URL string or a hash of one. Raises when no receiver
 *       matches the URL (as Defold does).
 *   msg.url(...): URL objects (host_url.c). on_message's `sender` is one.
 *
 * URLs: "#" or "." (the running script), "#name" (component `name` of the
 * running script's game object: a collection proxy or a script),
 * "socket:/path#name" (fully qualified), "socket:/path" (the scripts of a
 * game object). A fragment naming a collection proxy reaches that proxy
 * whatever the path, so "main:/loader#level1" and "#level1" both work.
 */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "liveupdate_lua.h"

#define MAX_DISPATCH 10000   /* per frame: stops message ping-pong loops */

/* The game-object part of a URL ("main:/loader" of "main:/loader#x"). */
static size_t object_len(const char *url)
{
    const char *h = strchr(url, '#');
    return h ? (size_t)(h - url) : strlen(url);
}

/* Resolves `to` against the sender into a receiver key: "proxy:<id>" or
 * a script URL. Returns false when nothing matches. */
static bool resolve(lu_host *h, const char *to, const char *sender, char *out, size_t cap)
{
    const char *self = sender ? sender : "";
    if (!to[0] || strcmp(to, "#") == 0 || strcmp(to, ".") == 0) {
        if (!lu_host_find_script(h, self)) return false;
        snprintf(out, cap, "%s", self);
        return true;
    }
    const char *frag = strchr(to, '#');
    if (frag && lu_manifest_find_proxy(h->manifest, frag + 1)) {
        char id[256];
        lu_manifest_proxy_id(frag + 1, id, sizeof id);
        snprintf(out, cap, "proxy:%s", id);
        return true;
    }
    char full[1024];
    if (to[0] == '#') snprintf(full, sizeof full, "%.*s%s", (int)object_len(self), self, to);
    else snprintf(full, sizeof full, "%s", to);
    for (size_t i = 0; i < h->nscripts; i++) {
        const char *u = h->scripts[i].url;
        bool match = frag || to[0] == '#' ? strcmp(u, full) == 0
                                          : object_len(u) == strlen(full) && strncmp(u, full, strlen(full)) == 0;
        if (match && !h->scripts[i].finalized) {
            snprintf(out, cap, "%s", u);
            return true;
        }
    }
    return false;
}

bool lu_host_post(lu_host *h, const char *to, const char *id, int table_idx, const char *sender)
{
    char target[1100];
    if (!resolve(h, to, sender, target, sizeof target)) return false;
    lu_message *m = calloc(1, sizeof *m);
    if (!m) return false;
    m->to = strdup(target);
    m->sender = strdup(sender ? sender : "");
    m->id = strdup(id);
    if (table_idx) {
        lua_pushvalue(h->L, table_idx);
        m->table_ref = luaL_ref(h->L, LUA_REGISTRYINDEX);
    } else {
        m->table_ref = LUA_REFNIL;
    }
    if (h->queue_tail) h->queue_tail->next = m;
    else h->queue = m;
    h->queue_tail = m;
    return true;
}

static void message_free(lu_host *h, lu_message *m)
{
    luaL_unref(h->L, LUA_REGISTRYINDEX, m->table_ref);
    free(m->to);
    free(m->sender);
    free(m->id);
    free(m);
}

static bool deliver(lu_host *h, lu_message *m)
{
    if (strncmp(m->to, "proxy:", 6) == 0) {
        lu_proxy_reply reply;
        bool ok = lu_host_proxy_message(h, m->to + 6, m->id, m->sender, &reply);
        if (reply.id && !lu_host_post(h, reply.to, reply.id, 0, reply.from) && strcmp(reply.id, "proxy_loaded") == 0)
            fprintf(stderr, "WARNING:GAMESYS: proxy_loaded could not be posted to %s\n", reply.to);
        return ok;
    }
    lu_script *s = lu_host_find_script(h, m->to);
    if (!s || s->finalized) return true;   /* receiver went away: dropped, as in Defold */
    lu_lua_push_hash(h->L, m->id);
    if (m->table_ref == LUA_REFNIL) lua_newtable(h->L);
    else lua_rawgeti(h->L, LUA_REGISTRYINDEX, m->table_ref);
    lu_host_push_url(h->L, m->sender);
    return lu_host_call(h, s, "on_message", 3);
}

bool lu_host_dispatch(lu_host *h)
{
    bool ok = true;
    for (int n = 0; h->queue && n < MAX_DISPATCH; n++) {
        lu_message *m = h->queue;
        h->queue = m->next;
        if (!h->queue) h->queue_tail = NULL;
        ok &= deliver(h, m);
        message_free(h, m);
    }
    return ok;
}

static int l_post(lua_State *L)
{
    lu_host *h = lu_host_get(L);
    if (!h) return luaL_error(L, "msg.post: not running inside lurun");
    char to[1200];
    if (!lu_host_to_url_string(L, 1, to, sizeof to)) return luaL_argerror(L, 1, "URL, URL string or hash expected");
    const char *id = lu_lua_to_hashed(L, 2);
    if (!id) return luaL_argerror(L, 2, "message id (string or hash) expected");
    if (!lua_isnoneornil(L, 3)) luaL_checktype(L, 3, LUA_TTABLE);
    const char *sender = lu_host_sender(h);
    if (!lu_host_post(h, to, id, lua_isnoneornil(L, 3) ? 0 : 3, sender))
        return luaL_error(L, "Could not send message '%s' from '%s' to '%s'.", id, sender ? sender : "", to);
    return 0;
}

int lu_host_open_msg(lua_State *L)
{
    lu_host_url_init(L);
    static const luaL_Reg f[] = {{"post", l_post}, {"url", lu_host_msg_url}, {NULL, NULL}};
    luaL_newlib(L, f);
    return 1;
}
