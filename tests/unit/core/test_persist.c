/* test_persist.c -- the mounts file, the lock and the start-up report (docs/FORMATS.md). */
#include <dirent.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include <cjson/cJSON.h>

#include "helpers.h"

static char *save, *vols;

static void setup(void)
{
    save = th_tempdir();
    vols = th_tempdir();
}

TestSuite(persist, .init = setup);

static char *zip_uri(const char *file, const char *content)
{
    char *p = th_path(vols, file);
    th_make_zip(p, (const char *[]){"x.txt", content, NULL});
    char *u = malloc(strlen(p) + 5);
    TH_KEEP(u);
    sprintf(u, "zip:%s", p);
    return u;
}

static char *mounts_file(void)
{
    return th_path(save, "liveupdate.mounts");
}

static lu_context *open_cfg(int mount_on_start, lu_error *err, lu_status expect)
{
    lu_config cfg;
    lu_config_init(&cfg);
    cfg.save_dir = save;
    cfg.mount_on_start = mount_on_start;
    lu_context *ctx = NULL;
    cr_assert_eq(lu_context_open(&cfg, &ctx, err), expect, "%s", err->message);
    return ctx;
}

Test(persist, mounts_survive_a_restart_in_order)
{
    lu_context *ctx = th_open(save, NULL);
    lu_error err;
    cr_assert_eq(lu_mount_add(ctx, "a", zip_uri("a.zip", "A"), 3, 0, &err), LU_OK);
    cr_assert_eq(lu_mount_add(ctx, "b", zip_uri("b.zip", "B"), 3, 0, &err), LU_OK);
    cr_assert_eq(lu_mount_add(ctx, "c", zip_uri("c.zip", "C"), 1, 0, &err), LU_OK);
    cr_assert_eq(lu_mount_add(ctx, "tmp", zip_uri("t.zip", "T"), 9, LU_MOUNT_NO_PERSIST, &err), LU_OK);
    lu_context_close(ctx);
    ctx = th_open(save, NULL);
    lu_mount_info *m;
    size_t n;
    cr_assert_eq(lu_mounts_get(ctx, &m, &n, &err), LU_OK);
    cr_assert_eq(n, 3, "the NO_PERSIST mount is not restored");
    cr_assert_str_eq(m[0].name, "b", "tie order survives: b was added after a");
    cr_assert_str_eq(m[1].name, "a");
    cr_assert_str_eq(m[2].name, "c");
    cr_assert_eq(m[2].priority, 1);
    lu_free(ctx, m);
    cr_assert_str_eq(th_read(ctx, "/x.txt"), "B");
    cr_assert_eq(lu_startup_report_count(ctx), 0);
    cr_assert_eq(lu_mount_remove(ctx, "b", &err), LU_OK);
    lu_context_close(ctx);
    ctx = th_open(save, NULL);
    cr_assert_str_eq(th_read(ctx, "/x.txt"), "A", "removal persisted");
    lu_context_close(ctx);
}

Test(persist, file_format_and_relative_paths)
{
    char *vdir = th_path(save, "volumes");
    mkdir(vdir, 0755);
    char *inside = th_path(vdir, "in.zip");
    th_make_zip(inside, (const char *[]){"x.txt", "in", NULL});
    char uri_abs[PATH_MAX];
    snprintf(uri_abs, sizeof uri_abs, "zip:%s", inside);
    lu_context *ctx = th_open(save, NULL);
    lu_error err;
    cr_assert_eq(lu_mount_add(ctx, "in", uri_abs, 2, 0, &err), LU_OK, "%s", err.message);
    char *outside = zip_uri("out.zip", "out");
    cr_assert_eq(lu_mount_add(ctx, "out", outside, 1, 0, &err), LU_OK);
    lu_context_close(ctx);
    char *text = th_read_file(mounts_file(), NULL);
    cJSON *root = cJSON_Parse(text);
    cr_assert_not_null(root, "mounts file is JSON: %s", text);
    cr_assert_eq(cJSON_GetObjectItem(root, "version")->valueint, 1);
    cJSON *arr = cJSON_GetObjectItem(root, "mounts");
    cr_assert_eq(cJSON_GetArraySize(arr), 2);
    cJSON *first = cJSON_GetArrayItem(arr, 0);
    cr_assert_str_eq(cJSON_GetObjectItem(first, "name")->valuestring, "in");
    cr_assert_str_eq(cJSON_GetObjectItem(first, "uri")->valuestring, "zip:volumes/in.zip",
                     "a volume inside the save dir is stored relative");
    cr_assert_eq(cJSON_GetObjectItem(first, "priority")->valueint, 2);
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 1), "uri")->valuestring, outside);
    cJSON_Delete(root);
    cr_assert_not(th_exists(th_path(save, "liveupdate.mounts.tmp")), "no temporary file left");
}

Test(persist, a_moved_save_dir_keeps_its_relative_mounts)
{
    char *vdir = th_path(save, "volumes");
    mkdir(vdir, 0755);
    th_make_zip(th_path(vdir, "v.zip"), (const char *[]){"x.txt", "moved", NULL});
    lu_context *ctx = th_open(save, NULL);
    lu_error err;
    cr_assert_eq(lu_mount_add(ctx, "v", "zip:volumes/v.zip", 1, 0, &err), LU_OK);
    lu_context_close(ctx);
    char *moved = th_path(vols, "moved-container");
    cr_assert_eq(rename(save, moved), 0);
    save = moved;
    ctx = th_open(save, NULL);
    cr_assert_str_eq(th_read(ctx, "/x.txt"), "moved");
    lu_context_close(ctx);
}

Test(persist, second_context_on_same_dir_is_locked)
{
    lu_context *ctx = th_open(save, NULL);
    lu_error err;
    lu_context *other = open_cfg(1, &err, LU_LOCKED);
    cr_assert_null(other);
    cr_assert(strstr(err.message, save), "message names the save dir: %s", err.message);
    lu_context_close(ctx);
    other = open_cfg(1, &err, LU_OK);
    lu_context_close(other);
}

Test(persist, lock_holds_across_processes)
{
    lu_context *ctx = th_open(save, NULL);
    pid_t pid = fork();
    if (pid == 0) {
        lu_config cfg;
        lu_config_init(&cfg);
        cfg.save_dir = save;
        lu_context *c = NULL;
        lu_error err;
        _exit(lu_context_open(&cfg, &c, &err) == LU_LOCKED ? 0 : 1);
    }
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child got LU_LOCKED");
    lu_context_close(ctx);
}

Test(persist, missing_volume_is_dropped_and_reported)
{
    lu_context *ctx = th_open(save, NULL);
    lu_error err;
    char *gone = zip_uri("gone.zip", "G");
    cr_assert_eq(lu_mount_add(ctx, "keep", zip_uri("keep.zip", "K"), 1, 0, &err), LU_OK);
    cr_assert_eq(lu_mount_add(ctx, "gone", gone, 2, 0, &err), LU_OK);
    lu_context_close(ctx);
    unlink(gone + 4);
    ctx = th_open(save, NULL);
    cr_assert_eq(th_mount_count(ctx), 1);
    cr_assert_str_eq(th_read(ctx, "/x.txt"), "K");
    cr_assert_eq(lu_startup_report_count(ctx), 1);
    lu_report_item it;
    cr_assert_eq(lu_startup_report_get(ctx, 0, &it), LU_OK);
    cr_assert_str_eq(it.name, "gone");
    cr_assert_str_eq(it.action, "dropped");
    cr_assert_eq(it.status, LU_NOT_FOUND);
    cr_assert(strstr(it.message, "gone.zip"), "%s", it.message);
    cr_assert_str_eq(it.uri, gone);
    cr_assert_eq(lu_startup_report_get(ctx, 1, &it), LU_INVAL);
    lu_context_close(ctx);
    char *text = th_read_file(mounts_file(), NULL);
    cr_assert_null(strstr(text, "gone"), "the dropped mount left the file: %s", text);
    cr_assert(strstr(text, "keep"), "%s", text);
}

/* Opens a context in a process allowed `limit` file descriptors. */
static lu_context *open_with_fd_limit(rlim_t limit)
{
    struct rlimit old, rl;
    getrlimit(RLIMIT_NOFILE, &old);
    rl = old;
    rl.rlim_cur = limit;
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    lu_context *ctx = NULL;
    lu_config cfg;
    lu_config_init(&cfg);
    cfg.save_dir = save;
    lu_error err;
    lu_status st = lu_context_open(&cfg, &ctx, &err);
    setrlimit(RLIMIT_NOFILE, &old);
    return st == LU_OK ? ctx : NULL;
}

/* Too many open files at start-up is no reason to forget a player's
 * downloads: the mount that could not open is kept in the file (reported
 * "kept") and comes back at the next start; removing it, or adding a
 * mount of its name, takes it out of the file. */
Test(persist, a_volume_that_fails_to_open_for_a_passing_reason_is_kept_for_the_next_start)
{
    lu_context *ctx = th_open(save, NULL);
    lu_error err;
    const char *names[] = {"v0", "v1", "v2", "v3", "v4", "v5"};
    for (int i = 0; i < 6; i++) {
        char file[16], text[12];
        snprintf(file, sizeof file, "%s.zip", names[i]);
        snprintf(text, sizeof text, "%d", i);
        cr_assert_eq(lu_mount_add(ctx, names[i], zip_uri(file, text), 10 + i, 0, &err), LU_OK);
    }
    lu_context_close(ctx);
    char *before = th_read_file(mounts_file(), NULL);
    /* the lowest descriptor limit at which the context opens with some
     * volumes but not all: those fail with EMFILE */
    int lowest = dup(0);
    close(lowest);
    size_t kept = 0;
    for (rlim_t limit = (rlim_t)lowest + 1; limit < (rlim_t)lowest + 40 && !kept; limit++) {
        ctx = open_with_fd_limit(limit);
        if (!ctx) continue;
        size_t n = th_mount_count(ctx);
        for (size_t i = 0; i < lu_startup_report_count(ctx); i++) {
            lu_report_item it;
            lu_startup_report_get(ctx, i, &it);
            cr_assert_str_eq(it.action, "kept", "%s: %s", it.name, it.message);
            cr_assert_eq(it.status, LU_IO_ERROR, "%s", it.message);
            cr_assert(strstr(it.message, "Too many open files") && strstr(it.message, "next start"), "%s",
                      it.message);
            kept++;
        }
        if (kept) {
            cr_assert_eq(n + kept, 6, "%zu mounted, %zu kept", n, kept);
            /* a change to another mount writes the file with the kept ones in it */
            cr_assert_eq(lu_mount_add(ctx, "extra", zip_uri("extra.zip", "E"), 1, 0, &err), LU_OK, "%s",
                         err.message);
            cr_assert_eq(lu_mount_remove(ctx, "extra", &err), LU_OK);
        }
        lu_context_close(ctx);
    }
    cr_assert(kept > 0 && kept < 6, "no descriptor limit left some volumes unopened");
    char *after = th_read_file(mounts_file(), NULL);
    cr_assert_str_eq(after, before, "the kept mounts stay in the file, in order");
    ctx = th_open(save, NULL);
    cr_assert_eq(lu_startup_report_count(ctx), 0);
    cr_assert_eq(th_mount_count(ctx), 6, "every mount is back at the next start");
    cr_assert_str_eq(th_read(ctx, "/x.txt"), "5");
    lu_context_close(ctx);

    /* removing a kept mount takes it out of the file; adding one of a kept
     * name replaces it */
    lu_context *c2 = NULL;
    for (rlim_t limit = (rlim_t)lowest + 1; limit < (rlim_t)lowest + 40; limit++) {
        c2 = open_with_fd_limit(limit);
        if (c2 && lu_startup_report_count(c2) >= 2) break;
        lu_context_close(c2);
        c2 = NULL;
    }
    cr_assert_not_null(c2, "no limit kept two mounts");
    lu_report_item a, b;
    lu_startup_report_get(c2, 0, &a);
    lu_startup_report_get(c2, 1, &b);
    char *removed = strdup(a.name), *replaced = strdup(b.name);
    TH_KEEP(removed);
    TH_KEEP(replaced);
    cr_assert_eq(lu_mount_remove(c2, removed, &err), LU_OK, "%s", err.message);
    cr_assert_eq(lu_mount_remove(c2, removed, &err), LU_NOT_FOUND);
    cr_assert_eq(lu_mount_add(c2, replaced, zip_uri("new.zip", "N"), 99, 0, &err), LU_OK, "%s", err.message);
    lu_context_close(c2);
    ctx = th_open(save, NULL);
    cr_assert_eq(lu_startup_report_count(ctx), 0);
    cr_assert_eq(th_mount_count(ctx), 5);
    cr_assert_str_eq(th_read(ctx, "/x.txt"), "N");
    lu_mount_info *m;
    size_t cnt;
    lu_mounts_get(ctx, &m, &cnt, &err);
    for (size_t i = 0; i < cnt; i++) {
        cr_assert_str_neq(m[i].name, removed);
        if (strcmp(m[i].name, replaced) == 0) cr_assert_eq(m[i].priority, 99);
    }
    lu_free(ctx, m);
    lu_context_close(ctx);
}

/* A held mount keeps its place among mounts of its priority when the file
 * is rewritten: it was added after 'b' (it shadows b's files), it still
 * does after a restart that could not open it and a change to another
 * mount; a mount of that priority added meanwhile goes before it. */
Test(persist, a_kept_mount_keeps_its_place_among_equal_priorities)
{
    char *big = th_path(vols, "a.zip");
    char *pad = malloc(70000);
    TH_KEEP(pad);
    for (size_t i = 0; i < 70000; i++) pad[i] = (char)('a' + i * 7919 % 26);
    lu_zip_writer *w;
    lu_error err;
    cr_assert_eq(lu_zip_writer_open(big, &w, &err), LU_OK);
    cr_assert_eq(lu_zip_writer_add(w, "x.txt", "A", 1, 0, &err), LU_OK);
    cr_assert_eq(lu_zip_writer_add(w, "pad.bin", pad, 70000, 0, &err), LU_OK);
    cr_assert_eq(lu_zip_writer_close(w, &err), LU_OK);
    /* a 5,000-byte archive comment: the end record is then found only in
     * the full 64 KiB window, whose allocation th_refuse_size refuses */
    th_add_zip_comment(big, 5000);
    char *a_uri = malloc(strlen(big) + 5);
    TH_KEEP(a_uri);
    sprintf(a_uri, "zip:%s", big);

    lu_context *ctx = th_open(save, NULL);
    cr_assert_eq(lu_mount_add(ctx, "b", zip_uri("b.zip", "B"), 10, 0, &err), LU_OK);
    cr_assert_eq(lu_mount_add(ctx, "a", a_uri, 10, 0, &err), LU_OK);
    cr_assert_str_eq(th_read(ctx, "/x.txt"), "A");
    lu_context_close(ctx);

    size_t refuse = 22 + 65535;   /* the full end-record window */
    lu_allocator al = {th_refuse_size, th_free_fn, &refuse};
    lu_config cfg;
    lu_config_init(&cfg);
    cfg.save_dir = save;
    cfg.allocator = &al;
    cr_assert_eq(lu_context_open(&cfg, &ctx, &err), LU_OK, "%s", err.message);
    cr_assert_eq(lu_startup_report_count(ctx), 1);
    lu_report_item it;
    lu_startup_report_get(ctx, 0, &it);
    cr_assert_str_eq(it.action, "kept", "%s", it.message);
    cr_assert_str_eq(th_read(ctx, "/x.txt"), "B");
    cr_assert_eq(lu_mount_add(ctx, "d", zip_uri("d.zip", "D"), 10, 0, &err), LU_OK, "%s", err.message);
    cr_assert_eq(lu_mount_remove(ctx, "d", &err), LU_OK);
    lu_context_close(ctx);

    ctx = th_open(save, NULL);
    cr_assert_eq(lu_startup_report_count(ctx), 0);
    cr_assert_str_eq(th_read(ctx, "/x.txt"), "A", "the kept mount still shadows the one added before it");
    lu_context_close(ctx);

    /* a mount of its priority added while it is kept goes before it */
    cr_assert_eq(lu_context_open(&cfg, &ctx, &err), LU_OK, "%s", err.message);
    cr_assert_eq(lu_mount_add(ctx, "d", zip_uri("d.zip", "D"), 10, 0, &err), LU_OK, "%s", err.message);
    lu_context_close(ctx);
    ctx = th_open(save, NULL);
    cr_assert_str_eq(th_read(ctx, "/x.txt"), "D");
    lu_context_close(ctx);
}

Test(persist, corrupt_file_is_moved_aside_and_reported)
{
    char *base = th_path(vols, "base.zip");
    th_make_zip(base, (const char *[]){"x.txt", "base", NULL});
    const char *garbage = "{\"version\":1,\"mounts\":[{\"name\":\"a\",";
    th_write_file(mounts_file(), garbage, strlen(garbage));
    char uri[PATH_MAX];
    snprintf(uri, sizeof uri, "zip:%s", base);
    lu_context *ctx = th_open(save, uri);
    cr_assert_str_eq(th_read(ctx, "/x.txt"), "base", "built-in mounts still there");
    cr_assert_eq(lu_startup_report_count(ctx), 1);
    lu_report_item it;
    lu_startup_report_get(ctx, 0, &it);
    cr_assert_str_eq(it.action, "moved_aside");
    cr_assert_eq(it.status, LU_FORMAT_ERROR);
    cr_assert(strstr(it.message, "corrupt-"), "%s", it.message);
    lu_context_close(ctx);
    cr_assert_not(th_exists(mounts_file()));
    DIR *d = opendir(save);
    struct dirent *de;
    int found = 0;
    while ((de = readdir(d)))
        if (strncmp(de->d_name, "liveupdate.mounts.corrupt-", 26) == 0) {
            char *kept = th_read_file(th_path(save, de->d_name), NULL);
            cr_assert_str_eq(kept, garbage, "moved aside, never changed");
            found++;
        }
    closedir(d);
    cr_assert_eq(found, 1);
}

Test(persist, rule_breaking_files_count_as_corrupt)
{
    const char *bad[] = {
        "[]",
        "{\"version\":2,\"mounts\":[]}",
        "{\"version\":1,\"mounts\":[{\"name\":\"_base\",\"uri\":\"zip:a\",\"priority\":1}]}",
        "{\"version\":1,\"mounts\":[{\"name\":\"a\",\"uri\":\"zip:a\",\"priority\":-1}]}",
        "{\"version\":1,\"mounts\":[{\"name\":\"a\",\"uri\":\"zip:a\",\"priority\":1.5}]}",
        "{\"version\":1,\"mounts\":[{\"name\":\"a\",\"uri\":\"zip:a\",\"priority\":1},"
        "{\"name\":\"a\",\"uri\":\"zip:b\",\"priority\":1}]}",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        th_write_file(mounts_file(), bad[i], strlen(bad[i]));
        lu_context *ctx = th_open(save, NULL);
        cr_assert_eq(lu_startup_report_count(ctx), 1, "case %zu: %s", i, bad[i]);
        lu_report_item it;
        lu_startup_report_get(ctx, 0, &it);
        cr_assert_str_eq(it.action, "moved_aside", "case %zu", i);
        lu_context_close(ctx);
    }
}

Test(persist, mount_on_start_off_loads_nothing_and_keeps_the_file)
{
    lu_context *ctx = th_open(save, NULL);
    lu_error err;
    cr_assert_eq(lu_mount_add(ctx, "a", zip_uri("a.zip", "A"), 1, 0, &err), LU_OK);
    lu_context_close(ctx);
    char *before = th_read_file(mounts_file(), NULL);
    ctx = open_cfg(0, &err, LU_OK);
    cr_assert_eq(th_mount_count(ctx), 0);
    lu_context_close(ctx);
    cr_assert_str_eq(th_read_file(mounts_file(), NULL), before);
}

Test(persist, failed_write_leaves_table_and_file_unchanged)
{
    lu_context *ctx = th_open(save, NULL);
    lu_error err;
    cr_assert_eq(lu_mount_add(ctx, "a", zip_uri("a.zip", "A"), 1, 0, &err), LU_OK);
    char *before = th_read_file(mounts_file(), NULL);
    /* A directory where the temporary file goes makes the write fail. */
    char *tmp = th_path(save, "liveupdate.mounts.tmp");
    cr_assert_eq(mkdir(tmp, 0755), 0);
    cr_assert_eq(lu_mount_add(ctx, "b", zip_uri("b.zip", "B"), 5, 0, &err), LU_IO_ERROR);
    cr_assert(strstr(err.message, "liveupdate.mounts.tmp"), "%s", err.message);
    cr_assert_eq(th_mount_count(ctx), 1);
    cr_assert_str_eq(th_read(ctx, "/x.txt"), "A");
    cr_assert_eq(lu_mount_remove(ctx, "a", &err), LU_IO_ERROR);
    cr_assert_eq(th_mount_count(ctx), 1, "a failed removal keeps the mount");
    cr_assert_str_eq(th_read_file(mounts_file(), NULL), before);
    rmdir(tmp);
    lu_context_close(ctx);
}

Test(persist, disk_full_gives_no_space_and_keeps_state)
{
    char *small = th_tempdir();
    if (mount("tmpfs", small, "tmpfs", 0, "size=64k") != 0) cr_skip_test("cannot mount a tmpfs here");
    save = small;
    lu_context *ctx = th_open(save, NULL);
    lu_error err;
    cr_assert_eq(lu_mount_add(ctx, "a", zip_uri("a.zip", "A"), 1, 0, &err), LU_OK);
    char *before = th_read_file(mounts_file(), NULL);
    char *filler = th_path(save, "filler");
    FILE *f = fopen(filler, "wb");
    char block[4096] = {0};
    while (fwrite(block, 1, sizeof block, f) == sizeof block && fflush(f) == 0) {}
    fclose(f);
    cr_assert_eq(lu_mount_add(ctx, "b", zip_uri("b.zip", "B"), 5, 0, &err), LU_NO_SPACE, "%s", err.message);
    cr_assert_eq(th_mount_count(ctx), 1);
    cr_assert_str_eq(th_read_file(mounts_file(), NULL), before);
    lu_context_close(ctx);
    umount(small);
}
