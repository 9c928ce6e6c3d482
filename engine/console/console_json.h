/* console_json.h -- building a console command's JSON answer with cJSON,
 * one rule for the console's own commands (server.c) and the commands a
 * host adds (engine/host/console_commands.c): an answer is handed over
 * whole, or not at all (the console then answers MEM_ERROR), so a result
 * with a field missing is never answered as ok. Header-only (static
 * inline), never installed.
 */
#ifndef LU_CONSOLE_JSON_H
#define LU_CONSOLE_JSON_H

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "liveupdate/console.h"

/* Hands `value` (may be NULL: it could not be built) to
 * lu_console_json_text as text and deletes it. */
static inline void lu__console_put_json(lu_console_out *out, cJSON *value)
{
    char *text = value ? cJSON_PrintUnformatted(value) : NULL;
    lu_console_json_text(out, text);
    cJSON_free(text);
    cJSON_Delete(value);
}

/* lu__console_put_json when every part of `value` was built (`whole`),
 * else the MEM_ERROR answer. */
static inline void lu__console_put_json_whole(lu_console_out *out, cJSON *value, bool whole)
{
    if (!whole) {
        cJSON_Delete(value);
        value = NULL;
    }
    lu__console_put_json(out, value);
}

/* Appends `item` to `arr` when it was built whole; otherwise, or when the
 * append fails, deletes it. Returns whether it was appended. */
static inline bool lu__console_append_item(cJSON *arr, cJSON *item, bool whole)
{
    if (arr && item && whole && cJSON_AddItemToArray(arr, item)) return true;
    cJSON_Delete(item);
    return false;
}

#endif
