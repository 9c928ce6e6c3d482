/* hash.h -- the string hash used by entry tables and the merged index.
 *
 * XXH3 (xxHash, header only: XXH_INLINE_ALL compiles it in, so no library
 * is linked) folded to 32 bits. Paths are short: XXH3 hashes a 14-byte path
 * about 2.6 times faster than byte-wise FNV-1a and a 100-byte one 10 times
 * faster. Inline: every lookup hashes its path, and a call costs a lookup
 * several nanoseconds. The merged index takes its directory bits from the
 * top of the hash and its in-bucket slot from the bottom, so both ends must
 * spread well (tests/unit/core/test_index.c checks it). Included by
 * internal.h only.
 */
#ifndef LU_CORE_HASH_H
#define LU_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

/* XXH3 of the `len` bytes at s, folded to 32 bits. */
static LU_ALWAYS_INLINE uint32_t lu__hash_path(const char *s, size_t len)
{
    uint64_t h = XXH3_64bits(s, len);
    return (uint32_t)(h ^ (h >> 32));
}

#endif
