/* test_signature_file.c -- hex key and signature files (liveupdate/crypto.h)
 * are exactly their hex text: found by the signature fuzz target. */
#include "helpers.h"
#include "liveupdate/crypto.h"

/* lu_hex_file_read looked at the first 299 bytes only: a signature padded
 * with spaces up to there passed whatever came after. */
Test(signature_file, bytes_beyond_the_read_window_are_refused)
{
    char *dir = th_tempdir(), *path = th_path(dir, "v.zip.sig");
    char text[400];
    memset(text, 'a', 128);
    memset(text + 128, ' ', 171);
    strcpy(text + 299, "anything at all\n");
    unsigned char sig[64];
    lu_error err;
    th_write_file(path, text, 128);
    cr_assert_eq(lu_hex_file_read(path, sig, 64, &err), LU_OK, "%s", err.message);
    th_write_file(path, text, 299);
    cr_expect_eq(lu_hex_file_read(path, sig, 64, &err), LU_OK, "trailing spaces are fine: %s", err.message);
    th_write_file(path, text, strlen(text));
    cr_expect_eq(lu_hex_file_read(path, sig, 64, &err), LU_FORMAT_ERROR);
    cr_expect(strstr(err.message, "v.zip.sig") != NULL, "%s", err.message);
}
