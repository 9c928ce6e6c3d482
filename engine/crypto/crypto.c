/* crypto.c -- SHA-256 and Ed25519 through OpenSSL 3's libcrypto (see
 * liveupdate/crypto.h), and the hex text of keys and signatures. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "internal.h"
#include "crypto_internal.h"
#include "liveupdate/crypto.h"

lu_status lu_crypto_init(lu_error *err)
{
    if (OPENSSL_init_crypto(0, NULL) != 1) return lu__fail(err, LU_UNKNOWN, "libcrypto failed to initialise");
    return LU_OK;
}

static void to_hex(char *out, const unsigned char *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Exactly 2*n hex digits (either case) into n bytes; false otherwise. */
static bool from_hex(unsigned char *out, size_t n, const char *text, size_t len)
{
    if (len != 2 * n) return false;
    for (size_t i = 0; i < n; i++) {
        int hi = hex_digit(text[2 * i]), lo = hex_digit(text[2 * i + 1]);
        if (hi < 0 || lo < 0) return false;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return true;
}

/* SHA-256 goes through libcrypto (already loaded by libcurl): it uses the
 * CPU's SHA extensions, about 3x libsodium's portable code, which we used
 * before (docs/BENCHMARKS.md). */
lu__sha256 *lu__sha256_new(void)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(md);
        md = NULL;
    }
    return (lu__sha256 *)md;
}

void lu__sha256_reset(lu__sha256 *h)
{
    EVP_DigestInit_ex((EVP_MD_CTX *)h, EVP_sha256(), NULL);
}

void lu__sha256_update(lu__sha256 *h, const void *data, size_t len)
{
    EVP_DigestUpdate((EVP_MD_CTX *)h, data, len);
}

void lu__sha256_final_hex(lu__sha256 *h, char out[LU_SHA256_HEX])
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex((EVP_MD_CTX *)h, d, &n);
    to_hex(out, d, 32);
}

void lu__sha256_free(lu__sha256 *h)
{
    EVP_MD_CTX_free((EVP_MD_CTX *)h);
}

void lu_sha256_hex(const void *data, size_t len, char out[LU_SHA256_HEX])
{
    unsigned char d[32];
    EVP_Digest(data, len, d, NULL, EVP_sha256(), NULL);
    to_hex(out, d, sizeof d);
}

/* Streams a file through `fn`. */
static lu_status each_block(const char *path, void (*fn)(void *, const unsigned char *, size_t), void *ud,
                            uint64_t *size, lu_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return lu__fail(err, lu__errno_status(e) == LU_NOT_FOUND ? LU_NOT_FOUND : LU_IO_ERROR,
                        "cannot open '%s': %s", path, strerror(e));
    }
    static const size_t BLOCK = 1 << 16;
    unsigned char buf[1 << 16];
    uint64_t total = 0;
    lu_status st = LU_OK;
    for (;;) {
        ssize_t r = read(fd, buf, BLOCK);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int e = errno;
            st = lu__fail(err, LU_IO_ERROR, "cannot read '%s': %s", path, strerror(e));
            break;
        }
        if (r == 0) break;
        fn(ud, buf, (size_t)r);
        total += (uint64_t)r;
    }
    close(fd);
    if (size) *size = total;
    return st;
}

static void sha_update(void *ud, const unsigned char *p, size_t n)
{
    lu__sha256_update(ud, p, n);
}

lu_status lu_sha256_file(const char *path, char out[LU_SHA256_HEX], uint64_t *size, lu_error *err)
{
    lu__sha256 *h = lu__sha256_new();
    if (!h) return lu__fail(err, LU_MEM_ERROR, "out of memory hashing '%s'", path);
    lu_status st = each_block(path, sha_update, h, size, err);
    if (st == LU_OK) lu__sha256_final_hex(h, out);
    lu__sha256_free(h);
    return st;
}

lu_status lu_hex_file_read(const char *path, unsigned char *out, size_t bytes, lu_error *err)
{
    char text[300];
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        return lu__fail(err, lu__errno_status(e) == LU_NOT_FOUND ? LU_NOT_FOUND : LU_IO_ERROR,
                        "cannot open '%s': %s", path, strerror(e));
    }
    size_t n = fread(text, 1, sizeof text - 1, f);
    /* a longer file is not the value, whatever its first bytes are */
    bool longer = n == sizeof text - 1 && fgetc(f) != EOF;
    fclose(f);
    text[n] = '\0';
    while (n && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' ')) text[--n] = '\0';
    if (longer || !from_hex(out, bytes, text, n))
        return lu__fail(err, LU_FORMAT_ERROR, "'%s' must hold %zu hex characters", path, bytes * 2);
    return LU_OK;
}

lu_status lu_hex_file_write(const char *path, const unsigned char *data, size_t bytes, lu_error *err)
{
    char text[300];
    if (bytes * 2 + 2 > sizeof text) return lu__fail(err, LU_INVAL, "value too long for '%s'", path);
    to_hex(text, data, bytes);
    strcat(text, "\n");
    char dir[4096];
    const char *slash = strrchr(path, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
    if (slash == path) snprintf(dir, sizeof dir, "/");
    lu_env env = lu__default_env();
    return lu__fs_write_atomic(&env, dir, slash ? slash + 1 : path, text, strlen(text), err);
}

/* Plain Ed25519 over the file's bytes (not the streaming Ed25519ph
 * variant), so any Ed25519 tool can check a signature; files are read
 * whole for that. */
static lu_status read_whole(const lu_env *env, const char *path, unsigned char **data, size_t *len, lu_error *err)
{
    return lu__fs_read_all(env, path, (char **)data, len, err);
}

lu_status lu_public_key_parse(const char *hex_or_path, unsigned char out[32], lu_error *err)
{
    if (from_hex(out, 32, hex_or_path, strlen(hex_or_path))) return LU_OK;
    return lu_hex_file_read(hex_or_path, out, 32, err);
}

/* The checks libsodium's verify made beyond the Ed25519 equation, which
 * libcrypto's does not: a public key (or a signature's R) must be a
 * canonical encoding (y < p = 2^255 - 19) and not a point of small order.
 * With a small-order key, libcrypto accepts forged signatures of any
 * message (key 01 00..00, signature 01 00..00 00..00). The list is
 * libsodium's (ge25519_has_small_order): the sign bit is ignored. */
static bool weak_point(const unsigned char p[32])
{
    static const unsigned char small_order[][32] = {
        {0},                                                         /* 0 (order 4) */
        {1},                                                         /* 1 (order 1) */
        {0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0,
         0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05}, /* order 8 */
        {0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f,
         0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a}, /* order 8 */
    };
    for (size_t j = 0; j < sizeof small_order / sizeof small_order[0]; j++) {
        unsigned char diff = (unsigned char)((p[31] & 0x7f) ^ small_order[j][31]);
        for (int i = 0; i < 31; i++) diff |= (unsigned char)(p[i] ^ small_order[j][i]);
        if (!diff) return true;
    }
    /* y >= p: ed..ff ff..ff 7f and above, which also covers p-1 (order 2),
     * p and p+1; ec ff..ff 7f is p-1 itself */
    bool top = (p[31] & 0x7f) == 0x7f;
    for (int i = 1; top && i < 31; i++) top = p[i] == 0xff;
    return top && p[0] >= 0xec;
}

/* 1 when the signature verifies, 0 when it does not, -1 when libcrypto
 * could not allocate, -2 when the public key is weak (verifies nothing). */
static int ed25519_verify(const unsigned char sig[64], const unsigned char *data, size_t len,
                          const unsigned char public_key[32])
{
    if (weak_point(public_key)) return -2;
    if (weak_point(sig)) return 0;
    EVP_PKEY *key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, public_key, 32);
    EVP_MD_CTX *md = key ? EVP_MD_CTX_new() : NULL;
    int r = -1;
    if (md && EVP_DigestVerifyInit(md, NULL, NULL, NULL, key) == 1)
        r = EVP_DigestVerify(md, sig, 64, data, len) == 1;   /* 0 or <0: a bad signature or key */
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(key);
    return r;
}

lu_status lu_verify_file_signature(const char *path, const unsigned char public_key[32], lu_error *err)
{
    char sigpath[4200];
    if (snprintf(sigpath, sizeof sigpath, "%s.sig", path) >= (int)sizeof sigpath)
        return lu__fail(err, LU_INVAL, "path too long: '%s'", path);
    unsigned char sig[64];
    lu_error e2;
    lu_status st = lu_hex_file_read(sigpath, sig, sizeof sig, &e2);
    if (st != LU_OK)
        return lu__fail(err, LU_SIGNATURE_MISMATCH, "no valid signature for '%s': %s", path, e2.message);
    unsigned char *data;
    size_t len;
    lu_env env = lu__default_env();   /* no context here */
    LU_TRY(read_whole(&env, path, &data, &len, err));
    int ok = ed25519_verify(sig, data, len, public_key);
    lu__free(&env, data);
    if (ok == -2)
        return lu__fail(err, LU_SIGNATURE_MISMATCH,
                        "cannot verify '%s': the public key is a point of small order or not a canonical "
                        "encoding, which would accept forged signatures", path);
    if (ok < 0) return lu__fail(err, LU_MEM_ERROR, "out of memory verifying '%s'", path);
    if (!ok) return lu__fail(err, LU_SIGNATURE_MISMATCH, "'%s' does not match its signature '%s'", path, sigpath);
    return LU_OK;
}

/* The public key of a 32-byte seed into out; false when libcrypto could
 * not allocate. */
static bool public_of_seed(const unsigned char seed[32], unsigned char out[32])
{
    EVP_PKEY *key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
    size_t n = 32;
    bool ok = key && EVP_PKEY_get_raw_public_key(key, out, &n) == 1 && n == 32;
    EVP_PKEY_free(key);
    return ok;
}

lu_status lu_keypair_new(unsigned char public_key[32], unsigned char secret_key[64], lu_error *err)
{
    if (RAND_bytes(secret_key, 32) != 1) return lu__fail(err, LU_UNKNOWN, "libcrypto's random generator failed");
    if (!public_of_seed(secret_key, public_key)) {
        OPENSSL_cleanse(secret_key, 64);
        return lu__fail(err, LU_MEM_ERROR, "out of memory making a key pair");
    }
    memcpy(secret_key + 32, public_key, 32);
    return LU_OK;
}

/* LU_OK when the secret key's second half is its seed's public key. */
static lu_status check_secret(const unsigned char secret_key[64], const char *what, lu_error *err)
{
    unsigned char pk[32];
    if (!public_of_seed(secret_key, pk)) return lu__fail(err, LU_MEM_ERROR, "out of memory reading %s", what);
    if (memcmp(pk, secret_key + 32, 32) != 0)
        return lu__fail(err, LU_FORMAT_ERROR,
                        "%s is not a matching Ed25519 key pair: its last 64 hex characters are not the public "
                        "key of its first 64 (a damaged or edited file? lutool keygen makes a new pair)",
                        what);
    return LU_OK;
}

lu_status lu_secret_key_read(const char *path, unsigned char out[64], lu_error *err)
{
    char what[4200];
    snprintf(what, sizeof what, "'%s'", path);
    lu_status st = lu_hex_file_read(path, out, 64, err);
    if (st == LU_OK) st = check_secret(out, what, err);
    if (st != LU_OK) OPENSSL_cleanse(out, 64);
    return st;
}

lu_status lu_sign_file(const char *path, const unsigned char secret_key[64], lu_error *err)
{
    char sigpath[4200];
    if (snprintf(sigpath, sizeof sigpath, "%s.sig", path) >= (int)sizeof sigpath)
        return lu__fail(err, LU_INVAL, "path too long: '%s'", path);
    LU_TRY(check_secret(secret_key, "the secret key", err));
    unsigned char *data;
    size_t len;
    lu_env env = lu__default_env();   /* no context here */
    LU_TRY(read_whole(&env, path, &data, &len, err));
    unsigned char sig[64];
    size_t siglen = sizeof sig;
    EVP_PKEY *key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, secret_key, 32);
    EVP_MD_CTX *md = key ? EVP_MD_CTX_new() : NULL;
    bool ok = md && EVP_DigestSignInit(md, NULL, NULL, NULL, key) == 1 &&
              EVP_DigestSign(md, sig, &siglen, data, len) == 1 && siglen == sizeof sig;
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(key);
    lu__free(&env, data);
    if (!ok) return lu__fail(err, LU_MEM_ERROR, "out of memory signing '%s'", path);
    return lu_hex_file_write(sigpath, sig, sizeof sig, err);
}
