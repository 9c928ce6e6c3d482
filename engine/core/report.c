/* report.c -- the start-up report: what opening a context dropped, pruned,
 * moved aside or rolled back, for the game and the console to show.
 *
 * A leaf of the core: the context, pruning and the layers above append to
 * it; nothing here calls back into them.
 */
#include "internal.h"

void lu__report_add(lu_context *ctx, const char *name, const char *uri, const char *action,
                    const lu_error *err)
{
    lu__log(&ctx->env, LU_LOG_WARN, "start-up: %s '%s' (%s): %s", action, name, uri ? uri : "",
            err->message);
    lu_report_entry *r = lu__realloc(&ctx->env, ctx->report, (ctx->nreport + 1) * sizeof *r);
    if (!r) return;   /* the log line above still says it */
    ctx->report = r;
    r = &ctx->report[ctx->nreport];
    r->name = lu__strdup(&ctx->env, name);
    r->uri = lu__strdup(&ctx->env, uri ? uri : "");
    r->action = lu__strdup(&ctx->env, action);
    r->message = lu__strdup(&ctx->env, err->message);
    r->status = err->status;
    if (!r->name || !r->uri || !r->action || !r->message) {
        lu__free(&ctx->env, r->name);
        lu__free(&ctx->env, r->uri);
        lu__free(&ctx->env, r->action);
        lu__free(&ctx->env, r->message);
        return;
    }
    ctx->nreport++;
}

void lu__report_free(lu_context *ctx)
{
    for (size_t i = 0; i < ctx->nreport; i++) {
        lu__free(&ctx->env, ctx->report[i].name);
        lu__free(&ctx->env, ctx->report[i].uri);
        lu__free(&ctx->env, ctx->report[i].action);
        lu__free(&ctx->env, ctx->report[i].message);
    }
    lu__free(&ctx->env, ctx->report);
    ctx->report = NULL;
    ctx->nreport = 0;
}

size_t lu_startup_report_count(const lu_context *ctx)
{
    return ctx->nreport;
}

lu_status lu_startup_report_get(const lu_context *ctx, size_t i, lu_report_item *out)
{
    if (i >= ctx->nreport) return LU_INVAL;
    const lu_report_entry *r = &ctx->report[i];
    out->name = r->name;
    out->uri = r->uri;
    out->action = r->action;
    out->status = r->status;
    out->message = r->message;
    return LU_OK;
}
