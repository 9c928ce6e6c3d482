/* console_internal.h -- the console server's test entry (never installed). */
#ifndef LU_CONSOLE_INTERNAL_H
#define LU_CONSOLE_INTERNAL_H

#include <stddef.h>

struct lu_console;
/* Answers request bytes as a client connection would (for the fuzz target
 * and tests). *out (may be NULL; free with lu_free on the console's
 * context) gets the answer; returns its length. Each line gets its whole
 * answer ending in a "%% ok" / "%% error STATUS message" line, or, when
 * memory ran out even for a short MEM_ERROR status, the answers stop there
 * (a connection is dropped at that point). */
size_t lu__console_answer(struct lu_console *c, const char *bytes, size_t len, char **out);

#endif
