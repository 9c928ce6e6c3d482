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

/* The line of the file `key` ("section.key") was read from; 0 when it is
 * absent or was set by lu_project_set (lurun --set, or the program). */
int lu_project_line(const lu_project *p, const char *key);

/* The name given to lu_project_load (the path) or lu_project_parse; valid
 * until the project is freed. */
const char *lu_project_name(const lu_project *p);

/* Receives one warning of lu_project_check ("game.project:14: warning:
 * ..."); `message` is valid during the call only. */
typedef void (*lu_project_warn_fn)(void *ud, const char *message);

/* Checks the project against the keys liveupdate reads (docs/BUNDLER.md,
 * "game.project keys"). In [project], [bootstrap], [liveupdate], [update],
 * [bundle], [proxy.<id>] and [volume.<name>] every key must be known and of
 * its type; in [game] the known keys must be of their type and the others
 * are the game's; other sections are the game's. Returns LU_OK;
 * LU_FORMAT_ERROR for a mistake in the file, naming file, line and key
 * ("game.project:14: unknown key 'exlude' in [proxy.level1] (did you mean
 * 'exclude'?)"); LU_INVAL for one in a key set by lu_project_set (the
 * command line), where a section or a [game] key close to a known one is
 * an error too. Stops at the first error, in file order. `warn` (may be
 * NULL) hears of sections of the file named close to an owned one and of
 * [game] keys close to a known one. Reads only; thread-safe on a project
 * no one modifies. */
lu_status lu_project_check(const lu_project *p, lu_project_warn_fn warn, void *ud, lu_error *err);

/* Iteration over keys in file order: returns the count; lu_project_key_at
 * gives key i ("section.key") and its value. */
size_t lu_project_count(const lu_project *p);
const char *lu_project_key_at(const lu_project *p, size_t i, const char **value);

#ifdef __cplusplus
}
#endif

#endif
