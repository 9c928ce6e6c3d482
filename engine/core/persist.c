/* persist.c -- the mounts file (<save>/liveupdate.mounts) and the lock file.
 *
 * Format (docs/FORMATS.md): {"version":1,"mounts":[{"name","uri","priority"}]}
 * in lookup order, built-in mounts excluded, written with cJSON through
 * lu__fs_write_atomic. A file that does not parse or breaks a rule is
 * "corrupt": the context moves it aside (never deletes it) and reports it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "internal.h"

#define MOUNTS_FILE "liveupdate.mounts"
#define LOCK_FILE "liveupdate.lock"

bool lu__persist_held_stays(const lu_snapshot *s, const lu_saved_mount *h, const char *const *forget,
                            size_t nforget)
{
    if (s && lu__snapshot_mount(s, h->name)) return false;
    for (size_t i = 0; i < nforget; i++)
        if (strcmp(forget[i], h->name) == 0) return false;
    return true;
}

/* Appends {"name","uri","priority"} to `arr`; false when out of memory. */
static bool add_entry(cJSON *arr, const char *name, const char *uri, int priority)
{
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddItemToArray(arr, o)) {
        cJSON_Delete(o);
        return false;
    }
    return cJSON_AddStringToObject(o, "name", name) && cJSON_AddStringToObject(o, "uri", uri) &&
           cJSON_AddNumberToObject(o, "priority", priority);
}

lu_status lu__persist_write(const lu_env *env, const char *dir, const lu_snapshot *s, const lu_saved_mount *held,
                            size_t nheld, const char *const *forget, size_t nforget, lu_error *err)
{
    lu_status st = LU_OK;
    char *text = NULL;
    cJSON *root = cJSON_CreateObject(), *arr = NULL;
    if (!root || !cJSON_AddNumberToObject(root, "version", 1) ||
        !(arr = cJSON_AddArrayToObject(root, "mounts"))) {
        st = lu__fail(err, LU_MEM_ERROR, "out of memory writing the mounts file");
        goto cleanup;
    }
    /* lookup order: a held entry goes before the first mount of lower
     * priority, or of its priority that was added before it would have
     * been (listed after it in the file it came from) */
    size_t h = 0, nm = s ? s->nmounts : 0;
    for (size_t i = 0; i <= nm; i++) {
        const lu_mount *m = i < nm ? s->mounts[i] : NULL;
        for (; h < nheld && (!m || held[h].priority > m->priority ||
                             (held[h].priority == m->priority && m->seq <= held[h].seq)); h++)
            if (lu__persist_held_stays(s, &held[h], forget, nforget) &&
                !add_entry(arr, held[h].name, held[h].uri, held[h].priority)) {
                st = lu__fail(err, LU_MEM_ERROR, "out of memory writing the mounts file");
                goto cleanup;
            }
        if (m && m->persist && !add_entry(arr, m->name, m->uri, m->priority)) {
            st = lu__fail(err, LU_MEM_ERROR, "out of memory writing the mounts file");
            goto cleanup;
        }
    }
    text = cJSON_PrintUnformatted(root);
    if (!text) {
        st = lu__fail(err, LU_MEM_ERROR, "out of memory writing the mounts file");
        goto cleanup;
    }
    size_t n = strlen(text);
    text[n] = '\n';   /* replaces the NUL; length passed explicitly */
    st = lu__fs_write_atomic(env, dir, MOUNTS_FILE, text, n + 1, err);
    text[n] = '\0';
cleanup:
    cJSON_free(text);
    cJSON_Delete(root);
    return st;
}

void lu__persist_free(const lu_env *env, lu_saved_mount *m, size_t n)
{
    if (!m) return;
    for (size_t i = 0; i < n; i++) {
        lu__free(env, m[i].name);
        lu__free(env, m[i].uri);
    }
    lu__free(env, m);
}

/* Checks one element of "mounts"; fills *out. */
static lu_status parse_mount(const lu_env *env, const cJSON *o, size_t i, lu_saved_mount *out,
                             lu_error *err)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
    const cJSON *uri = cJSON_GetObjectItemCaseSensitive(o, "uri");
    const cJSON *prio = cJSON_GetObjectItemCaseSensitive(o, "priority");
    if (!cJSON_IsObject(o) || !cJSON_IsString(name) || !cJSON_IsString(uri) || !cJSON_IsNumber(prio))
        return lu__fail(err, LU_FORMAT_ERROR, "mounts[%zu] needs string name, string uri, number priority", i);
    lu_error e2;
    if (lu_mount_name_check(name->valuestring, &e2) != LU_OK)
        return lu__fail(err, LU_FORMAT_ERROR, "mounts[%zu]: %s", i, e2.message);
    double p = prio->valuedouble;
    if (p < 0 || p > INT_MAX || p != (double)(int)p)
        return lu__fail(err, LU_FORMAT_ERROR, "mounts[%zu] ('%s'): priority must be an integer >= 0",
                        i, name->valuestring);
    out->priority = (int)p;
    out->name = lu__strdup(env, name->valuestring);
    out->uri = lu__strdup(env, uri->valuestring);
    if (!out->name || !out->uri) return lu__fail(err, LU_MEM_ERROR, "out of memory reading the mounts file");
    return LU_OK;
}

lu_status lu__persist_read(const lu_env *env, const char *dir, lu_saved_mount **out, size_t *n,
                           lu_error *err)
{
    *out = NULL;
    *n = 0;
    lu_status st = LU_OK;
    char *path = lu__path_join(env, dir, MOUNTS_FILE), *text = NULL;
    size_t len = 0, count = 0;
    lu_saved_mount *list = NULL;
    cJSON *root = NULL;
    if (!path) return lu__fail(err, LU_MEM_ERROR, "out of memory");
    st = lu__fs_read_all(env, path, &text, &len, err);
    if (st != LU_OK) goto cleanup;
    st = lu__json_parse_stored(text, len, path, &root, err);
    if (st != LU_OK) goto cleanup;
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "version");
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "mounts");
    if (!cJSON_IsNumber(ver) || ver->valuedouble != 1 || !cJSON_IsArray(arr)) {
        st = lu__fail(err, LU_FORMAT_ERROR, "'%s': expected {\"version\":1,\"mounts\":[...]}", path);
        goto cleanup;
    }
    size_t total = (size_t)cJSON_GetArraySize(arr);
    list = lu__calloc(env, total ? total : 1, sizeof *list);
    if (!list) {
        st = lu__fail(err, LU_MEM_ERROR, "out of memory reading '%s'", path);
        goto cleanup;
    }
    const cJSON *o;
    cJSON_ArrayForEach(o, arr) {
        st = parse_mount(env, o, count, &list[count], err);
        count++;
        if (st != LU_OK) {
            lu__error_prefix(err, "'%s'", path);
            goto cleanup;
        }
        for (size_t j = 0; j + 1 < count; j++)
            if (strcmp(list[j].name, list[count - 1].name) == 0) {
                st = lu__fail(err, LU_FORMAT_ERROR, "'%s': mount name '%s' appears twice", path,
                              list[j].name);
                goto cleanup;
            }
    }
    *out = list;
    *n = count;
    list = NULL;
cleanup:
    lu__persist_free(env, list, count);
    cJSON_Delete(root);
    lu__free(env, text);
    lu__free(env, path);
    return st;
}

lu_status lu__persist_move_aside(const lu_env *env, const char *dir, char **moved_to,
                                 lu_error *err)
{
    return lu__fs_move_aside(env, dir, MOUNTS_FILE, moved_to, err);
}

lu_status lu__lock_take(const char *dir, int *fd, lu_error *err)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", dir, LOCK_FILE) >= (int)sizeof path)
        return lu__fail(err, LU_INVAL, "save directory path too long: '%s'", dir);
    *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (*fd < 0) {
        int e = errno;
        return lu__fail(err, LU_IO_ERROR, "cannot open lock file '%s': %s", path, strerror(e));
    }
    if (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(*fd);
        *fd = -1;
        if (e == EWOULDBLOCK)
            return lu__fail(err, LU_LOCKED,
                            "save directory '%s' is in use by another process or context (%s is locked)",
                            dir, path);
        return lu__fail(err, LU_IO_ERROR, "cannot lock '%s': %s", path, strerror(e));
    }
    return LU_OK;
}
