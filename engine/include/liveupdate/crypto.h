/* crypto.h -- SHA-256 and Ed25519 as liveupdate uses them (OpenSSL 3's
 * libcrypto).
 *
 * Hashes travel as 64 lower-case hex characters. Keys and signatures are
 * hex text files: a public key is 64 hex characters (32 bytes), a secret
 * key 128 (64 bytes: the 32-byte seed, then the public key -- the form
 * libsodium uses, which made the keys of earlier versions), a detached
 * signature 128; a trailing newline is allowed. A signature file sits next
 * to what it signs, named "<file>.sig", and signs the file's exact bytes
 * (plain Ed25519, RFC 8032). Every function is safe to call from any thread.
 */
#ifndef LIVEUPDATE_CRYPTO_H
#define LIVEUPDATE_CRYPTO_H

#include "liveupdate/liveupdate.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LU_SHA256_HEX 65   /* 64 characters and a NUL */

/* Initialises libcrypto (idempotent, thread-safe). Returns LU_OK or
 * LU_UNKNOWN when the library cannot start. */
lu_status lu_crypto_init(lu_error *err);

/* Hex SHA-256 of a buffer. Never fails once lu_crypto_init succeeded. */
void lu_sha256_hex(const void *data, size_t len, char out[LU_SHA256_HEX]);

/* Hex SHA-256 of a file's contents, read in blocks. Returns LU_OK,
 * LU_NOT_FOUND, LU_IO_ERROR. *size (when non-NULL) gets the file size. */
lu_status lu_sha256_file(const char *path, char out[LU_SHA256_HEX], uint64_t *size, lu_error *err);

/* Reads a hex key or signature file of exactly `bytes` bytes into `out`.
 * LU_FORMAT_ERROR names the file when the text is not that. */
lu_status lu_hex_file_read(const char *path, unsigned char *out, size_t bytes, lu_error *err);

/* A public key given as 64 hex characters, or as the path of a key file
 * (lutool keygen's .pub). Returns LU_OK, LU_FORMAT_ERROR or LU_NOT_FOUND /
 * LU_IO_ERROR for an unreadable file; the message names the file. */
lu_status lu_public_key_parse(const char *hex_or_path, unsigned char out[32], lu_error *err);

/* Writes `bytes` bytes as hex plus a newline to `path` (crash-safe). */
lu_status lu_hex_file_write(const char *path, const unsigned char *data, size_t bytes, lu_error *err);

/* Verifies the detached Ed25519 signature in "<path>.sig" over the file
 * at `path` with the public key (32 bytes). A public key that is not a
 * canonical encoding or is a point of small order never verifies (as with
 * libsodium). Returns LU_OK, LU_SIGNATURE_MISMATCH (bad or missing
 * signature; the message says which), LU_IO_ERROR, LU_MEM_ERROR. */
lu_status lu_verify_file_signature(const char *path, const unsigned char public_key[32], lu_error *err);

/* Signs the file at `path` with the secret key (64 bytes) into "<path>.sig"
 * (crash-safe). The signature is deterministic: the same key and bytes
 * always give the same signature. Returns LU_OK; LU_FORMAT_ERROR when the
 * key's second half is not its seed's public key (nothing written);
 * LU_NOT_FOUND / LU_IO_ERROR for the file or the .sig; LU_MEM_ERROR. */
lu_status lu_sign_file(const char *path, const unsigned char secret_key[64], lu_error *err);

/* Reads a secret key file (128 hex characters, as lutool keygen writes)
 * into `out` and checks that its second half is the public key of its
 * seed. Returns LU_OK; LU_FORMAT_ERROR naming the file when the text is
 * not 128 hex characters or the halves do not belong together;
 * LU_NOT_FOUND / LU_IO_ERROR; LU_MEM_ERROR. On failure `out` is zeroed. */
lu_status lu_secret_key_read(const char *path, unsigned char out[64], lu_error *err);

/* A new key pair from libcrypto's random generator: the public key and
 * the 64-byte secret key (seed, then public key). Returns LU_OK,
 * LU_UNKNOWN (no randomness), LU_MEM_ERROR; on failure the secret key is
 * zeroed. The caller should wipe the secret key after use. */
lu_status lu_keypair_new(unsigned char public_key[32], unsigned char secret_key[64], lu_error *err);

#ifdef __cplusplus
}
#endif

#endif
