/* test_faults_console_host.c -- lurun's console commands (missing with and
 * without a proxy, downloads, update, status: engine/host/console_commands.c, built here
 * against a stub host) under allocation faults by counter (faults.h),
 * transient and persistent, in one console session. Every answer is whole:
 * a JSON line parses and carries its result, every command gets its status
 * line (transient faults), and nothing leaks under ASan. Before, a failed
 * cJSON call left a field out of an "ok" answer, or leaked the object it
 * could not append.
 */
#include <cjson/cJSON.h>

#include "faults.h"
#include "helpers.h"
#include "../../engine/console/console_internal.h"
#include "../../engine/host/console_commands.c"
#include "liveupdate/project.h"

/* the host's HTTP list (lua/host/host_http.c is not linked): one transfer */
size_t lu_host_http_list(lu_host *h, lu_http_transfer *out, size_t max)
{
    (void)h;
    if (max < 1) return 0;
    out[0] = (lu_http_transfer){7, "http://example.com/a", "/tmp/a", 10, 100};
    return 1;
}

static const char MANIFEST[] =
    "{\"resources\": [{\"path\": \"/main/main.lua\", \"size\": 0}, {\"path\": \"/level1/level1.collection\", \"size\": 0},"
    " {\"path\": \"/level1/level1.lua\", \"size\": 0}], \"proxies\": [{\"id\": \"level1\", \"collection\": "
    "\"/level1/level1.collection\", \"excluded\": true, \"volume\": \"liveupdate\", \"resources\": "
    "[\"/level1/level1.collection\", \"/level1/level1.lua\"]}], \"volumes\": [{\"name\": \"liveupdate\", \"file\": "
    "\"liveupdate.zip\", \"version\": 1, \"priority\": 10}]}";
static const char PROJECT[] = "[project]\ntitle = Faults\n\n[update]\nurl = file:///nonexistent/release.json\n";
static const char SEQUENCE[] = "missing level1 --json\nmissing level1\ndownloads --json\ndownloads\nupdate --json\n"
                               "update\nstatus --json\nstatus\nmissing --json\nmissing\n";
#define COMMANDS 10

static void session(int mode)
{
    char *vols = th_tempdir(), *a = th_path(vols, "a.zip"), base[PATH_MAX + 8];
    th_make_zip(a, (const char *[]){"main/main.lua", "print()", NULL});
    snprintf(base, sizeof base, "zip:%s", a);
    cJSON_Hooks hooks = {f_cjson_malloc, free};
    cJSON_InitHooks(&hooks);
    long n;
    for (n = 1; n < 100000; n++) {
        lu_config cfg;
        lu_config_init(&cfg);
        cfg.save_dir = th_tempdir();
        cfg.base_uri = base;
        cfg.allocator = &faults_allocator;
        lu_context *ctx = NULL;
        lu_error err;
        cr_assert_eq(lu_context_open(&cfg, &ctx, &err), LU_OK, "%s", err.message);
        lu_updater_config ucfg;
        lu_updater_config_init(&ucfg);
        ucfg.local_version = "1.0";
        cr_assert_eq(lu_updater_open(ctx, &ucfg, &err), LU_OK, "%s", err.message);
        lu_host h = {0};
        h.ctx = ctx;
        h.update_on = true;
        h.frame = 42;
        cr_assert_eq(lu_project_parse("game.project", PROJECT, sizeof PROJECT - 1, &h.project, &err), LU_OK, "%s",
                     err.message);
        cr_assert_eq(lu_manifest_parse(MANIFEST, sizeof MANIFEST - 1, &h.manifest, &err), LU_OK, "%s", err.message);
        lu_console *c;
        cr_assert_eq(lu_console_open(ctx, 0, &c, &err), LU_OK, "%s", err.message);
        lu_host_console_register(&h, c);
        char *out = NULL;
        faults_arm(n, mode);
        lu__console_answer(c, SEQUENCE, sizeof SEQUENCE - 1, &out);
        faults_disarm();
        int statuses = 0, oks = 0;
        for (char *save = NULL, *line = out ? strtok_r(out, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
            if (line[0] == '{') {
                cJSON *j = cJSON_Parse(line);
                cr_assert_not_null(j, "fault %ld (%s): a JSON answer is cut: %s", n, fault_mode_names[mode], line);
                const cJSON *r = cJSON_GetObjectItem(j, "result");
                if (cJSON_IsTrue(cJSON_GetObjectItem(j, "ok"))) {
                    /* every result whole: each kind has its last field */
                    const cJSON *first = cJSON_GetArrayItem(r, 0);   /* a transfer, or a proxy of `missing` */
                    bool whole = cJSON_IsArray(r) ? cJSON_GetArraySize(r) == 1 &&
                                                        (cJSON_GetObjectItem(first, "total") || cJSON_GetObjectItem(first, "volume"))
                                 : cJSON_GetObjectItem(r, "missing")  ? cJSON_GetObjectItem(r, "volume") != NULL
                                 : cJSON_GetObjectItem(r, "mode")     ? cJSON_GetObjectItem(r, "last_status") != NULL
                                                                      : cJSON_GetObjectItem(r, "scripts") != NULL;
                    cr_assert(whole, "fault %ld (%s): an ok answer lacks a field: %s", n, fault_mode_names[mode], line);
                }
                cJSON_Delete(j);
            } else if (strncmp(line, "%% ", 3) == 0) {
                statuses++;
                if (strcmp(line, "%% ok") == 0) oks++;
                else cr_assert(strncmp(line, "%% error ", 9) == 0 && strlen(line) > 20, "fault %ld: '%s'", n, line);
            }
        }
        if (mode == FAULT_TRANSIENT)
            cr_assert_eq(statuses, COMMANDS, "fault %ld: %d of %d commands answered", n, statuses, COMMANDS);
        lu_free(ctx, out);
        lu_console_close(c);
        lu_manifest_free(h.manifest);
        lu_project_free(h.project);
        lu_context_close(ctx);
        if (oks == COMMANDS && !faults_reached()) break;
    }
    cJSON_InitHooks(NULL);
    cr_log_info("host console commands, %s allocation faults: %ld points, each answered whole", fault_mode_names[mode],
                n - 1);
    cr_assert_gt(n, 30);
}

Test(faults_console_host, every_allocation_failure_gets_a_whole_answer, .timeout = 300)
{
    session(FAULT_TRANSIENT);
}

Test(faults_console_host, allocation_that_stays_failed_gets_whole_answers, .timeout = 300)
{
    session(FAULT_PERSISTENT);
}
