/* project_internal.h -- what the content layer's files share about a
 * game.project beyond liveupdate/project.h: each key's origin, for the
 * schema check (project_schema.c), the glob matcher's work count and
 * lu_manifest_missing's (manifest.c). */
#ifndef LU_PROJECT_INTERNAL_H
#define LU_PROJECT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "liveupdate/manifest.h"
#include "liveupdate/project.h"

/* Key i ("section.key") in file order, with its value, the line it came
 * from (0: lu_project_set, i.e. --set or the program) and the length of
 * its section name within the key. NULL when i is past the end. */
const char *lu__project_item(const lu_project *p, size_t i, const char **value, int *line, size_t *sec_len);

/* The line of the first value key i had in the file when a later line set
 * it again (the later value is the one kept); 0 when the file set it once
 * or i is past the end. */
int lu__project_item_earlier(const lu_project *p, size_t i);

/* lu_glob_match that adds the matcher's steps (one per pattern state per
 * path character, plus one per state per epsilon pass) to *steps, so a
 * test can bound the work: at most 2 * (strlen(path) + 1) *
 * (strlen(pattern) + 1). Returns 1 on a match, 0 otherwise (also when a
 * pattern over 256 bytes cannot get its working memory, 2 bytes a byte of
 * pattern). */
int lu__glob_match_counted(const char *pattern, const char *path, uint64_t *steps);

/* What lu_manifest_missing did (manifest.c), so a test can bound the work:
 * proxies visited, lu_exists calls, nested-id lookups (one hash probe each).
 * Linear: each proxy visited once, each of its resources checked once, each
 * of its nested ids looked up once. */
typedef struct lu__missing_work {
    uint64_t proxies, checks, lookups;
} lu__missing_work;

/* lu_manifest_missing (liveupdate/manifest.h) that adds its work to *work. */
lu_status lu__manifest_missing_counted(lu_context *ctx, const lu_manifest *m, const char *proxy, int recursive,
                                       char ***out, size_t *count, lu__missing_work *work, lu_error *err);

#endif
