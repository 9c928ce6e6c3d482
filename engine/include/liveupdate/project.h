/* project.h -- reading game.project, the INI file a game ships with.
 *
 * Defold-style sections (`[section]`, `key = value`, `#` or `;` comments).
 * Keys are addressed as "section.key". Values may be overridden after
 * loading (lurun --set). Errors name the file, the line and the key.
 */
#ifndef LIVEUPDATE_PROJECT_H
#define LIVEUPDATE_PROJECT_H

#include <stdbool.h>

#include "liveupdate/liveupdate.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lu_project lu_project;

/* Parses the INI file at `path`. Returns LU_OK and *out; LU_NOT_FOUND /
 * LU_IO_ERROR (cannot read), LU_FORMAT_ERROR ("game.project:12: ..."),
 * LU_MEM_ERROR. */
lu_status lu_project_load(const char *path, lu_project **out, lu_error *err);

/* Parses INI text; `name` is used in messages. Same returns. A project
 * belongs to no context: both calls allocate with the C library's
 * allocator, and lu_project_free frees. */
lu_status lu_project_parse(const char *name, const char *text, size_t len, lu_project **out,
                           lu_error *err);

/* Frees. Accepts NULL. */
void lu_project_free(lu_project *p);

/* The value of "section.key", or NULL. Valid until the key is set again
 * or the project is freed. */
const char *lu_project_get(const lu_project *p, const char *key);

/* Sets "section.key" (copies). Returns LU_OK, LU_INVAL (no '.' in key),
 * LU_MEM_ERROR. */
lu_status lu_project_set(lu_project *p, const char *key, const char *value, lu_error *err);

/* Applies "section.key=value" (the lurun --set form). LU_INVAL when the
 * text has no '=' or the key has no section. */
lu_status lu_project_set_assignment(lu_project *p, const char *assignment, lu_error *err);

/* Typed reads: *out = default when the key is absent. LU_FORMAT_ERROR
 * naming file, line and key when present but not of the type. */
lu_status lu_project_get_int(const lu_project *p, const char *key, long long def, long long *out,
                             lu_error *err);
lu_status lu_project_get_number(const lu_project *p, const char *key, double def, double *out,
                                lu_error *err);
/* A boolean as Defold reads one: "1" and "true" are true, "0" and "false"
 * false (exactly, case-sensitive); anything else is LU_FORMAT_ERROR. */
lu_status lu_project_get_bool(const lu_project *p, const char *key, bool def, bool *out, lu_error *err);

/* A value from a fixed set: *out = the index in `choices` (a NULL-terminated
 * list) of the key's value, or `def` when the key is absent.
 * LU_FORMAT_ERROR naming file, line and key, and the choices, when present
 * but not one of them (exactly, case-sensitive). */
lu_status lu_project_get_choice(const lu_project *p, const char *key, const char *const *choices, int def,
                                int *out, lu_error *err);

/* Iteration over keys in file order: returns the count; lu_project_key_at
 * gives key i ("section.key") and its value. */
size_t lu_project_count(const lu_project *p);
const char *lu_project_key_at(const lu_project *p, size_t i, const char **value);

#ifdef __cplusplus
}
#endif

#endif
