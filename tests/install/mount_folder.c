/* tests/install/mount_folder.c -- a program written against an installed
 * liveupdate (pkg-config --cflags --libs liveupdate): it mounts a folder and
 * reads one file through the mount, as a game would. tests/install/run.sh
 * builds it against the shared and against the static library; README.md's
 * "Using the C library" recipe builds it too.
 *
 * usage: mount_folder <folder> <resource-path> <save-dir>
 * Prints "liveupdate <run-time version>", then the resource's bytes; exits 0,
 * or 1 with the library's message when a call fails. */
#include <stdio.h>
#include <string.h>

#include <liveupdate/liveupdate.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: mount_folder <folder> <resource-path> <save-dir>\n");
        return 2;
    }
    /* The header this was compiled against and the library it runs with
     * agree on the major version (the shared library's SONAME says so). */
    if ((lu_version_number() >> 16) != (LU_VERSION_NUM >> 16)) {
        fprintf(stderr, "mount_folder: built against %s, running with %s\n", LU_VERSION_STR,
                lu_version());
        return 1;
    }
    printf("liveupdate %s\n", lu_version());

    lu_config cfg;
    lu_config_init(&cfg);
    cfg.save_dir = argv[3];
    lu_context *ctx = NULL;
    lu_error err;
    if (lu_context_open(&cfg, &ctx, &err) != LU_OK) {
        fprintf(stderr, "mount_folder: open %s: %s\n", argv[3], err.message);
        return 1;
    }
    char uri[4096];
    snprintf(uri, sizeof uri, "dir:%s", argv[1]);
    int rc = 1;
    void *data = NULL;
    size_t size = 0;
    if (lu_mount_add(ctx, "content", uri, 10, LU_MOUNT_NO_PERSIST, &err) != LU_OK)
        fprintf(stderr, "mount_folder: mount %s: %s\n", uri, err.message);
    else if (lu_read(ctx, argv[2], &data, &size, &err) != LU_OK)
        fprintf(stderr, "mount_folder: read %s: %s\n", argv[2], err.message);
    else {
        fwrite(data, 1, size, stdout);
        lu_free(ctx, data);
        rc = 0;
    }
    lu_context_close(ctx);
    return rc;
}
