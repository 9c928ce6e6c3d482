/* host_timer.c -- Defold's `timer` module in lurun:
 *   timer.delay(seconds, repeating, callback) -> handle
 *       callback(self, handle, time_elapsed)
 *   timer.cancel(handle) -> true if it was active
 *   timer.trigger(handle) -> true if it was active (runs the callback now;
 *       the timer keeps running)
 *   timer.get_info(handle) -> {time_remaining, delay, repeating} | nil
 *   timer.INVALID_TIMER_HANDLE
 *
 * As in Defold: timers advance with the frame's dt, once per frame before
 * the scripts' update() (lu_host_timers_frame), so a 0-second timer fires
 * at the next frame just before update; a timer created inside a callback
 * starts counting at the next frame; a repeating timer keeps its phase
 * (time_elapsed is the time since it last fired). A timer belongs to the
 * script instance that created it: its callback gets that script's self
 * and runs as that script (msg.post's sender, liveupdate's self), it does
 * not advance while the script's collection proxy is not enabled, and it
 * dies with the instance (final, unload, a restart of the script world).
 *
 * The timers live in a userdata in the Lua registry, so they end with the
 * Lua state that holds their callbacks.
 */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "liveupdate_lua.h"

#define TIMERS_KEY "lurun.timers"
#define INVALID_HANDLE 0xffffffffLL

typedef struct timer {
    long long handle;
    double delay, remaining, excess;   /* excess: how late the last firing was */
    bool repeat, alive;
    int cb_ref, self_ref;
    char *owner;                       /* URL of the owning script */
} timer;

typedef struct timers {
    timer *v;
    size_t n, cap;
    long long next;
    int in_frame;
} timers;

static void timer_release(lua_State *L, timer *t, bool unref)
{
    if (unref) {
        luaL_unref(L, LUA_REGISTRYINDEX, t->cb_ref);
        luaL_unref(L, LUA_REGISTRYINDEX, t->self_ref);
    }
    free(t->owner);
    t->owner = NULL;
}

/* __gc: the state is closing, the references go with it. */
static int timers_gc(lua_State *L)
{
    timers *T = lua_touserdata(L, 1);
    for (size_t i = 0; i < T->n; i++) timer_release(L, &T->v[i], false);
    free(T->v);
    memset(T, 0, sizeof *T);
    return 0;
}

static timers *get_timers(lua_State *L, bool create)
{
    lua_getfield(L, LUA_REGISTRYINDEX, TIMERS_KEY);
    timers *T = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (T || !create) return T;
    T = lua_newuserdatauv(L, sizeof *T, 0);
    memset(T, 0, sizeof *T);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, timers_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    lua_setfield(L, LUA_REGISTRYINDEX, TIMERS_KEY);
    return T;
}

/* Removes the dead timers (not while a frame walks the list). */
static void compact(lua_State *L, timers *T)
{
    if (T->in_frame) return;
    size_t k = 0;
    for (size_t i = 0; i < T->n; i++) {
        if (T->v[i].alive) T->v[k++] = T->v[i];
        else timer_release(L, &T->v[i], true);
    }
    T->n = k;
}

/* The owning script if it still runs as the instance that made the timer. */
static lu_script *owner_of(lu_host *h, const timer *t)
{
    lu_script *s = t->owner ? lu_host_find_script(h, t->owner) : NULL;
    if (!s || s->finalized) return NULL;
    lua_rawgeti(h->L, LUA_REGISTRYINDEX, s->self_ref);
    lua_rawgeti(h->L, LUA_REGISTRYINDEX, t->self_ref);
    bool same = lua_rawequal(h->L, -1, -2);
    lua_pop(h->L, 2);
    return same ? s : NULL;
}

/* Is the script's world updated (main, or its proxy enabled)? */
static bool running(lu_host *h, const lu_script *s)
{
    if (!s->proxy) return true;
    for (size_t k = 0; k < h->nproxies; k++)
        if (strcmp(h->proxies[k].id, s->proxy) == 0) return h->proxies[k].state == LU_PROXY_ENABLED;
    return false;
}

/* The live timer with this handle, or NULL (a timer whose owner is gone
 * is dead from then on). */
static timer *find(lu_host *h, timers *T, long long handle)
{
    for (size_t i = 0; T && i < T->n; i++) {
        timer *t = &T->v[i];
        if (t->handle != handle || !t->alive) continue;
        if (!owner_of(h, t)) t->alive = false;
        return t->alive ? t : NULL;
    }
    return NULL;
}

/* Runs timer i's callback as its owner. The list may grow (realloc) or
 * be marked inside; nothing is removed. */
static void fire(lu_host *h, timers *T, size_t i, lu_script *s, double elapsed)
{
    lua_State *L = h->L;
    timer *t = &T->v[i];
    lu_lua_push_self(L);   /* restored afterwards: trigger runs inside another script */
    lua_rawgeti(L, LUA_REGISTRYINDEX, t->cb_ref);
    lua_rawgeti(L, LUA_REGISTRYINDEX, t->self_ref);
    lua_pushinteger(L, (lua_Integer)t->handle);
    lua_pushnumber(L, elapsed);
    lu_lua_set_self(L, -3);
    const char *prev = h->current_url;
    h->current_url = s->url;
    char where[1200];
    snprintf(where, sizeof where, "%s (timer callback)", s->path);
    lu_host_pcall(h, 3, 0, where);
    h->current_url = prev;
    lu_lua_set_self(L, -1);
    lua_pop(L, 1);
}

void lu_host_timers_frame(lu_host *h, double dt)
{
    timers *T = get_timers(h->L, false);
    if (!T) return;
    T->in_frame++;
    size_t n = T->n;   /* timers made by the callbacks start next frame */
    for (size_t i = 0; i < n && !h->exit_requested; i++) {
        timer *t = &T->v[i];
        if (!t->alive) continue;
        lu_script *s = owner_of(h, t);
        if (!s) {
            t->alive = false;
            continue;
        }
        if (!running(h, s)) continue;
        t->remaining -= dt;
        if (t->remaining > 0) continue;
        double elapsed = t->delay - t->remaining - t->excess;
        fire(h, T, i, s, elapsed);
        t = &T->v[i];
        if (!t->alive) continue;
        if (!t->repeat) {
            t->alive = false;
        } else if (t->delay <= 0) {
            t->remaining = t->excess = 0;
        } else {
            /* the next firing keeps the phase: skip whole periods missed */
            long long periods = (long long)(-t->remaining / t->delay) + 1;
            t->remaining += (double)periods * t->delay;
            t->excess = t->delay - t->remaining;
            if (t->remaining <= 0) {
                t->remaining = t->delay;
                t->excess = 0;
            }
        }
    }
    T->in_frame--;
    compact(h->L, T);
}

void lu_host_timers_free(lu_host *h)
{
    timers *T = h->L ? get_timers(h->L, false) : NULL;
    if (!T) return;
    for (size_t i = 0; i < T->n; i++) timer_release(h->L, &T->v[i], true);
    free(T->v);
    memset(T, 0, sizeof *T);
}

static lu_host *host(lua_State *L, const char *fn)
{
    lu_host *h = lu_host_get(L);
    if (!h) luaL_error(L, "timer.%s: not running inside lurun", fn);
    return h;
}

static int l_delay(lua_State *L)
{
    lu_host *h = host(L, "delay");
    luaL_checktype(L, 1, LUA_TNUMBER);
    luaL_checktype(L, 2, LUA_TBOOLEAN);
    luaL_checktype(L, 3, LUA_TFUNCTION);
    double seconds = lua_tonumber(L, 1);
    if (!(seconds >= 0)) return luaL_error(L, "timer.delay does not support negative delay times");
    const char *url = lu_host_sender(h);
    lu_script *s = url ? lu_host_find_script(h, url) : NULL;
    if (!s) return luaL_error(L, "timer.delay: no script is running (a timer belongs to the script that creates it)");
    timers *T = get_timers(L, true);
    if (T->n == T->cap) {
        size_t cap = T->cap ? T->cap * 2 : 8;
        timer *v = realloc(T->v, cap * sizeof *v);
        if (!v) return luaL_error(L, "timer.delay: out of memory");
        T->v = v;
        T->cap = cap;
    }
    char *owner = strdup(s->url);
    if (!owner) return luaL_error(L, "timer.delay: out of memory");
    lua_pushvalue(L, 3);
    int cb_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->self_ref);
    int self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    if (++T->next == INVALID_HANDLE) T->next = 1;
    T->v[T->n++] = (timer){T->next, seconds, seconds, 0, lua_toboolean(L, 2), true, cb_ref, self_ref, owner};
    lua_pushinteger(L, (lua_Integer)T->next);
    return 1;
}

static int l_cancel(lua_State *L)
{
    lu_host *h = host(L, "cancel");
    timer *t = find(h, get_timers(L, false), (long long)luaL_checkinteger(L, 1));
    if (t) t->alive = false;
    lua_pushboolean(L, t != NULL);
    return 1;
}

static int l_trigger(lua_State *L)
{
    lu_host *h = host(L, "trigger");
    timers *T = get_timers(L, false);
    timer *t = find(h, T, (long long)luaL_checkinteger(L, 1));
    if (!t) {
        lua_pushboolean(L, 0);
        return 1;
    }
    T->in_frame++;   /* nothing is removed while the callback runs */
    fire(h, T, (size_t)(t - T->v), owner_of(h, t), t->delay - t->remaining);
    T->in_frame--;
    lua_pushboolean(L, 1);
    return 1;
}

static int l_get_info(lua_State *L)
{
    lu_host *h = host(L, "get_info");
    timer *t = find(h, get_timers(L, false), (long long)luaL_checkinteger(L, 1));
    if (!t) {
        lua_pushnil(L);
        return 1;
    }
    lua_createtable(L, 0, 3);
    lua_pushnumber(L, t->remaining);
    lua_setfield(L, -2, "time_remaining");
    lua_pushnumber(L, t->delay);
    lua_setfield(L, -2, "delay");
    lua_pushboolean(L, t->repeat);
    lua_setfield(L, -2, "repeating");
    return 1;
}

int lu_host_open_timer(lua_State *L)
{
    static const luaL_Reg f[] = {
        {"delay", l_delay}, {"cancel", l_cancel}, {"trigger", l_trigger}, {"get_info", l_get_info}, {NULL, NULL},
    };
    luaL_newlib(L, f);
    lua_pushinteger(L, (lua_Integer)INVALID_HANDLE);
    lua_setfield(L, -2, "INVALID_TIMER_HANDLE");
    return 1;
}
