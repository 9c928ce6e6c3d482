/* fuzz_signature.c -- bytes as a volume's detached signature file,
 * <volume>.sig (downloaded next to the volume, or left in the save
 * directory), checked against a fixed volume and key; and the same bytes
 * as a public key file (lutool keygen's .pub, [liveupdate] public_key).
 * Aborts when a file is accepted that is not exactly the hex text it must
 * be (with trailing spaces and line ends), or when a signature other than
 * the volume's own verifies. */
#include <ctype.h>
#include <stdbool.h>
#include <openssl/evp.h>

#include "fuzz.h"
#include "liveupdate/crypto.h"
#include "liveupdate/liveupdate.h"

static unsigned char pk[32], sk[64], want[64];
static char volume[300], sig[320], key[300];
static const char content[] = "the volume's bytes";

/* True when the file is exactly 2*bytes hex digits, then spaces/CR/LF. */
static bool exact_hex(const uint8_t *d, size_t n, size_t bytes)
{
    while (n && (d[n - 1] == '\n' || d[n - 1] == '\r' || d[n - 1] == ' ')) n--;
    if (n != bytes * 2) return false;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit(d[i])) return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lu_error err;
    if (!volume[0]) {
        unsigned char seed[32] = {1, 2, 3};
        size_t n = 32;
        EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
        if (!k || EVP_PKEY_get_raw_public_key(k, pk, &n) != 1) abort();
        EVP_PKEY_free(k);
        memcpy(sk, seed, 32);
        memcpy(sk + 32, pk, 32);
        snprintf(volume, sizeof volume, "%s/v.zip", fuzz_dir());
        snprintf(sig, sizeof sig, "%s.sig", volume);
        snprintf(key, sizeof key, "%s/key.pub", fuzz_dir());
        fuzz_write(volume, (const uint8_t *)content, sizeof content - 1);
        if (lu_sign_file(volume, sk, &err) != LU_OK || lu_hex_file_read(sig, want, 64, &err) != LU_OK) abort();
    }
    fuzz_write(sig, data, size);
    unsigned char got[64];
    lu_status st = lu_verify_file_signature(volume, pk, &err);
    if (st == LU_OK) {
        if (!exact_hex(data, size, 64) || lu_hex_file_read(sig, got, 64, &err) != LU_OK) abort();
        /* Ed25519 signatures are not unique in general, but libcrypto
         * refuses a non-canonical S and lu_verify_file_signature a
         * non-canonical or small-order R: only the volume's own passes */
        if (memcmp(got, want, 64) != 0) abort();
    } else if (st != LU_SIGNATURE_MISMATCH || !err.message[0]) {
        abort();
    }
    fuzz_write(key, data, size);
    unsigned char k[32];
    st = lu_public_key_parse(key, k, &err);
    if ((st == LU_OK) != exact_hex(data, size, 32)) abort();
    if (st != LU_OK && st != LU_FORMAT_ERROR) abort();
    return 0;
}
