/* test_layers.c -- the hooks through which layers above the core attach
 * to a context (engine/core/context.c): lu_update runs their poll hooks,
 * lu_context_close their close hooks, the highest level first, each while
 * its state can still be looked up. */
#include "helpers.h"
#include "internal.h"

typedef struct fake {
    const lu_layer_ops *ops;
    int polls;
    int *order, *norder;
    int saw_own_state;   /* close hook found its state still attached */
} fake;

static int fake_poll(lu_context *ctx, void *state)
{
    fake *f = state;
    f->polls++;
    return 1;
}

static void fake_close(lu_context *ctx, void *state)
{
    fake *f = state;
    f->order[(*f->norder)++] = f->ops->level;
    f->saw_own_state = lu__layer_state(ctx, f->ops) == f;
}

static const lu_layer_ops low = {"low", 1, fake_poll, fake_close};
static const lu_layer_ops high = {"high", 3, fake_poll, fake_close};
static const lu_layer_ops mid = {"mid", 2, NULL, fake_close};

Test(layers, poll_hooks_run_from_lu_update_and_close_hooks_highest_level_first)
{
    lu_context *ctx = th_open(th_tempdir(), NULL);
    int order[3], norder = 0;
    fake f[3] = {{&mid, 0, order, &norder, 0}, {&low, 0, order, &norder, 0}, {&high, 0, order, &norder, 0}};
    lu_error err;
    for (int i = 0; i < 3; i++) cr_assert_eq(lu__layer_attach(ctx, f[i].ops, &f[i], &err), LU_OK);
    cr_expect_eq(lu__layer_attach(ctx, &low, &f[1], &err), LU_INVAL, "a layer attaches once");
    cr_expect(strstr(err.message, "low"), "%s", err.message);
    cr_expect_eq(lu__layer_state(ctx, &high), &f[2]);
    cr_expect_eq(lu_update(ctx), 2, "two poll hooks ran, each counted one callback");
    cr_expect_eq(lu_update(ctx), 2);
    cr_expect_eq(f[1].polls, 2);
    cr_expect_eq(f[2].polls, 2);
    lu_context_close(ctx);
    cr_assert_eq(norder, 3);
    cr_expect(order[0] == 3 && order[1] == 2 && order[2] == 1, "close order %d %d %d", order[0], order[1], order[2]);
    for (int i = 0; i < 3; i++) cr_expect(f[i].saw_own_state, "layer %s closed after it was detached", f[i].ops->name);
}

Test(layers, a_detached_layer_is_neither_polled_nor_closed)
{
    lu_context *ctx = th_open(th_tempdir(), NULL);
    int order[3], norder = 0;
    fake f = {&low, 0, order, &norder, 0};
    lu_error err;
    cr_assert_eq(lu__layer_attach(ctx, &low, &f, &err), LU_OK);
    cr_expect_eq(lu__layer_detach(ctx, &low), &f);
    cr_expect_null(lu__layer_state(ctx, &low));
    cr_expect_eq(lu_update(ctx), 0);
    lu_context_close(ctx);
    cr_expect_eq(f.polls, 0);
    cr_expect_eq(norder, 0);
}

Test(layers, the_options_are_kept_as_given)
{
    char *save = th_tempdir();
    unsigned char key[32];
    for (int i = 0; i < 32; i++) key[i] = (unsigned char)i;
    char ca[] = "/etc/ssl/certs/ca.pem";
    lu_config cfg;
    lu_config_init(&cfg);
    cfg.save_dir = save;
    cfg.public_key = key;
    cfg.ca_file = ca;
    cfg.max_downloads = 5;
    lu_context *ctx;
    lu_error err;
    cr_assert_eq(lu_context_open(&cfg, &ctx, &err), LU_OK, "%s", err.message);
    memset(key, 0, sizeof key);   /* the caller's copies may go */
    ca[0] = 'X';
    const lu_config *o = lu__options(ctx);
    cr_expect_str_eq(o->ca_file, "/etc/ssl/certs/ca.pem");
    cr_expect_str_eq(o->save_dir, save);
    cr_expect_eq(o->max_downloads, 5);
    cr_assert_not_null(o->public_key);
    cr_expect_eq(o->public_key[31], 31);
    lu_context_close(ctx);
}

/* A callback inside lu_update closes the context (a script's callback
 * calling liveupdate.shutdown()): no poll hook runs after it, each close
 * hook runs once, and the context is freed when lu_update returns (under
 * ASan: no use-after-free). It used to be freed in the middle of the poll. */
static lu_context *closing_ctx;

static int closing_poll(lu_context *ctx, void *state)
{
    fake *f = state;
    f->polls++;
    lu_context_close(ctx);                  /* what a callback may do */
    cr_expect(lu__closing(ctx), "a layer sees the close request");
    cr_expect_eq(lu__layer_state(ctx, f->ops), f, "the context is still whole until lu_update returns");
    return 1;
}

static const lu_layer_ops closer = {"closer", 1, closing_poll, fake_close};
static const lu_layer_ops later = {"later", 2, fake_poll, fake_close};

Test(layers, a_close_from_a_callback_takes_effect_when_lu_update_returns)
{
    closing_ctx = th_open(th_tempdir(), NULL);
    int order[2], norder = 0;
    fake f[2] = {{&closer, 0, order, &norder, 0}, {&later, 0, order, &norder, 0}};
    lu_error err;
    cr_assert_eq(lu__layer_attach(closing_ctx, &closer, &f[0], &err), LU_OK);
    cr_assert_eq(lu__layer_attach(closing_ctx, &later, &f[1], &err), LU_OK);
    cr_expect_eq(lu_update(closing_ctx), 1);
    cr_expect_eq(f[0].polls, 1);
    cr_expect_eq(f[1].polls, 0, "no poll hook runs after the close request");
    cr_expect_eq(norder, 2, "both close hooks ran, once each");
    cr_expect(order[0] == 2 && order[1] == 1);
}
