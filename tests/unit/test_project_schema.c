/* test_project_schema.c -- lu_project_check (the game.project schema) and
 * the glob matcher: every mistake named with file, line, key and the
 * nearest known key; near-miss sections warned about, the game's own
 * sections left alone; --set held to the same table; globs matched in
 * bounded work; docs/BUNDLER.md's table the same as the code's. */
#include "helpers.h"
#include "liveupdate/manifest.h"
#include "liveupdate/project.h"
#include "../../engine/content/project_internal.h"
#include "../../engine/content/project_schema.h"

typedef struct warnings {
    int n;
    char all[4096];
} warnings;

static void collect(void *ud, const char *message)
{
    warnings *w = ud;
    w->n++;
    size_t used = strlen(w->all);
    snprintf(w->all + used, sizeof w->all - used, "%s\n", message);
}

/* Parses `text` as game.project and checks it: the status, err and the
 * warnings. */
static lu_status check(const char *text, lu_error *err, warnings *w)
{
    lu_project *p;
    memset(w, 0, sizeof *w);
    cr_assert_eq(lu_project_parse("game.project", text, strlen(text), &p, err), LU_OK, "%s", err->message);
    lu_status st = lu_project_check(p, collect, w, err);
    lu_project_free(p);
    return st;
}

#define PROXY "[proxy.level1]\ncollection = /level1/level1.collection\nresources = /level1/**\n"

Test(project_schema, an_unknown_key_names_file_line_key_and_the_nearest_known_one)
{
    lu_error err;
    warnings w;
    cr_expect_eq(check("[project]\ntitle = t\n" PROXY "exlude = 1\nvolume = levels\n", &err, &w), LU_FORMAT_ERROR);
    cr_expect_str_eq(err.message, "game.project:6: unknown key 'exlude' in [proxy.level1] (did you mean 'exclude'?)");
    cr_expect_eq(check("[update]\nurl = http://x\nchek_interval_s = 5\n", &err, &w), LU_FORMAT_ERROR);
    cr_expect_str_eq(err.message,
                     "game.project:3: unknown key 'chek_interval_s' in [update] (did you mean 'check_interval_s'?)");
    /* nothing near: the keys the section has */
    cr_expect_eq(check("[volume.levels]\nversion = 1\nsize = 3\n", &err, &w), LU_FORMAT_ERROR);
    cr_expect_str_eq(err.message,
                     "game.project:3: unknown key 'size' in [volume.levels] (known keys: version, priority, compression)");
    cr_expect_eq(check("[liveupdate]\nMount_On_Start = 1\n", &err, &w), LU_FORMAT_ERROR);
    cr_expect(strstr(err.message, "(did you mean 'mount_on_start'?)") != NULL, "%s", err.message);
}

Test(project_schema, a_key_set_twice_in_an_owned_section_is_warned_about_naming_both_lines)
{
    lu_error err;
    warnings w;
    /* the later value wins, as in Defold, but an exclude = 1 undone lower
     * down silently shipped the level in the base: it is named */
    cr_expect_eq(check("[project]\ntitle = t\n" PROXY "exclude = 1\nvolume = levels\nexclude = 0\n", &err, &w), LU_OK,
                 "%s", err.message);
    cr_expect_eq(w.n, 1, "%s", w.all);
    cr_expect_str_eq(w.all, "game.project:8: warning: proxy.level1.exclude is set again (first at line 6); the later "
                            "value is used\n");
    /* the game's own sections and [game] keep Defold's rule: the later value wins */
    cr_expect_eq(check("[display]\nwidth = 1\nwidth = 2\n[game]\nlabel = a\nlabel = b\n", &err, &w), LU_OK, "%s",
                 err.message);
    cr_expect_eq(w.n, 0, "%s", w.all);
    /* --set over a file value is no duplicate */
    lu_project *p;
    const char *text = "[update]\nurl = http://x\nmode = async\n";
    cr_assert_eq(lu_project_parse("game.project", text, strlen(text), &p, &err), LU_OK);
    cr_assert_eq(lu_project_set_assignment(p, "update.mode=sync", &err), LU_OK);
    cr_expect_eq(lu_project_check(p, NULL, NULL, &err), LU_OK, "%s", err.message);
    /* spaces around '=' in --set are dropped, as in the file */
    cr_assert_eq(lu_project_set_assignment(p, " app.x = 1 ", &err), LU_OK);
    cr_expect_str_eq(lu_project_get(p, "app.x"), "1");
    lu_project_free(p);
}

Test(project_schema, booleans_are_0_1_true_or_false_and_nothing_else)
{
    lu_error err;
    warnings w;
    const char *good[] = {"0", "1", "true", "false"};
    const char *bad[] = {"maybe", "no", "yes", "off", "TRUE", "2", "", "1x"};
    char text[256];
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        snprintf(text, sizeof text, PROXY "exclude = %s\n", good[i]);
        cr_expect_eq(check(text, &err, &w), LU_OK, "%s: %s", good[i], err.message);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text, PROXY "exclude = %s\n", bad[i]);
        cr_expect_eq(check(text, &err, &w), LU_FORMAT_ERROR, "'%s' passed", bad[i]);
        char want[200];
        snprintf(want, sizeof want, "game.project:4: proxy.level1.exclude: '%s' is not a boolean (1, 0, true or false)",
                 bad[i]);
        cr_expect_str_eq(err.message, want);
    }
    cr_expect_eq(check("[liveupdate]\nprune_stale = yes\n", &err, &w), LU_FORMAT_ERROR);
    cr_expect_eq(check("[bundle]\nstrict = on\n", &err, &w), LU_FORMAT_ERROR);
}

Test(project_schema, ints_are_whole_values_in_range_and_choices_exact)
{
    lu_error err;
    warnings w;
    cr_expect_eq(check("[liveupdate]\nconsole_port = 65535\nmax_downloads = 64\n", &err, &w), LU_OK, "%s", err.message);
    cr_expect_eq(check("[liveupdate]\nconsole_port = 65536\n", &err, &w), LU_FORMAT_ERROR);
    cr_expect_str_eq(err.message, "game.project:2: liveupdate.console_port: '65536' is not an integer from 0 to 65535");
    cr_expect_eq(check("[update]\ntrial_frames = 12abc\n", &err, &w), LU_FORMAT_ERROR);
    cr_expect_str_eq(err.message, "game.project:2: update.trial_frames: '12abc' is not an integer");
    cr_expect_eq(check("[update]\nsync_timeout_ms = -1\n", &err, &w), LU_FORMAT_ERROR);
    cr_expect_str_eq(err.message, "game.project:2: update.sync_timeout_ms: '-1' is not an integer >= 0");
    cr_expect_eq(check("[liveupdate]\nmax_downloads = 0\n", &err, &w), LU_FORMAT_ERROR);
    cr_expect_eq(check("[game]\nminimum_lu_version = 99999999999999999999\n", &err, &w), LU_FORMAT_ERROR);
    cr_expect_eq(check("[volume.v]\nversion = 1.5\n", &err, &w), LU_FORMAT_ERROR);
    cr_expect_eq(check("[update]\nmode = sync\ndownload = ask\n", &err, &w), LU_OK, "%s", err.message);
    cr_expect_eq(check("[update]\nmode = Sync\n", &err, &w), LU_FORMAT_ERROR);
    cr_expect_str_eq(err.message, "game.project:2: update.mode: 'Sync' is not one of async, sync");
    cr_expect_eq(check("[liveupdate]\ndefold_api = 1.14\n", &err, &w), LU_FORMAT_ERROR);
    cr_expect_eq(check("[bundle]\ncompression = stored\n", &err, &w), LU_FORMAT_ERROR);
    cr_expect_str_eq(err.message, "game.project:2: bundle.compression: 'stored' is not one of deflate, zstd");
    /* paths, names, versions, key references */
    cr_expect_eq(check("[bootstrap]\nmain_script = main/main.lua\n", &err, &w), LU_FORMAT_ERROR);
    cr_expect_eq(check(PROXY "volume = _base\n", &err, &w), LU_FORMAT_ERROR);
    cr_expect_eq(check("[proxy.p]\nresources = /a/** b/*\n", &err, &w), LU_FORMAT_ERROR);
    cr_expect(strstr(err.message, "pattern 'b/*' does not start with '/'") != NULL, "%s", err.message);
    cr_expect_eq(check("[project]\nversion = 1.0 beta\n", &err, &w), LU_FORMAT_ERROR);
    cr_expect_eq(check("[liveupdate]\nminimum_version_key = level\n", &err, &w), LU_FORMAT_ERROR);
    /* empty strings mean "not set" */
    cr_expect_eq(check("[game]\nhttp_url =\n[update]\nurl =\n", &err, &w), LU_OK, "%s", err.message);
}

Test(project_schema, game_keeps_its_own_settings_and_defold_keys_pass)
{
    lu_error err;
    warnings w;
    cr_expect_eq(check("[game]\nlabel = hello\nratio = 0.5\nminimum_lu_version = 2\n", &err, &w), LU_OK, "%s",
                 err.message);
    cr_expect_eq(w.n, 0, "%s", w.all);
    cr_expect_eq(check("[game]\nminimum_lu_version = two\n", &err, &w), LU_FORMAT_ERROR);
    /* a near miss of a key we read is probably ours: a warning, the game still runs */
    cr_expect_eq(check("[game]\nhttp_ulr = http://x\n", &err, &w), LU_OK, "%s", err.message);
    cr_expect_eq(w.n, 1);
    cr_expect(strstr(w.all, "game.project:2: warning: [game] http_ulr is not a key liveupdate reads (did you mean "
                            "'http_url'?)") != NULL, "%s", w.all);
    /* Defold's current editor writes minimum_log_level into [project] */
    cr_expect_eq(check("[project]\ntitle = t\nminimum_log_level = 1\n", &err, &w), LU_OK, "%s", err.message);
    cr_expect_eq(check("[project]\ntitle = t\ndependencies#0 = https://x/y.zip\npublisher = me\n[bootstrap]\n"
                       "main_collection = /main/main.collectionc\n[display]\nwidth = 960\n",
                       &err, &w), LU_OK, "%s", err.message);
    cr_expect_eq(w.n, 0, "%s", w.all);
}

Test(project_schema, a_section_near_an_owned_one_is_warned_about_once_others_are_the_games)
{
    lu_error err;
    warnings w;
    cr_expect_eq(check("[liveupdat]\nprune_stale = 1\nconsole_port = 3\n[proxy_level1]\nexclude = 1\n[volumes.x]\n"
                       "version = 1\n[Update]\nurl = x\n[proxies.boss]\nexclude = 1\n[proxy]\nvolume = v\n",
                       &err, &w), LU_OK, "%s", err.message);
    cr_expect_eq(w.n, 6, "%s", w.all);
    cr_expect(strstr(w.all, "section [proxies.boss] is not one liveupdate reads (did you mean [proxy.boss]?)") != NULL,
              "%s", w.all);
    cr_expect(strstr(w.all, "section [proxy] is not one liveupdate reads (did you mean [proxy.<id>]?)") != NULL, "%s",
              w.all);
    cr_expect(strstr(w.all, "game.project:2: warning: section [liveupdat] is not one liveupdate reads (did you mean "
                            "[liveupdate]?)") != NULL, "%s", w.all);
    cr_expect(strstr(w.all, "game.project:5: warning: section [proxy_level1] is not one liveupdate reads (did you "
                            "mean [proxy.level1]?)") != NULL, "%s", w.all);
    cr_expect(strstr(w.all, "game.project:7: warning: section [volumes.x]") != NULL, "%s", w.all);
    cr_expect(strstr(w.all, "(did you mean [update]?)") != NULL, "%s", w.all);
    /* Defold's own sections, and typical game sections, are nobody's typo */
    const char *free_sections[] = {"display", "physics", "render", "graphics", "shader", "input", "sound", "sprite",
                                   "tilemap", "spine", "model", "mesh", "gui", "collection", "collection_proxy",
                                   "collectionfactory", "factory", "label", "particle_fx", "network", "library",
                                   "script", "engine", "resource", "html5", "ios", "android", "osx", "windows",
                                   "linux", "native_extension", "profiler", "font", "window", "iap", "timer",
                                   "box2d", "app", "data", "test", "t", "player", "levels", "settings"};
    char text[256];
    for (size_t i = 0; i < sizeof free_sections / sizeof free_sections[0]; i++) {
        snprintf(text, sizeof text, "[%s]\nanything = at all\n", free_sections[i]);
        cr_expect_eq(check(text, &err, &w), LU_OK, "%s", err.message);
        cr_expect_eq(w.n, 0, "[%s] warned: %s", free_sections[i], w.all);
    }
}

Test(project_schema, set_is_held_to_the_same_table_and_errors_where_the_file_warns)
{
    const char *text = "[project]\ntitle = t\n[liveupdat]\nx = 1\n";
    lu_project *p;
    lu_error err;
    warnings w = {0};
    cr_assert_eq(lu_project_parse("game.project", text, strlen(text), &p, &err), LU_OK);
    cr_expect_eq(lu_project_check(p, collect, &w, &err), LU_OK, "%s", err.message);
    cr_expect_eq(w.n, 1, "the file's near miss is a warning");
    cr_assert_eq(lu_project_set_assignment(p, "game.extra=1", &err), LU_OK);
    cr_assert_eq(lu_project_set_assignment(p, "display.update_frequency=0", &err), LU_OK);
    cr_expect_eq(lu_project_check(p, NULL, NULL, &err), LU_OK, "%s", err.message);
    cr_assert_eq(lu_project_set_assignment(p, "proxy.level1.exlude=1", &err), LU_OK);
    cr_expect_eq(lu_project_check(p, NULL, NULL, &err), LU_INVAL);
    cr_expect_str_eq(err.message, "game.project: --set proxy.level1.exlude: unknown key 'exlude' in [proxy.level1] "
                                  "(did you mean 'exclude'?)");
    lu_project_free(p);

    cr_assert_eq(lu_project_parse("game.project", "", 0, &p, &err), LU_OK);
    cr_assert_eq(lu_project_set_assignment(p, "liveupdat.console_port=1", &err), LU_OK);
    cr_expect_eq(lu_project_check(p, NULL, NULL, &err), LU_INVAL);
    cr_expect_str_eq(err.message, "game.project: --set liveupdat.console_port: [liveupdat] is not a section liveupdate "
                                  "reads (did you mean [liveupdate]?)");
    lu_project_free(p);

    cr_assert_eq(lu_project_parse("game.project", "", 0, &p, &err), LU_OK);
    cr_assert_eq(lu_project_set_assignment(p, "game.http_ulr=x", &err), LU_OK);
    cr_expect_eq(lu_project_check(p, NULL, NULL, &err), LU_INVAL);
    cr_expect(strstr(err.message, "(did you mean 'http_url'?)") != NULL, "%s", err.message);
    lu_project_free(p);

    cr_assert_eq(lu_project_parse("game.project", "", 0, &p, &err), LU_OK);
    cr_assert_eq(lu_project_set_assignment(p, "update.mode=fast", &err), LU_OK);
    cr_expect_eq(lu_project_check(p, NULL, NULL, &err), LU_INVAL);
    cr_expect_str_eq(err.message, "game.project: update.mode (set on the command line): 'fast' is not one of async, sync");
    lu_project_free(p);
}

Test(project_schema, lines_and_names_of_keys)
{
    const char *text = "# c\n[game]\n\nhttp_url = x\n";
    lu_project *p;
    lu_error err;
    cr_assert_eq(lu_project_parse("dir/game.project", text, strlen(text), &p, &err), LU_OK);
    cr_expect_eq(lu_project_line(p, "game.http_url"), 4);
    cr_expect_eq(lu_project_line(p, "game.none"), 0);
    cr_expect_str_eq(lu_project_name(p), "dir/game.project");
    cr_assert_eq(lu_project_set(p, "game.http_url", "y", &err), LU_OK);
    cr_expect_eq(lu_project_line(p, "game.http_url"), 0, "set on the command line");
    lu_project_free(p);
}

/* ---- globs --------------------------------------------------------------- */

/* The backtracking matcher lu_glob_match was before (the reference for its
 * meaning), with a step budget: false and *steps > budget when it runs out.
 * One fix on top: two stars followed by '/' stand for whole components, so
 * what follows them starts where a component does (the old matcher let
 * them end inside one: "/a/", two stars, "/b" matched /a/xb, and a pattern
 * for boss.png in any folder took /main/miniboss.png). */
static int old_glob(const char *pat, const char *s, uint64_t *steps, uint64_t budget)
{
    if (++*steps > budget) return 0;
    if (pat[0] == '*' && pat[1] == '*') {
        const char *rest = pat + 2;
        bool whole = *rest == '/';
        if (whole) rest++;
        for (const char *t = s;; t++) {
            if ((!whole || t == s || t[-1] == '/') && old_glob(rest, t, steps, budget)) return 1;
            if (!*t || *steps > budget) return 0;
        }
    }
    if (*pat == '*') {
        for (const char *t = s;; t++) {
            if (old_glob(pat + 1, t, steps, budget)) return 1;
            if (!*t || *t == '/' || *steps > budget) return 0;
        }
    }
    if (!*pat) return !*s;
    if (!*s) return 0;
    if (*pat == '?' ? *s == '/' : *pat != *s) return 0;
    return old_glob(pat + 1, s + 1, steps, budget);
}

Test(project_schema, globs_mean_what_they_meant)
{
    static const char *const pats[] = {"/level1/**", "/level2/*", "/a/**/b", "/*/*.txt", "/a?c", "**", "*", "/**/x",
                                       "/a/*", "/a/**", "/shared/rock.txt", "/*", "/a*b*c", "/**.lua", "***", "/a/**b"};
    static const char *const paths[] = {"/level1/a", "/level1/x/y", "/level1", "/level2/a", "/level2/a/b", "/a/b",
                                        "/a/x/b", "/a/xb", "/d/e.txt", "/d/e/f.txt", "/abc", "/a/c", "/x", "/q/r/x",
                                        "/shared/rock.txt", "/aXbYc", "/a/b/c", "/m.lua", "/m/n.lua", "", "/", "/a/"};
    for (size_t i = 0; i < sizeof pats / sizeof pats[0]; i++)
        for (size_t k = 0; k < sizeof paths / sizeof paths[0]; k++) {
            uint64_t n = 0;
            cr_expect_eq(lu_glob_match(pats[i], paths[k]), old_glob(pats[i], paths[k], &n, UINT64_MAX),
                         "'%s' against '%s'", pats[i], paths[k]);
        }
    /* two stars and a slash are whole components: never the end of one */
    cr_expect(!lu_glob_match("/a/**/b", "/a/xb"));
    cr_expect(lu_glob_match("/a/**/b", "/a/b") && lu_glob_match("/a/**/b", "/a/x/y/b"));
    cr_expect(!lu_glob_match("/**/boss.png", "/main/miniboss.png"));
    cr_expect(lu_glob_match("/**/boss.png", "/main/boss.png") && lu_glob_match("/**/boss.png", "/boss.png"));
    /* generated: every pattern of up to 4 tokens of {a, /, *, ?, **} against every path of up to 6 of {a, b, /} */
    static const char *const toks[] = {"a", "/", "*", "?", "**"};
    char pat[16], path[8];
    size_t compared = 0;
    for (int len = 0, tokens = 1; len <= 4; len++, tokens *= 5)
        for (int code = 0; code < tokens; code++) {
            pat[0] = '\0';
            for (int t = 0, c = code; t < len; t++, c /= 5) strcat(pat, toks[c % 5]);
            for (int plen = 0, combos = 1; plen <= 6; plen++, combos *= 3)
                for (int pc = 0; pc < combos; pc++) {
                    for (int t = 0, q = pc; t < plen; t++, q /= 3) path[t] = "ab/"[q % 3];
                    path[plen] = '\0';
                    uint64_t n = 0;
                    int now = lu_glob_match(pat, path), was = old_glob(pat, path, &n, UINT64_MAX);
                    if (now != was) cr_assert_fail("'%s' against '%s': %d, was %d", pat, path, now, was);
                    compared++;
                }
        }
    cr_expect_eq(compared, (size_t)781 * 1093);
}

Test(project_schema, glob_work_is_bounded_whatever_the_stars)
{
    /* 30 stars against 200 characters that do not match (no 'b' at the end) */
    char pat[128] = "/", path[256] = "/";
    for (int i = 0; i < 30; i++) strcat(pat, "*a");
    strcat(pat, "b");
    memset(path + 1, 'a', 199);
    path[200] = '\0';
    uint64_t steps = 0;
    cr_expect_eq(lu__glob_match_counted(pat, path, &steps), 0);
    uint64_t bound = 2 * (strlen(path) + 1) * (strlen(pat) + 1);
    cr_expect_leq(steps, bound, "%llu steps, bound %llu", (unsigned long long)steps, (unsigned long long)bound);
    /* the old matcher on the same input: past 10^8 steps and still going */
    uint64_t old = 0;
    old_glob(pat, path, &old, 100000000);
    cr_expect_gt(old, 100000000, "the backtracking matcher took %llu steps", (unsigned long long)old);
    /* '**' and a long path with many components */
    char pat2[128] = "", path2[2100] = "";
    for (int i = 0; i < 20; i++) strcat(pat2, "/**");
    strcat(pat2, "/z");
    for (int i = 0; i < 500; i++) strcat(path2, "/abc");
    steps = 0;
    cr_expect_eq(lu__glob_match_counted(pat2, path2, &steps), 0);
    cr_expect_leq(steps, 2 * (strlen(path2) + 1) * (strlen(pat2) + 1));
    /* a long pattern takes the heap path and still matches */
    char long_pat[1100];
    memset(long_pat, '?', 1000);
    long_pat[0] = '/';
    long_pat[1000] = '\0';
    char long_path[1100];
    memset(long_path, 'x', 1000);
    long_path[0] = '/';
    long_path[1000] = '\0';
    cr_expect_eq(lu_glob_match(long_pat, long_path), 1);
    long_path[999] = '\0';
    cr_expect_eq(lu_glob_match(long_pat, long_path), 0);
}

/* ---- the docs ------------------------------------------------------------ */

Test(project_schema, bundler_docs_list_every_key_with_its_type)
{
    const char *root = getenv("LU_ROOT");
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/docs/BUNDLER.md", root && *root ? root : ".");
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot read %s (run from the repository root or set LU_ROOT)", path);
    static char doc[200000];
    size_t n = fread(doc, 1, sizeof doc - 1, f);
    fclose(f);
    doc[n] = '\0';
    size_t count;
    const lu__key_spec *s = lu__project_schema(&count);
    int rows = 0;
    for (const char *c = doc; (c = strstr(c, "\n| `[")) != NULL; c++) rows++;
    for (size_t i = 0; i < count; i++) {
        char sec[64], type[96], row[300];
        if (strcmp(s[i].section, "proxy.*") == 0) snprintf(sec, sizeof sec, "proxy.<id>");
        else if (strcmp(s[i].section, "volume.*") == 0) snprintf(sec, sizeof sec, "volume.<name>");
        else snprintf(sec, sizeof sec, "%s", s[i].section);
        snprintf(row, sizeof row, "\n| `[%s] %s` | %s |", sec, s[i].key, lu__key_type_text(&s[i], type, sizeof type));
        cr_expect(strstr(doc, row) != NULL, "docs/BUNDLER.md lacks the row starting%s", row);
    }
    cr_expect_eq(rows, (int)count, "docs/BUNDLER.md has %d key rows, the schema %zu keys", rows, count);
}
