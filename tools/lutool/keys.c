/* keys.c -- `lutool keygen` and `lutool sign` (Ed25519 through libcrypto).
 *
 *   lutool keygen -o <prefix> [--force]  writes <prefix>.pub and <prefix>.sec (hex)
 *   lutool sign <file> --key <sec>   writes <file>.sig (hex detached signature)
 *
 * Formats: liveupdate/crypto.h. The secret key file is created mode 0600.
 * keygen never replaces an existing key file without --force: a lost
 * secret key cannot sign updates for the games already shipped with its
 * public key.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "liveupdate/crypto.h"
#include "lutool.h"

static void keygen_usage(FILE *f)
{
    fprintf(f, "usage: lutool keygen -o <prefix> [--force]\nWrites an Ed25519 key pair: <prefix>.pub (give it to the game:\n"
               "[liveupdate] public_key) and <prefix>.sec (keep it secret; lutool bundle --sign), creating\n"
               "<prefix>'s folder if missing. An existing key file is kept (exit 1) unless --force.\n");
}

/* Creates the folder of `prefix` if missing, then refuses (1, naming the
 * file) when one of the key files exists and `force` is not given. */
static int keygen_check(const char *prefix, const char *pub, const char *sec, bool force)
{
    const char *slash = strrchr(prefix, '/');
    if (slash && slash != prefix) {
        char dir[4200];
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - prefix), prefix);
        if (lutool_mkdir_p("keygen", dir)) return 1;
    }
    struct stat st;
    const char *files[] = {sec, pub};
    for (size_t i = 0; !force && i < 2; i++)
        if (lstat(files[i], &st) == 0) {
            fprintf(stderr, "lutool keygen: '%s' exists: not replacing a key (--force replaces it)\n", files[i]);
            return 1;
        }
    return 0;
}

int lutool_keygen(int argc, char **argv)
{
    const char *prefix = NULL;
    bool force = false;
    const luopt opts[] = {LUOPT_STR("-o", &prefix), LUOPT_BOOL("--force", &force)};
    const luopt_cmd cmd = {"lutool", "lutool keygen", keygen_usage, opts, 2, NULL, 0, NULL};
    int status = luopt_parse(&cmd, argc, argv);
    if (status != LUOPT_RUN) return status;
    if (!prefix) return luopt_usage_error("lutool keygen", "missing -o <prefix>");
    char pub[4200], sec[4200];
    if (snprintf(pub, sizeof pub, "%s.pub", prefix) >= (int)sizeof pub ||
        snprintf(sec, sizeof sec, "%s.sec", prefix) >= (int)sizeof sec)
        return fprintf(stderr, "lutool keygen: path too long: '%s'\n", prefix), 1;
    if (keygen_check(prefix, pub, sec, force)) return 1;
    lu_error err;
    if (lu_crypto_init(&err) != LU_OK) {
        fprintf(stderr, "lutool keygen: %s\n", err.message);
        return 1;
    }
    unsigned char pk[32], sk[64];
    if (lu_keypair_new(pk, sk, &err) != LU_OK) {
        fprintf(stderr, "lutool keygen: %s\n", err.message);
        return 1;
    }
    mode_t old = umask(077);
    lu_status st = lu_hex_file_write(sec, sk, sizeof sk, &err);
    umask(old);
    OPENSSL_cleanse(sk, sizeof sk);
    if (st == LU_OK) st = lu_hex_file_write(pub, pk, sizeof pk, &err);
    if (st != LU_OK) {
        fprintf(stderr, "lutool keygen: %s\n", err.message);
        return 1;
    }
    printf("keygen: public key %s, secret key %s\n", pub, sec);
    return 0;
}

static void sign_usage(FILE *f)
{
    fprintf(f, "usage: lutool sign <file> --key <secret-key>\nWrites <file>.sig, an Ed25519 signature of the file's bytes.\n");
}

int lutool_sign(int argc, char **argv)
{
    const char *file = NULL, *key = NULL;
    const luopt opts[] = {LUOPT_STR("--key", &key)};
    const luopt_cmd cmd = {"lutool", "lutool sign", sign_usage, opts, 1, &file, 1, NULL};
    int status = luopt_parse(&cmd, argc, argv);
    if (status != LUOPT_RUN) return status;
    if (!file) return luopt_usage_error("lutool sign", "missing <file>");
    if (!key) return luopt_usage_error("lutool sign", "missing --key <secret-key>");
    unsigned char sk[64];
    lu_error err;
    if (lu_crypto_init(&err) != LU_OK || lu_secret_key_read(key, sk, &err) != LU_OK ||
        lu_sign_file(file, sk, &err) != LU_OK) {
        OPENSSL_cleanse(sk, sizeof sk);
        fprintf(stderr, "lutool sign: %s\n", err.message);
        return 1;
    }
    OPENSSL_cleanse(sk, sizeof sk);
    printf("sign: %s.sig\n", file);
    return 0;
}
