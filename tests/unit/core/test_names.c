/* test_names.c -- the naming rules are defined once (engine/core/names.c)
 * and every core call that takes such a name applies that one rule. */
#include "helpers.h"

/* Names around every edge of the plain-file-name rule. */
static const char *file_names[] = {"levels.zip", "a", "rel-1.2.0-forest.zip", "with space.zip",
                                   "UPPER-_.zip", ".hidden", "..", ".", "", "a/b.zip", "a\\b.zip",
                                   "/abs.zip", "x.zip/", NULL};

static char *name_of_length(size_t n)
{
    char *s = malloc(n + 1);
    memset(s, 'n', n);
    s[n] = '\0';
    return TH_KEEP(s);
}

Test(names, plain_file_names_have_one_limit)
{
    lu_error err;
    cr_expect_eq(lu_file_name_check(name_of_length(LU_FILE_NAME_MAX), &err), LU_OK);
    cr_expect_eq(lu_file_name_check(name_of_length(LU_FILE_NAME_MAX + 1), &err), LU_INVAL);
    cr_expect(strstr(err.message, "is not a plain file name"), "%s", err.message);
    cr_expect_eq(lu_file_name_check(NULL, &err), LU_INVAL);
    cr_expect_eq(lu_file_name_check(".hidden", &err), LU_INVAL);
    cr_expect(strstr(err.message, "'.hidden'"), "the message names the file: %s", err.message);
}

Test(names, volume_path_and_uri_accept_exactly_what_the_rule_accepts)
{
    lu_context *ctx = th_open(th_tempdir(), NULL);
    char buf[4096];
    lu_error err;
    for (int i = 0; file_names[i]; i++) {
        lu_status rule = lu_file_name_check(file_names[i], &err);
        cr_expect_eq(lu_volume_path(ctx, file_names[i], buf, sizeof buf, &err), rule, "'%s'", file_names[i]);
        cr_expect_eq(lu_volume_uri(file_names[i], buf, sizeof buf, &err), rule, "'%s'", file_names[i]);
    }
    const char *longest = name_of_length(LU_FILE_NAME_MAX);
    cr_expect_eq(lu_volume_path(ctx, longest, buf, sizeof buf, &err), LU_OK, "%s", err.message);
    cr_expect_eq(lu_volume_path(ctx, name_of_length(LU_FILE_NAME_MAX + 1), buf, sizeof buf, &err), LU_INVAL);
    cr_assert_eq(lu_volume_uri("levels.zip", buf, sizeof buf, &err), LU_OK);
    cr_expect_str_eq(buf, "zip:volumes/levels.zip");
    cr_expect_eq(lu_volume_uri("levels.zip", buf, 8, &err), LU_INVAL);
    lu_context_close(ctx);
}

Test(names, mount_names_and_resource_paths)
{
    lu_error err;
    cr_expect_eq(lu_mount_name_check("levels-1.2_b", &err), LU_OK);
    cr_expect_eq(lu_mount_name_check("_base", &err), LU_INVAL);
    cr_expect_eq(lu_mount_name_check(name_of_length(LU_NAME_MAX), &err), LU_OK);
    cr_expect_eq(lu_mount_name_check(name_of_length(LU_NAME_MAX + 1), &err), LU_INVAL);
    cr_expect_eq(lu_mount_name_check("a b", &err), LU_INVAL);
    cr_expect_eq(lu_path_check("/a/b.png", 8, &err), LU_OK);
    cr_expect_eq(lu_path_check("/a/../b", 7, &err), LU_INVAL);
    cr_expect_eq(lu_path_check("a/b", 3, &err), LU_INVAL);
}
