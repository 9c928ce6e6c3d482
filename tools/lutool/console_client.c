/* console.c -- `lutool console`: the client of lurun's debug console.
 *
 *   lutool console [host:]port command...   one command; prints the answer,
 *                                           exit status 0 when it succeeded
 *   lutool console [host:]port              interactive (line editing and
 *                                           history through libedit), or
 *                                           one command per stdin line
 *
 * Protocol: docs/CONSOLE.md (body lines, then "%% ok" or "%% error ...").
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <editline/readline.h>

#include "lutool.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: lutool console [host:]port [command...]\n"
               "With a command: send it, print the answer, exit 0 if it succeeded.\n"
               "Without: an interactive session (help lists the commands; Ctrl-D quits).\n");
}

static int connect_to(const char *target)
{
    char host[256] = "127.0.0.1";
    const char *port = target, *colon = strrchr(target, ':');
    if (colon) {
        snprintf(host, sizeof host, "%.*s", (int)(colon - target), target);
        port = colon + 1;
    }
    char *end;
    long p = strtol(port, &end, 10);
    if (*end || p <= 0 || p > 65535) {
        fprintf(stderr, "lutool console: '%s' is not [host:]port\n", target);
        return -2;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "lutool console: %s: %s\n", host, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) fprintf(stderr, "lutool console: cannot connect to %s:%s: %s (is lurun running with --console?)\n", host, port, strerror(errno));
    return fd;
}

/* Sends one line and prints the answer. Returns 0 ok, 1 error, -1 lost. */
static int ask(int fd, FILE *in, const char *line)
{
    size_t len = strlen(line);
    if (send(fd, line, len, MSG_NOSIGNAL) != (ssize_t)len || send(fd, "\n", 1, MSG_NOSIGNAL) != 1) return -1;
    char buf[8192];
    while (fgets(buf, sizeof buf, in)) {
        if (strncmp(buf, "%% ", 3) != 0) {
            fputs(buf, stdout);
            continue;
        }
        if (strncmp(buf, "%% ok", 5) == 0) return 0;
        fprintf(stderr, "error: %s", buf + 9);   /* after "%% error " */
        return 1;
    }
    return -1;
}

static int interactive(int fd, FILE *in)
{
    bool tty = isatty(0);
    char hist[4096] = "";
    const char *home = getenv("HOME");
    if (tty && home) {
        snprintf(hist, sizeof hist, "%s/.lutool_history", home);
        read_history(hist);
    }
    int last = 0;
    for (;;) {
        char *line = tty ? readline("lu> ") : NULL;
        char buf[8192];
        if (!tty) {
            if (!fgets(buf, sizeof buf, stdin)) break;
            buf[strcspn(buf, "\n")] = '\0';
            line = strdup(buf);
        }
        if (!line) break;
        if (!*line) {
            free(line);
            continue;
        }
        if (tty) add_history(line);
        if (strcmp(line, "quit") == 0 || strcmp(line, "exit") == 0) {
            free(line);
            break;
        }
        last = ask(fd, in, line);
        free(line);
        fflush(stdout);
        if (last < 0) {
            fprintf(stderr, "lutool console: the game closed the connection\n");
            return 1;
        }
    }
    if (tty && hist[0]) write_history(hist);
    return last;
}

int lutool_console(int argc, char **argv)
{
    if (lutool_wants_help(argc, argv) && argc == 1) {
        usage(stdout);
        return 0;
    }
    if (argc < 1) {
        usage(stderr);
        return 2;
    }
    int fd = connect_to(argv[0]);
    if (fd < 0) return fd == -2 ? 2 : 1;
    FILE *in = fdopen(dup(fd), "r");
    int rc;
    if (argc > 1) {
        char line[8192] = "";
        for (int i = 1; i < argc; i++) {
            if (strlen(line) + strlen(argv[i]) + 2 > sizeof line) {
                fprintf(stderr, "lutool console: command too long\n");
                return 2;
            }
            if (i > 1) strcat(line, " ");
            strcat(line, argv[i]);
        }
        rc = ask(fd, in, line);
        if (rc < 0) fprintf(stderr, "lutool console: the game closed the connection\n");
        rc = rc == 0 ? 0 : 1;
    } else {
        rc = interactive(fd, in);
    }
    fclose(in);
    close(fd);
    return rc;
}
