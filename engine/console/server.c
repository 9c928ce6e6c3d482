/* console.c -- the debug console server (see liveupdate/console.h).
 *
 * Protocol: the client sends one command per line, its words split as a
 * shell would (quotes and backslashes, see split_words); the server answers
 * every line, a blank one included, with zero or more body lines and then
 * one status line, "%% ok" or "%% error <STATUS> <message>". With --json
 * the body is one line of JSON.
 * Sockets are non-blocking; a client that sends a line longer than
 * LU_CONSOLE_LINE_MAX gets an error and the rest of that line is skipped;
 * a client that goes away is dropped, mid-command or not.
 *
 * Memory: everything here is allocated through the context's lu_env. The
 * built-in commands build their JSON results with cJSON and hand the text
 * to lu_console_json_text, as a host's commands do.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "console_internal.h"
#include "internal.h"
#include "liveupdate/console.h"
#include "console_json.h"

#define MAX_ARGS 32

typedef struct client {
    int fd;
    char in[LU_CONSOLE_LINE_MAX + 1];
    size_t in_len;
    bool skipping;      /* inside an oversized line */
    bool eof;
    bool lost;          /* an answer could not be queued (out of memory): no more
                           lines are run and the client is dropped, so it never
                           takes a later answer for the one it waits for */
    char *out;
    size_t out_len, out_sent, out_cap;
} client;

typedef struct command {
    char *name, *help;
    lu_console_cmd_fn fn;
    void *ud;
} command;

struct lu_console_out {
    const lu_env *env;
    char *text;
    size_t len, cap;
    char *json;         /* the JSON result's text, or NULL */
    bool json_failed;   /* the result could not be built: the answer is MEM_ERROR */
    bool cut;           /* text was lost for want of memory: the answer is MEM_ERROR */
};

struct lu_console {
    lu_context *ctx;
    int fd, port;
    long long prune_minimum;
    client clients[LU_CONSOLE_MAX_CLIENTS];
    size_t nclients;
    command *cmds;
    size_t ncmds;
};

/* ---- output ----------------------------------------------------------- */

/* Appends all of s or, out of memory, nothing (false). */
static bool append(const lu_env *env, char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 1024;
        while (c < *len + n + 1) c *= 2;
        char *b = lu__realloc(env, *buf, c);
        if (!b) return false;
        *buf = b;
        *cap = c;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
    return true;
}

/* The length of the well-formed UTF-8 sequence at s[0..n), or 0 when it is
 * not one (a stray continuation byte, an overlong form, a surrogate, past
 * U+10FFFF, or cut short). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    if (s[0] < 0x80) return 1;
    size_t k = s[0] >= 0xC2 && s[0] <= 0xDF ? 2 : s[0] >= 0xE0 && s[0] <= 0xEF ? 3 : s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : 0;
    if (!k || k > n) return 0;
    for (size_t i = 1; i < k; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    if ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] > 0x9F) || (s[0] == 0xF0 && s[1] < 0x90) ||
        (s[0] == 0xF4 && s[1] > 0x8F))
        return 0;
    return k;
}

/* append() of JSON text whose strings may hold bytes that are not UTF-8
 * (a resource or file name, cJSON copies such bytes as they are): each
 * such byte becomes U+FFFD, so a --json answer is always valid JSON. */
static bool append_json(const lu_env *env, char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t run = 0;   /* well-formed bytes not yet appended, ending at i */
    for (size_t i = 0; i < n;) {
        size_t k = utf8_len(u + i, n - i);
        if (k) {
            i += k, run += k;
            continue;
        }
        if (!append(env, buf, len, cap, s + i - run, run) || !append(env, buf, len, cap, "\xEF\xBF\xBD", 3)) return false;
        i++, run = 0;
    }
    return append(env, buf, len, cap, s + n - run, run);
}

void lu_console_printf(lu_console_out *out, const char *fmt, ...)
{
    char small[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof small) {
        if (!append(out->env, &out->text, &out->len, &out->cap, small, (size_t)n)) out->cut = true;
        return;
    }
    char *big = lu__malloc(out->env, (size_t)n + 1);
    if (!big) {
        out->cut = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    if (!append(out->env, &out->text, &out->len, &out->cap, big, (size_t)n)) out->cut = true;
    lu__free(out->env, big);
}

void lu_console_json_text(lu_console_out *out, const char *json)
{
    lu__free(out->env, out->json);
    out->json = json ? lu__strdup(out->env, json) : NULL;
    out->json_failed = out->json == NULL;
}

const char *lu_console_size(uint64_t b, char *buf, size_t cap)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)b;
    int u = 0;
    while (v >= 1024 && u < 4) v /= 1024, u++;
    if (u == 0) snprintf(buf, cap, "%llu B", (unsigned long long)b);
    else snprintf(buf, cap, "%.1f %s", v, units[u]);
    return buf;
}

static bool send_text(const lu_console *c, client *cl, const char *s)
{
    return append(&c->ctx->env, &cl->out, &cl->out_len, &cl->out_cap, s, strlen(s));
}

/* ---- built-in commands ------------------------------------------------ */

static lu_status need_args(int argc, int min, int max, const char *usage, lu_error *err)
{
    if (argc < min || argc > max) return lu__fail(err, LU_INVAL, "usage: %s", usage);
    return LU_OK;
}

static lu_status cmd_help(void *ud, int argc, char **argv, int json, lu_console_out *out, lu_error *err)
{
    lu_console *c = ud;
    (void)argc, (void)argv, (void)err;
    cJSON *arr = json ? cJSON_CreateArray() : NULL;
    bool whole = arr != NULL;
    for (size_t i = 0; i < c->ncmds; i++) {
        if (json) {
            cJSON *o = cJSON_CreateObject();
            whole = lu__console_append_item(arr, o,
                                o && cJSON_AddStringToObject(o, "command", c->cmds[i].name) &&
                                    cJSON_AddStringToObject(o, "help", c->cmds[i].help)) &&
                    whole;
        } else {
            lu_console_printf(out, "  %-40s\n", c->cmds[i].help);
        }
    }
    if (json) lu__console_put_json_whole(out, arr, whole);
    else lu_console_printf(out, "  (add --json to any command for machine-readable output)\n");
    return LU_OK;
}

static lu_status cmd_mounts(void *ud, int argc, char **argv, int json, lu_console_out *out, lu_error *err)
{
    lu_console *c = ud;
    LU_TRY(need_args(argc, 1, 1, "mounts", err));
    (void)argv;
    lu_mount_info *m;
    size_t n;
    LU_TRY(lu_mounts_get(c->ctx, &m, &n, err));
    if (json) {
        cJSON *arr = cJSON_CreateArray();
        bool whole = arr != NULL;
        for (size_t i = 0; i < n; i++) {
            cJSON *o = cJSON_CreateObject();
            whole = lu__console_append_item(arr, o,
                                o && cJSON_AddStringToObject(o, "name", m[i].name) &&
                                    cJSON_AddNumberToObject(o, "priority", m[i].priority) &&
                                    cJSON_AddStringToObject(o, "uri", m[i].uri) &&
                                    cJSON_AddStringToObject(o, "path", m[i].path) &&
                                    cJSON_AddStringToObject(o, "format", m[i].format) &&
                                    cJSON_AddNumberToObject(o, "entries", (double)m[i].entries)) &&
                    whole;
        }
        lu__console_put_json_whole(out, arr, whole);
    } else {
        size_t w = 4;
        for (size_t i = 0; i < n; i++) w = strlen(m[i].name) > w ? strlen(m[i].name) : w;
        lu_console_printf(out, "%-*s  %8s  %-6s  %8s  %s\n", (int)w, "NAME", "PRIORITY", "FORMAT", "ENTRIES", "URI");
        for (size_t i = 0; i < n; i++)
            lu_console_printf(out, "%-*s  %8d  %-6s  %8zu  %s\n", (int)w, m[i].name, m[i].priority, m[i].format,
                              m[i].entries, m[i].uri);
        lu_console_printf(out, "%zu mount(s); the first that has a path serves it\n", n);
    }
    lu_free(c->ctx, m);
    return LU_OK;
}

static lu_status cmd_which(void *ud, int argc, char **argv, int json, lu_console_out *out, lu_error *err)
{
    lu_console *c = ud;
    LU_TRY(need_args(argc, 2, 2, "which <path>", err));
    lu_stat_info si;
    LU_TRY(lu_stat(c->ctx, argv[1], &si, err));
    char size[32];
    if (json) {
        cJSON *o = cJSON_CreateObject();
        lu__console_put_json_whole(out, o,
                       o && cJSON_AddStringToObject(o, "path", argv[1]) && cJSON_AddStringToObject(o, "mount", si.mount) &&
                           cJSON_AddNumberToObject(o, "size", (double)si.size));
    } else {
        lu_console_printf(out, "%s is served by mount '%s' (%s)\n", argv[1], si.mount,
                          lu_console_size(si.size, size, sizeof size));
    }
    return LU_OK;
}

static lu_status cmd_ls(void *ud, int argc, char **argv, int json, lu_console_out *out, lu_error *err)
{
    lu_console *c = ud;
    const char *prefix = "/", *mount = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--mount") == 0 && i + 1 < argc) mount = argv[++i];
        else if (argv[i][0] == '/' && prefix[1] == '\0') prefix = argv[i];
        else return lu__fail(err, LU_INVAL, "usage: ls [prefix] [--mount name]");
    }
    char **paths;
    size_t n;
    LU_TRY(lu_list_paths(c->ctx, prefix, mount, &paths, &n, err));
    cJSON *arr = json ? cJSON_CreateArray() : NULL;
    bool whole = arr != NULL;
    for (size_t i = 0; i < n; i++) {
        lu_stat_info si = {0};
        void *data = NULL;
        size_t size = 0;
        if (mount) {   /* what that mount has, even where another one serves the path */
            if (lu_read_from(c->ctx, mount, paths[i], &data, &size, NULL) == LU_OK) si.size = size;
            lu_free(c->ctx, data);
            snprintf(si.mount, sizeof si.mount, "%s", mount);
        } else {
            lu_stat(c->ctx, paths[i], &si, NULL);
        }
        char hs[32];
        if (json) {
            cJSON *o = cJSON_CreateObject();
            whole = lu__console_append_item(arr, o,
                                o && cJSON_AddStringToObject(o, "path", paths[i]) &&
                                    cJSON_AddNumberToObject(o, "size", (double)si.size) &&
                                    cJSON_AddStringToObject(o, "mount", si.mount)) &&
                    whole;
        } else {
            lu_console_printf(out, "%10s  %-12s  %s\n", lu_console_size(si.size, hs, sizeof hs), si.mount, paths[i]);
        }
    }
    if (json) lu__console_put_json_whole(out, arr, whole);
    else lu_console_printf(out, "%zu resource(s) under %s\n", n, prefix);
    lu_free(c->ctx, paths);
    return LU_OK;
}

static lu_status cmd_add(void *ud, int argc, char **argv, int json, lu_console_out *out, lu_error *err)
{
    lu_console *c = ud;
    LU_TRY(need_args(argc, 4, 4, "add <name> <uri> <priority>", err));
    char *end;
    errno = 0;
    long prio = strtol(argv[3], &end, 10);
    if (*end || end == argv[3] || argv[3][0] == ' ' || argv[3][0] == '\t')
        return lu__fail(err, LU_INVAL, "priority '%s' is not an integer", argv[3]);
    if (errno == ERANGE || prio < 0 || prio > INT_MAX)
        return lu__fail(err, LU_INVAL, "priority '%s' is out of range (0..%d)", argv[3], INT_MAX);
    LU_TRY(lu_mount_add(c->ctx, argv[1], argv[2], (int)prio, 0, err));
    if (json) lu__console_put_json(out, cJSON_CreateString(argv[1]));
    else lu_console_printf(out, "mounted '%s' (%s) at priority %ld; persisted\n", argv[1], argv[2], prio);
    return LU_OK;
}

static lu_status cmd_remove(void *ud, int argc, char **argv, int json, lu_console_out *out, lu_error *err)
{
    lu_console *c = ud;
    LU_TRY(need_args(argc, 2, 2, "remove <name>", err));
    LU_TRY(lu_mount_remove(c->ctx, argv[1], err));
    if (json) lu__console_put_json(out, cJSON_CreateString(argv[1]));
    else lu_console_printf(out, "removed '%s'; persisted\n", argv[1]);
    return LU_OK;
}

static void report_items(lu_console *c, size_t from, int json, lu_console_out *out)
{
    cJSON *arr = json ? cJSON_CreateArray() : NULL;
    bool whole = arr != NULL;
    size_t n = lu_startup_report_count(c->ctx);
    for (size_t i = from; i < n; i++) {
        lu_report_item it;
        lu_startup_report_get(c->ctx, i, &it);
        if (json) {
            cJSON *o = cJSON_CreateObject();
            whole = lu__console_append_item(arr, o,
                                o && cJSON_AddStringToObject(o, "name", it.name) &&
                                    cJSON_AddStringToObject(o, "uri", it.uri) &&
                                    cJSON_AddStringToObject(o, "action", it.action) &&
                                    cJSON_AddStringToObject(o, "status", lu_status_name(it.status)) &&
                                    cJSON_AddStringToObject(o, "message", it.message)) &&
                    whole;
        } else {
            lu_console_printf(out, "%-11s %-12s %s: %s\n", it.action, it.name, lu_status_name(it.status), it.message);
        }
    }
    if (json) lu__console_put_json_whole(out, arr, whole);
    else if (from == n) lu_console_printf(out, "nothing to report\n");
}

static lu_status cmd_report(void *ud, int argc, char **argv, int json, lu_console_out *out, lu_error *err)
{
    (void)argv;
    LU_TRY(need_args(argc, 1, 1, "report", err));
    report_items(ud, 0, json, out);
    return LU_OK;
}

static lu_status cmd_prune(void *ud, int argc, char **argv, int json, lu_console_out *out, lu_error *err)
{
    lu_console *c = ud;
    (void)argv;
    LU_TRY(need_args(argc, 1, 1, "prune", err));
    size_t before = lu_startup_report_count(c->ctx), pruned = 0;
    LU_TRY(lu_prune_stale(c->ctx, c->prune_minimum, &pruned, err));
    if (!json) lu_console_printf(out, "pruned %zu mount(s) older than version %lld\n", pruned, c->prune_minimum);
    report_items(c, before, json, out);
    return LU_OK;
}

/* ---- server ----------------------------------------------------------- */

lu_status lu_console_register(lu_console *c, const char *name, const char *help, lu_console_cmd_fn fn,
                              void *ud, lu_error *err)
{
    for (size_t i = 0; i < c->ncmds; i++)
        if (strcmp(c->cmds[i].name, name) == 0) {
            c->cmds[i].fn = fn;
            c->cmds[i].ud = ud;
            return LU_OK;
        }
    const lu_env *env = &c->ctx->env;
    command *n = lu__realloc(env, c->cmds, (c->ncmds + 1) * sizeof *n);
    if (!n) return lu__fail(err, LU_MEM_ERROR, "out of memory");
    c->cmds = n;
    n[c->ncmds] = (command){lu__strdup(env, name), lu__strdup(env, help), fn, ud};
    if (!n[c->ncmds].name || !n[c->ncmds].help) {
        lu__free(env, n[c->ncmds].name);
        lu__free(env, n[c->ncmds].help);
        return lu__fail(err, LU_MEM_ERROR, "out of memory");
    }
    c->ncmds++;
    return LU_OK;
}

lu_status lu_console_open(lu_context *ctx, int port, lu_console **out, lu_error *err)
{
    *out = NULL;
    if (port < 0 || port > 65535) return lu__fail(err, LU_INVAL, "console port %d is out of range", port);
    lu_console *c = lu__calloc(&ctx->env, 1, sizeof *c);
    if (!c) return lu__fail(err, LU_MEM_ERROR, "out of memory");
    c->ctx = ctx;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);   /* 127.0.0.1 only */
    socklen_t alen = sizeof a;
    if (c->fd < 0 || setsockopt(c->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(c->fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(c->fd, 16) != 0 ||
        getsockname(c->fd, (struct sockaddr *)&a, &alen) != 0) {
        int e = errno;
        lu_console_close(c);
        return lu__fail(err, LU_IO_ERROR, "console: cannot listen on 127.0.0.1:%d: %s", port, strerror(e));
    }
    c->port = ntohs(a.sin_port);
    static const struct {
        const char *name, *help;
        lu_console_cmd_fn fn;
    } builtin[] = {
        {"help", "help                         this list", cmd_help},
        {"mounts", "mounts                       the mount table in lookup order", cmd_mounts},
        {"which", "which <path>                 the mount that serves a path", cmd_which},
        {"ls", "ls [prefix] [--mount name]   resources, with size and serving mount", cmd_ls},
        {"add", "add <name> <uri> <priority>  mount a volume (persisted)", cmd_add},
        {"remove", "remove <name>                unmount (persisted)", cmd_remove},
        {"prune", "prune                        remove mounts whose version file is stale", cmd_prune},
        {"report", "report                       the start-up report", cmd_report},
    };
    for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
        if (lu_console_register(c, builtin[i].name, builtin[i].help, builtin[i].fn, c, err) != LU_OK) {
            lu_console_close(c);
            return LU_MEM_ERROR;
        }
    *out = c;
    return LU_OK;
}

int lu_console_port(const lu_console *c)
{
    return c->port;
}

void lu_console_set_prune_minimum(lu_console *c, long long minimum)
{
    c->prune_minimum = minimum;
}

static void drop_client(lu_console *c, size_t i)
{
    close(c->clients[i].fd);
    lu__free(&c->ctx->env, c->clients[i].out);
    c->clients[i] = c->clients[--c->nclients];
}

/* Splits a request line into words, in place (a word is never longer than
 * its text): words are separated by spaces and tabs; "double" and 'single'
 * quotes keep spaces in a word and are removed; a backslash outside single
 * quotes takes the next character as it is (\" \\ \  and so on); pieces
 * written next to each other make one word (a"b c"d is `ab cd`). An
 * unquoted `--json` is the JSON flag, not a word. Returns LU_OK, or LU_INVAL
 * for an unterminated quote, a line ending in a backslash, or more than
 * MAX_ARGS words. */
static lu_status split_words(char *line, char **argv, int *argc, int *json, lu_error *err)
{
    char *r = line, *w = line;
    *argc = 0;
    for (;;) {
        while (*r == ' ' || *r == '\t' || *r == '\r') r++;
        if (!*r) break;
        char *word = w;
        bool quoted = false;
        char quote = 0;
        for (; *r; r++) {
            if (quote == '\'') {
                if (*r == '\'') quote = 0;
                else *w++ = *r;
            } else if (*r == '\\') {
                if (!r[1]) return lu__fail(err, LU_INVAL, "the line ends in a backslash (nothing to escape)");
                *w++ = *++r;
                quoted = true;
            } else if (quote == '"') {
                if (*r == '"') quote = 0;
                else *w++ = *r;
            } else if (*r == '"' || *r == '\'') {
                quote = *r;
                quoted = true;
            } else if (*r == ' ' || *r == '\t' || *r == '\r') {
                break;
            } else {
                *w++ = *r;
            }
        }
        if (quote) return lu__fail(err, LU_INVAL, "unterminated %c quote", quote);
        bool more = *r != '\0';
        if (more) r++;   /* the separator: w may now write over it */
        *w++ = '\0';
        if (!quoted && strcmp(word, "--json") == 0) *json = 1;
        else if (*argc < MAX_ARGS) argv[(*argc)++] = word;
        else return lu__fail(err, LU_INVAL, "more than %d words", MAX_ARGS);
        if (!more) break;
    }
    return LU_OK;
}

/* Runs one request line and queues the answer. A line of no words (blank,
 * or only spaces) is answered "%% ok" with no body, so a client that sent
 * it is never left waiting. */
static void execute(lu_console *c, client *cl, char *line)
{
    char *argv[MAX_ARGS + 1];
    int argc = 0, json = 0;
    lu_error err = {LU_OK, ""};
    split_words(line, argv, &argc, &json, &err);
    argv[argc] = NULL;
    lu_console_out out = {.env = &c->ctx->env};
    const command *cmd = NULL;
    for (size_t i = 0; argc && i < c->ncmds; i++)
        if (strcmp(c->cmds[i].name, argv[0]) == 0) cmd = &c->cmds[i];
    lu_status st = err.status;
    if (st == LU_OK && argc && !cmd) st = lu__fail(&err, LU_INVAL, "unknown command '%s' (try help)", argv[0]);
    if (st == LU_OK && cmd) st = cmd->fn(cmd->ud, argc, argv, json, &out, &err);
    bool ran = st == LU_OK;   /* whatever happens to its answer below */
    if (st == LU_OK && json && out.json_failed)
        st = lu__fail(&err, LU_MEM_ERROR, "out of memory building the JSON result of '%s' (the command itself ran)",
                      argv[0]);
    if (st == LU_OK && !json && out.cut)
        st = lu__fail(&err, LU_MEM_ERROR, "out of memory writing the answer of '%s' (the command itself ran)", argv[0]);
    /* The whole answer is built first and queued in one piece: out of
     * memory, the client gets one short MEM_ERROR status line, never an ok
     * with a part of the answer missing or a JSON line cut in two. */
    lu_console_out ans = {.env = out.env};
    bool whole = true;
    if (st == LU_OK && json) {
        /* the same bytes cJSON_PrintUnformatted gives for {"ok": true, "result": ...} */
        const char *result = out.json ? out.json : "null";
        whole = append(ans.env, &ans.text, &ans.len, &ans.cap, "{\"ok\":true,\"result\":", 20) &&
                append_json(ans.env, &ans.text, &ans.len, &ans.cap, result, strlen(result)) &&
                append(ans.env, &ans.text, &ans.len, &ans.cap, "}\n", 2);
    } else if (st == LU_OK && out.text) {
        /* A body line never starts "%% " (that ends an answer): a name with a
         * line break in it (a zip entry "a\n%% ok") must not end it early. */
        for (size_t i = 0; whole && i < out.len;) {   /* line by line */
            const char *nl = memchr(out.text + i, '\n', out.len - i);
            size_t n = nl ? (size_t)(nl - (out.text + i)) + 1 : out.len - i;
            if (strncmp(out.text + i, "%%", 2) == 0) whole = append(ans.env, &ans.text, &ans.len, &ans.cap, " ", 1);
            whole = whole && append(ans.env, &ans.text, &ans.len, &ans.cap, out.text + i, n);
            i += n;
        }
    } else if (st != LU_OK && json) {
        cJSON *o = cJSON_CreateObject();
        char *s = o && cJSON_AddBoolToObject(o, "ok", 0) && cJSON_AddStringToObject(o, "status", lu_status_name(st)) &&
                          cJSON_AddStringToObject(o, "error", err.message)
                      ? cJSON_PrintUnformatted(o)
                      : NULL;
        cJSON_Delete(o);
        whole = s && append_json(ans.env, &ans.text, &ans.len, &ans.cap, s, strlen(s)) &&
                append(ans.env, &ans.text, &ans.len, &ans.cap, "\n", 1);
        cJSON_free(s);
    }
    char status[LU_ERROR_MAX + 64];
    for (char *p = err.message; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    if (st == LU_OK) snprintf(status, sizeof status, "%%%% ok\n");
    else snprintf(status, sizeof status, "%%%% error %s %s\n", lu_status_name(st), err.message);
    whole = whole && append(ans.env, &ans.text, &ans.len, &ans.cap, status, strlen(status));
    if (!whole || !send_text(c, cl, ans.text)) {
        snprintf(status, sizeof status, "%%%% error MEM_ERROR out of memory answering '%.64s'%s\n", argv[0] ? argv[0] : "",
                 ran ? " (the command itself ran)" : "");
        if (!send_text(c, cl, status)) cl->lost = true;
    }
    lu__free(ans.env, ans.text);
    lu__free(out.env, out.text);
    lu__free(out.env, out.json);
}

/* Splits buffered input into lines and answers them (shared by the socket
 * path and lu__console_answer). */
static int answer_lines(lu_console *c, client *cl);

size_t lu__console_answer(lu_console *c, const char *bytes, size_t len, char **out)
{
    client cl;
    memset(&cl, 0, sizeof cl);
    cl.fd = -1;
    for (size_t off = 0; off < len;) {
        size_t n = len - off < LU_CONSOLE_LINE_MAX - cl.in_len ? len - off : LU_CONSOLE_LINE_MAX - cl.in_len;
        memcpy(cl.in + cl.in_len, bytes + off, n);
        cl.in_len += n;
        off += n;
        answer_lines(c, &cl);
        if (cl.lost) break;   /* a connection would be dropped here */
    }
    *out = cl.out;
    return cl.out_len;
}

/* Reads what a client sent and answers its complete lines. */
static int answer_lines(lu_console *c, client *cl)
{
    int answered = 0;
    char *nl;
    while (!cl->lost && (nl = memchr(cl->in, '\n', cl->in_len)) != NULL) {
        *nl = '\0';
        if (!cl->skipping) {
            if (memchr(cl->in, '\0', (size_t)(nl - cl->in))) {
                if (!send_text(c, cl, "%% error INVAL NUL byte in the line\n")) cl->lost = true;
            } else {
                execute(c, cl, cl->in);
            }
            answered++;
        }
        cl->skipping = false;
        size_t used = (size_t)(nl - cl->in) + 1;
        memmove(cl->in, nl + 1, cl->in_len - used);
        cl->in_len -= used;
    }
    if (!cl->lost && cl->in_len == LU_CONSOLE_LINE_MAX) {   /* no newline in a full buffer */
        if (!cl->skipping) {
            char msg[96];
            snprintf(msg, sizeof msg, "%%%% error INVAL line longer than %d bytes\n", LU_CONSOLE_LINE_MAX);
            if (!send_text(c, cl, msg)) cl->lost = true;
            answered++;
        }
        cl->skipping = true;
        cl->in_len = 0;
    }
    return answered;
}

static int serve_input(lu_console *c, client *cl)
{
    int answered = 0;
    for (;;) {
        /* one frame serves a bounded share: a client that floods commands, or
         * never reads its answers, waits for the next frame (back-pressure) */
        if (answered >= 256 || cl->out_len - cl->out_sent > (1u << 20)) break;
        ssize_t r = recv(cl->fd, cl->in + cl->in_len, LU_CONSOLE_LINE_MAX - cl->in_len, MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            cl->eof = true;
            break;
        }
        if (r < 0) break;
        cl->in_len += (size_t)r;
        answered += answer_lines(c, cl);
        if (cl->lost) {   /* dropped once what was queued is sent */
            cl->eof = true;
            break;
        }
    }
    return answered;
}

static bool flush_output(client *cl)
{
    while (cl->out_sent < cl->out_len) {
        ssize_t w = send(cl->fd, cl->out + cl->out_sent, cl->out_len - cl->out_sent, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        cl->out_sent += (size_t)w;
    }
    cl->out_len = cl->out_sent = 0;
    return true;
}

int lu_console_poll(lu_console *c)
{
    if (!c) return 0;
    for (;;) {
        int fd = accept4(c->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) break;
        if (c->nclients == LU_CONSOLE_MAX_CLIENTS) {
            static const char busy[] = "%% error LOCKED too many console clients\n";
            (void)!send(fd, busy, sizeof busy - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
            close(fd);
            continue;
        }
        memset(&c->clients[c->nclients], 0, sizeof(client));
        c->clients[c->nclients++].fd = fd;
    }
    int answered = 0;
    for (size_t i = 0; i < c->nclients;) {
        client *cl = &c->clients[i];
        if (!cl->eof) answered += serve_input(c, cl);
        bool ok = flush_output(cl);
        if (!ok || (cl->eof && cl->out_len == 0)) drop_client(c, i);
        else i++;
    }
    return answered;
}

void lu_console_close(lu_console *c)
{
    if (!c) return;
    while (c->nclients) drop_client(c, 0);
    if (c->fd >= 0) close(c->fd);
    const lu_env *env = &c->ctx->env;
    for (size_t i = 0; i < c->ncmds; i++) {
        lu__free(env, c->cmds[i].name);
        lu__free(env, c->cmds[i].help);
    }
    lu__free(env, c->cmds);
    lu__free(env, c);
}
