/* crypto.c -- SHA-256 and Ed25519 through libsodium (see liveupdate/crypto.h). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "internal.h"
#include "crypto_internal.h"
#include "liveupdate/crypto.h"

lu_status lu_crypto_init(lu_error *err)
{
    if (sodium_init() < 0) return lu__fail(err, LU_UNKNOWN, "libsodium failed to initialise");
    return LU_OK;
}

/* SHA-256 goes through OpenSSL's libcrypto (already loaded by libcurl):
 * it uses the CPU's SHA extensions, about 3x libsodium's portable code
 * (docs/BENCHMARKS.md). Ed25519 stays with libsodium. */
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
    sodium_bin2hex(out, LU_SHA256_HEX, d, 32);
}

void lu__sha256_free(lu__sha256 *h)
{
    EVP_MD_CTX_free((EVP_MD_CTX *)h);
}

void lu_sha256_hex(const void *data, size_t len, char out[LU_SHA256_HEX])
{
    unsigned char d[32];
    EVP_Digest(data, len, d, NULL, EVP_sha256(), NULL);
    sodium_bin2hex(out, LU_SHA256_HEX, d, sizeof d);
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
    size_t got = 0;
    if (longer || n != bytes * 2 || sodium_hex2bin(out, bytes, text, n, NULL, &got, NULL) != 0 || got != bytes)
        return lu__fail(err, LU_FORMAT_ERROR, "'%s' must hold %zu hex characters", path, bytes * 2);
    return LU_OK;
}

lu_status lu_hex_file_write(const char *path, const unsigned char *data, size_t bytes, lu_error *err)
{
    char text[300];
    if (bytes * 2 + 2 > sizeof text) return lu__fail(err, LU_INVAL, "value too long for '%s'", path);
    sodium_bin2hex(text, sizeof text, data, bytes);
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
    size_t n = strlen(hex_or_path), used = 0;
    bool hex = n == 64;
    for (size_t i = 0; hex && i < n; i++) hex = isxdigit((unsigned char)hex_or_path[i]) != 0;
    if (hex && sodium_hex2bin(out, 32, hex_or_path, n, NULL, &used, NULL) == 0 && used == 32) return LU_OK;
    return lu_hex_file_read(hex_or_path, out, 32, err);
}

lu_status lu_verify_file_signature(const char *path, const unsigned char public_key[32], lu_error *err)
{
    char sigpath[4200];
    if (snprintf(sigpath, sizeof sigpath, "%s.sig", path) >= (int)sizeof sigpath)
        return lu__fail(err, LU_INVAL, "path too long: '%s'", path);
    unsigned char sig[crypto_sign_BYTES];
    lu_error e2;
    lu_status st = lu_hex_file_read(sigpath, sig, sizeof sig, &e2);
    if (st != LU_OK)
        return lu__fail(err, LU_SIGNATURE_MISMATCH, "no valid signature for '%s': %s", path, e2.message);
    unsigned char *data;
    size_t len;
    lu_env env = lu__default_env();   /* no context here */
    LU_TRY(read_whole(&env, path, &data, &len, err));
    int bad = crypto_sign_verify_detached(sig, data, len, public_key);
    lu__free(&env, data);
    if (bad) return lu__fail(err, LU_SIGNATURE_MISMATCH, "'%s' does not match its signature '%s'", path, sigpath);
    return LU_OK;
}

lu_status lu_sign_file(const char *path, const unsigned char secret_key[64], lu_error *err)
{
    char sigpath[4200];
    if (snprintf(sigpath, sizeof sigpath, "%s.sig", path) >= (int)sizeof sigpath)
        return lu__fail(err, LU_INVAL, "path too long: '%s'", path);
    unsigned char *data;
    size_t len;
    lu_env env = lu__default_env();   /* no context here */
    LU_TRY(read_whole(&env, path, &data, &len, err));
    unsigned char sig[crypto_sign_BYTES];
    crypto_sign_detached(sig, NULL, data, len, secret_key);
    lu__free(&env, data);
    return lu_hex_file_write(sigpath, sig, sizeof sig, err);
}
