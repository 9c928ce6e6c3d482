/* crypto_internal.h -- what the crypto leaf gives the layers above the core
 * beyond its public header (never installed): streaming SHA-256, which the
 * downloader feeds while bytes arrive.
 */
#ifndef LU_CRYPTO_INTERNAL_H
#define LU_CRYPTO_INTERNAL_H

#include <stddef.h>

typedef struct lu__sha256 lu__sha256;
lu__sha256 *lu__sha256_new(void);          /* NULL when out of memory */
void lu__sha256_reset(lu__sha256 *h);
void lu__sha256_update(lu__sha256 *h, const void *data, size_t len);
void lu__sha256_final_hex(lu__sha256 *h, char out[65]);
void lu__sha256_free(lu__sha256 *h);       /* accepts NULL */

#endif
