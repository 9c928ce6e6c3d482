/* fuzz_download_meta.c -- bytes as a download's sidecar,
 * <save>/downloads/<file>.part.json: whether a .part is resumed, and the
 * validators that then go into the If-Range request header (download.c).
 * Asked for the request the seeds were written for, for one without a
 * SHA-256 or size, and for another URL. Aborts when a resume is allowed
 * without a validator, or with one that does not fit or could break the
 * request header (control bytes), or when a delta's sidecar (whose
 * "delta" names the old file and the tail's start) is resumed as a whole
 * download's or names a tail start outside the file. */
#include "fuzz.h"
#include "../../engine/net/net_internal.h"

static const struct {
    const char *url, *sha256;
    uint64_t size;
} asks[] = {
    {"http://127.0.0.1:8080/level2.zip", "0f343b0931126a20f133d67c2b018a3b5e5b3a2d5b6a8e2c3f0e7d7a5b2c1d4e", 1876},
    {"http://127.0.0.1:8080/level2.zip", NULL, 0},
    {"file:///tmp/other.zip", "", 100000},
};

static void check_safe(const char *s, size_t cap)
{
    if (strlen(s) >= cap) abort();
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (size_t i = 0; i < sizeof asks / sizeof asks[0]; i++) {
        char etag[LU__ETAG_CAP] = "", lm[LU__LAST_MODIFIED_CAP] = "";
        if (!lu__download_sidecar_resumes((const char *)data, size, asks[i].url, asks[i].sha256, asks[i].size, etag, lm))
            continue;
        if (!etag[0] && !lm[0]) abort();
        check_safe(etag, sizeof etag);
        check_safe(lm, sizeof lm);
    }
    /* an interrupted delta's sidecar: never a whole download's too, and
     * its tail start inside the file */
    for (size_t i = 0; i < sizeof asks / sizeof asks[0]; i++) {
        char etag[LU__ETAG_CAP] = "", lm[LU__LAST_MODIFIED_CAP] = "";
        uint64_t tail_from = 0;
        if (!lu__download_sidecar_delta((const char *)data, size, asks[i].url, asks[i].sha256, asks[i].size,
                                        "2049:131:20502150:1796175235.868892765", &tail_from, etag, lm))
            continue;
        if (!etag[0] && !lm[0]) abort();
        if (tail_from == 0 || tail_from >= asks[i].size) abort();
        check_safe(etag, sizeof etag);
        check_safe(lm, sizeof lm);
        if (lu__download_sidecar_resumes((const char *)data, size, asks[i].url, asks[i].sha256, asks[i].size, etag,
                                         lm))
            abort();
    }
    return 0;
}
