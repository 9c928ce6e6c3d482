/* console_client.c -- `lutool console`: the client of lurun's debug console.
 *
 *   lutool console [--history FILE] [host:]port command...
 *       one command; prints the answer; exit status 0 when it succeeded,
 *       1 when the answer is an error line or the game is not there
 *   lutool console [--history FILE] [host:]port
 *       interactive on a terminal: libedit line editing, Tab completing
 *       commands, mount names, proxies and resource paths asked from the game,
 *       history kept after every line, Ctrl-C clearing the line, and a
 *       reconnection when the game restarts; one command per line from a
 *       pipe otherwise
 *
 * Protocol (docs/CONSOLE.md): a line is sent as typed and split into words
 * by the game (quotes and backslashes as in a shell); the answer is body
 * lines, then "%% ok" or "%% error <STATUS> <message>".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <histedit.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "liveupdate/console.h"
#include "lutool.h"

enum {
    CONNECT_TRIES = 3,         /* a lost game is tried this often per command */
    CONNECT_PAUSE_MS = 300,    /* between those tries */
    CONNECT_TIMEOUT_MS = 2000, /* one connect() */
    COMPLETE_TIMEOUT_MS = 5000,/* a completion's question to the game: a game starved by a busy machine still answers */
    ANSWER_LINE_MAX = 64 << 20,/* a longer answer line is a broken game */
    MAX_WORDS = 64,
};

enum { ASK_OK = 0, ASK_ERROR = 1, ASK_LOST = -1, ASK_TIMEOUT = -2, ASK_INTERRUPTED = -3 };

/* Set by SIGINT (Ctrl-C) in interactive mode; the one global of the client. */
static volatile sig_atomic_t interrupted;

typedef struct {
    char **items;
    size_t n;
    char key[1024];   /* what was asked ("" = nothing cached) */
} cache;

typedef struct {
    char host[256], port[16];
    int fd;             /* -1 when not connected */
    bool was_connected; /* a connection was made once: say "reconnected" */
    char rbuf[8192];
    size_t rlen, roff;
    char *line;         /* the last answer line read */
    size_t line_len, line_cap;
    cache commands;     /* per connection */
    cache names, paths; /* per input line: mount or proxy names, paths */
    EditLine *el;
} session;

static void usage(FILE *f)
{
    fprintf(f, "usage: lutool console [--history FILE] [host:]port [command...]\n"
               "With a command: send it, print the answer, exit 0 if it succeeded (1 on an error\n"
               "answer or when the game is not there). Each argument is one word; a single\n"
               "argument is sent as a whole command line.\n"
               "Without: an interactive session (help lists the commands; Tab completes; Ctrl-C\n"
               "clears the line; Ctrl-D quits). History: --history FILE, else\n"
               "$XDG_STATE_HOME/liveupdate/console_history (~/.local/state/... without it).\n");
}

/* ---- words ------------------------------------------------------------ */

/* The game's word rules (engine/console/server.c split_words), for the text
 * before the cursor: words[] get the unquoted words, *open the quote still
 * open at the end (0 for none). Returns
 * the number of words; the last one is the word being typed ("" after a
 * space). Words past MAX_WORDS are dropped. */
static int split_for_completion(const char *s, size_t len, char words[][512], char *open)
{
    int n = 0;
    size_t i = 0;
    *open = 0;
    for (;;) {
        while (i < len && (s[i] == ' ' || s[i] == '\t')) i++;
        char w[512];
        size_t wl = 0;
        char q = 0;
        for (; i < len; i++) {
            char ch = s[i];
            if (q == '\'') {
                if (ch == '\'') q = 0;
                else if (wl < sizeof w - 1) w[wl++] = ch;
            } else if (ch == '\\') {
                if (i + 1 < len && wl < sizeof w - 1) w[wl++] = s[++i];
            } else if (q == '"') {
                if (ch == '"') q = 0;
                else if (wl < sizeof w - 1) w[wl++] = ch;
            } else if (ch == '"' || ch == '\'') {
                q = ch;
            } else if (ch == ' ' || ch == '\t') {
                break;
            } else if (wl < sizeof w - 1) {
                w[wl++] = ch;
            }
        }
        w[wl] = '\0';
        if (n < MAX_WORDS) memcpy(words[n++], w, wl + 1);
        if (i >= len) {
            *open = q;
            return n;
        }
    }
}

/* True when the line has no word (blank or spaces only). */
static bool blank(const char *s)
{
    return s[strspn(s, " \t\r\n")] == '\0';
}

/* Drops the spaces a completion leaves at the end (not an escaped one). */
static void trim_end(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t') && !(n > 1 && s[n - 2] == '\\')) s[--n] = '\0';
}

/* Appends `word` to buf as one protocol word, quoted when it needs to be. */
static bool append_word(char *buf, size_t cap, const char *word)
{
    size_t n = strlen(buf);
    bool plain = *word && !strpbrk(word, " \t\r\"'\\");
    if (n && n + 1 < cap) buf[n++] = ' ';
    if (plain) {
        int w = snprintf(buf + n, cap - n, "%s", word);
        return w >= 0 && (size_t)w < cap - n;
    }
    if (n + 1 >= cap) return false;
    buf[n++] = '"';
    for (const char *p = word; *p; p++) {
        if (*p == '\n') return false;
        if (*p == '"' || *p == '\\') {
            if (n + 1 >= cap) return false;
            buf[n++] = '\\';
        }
        if (n + 1 >= cap) return false;
        buf[n++] = *p;
    }
    if (n + 2 >= cap) return false;
    buf[n++] = '"';
    buf[n] = '\0';
    return true;
}

/* ---- connection ------------------------------------------------------- */

static int parse_target(const char *target, char *host, size_t hcap, char *port, size_t pcap)
{
    const char *colon = strrchr(target, ':'), *p = colon ? colon + 1 : target;
    long long v;
    if (!luopt_number(p, 1, 65535, &v, NULL, 0)) {
        luopt_usage_error("lutool console", "'%s' is not [host:]port (a port from 1 to 65535)", target);
        return -1;
    }
    snprintf(host, hcap, "%.*s", colon ? (int)(colon - target) : 9, colon ? target : "127.0.0.1");
    snprintf(port, pcap, "%lld", v);
    return 0;
}

/* One connect() to one address, given up after CONNECT_TIMEOUT_MS. */
static int connect_one(const struct addrinfo *a)
{
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
        if (errno != EINPROGRESS) goto fail;
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int e = 0;
        socklen_t el = sizeof e;
        int r = poll(&p, 1, CONNECT_TIMEOUT_MS);
        if (r == 0) errno = ETIMEDOUT;
        if (r <= 0) goto fail;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) != 0) goto fail;
        if (e) {
            errno = e;
            goto fail;
        }
    }
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0) goto fail;
    return fd;
fail:;
    int e = errno;
    close(fd);
    errno = e;
    return -1;
}

static void disconnect(session *s)
{
    if (s->fd >= 0) close(s->fd);
    s->fd = -1;
    s->rlen = s->roff = 0;
    s->commands.key[0] = '\0';   /* the next game may have other commands */
}

/* Connects once. Returns 0, or -1 with the reason in errno (printed unless quiet). */
static int connect_once(session *s, bool quiet)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    int rc = getaddrinfo(s->host, s->port, &hints, &res);
    if (rc != 0) {
        if (!quiet) fprintf(stderr, "lutool console: %s: %s\n", s->host, gai_strerror(rc));
        errno = EHOSTUNREACH;
        return -1;
    }
    int fd = -1, e = ECONNREFUSED;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = connect_one(a);
        if (fd < 0) e = errno;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        if (!quiet)
            fprintf(stderr, "lutool console: cannot connect to %s:%s: %s (is lurun running with --console %s?)\n",
                    s->host, s->port, strerror(e), s->port);
        errno = e;
        return -1;
    }
    s->fd = fd;
    s->rlen = s->roff = 0;
    return 0;
}

/* Sleeps ms milliseconds; false when Ctrl-C cut it short. */
static bool pause_ms(int ms)
{
    poll(NULL, 0, ms);
    return !interrupted;
}

/* Before a command: a connection the game closed meanwhile (it stopped or
 * restarted) is noticed here, so the command goes to a new one instead of
 * being lost. Then connects, CONNECT_TRIES times at most. */
static int ensure_connected(session *s)
{
    if (s->fd >= 0) {
        struct pollfd p = {.fd = s->fd, .events = POLLIN};
        char c;
        if (poll(&p, 1, 0) == 1 && recv(s->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) <= 0) {
            fprintf(stderr, "lutool console: the game closed the connection; reconnecting\n");
            disconnect(s);
        }
    }
    if (s->fd >= 0) return 0;
    for (int i = 0; i < CONNECT_TRIES; i++) {
        if (i && !pause_ms(CONNECT_PAUSE_MS)) break;
        if (connect_once(s, i + 1 < CONNECT_TRIES) == 0) {
            if (s->was_connected) fprintf(stderr, "lutool console: reconnected to %s:%s\n", s->host, s->port);
            s->was_connected = true;
            return 0;
        }
        if (interrupted) break;
    }
    if (interrupted) fprintf(stderr, "lutool console: not connected (interrupted)\n");
    return -1;
}

/* Reads one answer line (without its newline) into s->line. timeout_ms < 0
 * waits as long as it takes (Ctrl-C still ends the wait). Returns ASK_OK,
 * ASK_LOST, ASK_TIMEOUT or ASK_INTERRUPTED. */
static int read_line(session *s, int timeout_ms)
{
    s->line_len = 0;
    for (;;) {
        char *nl = memchr(s->rbuf + s->roff, '\n', s->rlen - s->roff);
        size_t take = nl ? (size_t)(nl - (s->rbuf + s->roff)) : s->rlen - s->roff;
        if (s->line_len + take + 1 > s->line_cap) {
            if (s->line_len + take + 1 > ANSWER_LINE_MAX) return ASK_LOST;
            size_t cap = s->line_cap ? s->line_cap : 256;
            while (cap < s->line_len + take + 1) cap *= 2;
            char *l = realloc(s->line, cap);
            if (!l) return ASK_LOST;
            s->line = l;
            s->line_cap = cap;
        }
        memcpy(s->line + s->line_len, s->rbuf + s->roff, take);
        s->line_len += take;
        s->line[s->line_len] = '\0';
        s->roff += take + (nl != NULL);
        if (nl) return ASK_OK;
        s->rlen = s->roff = 0;
        struct pollfd p = {.fd = s->fd, .events = POLLIN};
        int r = poll(&p, 1, timeout_ms);
        if (interrupted) return ASK_INTERRUPTED;
        if (r == 0) return ASK_TIMEOUT;
        if (r < 0) {
            if (errno == EINTR) continue;
            return ASK_LOST;
        }
        ssize_t got = recv(s->fd, s->rbuf, sizeof s->rbuf, 0);
        if (got < 0 && errno == EINTR) {
            if (interrupted) return ASK_INTERRUPTED;
            continue;
        }
        if (got <= 0) return ASK_LOST;
        s->rlen = (size_t)got;
    }
}

/* Sends one line and reads its answer. Body lines are printed, or, with
 * `body`, the last one is kept there (malloc'ed). Returns ASK_OK, ASK_ERROR
 * (an error line, printed unless `body`), ASK_LOST, ASK_TIMEOUT or
 * ASK_INTERRUPTED; on the last three the connection is closed (what the
 * game answers later would be taken for the next command's answer). */
static int ask(session *s, const char *line, int timeout_ms, char **body)
{
    size_t len = strlen(line);
    int rc = ASK_LOST;
    if (send(s->fd, line, len, MSG_NOSIGNAL) == (ssize_t)len && send(s->fd, "\n", 1, MSG_NOSIGNAL) == 1) {
        while ((rc = read_line(s, timeout_ms)) == ASK_OK) {
            if (strncmp(s->line, "%% ", 3) != 0) {
                if (body) {
                    free(*body);
                    *body = strdup(s->line);
                } else {
                    printf("%s\n", s->line);
                }
                continue;
            }
            if (strcmp(s->line, "%% ok") == 0) return ASK_OK;
            if (!body)
                fprintf(stderr, "error: %s\n",
                        strncmp(s->line, "%% error ", 9) == 0 ? s->line + 9 : s->line + 3);
            return ASK_ERROR;
        }
    }
    disconnect(s);
    return rc;
}

/* Runs one command line typed (or piped) by the user. Returns 0 ok, 1 failed. */
static int run_line(session *s, const char *line)
{
    if (ensure_connected(s) != 0) return 1;
    int rc = ask(s, line, -1, NULL);
    fflush(stdout);
    if (rc == ASK_LOST)
        fprintf(stderr, "lutool console: lost the connection to the game; the next command reconnects\n");
    else if (rc == ASK_INTERRUPTED)
        fprintf(stderr, "lutool console: interrupted; that connection is closed, the next command reconnects\n");
    return rc == ASK_OK ? 0 : 1;
}

/* ---- completion ------------------------------------------------------- */

static void cache_clear(cache *c)
{
    for (size_t i = 0; i < c->n; i++) free(c->items[i]);
    free(c->items);
    c->items = NULL;
    c->n = 0;
    c->key[0] = '\0';
}

static void cache_add(cache *c, const char *item)
{
    if (c->n && strcmp(c->items[c->n - 1], item) == 0) return;   /* sorted input: neighbours */
    char **n = realloc(c->items, (c->n + 1) * sizeof *n);
    if (!n) return;
    c->items = n;
    if ((n[c->n] = strdup(item)) != NULL) c->n++;
}

/* Asks the game `question` (a --json command) for completion and fills the
 * cache with `field` of each result item (or each item, when field is NULL),
 * cut after the first '/' past `cut_from` characters when cut_from > 0.
 * Never waits more than COMPLETE_TIMEOUT_MS; a game that is not there gives
 * nothing (one quiet connection attempt). */
static void fill(session *s, cache *c, const char *question, const char *field, size_t cut_from)
{
    if (strcmp(c->key, question) == 0) return;
    cache_clear(c);
    snprintf(c->key, sizeof c->key, "%s", question);
    if (s->fd < 0 && connect_once(s, true) != 0) return;
    s->was_connected = true;
    char *body = NULL;
    int rc = ask(s, question, COMPLETE_TIMEOUT_MS, &body);
    if (rc == ASK_LOST && connect_once(s, true) == 0)   /* the game restarted since the last command */
        rc = ask(s, question, COMPLETE_TIMEOUT_MS, &body);
    if (rc == ASK_INTERRUPTED) interrupted = 0;   /* Ctrl-C during Tab: just no completion */
    if (rc != ASK_OK) c->key[0] = '\0';   /* no answer is not an empty answer: ask again on the next Tab */
    cJSON *doc = rc == ASK_OK && body ? cJSON_Parse(body) : NULL;
    free(body);
    cJSON *item, *res = cJSON_GetObjectItem(doc, "result");
    cJSON_ArrayForEach(item, res)
    {
        const char *v = cJSON_GetStringValue(field ? cJSON_GetObjectItem(item, field) : item);
        if (!v) continue;
        char buf[1024];
        snprintf(buf, sizeof buf, "%s", v);
        char *slash = cut_from && strlen(buf) > cut_from ? strchr(buf + cut_from, '/') : NULL;
        if (slash) slash[1] = '\0';
        cache_add(c, buf);
    }
    cJSON_Delete(doc);
}

static const char *const LOCAL_COMMANDS[] = {"quit", "exit"};

/* The commands, from the game's `help` (its own commands included). */
static void commands_of(session *s)
{
    fill(s, &s->commands, "help --json", "command", 0);
    if (s->commands.n == 0) {   /* no game: the library's and lurun's own */
        static const char *const known[] = {"add", "downloads", "help", "ls", "missing", "mounts", "prune",
                                            "remove", "report", "status", "update", "which"};
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) cache_add(&s->commands, known[i]);
        s->commands.key[0] = '\0';   /* ask again next time */
    }
}

/* Inserts text escaped for the quote in force (0, '"' or '\''). */
static void insert_escaped(EditLine *el, const char *text, size_t len, char open)
{
    char buf[2048];
    size_t n = 0;
    for (size_t i = 0; i < len && n < sizeof buf - 5; i++) {
        char ch = text[i];
        if (open == '\'' && ch == '\'') {   /* no escape inside '...': close, \', reopen (pieces make one word) */
            memcpy(buf + n, "'\\''", 4);
            n += 4;
            continue;
        }
        if ((open == '"' && (ch == '"' || ch == '\\')) ||
            (!open && strchr(" \t\"'\\", ch)))
            buf[n++] = '\\';
        buf[n++] = ch;
    }
    buf[n] = '\0';
    if (n) el_insertstr(el, buf);
}

static unsigned char complete(EditLine *el, int ch)
{
    (void)ch;
    session *s;
    el_get(el, EL_CLIENTDATA, &s);
    const LineInfo *li = el_line(el);
    char words[MAX_WORDS][512];
    char open;
    int n = split_for_completion(li->buffer, (size_t)(li->cursor - li->buffer), words, &open);
    const char *part = words[n - 1], *cmd = words[0], *prev = n > 1 ? words[n - 2] : "";
    cache extra = {0};
    const cache *from = &extra;
    size_t show_from = 0;   /* paths are listed from their last segment */
    if (n == 1) {
        commands_of(s);
        for (size_t i = 0; i < s->commands.n; i++) cache_add(&extra, s->commands.items[i]);
        for (size_t i = 0; i < sizeof LOCAL_COMMANDS / sizeof *LOCAL_COMMANDS; i++) cache_add(&extra, LOCAL_COMMANDS[i]);
    } else if (strncmp(part, "--", 2) == 0) {
        cache_add(&extra, "--json");
        if (strcmp(cmd, "ls") == 0) cache_add(&extra, "--mount");
    } else if (strcmp(prev, "--mount") == 0 || (strcmp(cmd, "remove") == 0 && n == 2)) {
        fill(s, &s->names, "mounts --json", "name", 0);
        from = &s->names;
    } else if (strcmp(cmd, "missing") == 0 && n == 2) {
        fill(s, &s->names, "missing --json", "proxy", 0);
        from = &s->names;
    } else if ((strcmp(cmd, "which") == 0 || strcmp(cmd, "ls") == 0) && (part[0] == '/' || !part[0])) {
        if (!part[0]) {   /* every resource path starts with '/' */
            el_insertstr(el, "/");
            part = "/";
        }
        char dir[512], q[1024] = "ls";
        const char *slash = strrchr(part, '/');
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - part + 1), part);
        append_word(q, sizeof q, dir);
        append_word(q, sizeof q, "--json");
        fill(s, &s->paths, q, "path", strlen(dir));
        from = &s->paths;
        show_from = strlen(dir);
    }
    /* the candidates that start with what was typed, and what they share */
    size_t plen = strlen(part), common = 0, matches = 0;
    const char *first = NULL;
    for (size_t i = 0; i < from->n; i++) {
        const char *c = from->items[i];
        if (strncmp(c, part, plen) != 0) continue;
        if (!first) {
            first = c;
            common = strlen(c);
        } else {
            size_t k = plen;
            while (k < common && c[k] == first[k]) k++;
            common = k;
        }
        matches++;
    }
    unsigned char rc = CC_REFRESH;
    if (!matches) {
        rc = CC_REFRESH_BEEP;
    } else if (common > plen || matches == 1) {
        insert_escaped(el, first + plen, common - plen, open);
        if (matches == 1 && first[common - 1] != '/') {   /* a whole word: close it */
            char end[3] = {0};
            size_t e = 0;
            if (open) end[e++] = open;
            end[e++] = ' ';
            el_insertstr(el, end);
        }
    } else {   /* nothing to add: show what there is */
        fputc('\n', stdout);
        size_t w = 0;
        for (size_t i = 0; i < from->n; i++)
            if (strncmp(from->items[i], part, plen) == 0 && strlen(from->items[i] + show_from) > w)
                w = strlen(from->items[i] + show_from);
        size_t cols = w + 2 < 80 ? 80 / (w + 2) : 1, col = 0;
        for (size_t i = 0; i < from->n; i++) {
            if (strncmp(from->items[i], part, plen) != 0) continue;
            printf("%-*s", (int)(w + 2), from->items[i] + show_from);
            if (++col == cols) {
                fputc('\n', stdout);
                col = 0;
            }
        }
        if (col) fputc('\n', stdout);
        fflush(stdout);
        rc = CC_REDISPLAY;
    }
    cache_clear(&extra);
    return rc;
}

/* ---- interactive ------------------------------------------------------ */

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

static char *prompt(EditLine *el)
{
    session *s;
    el_get(el, EL_CLIENTDATA, &s);
    return s->fd >= 0 || !s->was_connected ? "lu> " : "lu (not connected)> ";
}

/* The history file: `given`, or $XDG_STATE_HOME/liveupdate/console_history
 * (a relative XDG_STATE_HOME is ignored, as the XDG spec says), or
 * ~/.local/state/liveupdate/console_history. Its folder is created. Returns
 * false (nothing printed) when there is no place for it. */
static bool history_path(const char *given, char *out, size_t cap)
{
    const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    int n;
    if (given) n = snprintf(out, cap, "%s", given);
    else if (xdg && xdg[0] == '/') n = snprintf(out, cap, "%s/liveupdate/console_history", xdg);
    else if (home && *home) n = snprintf(out, cap, "%s/.local/state/liveupdate/console_history", home);
    else return false;
    if (n < 0 || (size_t)n >= cap) return false;
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", out);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) return true;
    *slash = '\0';
    return lutool_mkdir_p("console", dir) == 0;
}

/* Saves the history next to `path` and renames it over, so a client killed
 * at any moment leaves the old file or the new one. */
static void history_save(History *h, const char *path)
{
    char tmp[PATH_MAX + 16];
    HistEvent ev;
    if (snprintf(tmp, sizeof tmp, "%s.%ld", path, (long)getpid()) >= (int)sizeof tmp) return;
    if (history(h, &ev, H_SAVE, tmp) < 0 || chmod(tmp, 0600) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        fprintf(stderr, "lutool console: cannot save the history in %s\n", path);
    }
}

static int interactive_tty(session *s, const char *hist_file)
{
    struct sigaction sa = {.sa_handler = on_sigint};   /* no SA_RESTART: a read is cut short */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    char path[PATH_MAX];
    bool keep = history_path(hist_file, path, sizeof path);
    HistEvent ev;
    History *h = history_init();
    history(h, &ev, H_SETSIZE, 1000);
    history(h, &ev, H_SETUNIQUE, 1);
    if (keep) history(h, &ev, H_LOAD, path);
    EditLine *el = el_init("lutool", stdin, stdout, stderr);
    s->el = el;
    el_set(el, EL_CLIENTDATA, s);
    el_set(el, EL_EDITOR, "emacs");
    el_set(el, EL_HIST, history, h);
    el_set(el, EL_PROMPT, prompt);
    el_source(el, NULL);   /* the user's ~/.editrc */
    /* the wide call: libedit's narrow EL_ADDFN copies both strings and never frees them */
    el_wset(el, EL_ADDFN, L"lu-complete", L"complete a command, mount or resource path from the game", complete);
    el_set(el, EL_BIND, "^I", "lu-complete", NULL);
    int last = 0;
    for (;;) {
        int count;
        interrupted = 0;
        const char *got = el_gets(el, &count);
        cache_clear(&s->names);
        cache_clear(&s->paths);
        if (!got && interrupted) {   /* Ctrl-C: a fresh, empty line */
            fputc('\n', stdout);
            el_reset(el);
            continue;
        }
        if (!got || count <= 0) {   /* Ctrl-D */
            fputc('\n', stdout);
            break;
        }
        char line[2 * LU_CONSOLE_LINE_MAX];
        snprintf(line, sizeof line, "%s", got);
        line[strcspn(line, "\r\n")] = '\0';
        trim_end(line);
        if (blank(line)) continue;
        history(h, &ev, H_ENTER, line);
        if (keep) history_save(h, path);
        if (strcmp(line, "quit") == 0 || strcmp(line, "exit") == 0) break;
        last = run_line(s, line);
    }
    el_end(el);
    history_end(h);
    return last;
}

/* One command per stdin line (a pipe or file); blank lines are skipped. */
static int interactive_pipe(session *s)
{
    int last = 0;
    char line[2 * LU_CONSOLE_LINE_MAX];
    while (fgets(line, sizeof line, stdin)) {
        size_t len = strlen(line);
        if (len && line[len - 1] != '\n' && !feof(stdin)) {   /* longer than the buffer: refuse it whole */
            int ch;
            while ((ch = getchar()) != EOF && ch != '\n') {}
            fprintf(stderr, "error: INVAL line longer than %d bytes (not sent)\n", LU_CONSOLE_LINE_MAX);
            last = 1;
            continue;
        }
        line[strcspn(line, "\r\n")] = '\0';
        if (blank(line)) continue;
        if (strcmp(line, "quit") == 0 || strcmp(line, "exit") == 0) break;
        last = run_line(s, line);
    }
    return last;
}

int lutool_console(int argc, char **argv)
{
    const char *hist_file = NULL;
    /* The options come before [host:]port; every word after it is the
     * command's (so `lutool console 7000 ls --json` sends --json), and "--"
     * ends the options as everywhere (docs/BUNDLER.md, Tool options). */
    int i = 0;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "--version") == 0) {
            printf("lutool (liveupdate) %s\n", lu_version());
            return 0;
        }
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        int r = luopt_value("lutool console", argc, argv, &i, "--history", &hist_file);
        if (r < 0) return 2;
        if (r) continue;
        if (a[0] == '-' && a[1]) return luopt_usage_error("lutool console", "unknown option '%s'", a);
        break;
    }
    if (i >= argc) return luopt_usage_error("lutool console", "missing [host:]port");
    session s = {.fd = -1};
    if (parse_target(argv[i++], s.host, sizeof s.host, s.port, sizeof s.port) != 0) return 2;
    int rc;
    if (i < argc) {   /* one command */
        char line[LU_CONSOLE_LINE_MAX + 1];
        line[0] = '\0';
        bool fits = true;
        for (int k = i; k < argc; k++)
            if (strpbrk(argv[k], "\n\r")) {   /* the protocol has one command per line */
                fprintf(stderr, "lutool console: argument %d holds a line break; send one command at a time\n",
                        k - i + 1);
                return 2;
            }
        if (argc - i == 1) fits = snprintf(line, sizeof line, "%s", argv[i]) < (int)sizeof line;
        else
            for (; fits && i < argc; i++) fits = append_word(line, sizeof line, argv[i]);
        if (!fits) {
            fprintf(stderr, "lutool console: the command is longer than %d bytes\n", LU_CONSOLE_LINE_MAX);
            return 2;
        }
        if (connect_once(&s, false) != 0) return 1;
        rc = ask(&s, line, -1, NULL);
        if (rc == ASK_LOST) fprintf(stderr, "lutool console: the game closed the connection before answering\n");
        rc = rc == ASK_OK ? 0 : 1;
    } else if (isatty(0)) {
        if (connect_once(&s, false) != 0) fprintf(stderr, "lutool console: each command tries again\n");
        s.was_connected = true;
        rc = interactive_tty(&s, hist_file);
    } else {
        if (connect_once(&s, false) != 0) return 1;
        s.was_connected = true;
        rc = interactive_pipe(&s);
    }
    disconnect(&s);
    cache_clear(&s.commands);
    cache_clear(&s.names);
    cache_clear(&s.paths);
    free(s.line);
    return rc;
}
