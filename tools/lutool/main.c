/* main.c -- lutool: the bundler, inspector, verifier and signer of
 * liveupdate volumes (docs/BUNDLER.md). `lutool <command> --help` for each;
 * `lutool --version` prints the library's run-time version (lu_version).
 * Every command reads its options by the rule of tools/common/options.h.
 */
#include <stdio.h>
#include <string.h>

#include "lutool.h"

static const struct {
    const char *name, *summary;
    int (*run)(int, char **);
} commands[] = {
    {"bundle", "turn a game project into a base bundle plus downloadable volumes", lutool_bundle},
    {"inspect", "list a zip's or bundle's entries, manifest and version", lutool_inspect},
    {"verify", "check every entry's CRC and SHA-256, the manifest and the signature", lutool_verify},
    {"release", "write the update manager's release.json for a folder of volumes", lutool_release},
    {"publish", "upload a release folder to S3-compatible object storage, release.json last", lutool_publish},
    {"keygen", "make an Ed25519 key pair for signing volumes", lutool_keygen},
    {"sign", "sign a file (writes <file>.sig)", lutool_sign},
    {"console", "talk to a running game's debug console", lutool_console},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: lutool <command> [options]   (lutool <command> --help)\n"
               "       lutool --version\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (argv[1][0] == '-') {   /* --help, --version or a mistake: lutool's own options */
        const luopt_cmd cmd = {"lutool", "lutool", usage, NULL, 0, NULL, 0, NULL};
        int status = luopt_parse(&cmd, argc - 1, argv + 1);
        return status == LUOPT_RUN ? luopt_usage_error("lutool", "missing <command>") : status;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0) return commands[i].run(argc - 2, argv + 2);
    return luopt_usage_error("lutool", "unknown command '%s'", argv[1]);
}
