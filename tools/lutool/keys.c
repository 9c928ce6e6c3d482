/* keys.c -- `lutool keygen` and `lutool sign` (Ed25519 through libcrypto).
 *
 *   lutool keygen -o <prefix>        writes <prefix>.pub and <prefix>.sec (hex)
 *   lutool sign <file> --key <sec>   writes <file>.sig (hex detached signature)
 *
 * Formats: liveupdate/crypto.h. The secret key file is created mode 0600.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "liveupdate/crypto.h"
#include "lutool.h"

int lutool_keygen(int argc, char **argv)
{
    const char *prefix = NULL;
    if (lutool_wants_help(argc, argv)) {
        printf("usage: lutool keygen -o <prefix>\nWrites an Ed25519 key pair: <prefix>.pub (give it to the game:\n"
               "[liveupdate] public_key) and <prefix>.sec (keep it secret; lutool bundle --sign).\n");
        return 0;
    }
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) prefix = argv[++i];
        else {
            fprintf(stderr, "lutool keygen: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!prefix) {
        fprintf(stderr, "usage: lutool keygen -o <prefix>\n");
        return 2;
    }
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
    char pub[4200], sec[4200];
    snprintf(pub, sizeof pub, "%s.pub", prefix);
    snprintf(sec, sizeof sec, "%s.sec", prefix);
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

int lutool_sign(int argc, char **argv)
{
    const char *file = NULL, *key = NULL;
    if (lutool_wants_help(argc, argv)) {
        printf("usage: lutool sign <file> --key <secret-key>\nWrites <file>.sig, an Ed25519 signature of the file's bytes.\n");
        return 0;
    }
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--key") == 0 && i + 1 < argc) key = argv[++i];
        else if (argv[i][0] != '-' && !file) file = argv[i];
        else {
            fprintf(stderr, "lutool sign: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!file || !key) {
        fprintf(stderr, "usage: lutool sign <file> --key <secret-key>\n");
        return 2;
    }
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
