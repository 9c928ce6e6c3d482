/* test_ed25519.c -- Ed25519 through libcrypto (liveupdate/crypto.h) gives
 * the signatures libsodium gave: RFC 8032's vectors, a signature libsodium
 * 1.0.18 made before the switch, key files keygen wrote then; and keeps
 * libsodium's refusals (small-order and non-canonical keys). */
#include "helpers.h"
#include "liveupdate/crypto.h"

static void unhex(unsigned char *out, size_t n, const char *hex)
{
    cr_assert_eq(strlen(hex), 2 * n, "test vector length");
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (unsigned char)v;
    }
}

/* Writes `msg` (n bytes) to dir/name and returns the path. */
static char *message_file(const char *dir, const char *name, const void *msg, size_t n)
{
    char *path = th_path(dir, name);
    th_write_file(path, msg, n);
    return path;
}

/* Signs `path` with seed||pk and expects "<path>.sig" to be `want_hex`
 * plus a newline, then verifies it with pk. */
static void expect_signature(const char *path, const char *seed_hex, const char *pk_hex, const char *want_hex)
{
    unsigned char sk[64], pk[32];
    unhex(sk, 32, seed_hex);
    unhex(pk, 32, pk_hex);
    memcpy(sk + 32, pk, 32);
    lu_error err;
    cr_assert_eq(lu_sign_file(path, sk, &err), LU_OK, "%s", err.message);
    char sigpath[4200];
    snprintf(sigpath, sizeof sigpath, "%s.sig", path);
    char *got = th_read_file(sigpath, NULL), want[140];
    snprintf(want, sizeof want, "%s\n", want_hex);
    cr_expect_str_eq(got, want, "signature of %s", path);
    cr_expect_eq(lu_verify_file_signature(path, pk, &err), LU_OK, "%s", err.message);
}

/* RFC 8032 section 7.1, TEST 1-3 (the message of TEST 1 is empty). */
Test(ed25519, rfc8032_test_vectors)
{
    char *dir = th_tempdir();
    unsigned char m2[1] = {0x72}, m3[2] = {0xaf, 0x82};
    expect_signature(message_file(dir, "t1", "", 0),
                     "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
                     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
                     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
                     "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
    expect_signature(message_file(dir, "t2", m2, sizeof m2),
                     "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
                     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
                     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
                     "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00");
    expect_signature(message_file(dir, "t3", m3, sizeof m3),
                     "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
                     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
                     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
                     "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a");
}

/* Made with libsodium 1.0.18 (crypto_sign_seed_keypair with the seed
 * a0 a1 .. bf, crypto_sign_detached over the message) before liveupdate
 * moved to libcrypto: the same key signs the same bytes identically, and
 * the secret key file as that version's keygen wrote it still signs. */
static const char legacy_sec[] = "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
                                 "4fd099ccd47d7893dfe9ec24414ecb0d9b5420232aad30d91c465be33cbe65c4\n";
static const char legacy_pub[] = "4fd099ccd47d7893dfe9ec24414ecb0d9b5420232aad30d91c465be33cbe65c4";
static const char legacy_msg[] = "liveupdate: a volume signed with libsodium 1.0.18 before the switch to libcrypto\n";
static const char legacy_sig[] = "64e645406d64ab6ec7743424b5ca1d8766c5ae52ab4277dc62f240fdb6b9e4a3"
                                 "dc06f04514137618b74e539bb2a3823a209ee51c74bd95ced759761997161701";

Test(ed25519, signatures_are_libsodiums)
{
    char *dir = th_tempdir(), *path = message_file(dir, "volume.zip", legacy_msg, strlen(legacy_msg));
    expect_signature(path, "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf", legacy_pub, legacy_sig);
    /* a signature libsodium wrote verifies, one flipped bit does not */
    char *sigpath = th_path(dir, "volume.zip.sig"), text[140];
    snprintf(text, sizeof text, "%s\n", legacy_sig);
    th_write_file(sigpath, text, strlen(text));
    unsigned char pk[32];
    lu_error err;
    cr_assert_eq(lu_public_key_parse(legacy_pub, pk, &err), LU_OK, "%s", err.message);
    cr_expect_eq(lu_verify_file_signature(path, pk, &err), LU_OK, "%s", err.message);
    text[127] = text[127] == '0' ? '1' : '0';
    th_write_file(sigpath, text, strlen(text));
    cr_expect_eq(lu_verify_file_signature(path, pk, &err), LU_SIGNATURE_MISMATCH);
}

Test(ed25519, secret_key_files_keygen_wrote_before_still_sign)
{
    char *dir = th_tempdir(), *key = th_path(dir, "old.sec");
    th_write_file(key, legacy_sec, strlen(legacy_sec));
    unsigned char sk[64];
    lu_error err;
    cr_assert_eq(lu_secret_key_read(key, sk, &err), LU_OK, "%s", err.message);
    char *path = message_file(dir, "volume.zip", legacy_msg, strlen(legacy_msg));
    cr_assert_eq(lu_sign_file(path, sk, &err), LU_OK, "%s", err.message);
    char want[140];
    snprintf(want, sizeof want, "%s\n", legacy_sig);
    cr_expect_str_eq(th_read_file(th_path(dir, "volume.zip.sig"), NULL), want);
}

/* A secret key whose public half is not its seed's would sign with one key
 * and claim another: refused, naming the file, and nothing is signed. */
Test(ed25519, a_secret_key_with_a_foreign_public_half_is_refused)
{
    char *dir = th_tempdir(), *key = th_path(dir, "mixed.sec");
    char text[160];
    strcpy(text, legacy_sec);
    text[64] = text[64] == '4' ? '5' : '4';   /* first digit of the public half */
    th_write_file(key, text, strlen(text));
    unsigned char sk[64];
    lu_error err;
    cr_expect_eq(lu_secret_key_read(key, sk, &err), LU_FORMAT_ERROR);
    cr_expect(strstr(err.message, "mixed.sec") && strstr(err.message, "public key"), "%s", err.message);
    unhex(sk, 64, "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
                  "5fd099ccd47d7893dfe9ec24414ecb0d9b5420232aad30d91c465be33cbe65c4");
    char *path = message_file(dir, "volume.zip", "x", 1);
    cr_expect_eq(lu_sign_file(path, sk, &err), LU_FORMAT_ERROR);
    cr_expect_not(th_exists(th_path(dir, "volume.zip.sig")), "nothing signed with a mismatched key");
}

/* libcrypto alone accepts, with the public key 01 00..00 (the identity, a
 * point of order 1), the signature R = identity, S = 0 for every message;
 * libsodium refused small-order and non-canonical keys, and so do we. */
Test(ed25519, small_order_and_non_canonical_keys_verify_nothing)
{
    char *dir = th_tempdir(), *path = message_file(dir, "volume.zip", "any bytes at all", 16);
    char sig[140];
    memset(sig, '0', 128);
    sig[1] = '1';
    strcpy(sig + 128, "\n");
    th_write_file(th_path(dir, "volume.zip.sig"), sig, strlen(sig));
    static const char *const weak[] = {
        "0100000000000000000000000000000000000000000000000000000000000000",   /* identity */
        "0100000000000000000000000000000000000000000000000000000000000080",   /* with the sign bit */
        "0000000000000000000000000000000000000000000000000000000000000000",   /* order 4 */
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",   /* order 8 */
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",   /* p - 1, order 2 */
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",   /* p + 1: 1, not canonical */
        "f0ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",   /* p + 3, not canonical */
    };
    for (size_t i = 0; i < sizeof weak / sizeof weak[0]; i++) {
        unsigned char pk[32];
        lu_error err;
        unhex(pk, 32, weak[i]);
        cr_expect_eq(lu_verify_file_signature(path, pk, &err), LU_SIGNATURE_MISMATCH, "key %s verified", weak[i]);
        cr_expect(strstr(err.message, "small order") != NULL, "%s", err.message);
    }
}

Test(ed25519, keypair_new_makes_pairs_that_sign_and_verify)
{
    unsigned char pk[32], sk[64], pk2[32], sk2[64];
    lu_error err;
    cr_assert_eq(lu_keypair_new(pk, sk, &err), LU_OK, "%s", err.message);
    cr_assert_eq(lu_keypair_new(pk2, sk2, &err), LU_OK, "%s", err.message);
    cr_expect_neq(memcmp(sk, sk2, 32), 0, "two seeds differ");
    cr_expect_eq(memcmp(sk + 32, pk, 32), 0, "the secret key ends with the public key");
    char *dir = th_tempdir(), *key = th_path(dir, "k.sec"), *path = message_file(dir, "v.zip", "abc", 3);
    cr_assert_eq(lu_hex_file_write(key, sk, 64, &err), LU_OK, "%s", err.message);
    unsigned char back[64];
    cr_assert_eq(lu_secret_key_read(key, back, &err), LU_OK, "%s", err.message);
    cr_assert_eq(lu_sign_file(path, back, &err), LU_OK, "%s", err.message);
    cr_expect_eq(lu_verify_file_signature(path, pk, &err), LU_OK, "%s", err.message);
    cr_expect_eq(lu_verify_file_signature(path, pk2, &err), LU_SIGNATURE_MISMATCH);
}
