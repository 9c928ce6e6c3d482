/* hash.c -- the string hash used by entry tables and the merged index.
 *
 * FNV-1a over 64 bits, folded to 32. Paths are short; what matters is a
 * good spread over the low bits, which index the open-addressing table.
 */
#include "internal.h"

uint32_t lu__hash_path(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    return (uint32_t)h;
}
