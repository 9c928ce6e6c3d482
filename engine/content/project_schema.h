/* project_schema.h -- the table of game.project keys liveupdate reads
 * (project_schema.c), for the check and for the test that holds
 * docs/BUNDLER.md to it. */
#ifndef LU_PROJECT_SCHEMA_H
#define LU_PROJECT_SCHEMA_H

#include <limits.h>
#include <stddef.h>

typedef enum lu__key_kind {
    LU__KEY_STRING,    /* anything */
    LU__KEY_INT,       /* a whole number in [min, max], the whole value */
    LU__KEY_BOOL,      /* 1, 0, true, false */
    LU__KEY_CHOICE,    /* one of choices ("a|b") */
    LU__KEY_RESOURCE,  /* a resource path: starts with '/' */
    LU__KEY_GLOBS,     /* patterns starting with '/', separated by spaces or commas */
    LU__KEY_NAME,      /* a mount name (lu_mount_name_check) */
    LU__KEY_KEY,       /* a game.project key: section.key */
    LU__KEY_VERSION,   /* a version: 1-64 of [0-9A-Za-z.+-] */
    LU__KEY_DEFOLD     /* Defold's key in a section we own: accepted, not read */
} lu__key_kind;

typedef struct lu__key_spec {
    const char *section;   /* "update", or "proxy.*" for every [proxy.<id>] */
    const char *key;
    lu__key_kind kind;
    long long min, max;    /* LU__KEY_INT, inclusive */
    const char *choices;   /* LU__KEY_CHOICE */
} lu__key_spec;

/* The table and its length. Static data: never fails. */
const lu__key_spec *lu__project_schema(size_t *n);

/* The type as docs/BUNDLER.md's table names it ("int 0-65535", "bool",
 * "async or sync"): a static string or `buf`. */
const char *lu__key_type_text(const lu__key_spec *spec, char *buf, size_t cap);

/* The key of section pattern `pattern` nearest to `key` (*best, NULL when
 * the section has none) and its edit distance. */
size_t lu__project_nearest_key(const char *pattern, const char *key, const char **best);

#endif
