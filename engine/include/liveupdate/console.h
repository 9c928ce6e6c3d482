/* console.h -- the debug console server: a line protocol on 127.0.0.1 that
 * lets a person (or lutool console) inspect and change a running game's
 * mounts (docs/RUNTIME.md). docs/CONSOLE.md describes the protocol and commands.
 *
 * Every request line gets an answer, a blank one included ("%% ok"); its
 * words are split as a shell splits them ("double" and 'single' quotes,
 * backslashes), so arguments may hold spaces.
 *
 * The server never blocks: lu_console_poll() accepts, reads and answers what
 * is ready, and is meant to be called once per frame from the thread that
 * owns the context. Built-in commands: help, mounts, which, ls, add, remove,
 * prune, report. A host registers the ones only it can answer (lurun:
 * missing, downloads, update, status).
 */
#ifndef LIVEUPDATE_CONSOLE_H
#define LIVEUPDATE_CONSOLE_H

#include "liveupdate/liveupdate.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lu_console lu_console;
typedef struct lu_console_out lu_console_out;

#define LU_CONSOLE_LINE_MAX 4096   /* longer request lines are refused */
#define LU_CONSOLE_MAX_CLIENTS 32

/* A command: argv[0] is its name, `--json` already removed (json says
 * whether it was given). Text goes through lu_console_printf; in JSON mode
 * the result is one value given to lu_console_json_text. Returns LU_OK, or
 * a failure with err set (the client sees "error <STATUS> <message>"). */
typedef lu_status (*lu_console_cmd_fn)(void *ud, int argc, char **argv, int json, lu_console_out *out,
                                       lu_error *err);

/* Listens on 127.0.0.1:port (0 picks a free port). Returns LU_OK and *out,
 * LU_IO_ERROR (port in use, ...). The context must outlive the console. */
lu_status lu_console_open(lu_context *ctx, int port, lu_console **out, lu_error *err);

/* The port actually bound. */
int lu_console_port(const lu_console *c);

/* Adds or replaces a command. `name` and `help` are copied. */
lu_status lu_console_register(lu_console *c, const char *name, const char *help, lu_console_cmd_fn fn,
                              void *ud, lu_error *err);

/* The minimum version `prune` uses (default 0). */
void lu_console_set_prune_minimum(lu_console *c, long long minimum);

/* Serves what is ready without waiting. Returns the number of commands
 * answered. Each answer is queued whole: when memory runs out while a
 * command's text or JSON result is built, or while its answer is queued,
 * the client gets "error MEM_ERROR <message>" instead (the message adds
 * "(the command itself ran)" when it did), never an "ok" with a part
 * missing; a client whose answer cannot be queued at all is disconnected
 * after what was queued before it. Not thread-safe: call from one thread. */
int lu_console_poll(lu_console *c);

/* Closes every client and the listening socket. Accepts NULL. */
void lu_console_close(lu_console *c);

/* Output of a command (text mode). Out of memory, the text is not cut
 * silently: the command is answered MEM_ERROR (see lu_console_poll). */
void lu_console_printf(lu_console_out *out, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Result of a command in JSON mode: `json` is the text of one JSON value
 * on one line (build it with any JSON library); it is copied and replaces
 * an earlier result. NULL says the value could not be built (out of
 * memory): the command then answers MEM_ERROR. No result at all is null. */
void lu_console_json_text(lu_console_out *out, const char *json);

/* "12.3 KiB": a size in human units into buf. */
const char *lu_console_size(uint64_t bytes, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif

#endif
