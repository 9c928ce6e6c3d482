/* json_check.c -- tells a file that is not JSON from a parse that ran out
 * of memory.
 *
 * cJSON answers NULL for both, and the two need opposite handling: a
 * corrupt mounts file or update state is moved aside, but a good file that
 * could not be parsed for want of memory must stay exactly where it is (the
 * open fails and nothing is lost). This checker follows RFC 8259's grammar
 * without allocating, so "valid here, NULL from cJSON" means memory.
 *
 * It must never pass a text cJSON refuses for its syntax: that would make a
 * corrupt file look like a memory failure, and the open would fail at every
 * start. So it is stricter than cJSON (1.7.15) wherever they differ: a
 * lower nesting limit, no \u escape of a UTF-16 surrogate (cJSON refuses
 * unpaired ones), numbers of at most 63 characters (cJSON reads a number
 * through a 64-byte buffer), no raw control characters, no byte order mark.
 */
#include <string.h>

#include <cjson/cJSON.h>

#include "internal.h"

#define NESTING_LIMIT 512    /* below cJSON's CJSON_NESTING_LIMIT (1000) */
#define NUMBER_MAX 63        /* cJSON reads a number through a 64-byte buffer */

typedef struct cursor {
    const char *p, *end;
} cursor;

static void skip_ws(cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) c->p++;
}

static bool literal(cursor *c, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0) return false;
    c->p += n;
    return true;
}

static bool digits(cursor *c)
{
    const char *start = c->p;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') c->p++;
    return c->p > start;
}

static bool number_body(cursor *c);

static bool number(cursor *c)
{
    const char *start = c->p;
    if (!number_body(c)) return false;
    return c->p - start <= NUMBER_MAX;
}

static bool number_body(cursor *c)
{
    if (c->p < c->end && *c->p == '-') c->p++;
    if (c->p < c->end && *c->p == '0') c->p++;
    else if (!digits(c)) return false;
    if (c->p < c->end && *c->p == '.') {
        c->p++;
        if (!digits(c)) return false;
    }
    if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
        c->p++;
        if (c->p < c->end && (*c->p == '+' || *c->p == '-')) c->p++;
        if (!digits(c)) return false;
    }
    return true;
}

static bool string(cursor *c)
{
    c->p++;   /* the opening quote */
    while (c->p < c->end) {
        unsigned char ch = (unsigned char)*c->p++;
        if (ch == '"') return true;
        if (ch < 0x20) return false;
        if (ch != '\\') continue;
        if (c->p >= c->end) return false;
        char e = *c->p++;
        if (e == 'u') {
            unsigned code = 0;
            for (int i = 0; i < 4; i++, c->p++) {
                if (c->p >= c->end || !*c->p) return false;
                const char *hex = strchr("0123456789abcdef", *c->p >= 'A' && *c->p <= 'F' ? *c->p + 32 : *c->p);
                if (!hex) return false;
                code = code * 16 + (unsigned)(hex - "0123456789abcdef");
            }
            if (code >= 0xD800 && code <= 0xDFFF) return false;
        } else if (!strchr("\"\\/bfnrt", e) || !e) {
            return false;
        }
    }
    return false;
}

static bool value(cursor *c, int depth)
{
    skip_ws(c);
    if (c->p >= c->end) return false;
    char ch = *c->p;
    if (ch == '"') return string(c);
    if (ch == '{' || ch == '[') {
        if (depth >= NESTING_LIMIT) return false;
        char close = ch == '{' ? '}' : ']';
        c->p++;
        skip_ws(c);
        if (c->p < c->end && *c->p == close) {
            c->p++;
            return true;
        }
        for (;;) {
            if (ch == '{') {
                skip_ws(c);
                if (c->p >= c->end || *c->p != '"' || !string(c)) return false;
                skip_ws(c);
                if (c->p >= c->end || *c->p++ != ':') return false;
            }
            if (!value(c, depth + 1)) return false;
            skip_ws(c);
            if (c->p >= c->end) return false;
            if (*c->p == ',') {
                c->p++;
                continue;
            }
            if (*c->p++ != close) return false;
            return true;
        }
    }
    if (ch == 't') return literal(c, "true");
    if (ch == 'f') return literal(c, "false");
    if (ch == 'n') return literal(c, "null");
    return number(c);
}

bool lu__json_syntax_ok(const char *text, size_t len)
{
    cursor c = {text, text + len};
    if (!value(&c, 0)) return false;
    skip_ws(&c);
    /* cJSON_ParseWithLength stops at a NUL inside the buffer */
    return c.p == c.end || *c.p == '\0';
}

lu_status lu__json_parse_stored(const char *text, size_t len, const char *path, cJSON **out, lu_error *err)
{
    *out = cJSON_ParseWithLength(text, len);
    if (*out) return LU_OK;
    if (lu__json_syntax_ok(text, len)) return lu__fail(err, LU_MEM_ERROR, "out of memory parsing '%s'", path);
    const char *at = cJSON_GetErrorPtr();
    return lu__fail(err, LU_FORMAT_ERROR, "'%s': not valid JSON (near byte %td)", path,
                    at && at >= text && at <= text + len ? at - text : (ptrdiff_t)0);
}
