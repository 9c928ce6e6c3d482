/* test_archives.c -- the zip and dir backends on zips made three ways and on
 * the hostile set of SPEC §15 (cases described by the fixtures.json that
 * tests/fixtures/make_zips.py writes).
 */
#include <dirent.h>

#include <cjson/cJSON.h>

#include "helpers.h"

TestSuite(archives);

static cJSON *load_cases(void)
{
    char *text = th_read_file(th_path(th_fixtures(), "fixtures.json"), NULL);
    cr_assert_not_null(text, "fixtures.json missing: run tests/fixtures/make_zips.py");
    cJSON *root = cJSON_Parse(text);
    free(text);
    cr_assert_not_null(root);
    return cJSON_GetObjectItem(root, "cases");
}

static lu_context *open_ctx(const char *save, const cJSON *c)
{
    lu_config cfg;
    lu_config_init(&cfg);
    cfg.save_dir = save;
    const cJSON *max = c ? cJSON_GetObjectItem(c, "max_uncompressed") : NULL;
    if (max) cfg.max_uncompressed = (uint64_t)max->valuedouble;
    lu_context *ctx;
    lu_error err;
    cr_assert_eq(lu_context_open(&cfg, &ctx, &err), LU_OK, "%s", err.message);
    return ctx;
}

static lu_status mount(lu_context *ctx, const char *scheme, const char *path, lu_error *err)
{
    char uri[PATH_MAX + 8];
    snprintf(uri, sizeof uri, "%s:%s", scheme, path);
    return lu_mount_add(ctx, "vol", uri, 1, 0, err);
}

static const char *str(const cJSON *c, const char *k)
{
    const cJSON *v = cJSON_GetObjectItem(c, k);
    return v ? v->valuestring : NULL;
}

/* Every listed entry reads back byte for byte against tree/<path>. */
static void check_served(lu_context *ctx, const char *file, const cJSON *entries)
{
    char **paths;
    size_t n;
    lu_error err;
    cr_assert_eq(lu_list_paths(ctx, "/", NULL, &paths, &n, &err), LU_OK);
    cr_assert_eq(n, (size_t)cJSON_GetArraySize(entries), "%s: %zu entries listed", file, n);
    size_t i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, entries) {
        cr_assert_str_eq(paths[i], e->valuestring, "%s: entry %zu", file, i);
        size_t want_len;
        char *want = th_read_file(th_path(th_path(th_fixtures(), "tree"), e->valuestring + 1), &want_len);
        void *data;
        size_t size;
        cr_assert_eq(lu_read(ctx, e->valuestring, &data, &size, &err), LU_OK, "%s %s: %s", file,
                     e->valuestring, err.message);
        cr_assert_eq(size, want_len, "%s %s: size", file, e->valuestring);
        cr_assert(memcmp(data, want, size) == 0, "%s %s: content differs", file, e->valuestring);
        lu_free(ctx, data);
        free(want);
        i++;
    }
    lu_free(ctx, paths);
}

Test(archives, zips_from_infozip_python_and_ours_are_served)
{
    cJSON *cases = load_cases(), *c;
    int served = 0;
    cJSON_ArrayForEach(c, cases) {
        if (strcmp(str(c, "expect"), "serve") != 0) continue;
        char *save = th_tempdir();
        lu_context *ctx = open_ctx(save, c);
        lu_error err;
        const char *file = str(c, "file");
        cr_assert_eq(mount(ctx, "zip", th_path(th_fixtures(), file), &err), LU_OK, "%s: %s", file, err.message);
        check_served(ctx, file, cJSON_GetObjectItem(c, "entries"));
        lu_context_close(ctx);
        served++;
    }
    cr_assert_geq(served, 6);
}

Test(archives, our_own_zips_are_served)
{
    char *dir = th_tempdir(), *zp = th_path(dir, "ours.zip");
    lu_zip_writer *w;
    lu_error err;
    cr_assert_eq(lu_zip_writer_open(zp, &w, &err), LU_OK);
    const char *names[] = {"a.txt", "dir/b.txt", "dir/sub/c.bin", "big.txt"};
    for (int i = 0; i < 4; i++) {
        size_t len;
        char *data = th_read_file(th_path(th_path(th_fixtures(), "tree"), names[i]), &len);
        cr_assert_eq(lu_zip_writer_add(w, names[i], data, len, i == 1 ? 0 : 6, &err), LU_OK);
        free(data);
    }
    cr_assert_eq(lu_zip_writer_close(w, &err), LU_OK);
    lu_context *ctx = open_ctx(th_tempdir(), NULL);
    cr_assert_eq(mount(ctx, "zip", zp, &err), LU_OK, "%s", err.message);
    cJSON *entries = cJSON_CreateArray();
    const char *sorted[] = {"/a.txt", "/big.txt", "/dir/b.txt", "/dir/sub/c.bin"};
    for (int i = 0; i < 4; i++) cJSON_AddItemToArray(entries, cJSON_CreateString(sorted[i]));
    check_served(ctx, "ours.zip", entries);
    lu_context_close(ctx);
    /* reproducible: the same entries give the same bytes */
    char *zp2 = th_path(dir, "again.zip");
    th_make_zip(zp, (const char *[]){"x", "1", "y/z", "2", NULL});
    th_make_zip(zp2, (const char *[]){"x", "1", "y/z", "2", NULL});
    size_t l1, l2;
    char *b1 = th_read_file(zp, &l1), *b2 = th_read_file(zp2, &l2);
    cr_assert(l1 == l2 && memcmp(b1, b2, l1) == 0, "lu_zip_writer output is byte-identical");
}

Test(archives, directory_volumes_serve_the_same_bytes)
{
    cJSON *cases = load_cases(), *c;
    const cJSON *entries = NULL;
    cJSON_ArrayForEach(c, cases) if (strcmp(str(c, "expect"), "serve") == 0) entries = cJSON_GetObjectItem(c, "entries");
    lu_context *ctx = open_ctx(th_tempdir(), NULL);
    lu_error err;
    cr_assert_eq(mount(ctx, "dir", th_path(th_fixtures(), "tree"), &err), LU_OK, "%s", err.message);
    check_served(ctx, "tree/", entries);
    lu_context_close(ctx);
}

Test(archives, large_and_empty_zips)
{
    cJSON *cases = load_cases(), *c;
    cJSON_ArrayForEach(c, cases) {
        if (strcmp(str(c, "expect"), "serve_count") != 0) continue;
        const char *file = str(c, "file");
        lu_context *ctx = open_ctx(th_tempdir(), c);
        lu_error err;
        cr_assert_eq(mount(ctx, "zip", th_path(th_fixtures(), file), &err), LU_OK, "%s: %s", file, err.message);
        lu_mount_info *m;
        size_t n;
        lu_mounts_get(ctx, &m, &n, &err);
        cr_assert_eq(m[0].entries, (size_t)cJSON_GetObjectItem(c, "count")->valueint, "%s", file);
        lu_free(ctx, m);
        if (str(c, "probe")) {
            char *got = th_read(ctx, str(c, "probe"));
            cr_assert_str_eq(got, str(c, "probe_content"), "%s", file);
        }
        lu_context_close(ctx);
    }
}

/* Names of the regular files below dir (one level), to see nothing new appears. */
static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *de; d && (de = readdir(d));) n += de->d_name[0] != '.';
    if (d) closedir(d);
    return n;
}

Test(archives, hostile_archives_are_rejected_with_the_entry_named)
{
    cJSON *cases = load_cases(), *c;
    int rejected = 0;
    int fixtures_before = count_files(th_fixtures());
    cJSON_ArrayForEach(c, cases) {
        if (strcmp(str(c, "expect"), "reject") != 0) continue;
        const char *file = str(c, "file");
        char *save = th_tempdir();
        lu_context *ctx = open_ctx(save, c);
        lu_error err;
        size_t before = th_mount_count(ctx);
        lu_status st = mount(ctx, "zip", th_path(th_fixtures(), file), &err);
        cr_assert_str_eq(lu_status_name(st), str(c, "status"), "%s: got %s: %s", file, lu_status_name(st), err.message);
        cr_assert(strstr(err.message, str(c, "message_contains")), "%s: message '%s' should name '%s'", file,
                  err.message, str(c, "message_contains"));
        cr_assert(strstr(err.message, "vol"), "%s: message names the mount: %s", file, err.message);
        cr_assert_eq(th_mount_count(ctx), before, "%s: table unchanged", file);
        cr_assert_not(th_exists(th_path(save, "liveupdate.mounts")), "%s: nothing persisted", file);
        lu_context_close(ctx);
        rejected++;
    }
    cr_assert_eq(count_files(th_fixtures()), fixtures_before, "nothing was extracted next to the fixtures");
    cr_assert_not(th_exists("/tmp/evil.txt"));
    cr_assert_geq(rejected, 15);
}

Test(archives, corrupt_entries_fail_on_read_and_name_the_entry)
{
    cJSON *cases = load_cases(), *c;
    cJSON_ArrayForEach(c, cases) {
        if (strcmp(str(c, "expect"), "read_error") != 0) continue;
        const char *file = str(c, "file"), *entry = str(c, "entry");
        lu_context *ctx = open_ctx(th_tempdir(), c);
        lu_error err;
        cr_assert_eq(mount(ctx, "zip", th_path(th_fixtures(), file), &err), LU_OK, "%s: %s", file, err.message);
        void *data = (void *)1;
        size_t size;
        lu_status st = lu_read(ctx, entry, &data, &size, &err);
        cr_assert_str_eq(lu_status_name(st), str(c, "status"), "%s: %s", file, err.message);
        cr_assert_null(data, "%s: no buffer on failure", file);
        cr_assert(strstr(err.message, str(c, "message_contains")), "%s: '%s'", file, err.message);
        cr_assert(strstr(err.message, entry + 1), "%s: names the entry: '%s'", file, err.message);
        lu_context_close(ctx);
    }
}

Test(archives, directory_volume_rules)
{
    char *d = th_tempdir();
    char *sub = th_path(d, "s");
    mkdir(sub, 0755);
    th_write_file(th_path(sub, "f.txt"), "12345", 5);
    cr_assert_eq(symlink("/etc/passwd", th_path(d, "link")), 0);
    lu_context *ctx = open_ctx(th_tempdir(), NULL);
    lu_error err;
    cr_assert_eq(mount(ctx, "dir", d, &err), LU_OK, "%s", err.message);
    cr_assert_not(lu_exists(ctx, "/link"), "symlinks are not followed");
    cr_assert_str_eq(th_read(ctx, "/s/f.txt"), "12345");
    th_write_file(th_path(sub, "f.txt"), "1234567", 7);
    void *data;
    size_t size;
    cr_assert_eq(lu_read(ctx, "/s/f.txt", &data, &size, &err), LU_FORMAT_ERROR);
    cr_assert(strstr(err.message, "changed size"), "%s", err.message);
    lu_context_close(ctx);
}
