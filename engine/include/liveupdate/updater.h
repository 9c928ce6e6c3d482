/* updater.h -- the update manager (docs/UPDATES.md): content releases made of
 * volumes, checked against a remote version document, staged, applied in
 * one mounts-file write, on trial until confirmed, rolled back when the game
 * dies before confirming.
 *
 * One updater per context, owned by it (freed by lu_context_close). Its
 * network work rides on the context's downloader, so its events run from
 * lu_update() on the game's thread. State: <save>/update/state.json,
 * written crash-safely (format: docs/FORMATS.md). Release volumes live in
 * <save>/volumes/rel-<version>-<file>; the current and the previous
 * release are kept, older ones deleted.
 *
 * Thread-safety: call these from the thread that calls lu_update().
 */
#ifndef LIVEUPDATE_UPDATER_H
#define LIVEUPDATE_UPDATER_H

#include "liveupdate/liveupdate.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum lu_updater_event_kind {
    LU_UPDATER_CHECKED,      /* a check finished: has_update, version (remote) */
    LU_UPDATER_READY,        /* a new release is staged: version; apply now or at next start */
    LU_UPDATER_FAILED,       /* a check or download failed: status, message */
} lu_updater_event_kind;

typedef struct lu_updater_event {
    lu_updater_event_kind kind;
    int has_update;          /* CHECKED: a release newer than the one in use is offered */
    int mandatory;           /* CHECKED: the document's "mandatory" */
    const char *version;     /* remote version (CHECKED, READY), or NULL */
    lu_status status;        /* FAILED */
    const char *message;     /* FAILED */
} lu_updater_event;

typedef void (*lu_updater_event_fn)(void *ud, const lu_updater_event *ev);

/* Replaces lu_version_compare (docs/UPDATES.md: "a Lua hook can replace the
 * comparison"): <0, 0, >0 as a is older, equal, newer. */
typedef int (*lu_version_compare_fn)(void *ud, const char *a, const char *b);

typedef struct lu_updater_config {
    const char *url;            /* version document; NULL: no checks (start-up work still runs) */
    /* Or, instead of a document: a HEAD request on one volume's URL whose
     * metadata header names the version (object-storage setups). The
     * release is that one volume, mounted as `head_volume` (default
     * "content"); its size is the Content-Length, its SHA-256 the
     * "x-oss-meta-sha256" / "x-amz-meta-sha256" header when present. */
    const char *head_url;
    const char *version_headers; /* comma-separated names, default "x-oss-meta-version-name,x-amz-meta-version" */
    const char *head_volume;
    const char *local_version;  /* the base bundle's content version (default "0") */
    /* The running store binary's version ([project] version of the bundle;
     * default: local_version). Releases stored for another binary, or not
     * newer than local_version, are dropped at open; a document whose
     * "binary" range excludes it is never offered. */
    const char *binary_version;
    /* 1: a check only reports a newer release (has_update); nothing is
     * downloaded until lu_updater_download() (the player was asked). 0
     * (default): a newer release is downloaded and staged at once. Content
     * below the document's min_version is downloaded either way. */
    int ask;
    int verify_signature;       /* -1 (default): "<url>.sig" required when the context has a public key */
    long timeout_ms;            /* per transfer, no byte for this long (default 30000) */
    int retries;                /* per transfer (default 3) */
    lu_updater_event_fn on_event;
    void *ud;
    lu_version_compare_fn compare;  /* NULL: lu_version_compare */
    void *compare_ud;
} lu_updater_config;

void lu_updater_config_init(lu_updater_config *cfg);

/* Start-up work of the update manager, once per context, after it opened.
 * Loads the state, then, each change one mounts-file write followed by one
 * state write:
 *  - a release on trial whose last run failed (lu_updater_run_ended) or
 *    neither confirmed nor ended cleanly is rolled back to the previous
 *    release (to the bundled content when that one cannot be mounted); the
 *    version is recorded as failed with the reason, and a start-up report
 *    item ("rolled_back") says why. A trial whose last run ended cleanly
 *    goes on.
 *  - releases that may not run on this binary (made for another store
 *    build, or not newer than the bundled content) are dropped ("dropped").
 *  - a release staged by an earlier run is applied and goes on trial.
 * A kill between the two writes leaves a state the next start repeats the
 * same change from. Returns LU_OK (also when nothing was to be done),
 * LU_INVAL (no save directory, already open, a bad version string),
 * LU_MEM_ERROR, or LU_IO_ERROR / LU_NO_SPACE (a state write failed: the
 * updater does not open; a change whose mounts write went through stays
 * mounted, and the next start, finding the old state, repeats it). A
 * corrupt state file is moved aside and reported in the start-up report.
 * Strings are copied. */
lu_status lu_updater_open(lu_context *ctx, const lu_updater_config *cfg, lu_error *err);

/* Starts a check: fetches the version document (and its signature), and
 * when it names a release newer than the current one, made for this binary,
 * that has neither been rolled back nor refused before, downloads and
 * stages its volumes (with `ask`: reports it and waits for
 * lu_updater_download). Every package is verified before it is staged
 * (size and SHA-256 from the document or the HEAD headers, else every entry
 * against the package's own /liveupdate.manifest.json; the signature when
 * the context has a key); a package that fails is recorded and not fetched
 * again until the document changes. A staging that runs out of disk space
 * (LU_NO_SPACE) deletes its partial downloads, so the disk is not left
 * full. Events report the outcome. While the
 * content in use is below the document's min_version, a failed check is
 * retried from lu_update() with backoff (1 s doubling to 60 s, with
 * jitter) and reports no FAILED event per retry. Returns LU_OK (started,
 * or already running), LU_INVAL (no updater or no URL), or the
 * downloader's refusal. */
lu_status lu_updater_check(lu_context *ctx, lu_error *err);

/* With `ask`: downloads and stages the release the last check offered.
 * Called while a check runs, the release that check finds is downloaded
 * without asking again. Returns LU_OK (started, noted for the running
 * check, or already staged), LU_NOT_FOUND (no newer release is offered),
 * LU_INVAL (not open). */
lu_status lu_updater_download(lu_context *ctx, lu_error *err);

/* Applies the staged release now (one mounts-file write) and puts it on
 * trial. Over a release still on trial, that release is discarded and the
 * previous (confirmed) release stays what a rollback returns to. Returns
 * LU_OK, LU_NOT_FOUND (nothing staged), the mount table's failure, or the
 * state write's (the mounts are switched back then): nothing changed on
 * failure. */
lu_status lu_updater_apply(lu_context *ctx, lu_error *err);

/* Ends the trial of the current release (it is kept at the next start) and
 * deletes release files older than the previous release. LU_OK when there
 * was no trial too. */
lu_status lu_updater_confirm(lu_context *ctx, lu_error *err);

/* Tells the updater how this run ends, while a release is on trial (a
 * no-op returning LU_OK otherwise). `failure` NULL: a clean end (the
 * player quit); the trial goes on at the next start. Otherwise the reason
 * the release failed (a Lua error and where, an exit code): it is written
 * to the state now, and the next start rolls the release back with it.
 * A start that finds a trial whose last run neither confirmed nor ended
 * cleanly rolls back too (killed, hung, crashed); the reason is then the
 * crash note (below) when one was written. Returns LU_OK or the state
 * write's failure. */
lu_status lu_updater_run_ended(lu_context *ctx, const char *failure, lu_error *err);

/* While the content in use is below the document's min_version: tells the
 * script once per run (a FAILED event, LU_VERSION_MISMATCH, naming both
 * versions and `detail`), unless a failed check told it already. A no-op
 * otherwise. Returns LU_OK, LU_INVAL (not open). */
lu_status lu_updater_report_blocked(lu_context *ctx, const char *detail, lu_error *err);

/* The file a crashing process may write one line of reason to from a
 * signal handler (open, write, close: async-signal-safe), read by the next
 * start's rollback: "<save>/update/crash-note.txt". A stable string owned by
 * the updater, or NULL when it is not open. */
const char *lu_updater_crash_note_path(lu_context *ctx);

/* Compares two versions as the updater does (the configured hook, else
 * lu_version_compare). Without an updater: lu_version_compare. */
int lu_updater_compare(lu_context *ctx, const char *a, const char *b);

typedef struct lu_updater_info {
    const char *current;          /* version in use (local_version when no release) */
    const char *previous;         /* or NULL */
    const char *staged;           /* or NULL */
    const char *remote;           /* version named by the last document fetched, or NULL */
    const char *min_version;      /* of the last document, or NULL */
    const char *prefer_local_from;/* of the last document, or NULL */
    int on_trial;                 /* the current release is not confirmed yet */
    int checking;                 /* a check or download is running */
    int update_pending;           /* the last check found an update not staged yet */
    int offered;                  /* `ask`: a newer release is offered, not downloaded */
    int mandatory;                /* the last document's "mandatory" */
    int blocked;                  /* the content in use is below min_version */
    int local_preferred;          /* the content in use is at or above prefer_local_from */
    const char *binary;           /* the running binary's version */
    long long last_run, last_check;  /* Unix times stored by the previous run, 0 = never */
    const char *rollback_version; /* the last rollback, or NULL */
    const char *rollback_reason;
    lu_status last_status;        /* of the last check (LU_OK when none failed) */
    const char *last_message;
} lu_updater_info;

/* Fills *out (strings valid until the next updater call or lu_update()).
 * Returns LU_OK or LU_INVAL (no updater). */
lu_status lu_updater_get_info(lu_context *ctx, lu_updater_info *out, lu_error *err);

#ifdef __cplusplus
}
#endif

#endif
