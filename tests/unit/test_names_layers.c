/* test_names_layers.c -- the layers above the core apply the core's one
 * plain-file-name rule: a name lu_volume_path accepts is one downloads and
 * the update manager's documents accept, and the other way round. */
#include "helpers.h"
#include "liveupdate/download.h"
#include "liveupdate/release.h"

#define SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static char *name_of_length(size_t n)
{
    char *s = malloc(n + 1);
    memset(s, 'n', n);
    s[n] = '\0';
    return TH_KEEP(s);
}

static void on_done(void *ud, int id, const char *path, const lu_error *err)
{
    (void)ud, (void)id, (void)path, (void)err;
}

Test(names_layers, downloads_accept_what_volume_path_accepts)
{
    lu_context *ctx = th_open(th_tempdir(), NULL);
    const char *names[] = {"levels.zip", ".hidden", "a/b.zip", "a\\b.zip", "", name_of_length(199),
                           name_of_length(LU_FILE_NAME_MAX), name_of_length(LU_FILE_NAME_MAX + 1), NULL};
    char buf[4096];
    lu_error err;
    for (int i = 0; names[i]; i++) {
        lu_status path_st = lu_volume_path(ctx, names[i], buf, sizeof buf, &err);
        lu_download_request req;
        lu_download_request_init(&req);
        req.url = "http://127.0.0.1:1/never";
        req.file = names[i];
        req.done = on_done;
        int id = 0;
        lu_status dl_st = lu_download_start(ctx, &req, &id, &err);
        cr_expect_eq(dl_st, path_st, "'%.20s' (%zu bytes): download %d, volume_path %d", names[i],
                     strlen(names[i]), dl_st, path_st);
        if (dl_st == LU_OK) lu_download_cancel(ctx, id, &err);
    }
    lu_context_close(ctx);
}

Test(names_layers, a_document_whose_stored_names_do_not_fit_is_refused_when_read)
{
    /* stored as "rel-<version>-<file>": 4 + 5 + 1 + 190 = 200 bytes fits, 201 does not */
    char doc[1024];
    lu_release *r;
    lu_error err;
    snprintf(doc, sizeof doc, "{\"version\": \"1.0.0\", \"volumes\": [{\"name\": \"v\", \"file\": \"%s\", \"size\": 1, \"sha256\": \"" SHA "\"}]}",
             name_of_length(190));
    cr_assert_eq(lu_release_parse(doc, strlen(doc), &r, &err), LU_OK, "%s", err.message);
    lu_release_free(r);
    snprintf(doc, sizeof doc, "{\"version\": \"1.0.0\", \"volumes\": [{\"name\": \"v\", \"file\": \"%s\", \"size\": 1, \"sha256\": \"" SHA "\"}]}",
             name_of_length(191));
    cr_expect_eq(lu_release_parse(doc, strlen(doc), &r, &err), LU_FORMAT_ERROR);
    cr_expect(strstr(err.message, "volume 'v'") && strstr(err.message, "plain file name"), "%s", err.message);
}
