/* test_store.c -- the content-addressed store's rules in the core
 * (engine/core/store.c): entry names, links that follow the newest file,
 * and collection of entries no volume file uses any more. The downloads
 * that fill and read the store are tested in tests/lua/store_spec.lua. */
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "internal.h"

static char *save;

static void setup(void)
{
    save = th_tempdir();
}

TestSuite(store, .init = setup);

static lu_context *open_ctx(void)
{
    lu_config cfg;
    lu_config_init(&cfg);
    cfg.save_dir = save;
    lu_context *ctx;
    lu_error err;
    cr_assert_eq(lu_context_open(&cfg, &ctx, &err), LU_OK, "%s", err.message);
    return ctx;
}

static nlink_t links(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? sb.st_nlink : 0;
}

static const char HEX_A[] = "ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789";
static const char HEX_B[] = "1111111111111111111111111111111111111111111111111111111111111111";

Test(store, entry_names_are_lowercase_hex_under_volumes_sha256)
{
    lu_context *ctx = open_ctx();
    char out[PATH_MAX], want[PATH_MAX];
    cr_assert_eq(lu__store_path(ctx, HEX_A, false, out, sizeof out), LU_OK);
    snprintf(want, sizeof want, "%s/volumes/sha256/abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789.zip",
             save);
    cr_assert_str_eq(out, want);
    cr_assert_eq(lu__store_path(ctx, HEX_A, true, out, sizeof out), LU_OK);
    cr_assert(strstr(out, ".zip.sig") != NULL);
    cr_assert_eq(lu__store_path(ctx, "abc", false, out, sizeof out), LU_INVAL);
    cr_assert_eq(lu__store_path(ctx, NULL, false, out, sizeof out), LU_INVAL);
    char bad[65];
    memcpy(bad, HEX_B, sizeof bad);
    bad[10] = 'g';
    cr_assert_eq(lu__store_path(ctx, bad, false, out, sizeof out), LU_INVAL);
    bad[10] = '/';
    cr_assert_eq(lu__store_path(ctx, bad, false, out, sizeof out), LU_INVAL);
    lu_context_close(ctx);
}

Test(store, entries_follow_the_newest_file_and_go_with_the_last_one)
{
    lu_context *ctx = open_ctx();
    char *vol = th_path(save, "volumes");
    mkdir(vol, 0755);
    char *one = th_path(vol, "one.zip"), *two = th_path(vol, "two.zip");
    th_write_file(one, "bytes", 5);
    th_write_file(th_path(vol, "one.zip.sig"), "sig", 3);
    lu__store_add(ctx, one, HEX_B, true);
    char entry[PATH_MAX], sig[PATH_MAX];
    lu__store_path(ctx, HEX_B, false, entry, sizeof entry);
    lu__store_path(ctx, HEX_B, true, sig, sizeof sig);
    cr_assert_eq(links(one), 2);
    cr_assert_eq(links(sig), 2);
    /* the same bytes arrive again as another file, without a signature:
     * the entry moves to it, the stored signature stays */
    th_write_file(two, "bytes", 5);
    lu__store_add(ctx, two, HEX_B, false);
    cr_assert_eq(links(two), 2);
    cr_assert_eq(links(one), 1);
    cr_assert_eq(links(sig), 2);
    /* nothing is unused yet */
    cr_assert_eq(lu__store_collect(ctx), 0);
    /* two goes: its entry has no other name; one's signature still has one */
    unlink(two);
    cr_assert_eq(lu__store_collect(ctx), 1);
    cr_assert_eq(links(entry), 0);
    cr_assert_eq(links(sig), 2);
    unlink(th_path(vol, "one.zip.sig"));
    cr_assert_eq(lu__store_collect(ctx), 1);
    cr_assert_eq(links(sig), 0);
    cr_assert_eq(links(one), 1);   /* a volume file itself is never touched */
    lu_context_close(ctx);
}

Test(store, a_temporary_left_by_a_crash_is_collected_other_files_are_not)
{
    lu_context *ctx = open_ctx();
    char *dir = th_path(th_path(save, "volumes"), "sha256");
    mkdir(th_path(save, "volumes"), 0755);
    mkdir(dir, 0755);
    char *kept = th_path(th_path(save, "volumes"), "kept.zip");
    th_write_file(kept, "k", 1);
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s/%s.zip.tmp", dir, HEX_B);
    cr_assert_eq(link(kept, tmp), 0);
    char *other = th_path(dir, "notes.txt");   /* not a store name: left alone */
    th_write_file(other, "n", 1);
    cr_assert_eq(lu__store_collect(ctx), 1);
    cr_assert_eq(links(tmp), 0);
    cr_assert_eq(links(kept), 1);
    cr_assert_eq(links(other), 1);
    lu_context_close(ctx);
}

static void mount_file(lu_context *ctx, const char *name, const char *path, unsigned flags)
{
    char uri[PATH_MAX + 8];
    snprintf(uri, sizeof uri, "zip:%s", path);
    lu_error err;
    cr_assert_eq(lu_mount_add(ctx, name, uri, 1, flags, &err), LU_OK, "%s", err.message);
}

Test(store, a_replaced_volume_file_is_deleted_only_when_asked_and_unused)
{
    char *vol = th_path(save, "volumes"), *outside = th_tempdir();
    mkdir(vol, 0755);
    const char *files[] = {"a1.zip", "a2.zip", "a3.zip", "rel-1.0-a.zip", "a5.zip", NULL};
    for (int i = 0; files[i]; i++)
        th_make_zip(th_path(vol, files[i]), (const char *[]){"x.txt", files[i], NULL});
    th_write_file(th_path(vol, "a1.zip.sig"), "sig", 3);
    char *ext = th_path(outside, "ext.zip");
    th_make_zip(ext, (const char *[]){"x.txt", "ext", NULL});
    lu_context *ctx = open_ctx();
    const unsigned del = LU_MOUNT_REPLACE | LU_MOUNT_DELETE_REPLACED;
    /* replaced with the flag: the old file and its .sig go */
    mount_file(ctx, "a", th_path(vol, "a1.zip"), 0);
    mount_file(ctx, "a", th_path(vol, "a2.zip"), del);
    cr_assert(!th_exists(th_path(vol, "a1.zip")) && !th_exists(th_path(vol, "a1.zip.sig")));
    /* replaced without it: the file stays */
    mount_file(ctx, "a", th_path(vol, "a3.zip"), LU_MOUNT_REPLACE);
    cr_assert(th_exists(th_path(vol, "a2.zip")));
    /* another mount uses it: it stays */
    mount_file(ctx, "b", th_path(vol, "a3.zip"), 0);
    mount_file(ctx, "a", th_path(vol, "a5.zip"), del);
    cr_assert(th_exists(th_path(vol, "a3.zip")));
    /* a release file and a file outside volumes/ are never deleted */
    mount_file(ctx, "r", th_path(vol, "rel-1.0-a.zip"), 0);
    mount_file(ctx, "r", th_path(vol, "a2.zip"), del);
    cr_assert(th_exists(th_path(vol, "rel-1.0-a.zip")));
    mount_file(ctx, "e", ext, 0);
    mount_file(ctx, "e", th_path(vol, "a2.zip"), del);
    cr_assert(th_exists(ext));
    lu_context_close(ctx);
    /* held in the mounts file (its volume failed to open for a reason that
     * may pass, here memory: a 5,000-byte comment makes the open allocate
     * a window the size of the file for the end record, which the allocator
     * refuses): its file stays */
    th_add_zip_comment(th_path(vol, "a3.zip"), 5000);
    struct stat sb;
    cr_assert_eq(stat(th_path(vol, "a3.zip"), &sb), 0);
    size_t refuse = (size_t)sb.st_size;
    lu_allocator al = {th_refuse_size, th_free_fn, &refuse};
    lu_config cfg;
    lu_config_init(&cfg);
    cfg.save_dir = save;
    cfg.allocator = &al;
    lu_error err;
    cr_assert_eq(lu_context_open(&cfg, &ctx, &err), LU_OK, "%s", err.message);
    lu_report_item it;
    cr_assert_eq(lu_startup_report_count(ctx), 1);
    lu_startup_report_get(ctx, 0, &it);
    cr_assert_str_eq(it.action, "kept", "%s: %s", it.name, it.message);
    refuse = 0;
    mount_file(ctx, "c", th_path(vol, "a3.zip"), 0);
    mount_file(ctx, "c", th_path(vol, "a5.zip"), del);
    cr_assert(th_exists(th_path(vol, "a3.zip")), "a mount held in the mounts file still names it");
    lu_context_close(ctx);
}
