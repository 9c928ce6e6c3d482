/* fuzz_zip_layout.c -- bytes as a new volume whose end a server sent: its
 * layout from its last bytes (archives/zip_layout.h), asking for more as
 * the layout says, then a delta plan against the same bytes as the old
 * volume on disk (engine/net/delta.c). The first input byte picks how much
 * of the end is held at first. Aborts when the layout from memory and the
 * layout from the file disagree, when a layout asks for bytes it already
 * had, when a record's span runs past the directory, or when a plan's ops
 * do not cover the bytes below the tail exactly, or copy from past the
 * old file's end. */
#include "fuzz.h"
#include "../../engine/net/net_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    static const size_t tails[] = {22, 1024, 4096, 65536};
    size_t tail = tails[data[0] % 4];
    data++, size--;
    lu_env env = lu__default_env();
    char path[256];
    snprintf(path, sizeof path, "%s/input.zip", fuzz_dir());
    fuzz_write(path, data, size);
    uint64_t from = size > tail ? size - tail : 0;
    lu_zip_layout *mem = NULL, *file = NULL;
    lu_error err;
    lu_status st = LU_IO_ERROR;
    for (;;) {
        uint64_t need;
        st = lu__zip_layout_mem(&env, "input.zip", data + from, (size_t)(size - from), size, &mem, &need, &err);
        if (st == LU_OK || need == UINT64_MAX) break;
        if (need >= from) abort();   /* asked for what it had */
        from = lu__delta_tail_next(size, from, need);   /* as the downloader asks */
    }
    lu_status fst = lu__zip_layout_file(&env, path, &file, &err);
    if ((st == LU_OK) != (fst == LU_OK)) abort();   /* the window changed the verdict */
    if (st == LU_OK) {
        if (mem->count != file->count || mem->cd_start != file->cd_start) abort();
        for (size_t i = 0; i < mem->count; i++) {
            const lu_zip_record *a = &mem->rec[i], *b = &file->rec[i];
            if (memcmp(a, b, sizeof *a) != 0 || memcmp(mem->names + a->name, file->names + b->name, a->nlen) != 0)
                abort();
            if (a->local + a->span > mem->cd_start) abort();
        }
        lu__delta_plan plan;
        if (lu__delta_plan_make(&env, file, mem, from, &plan, &err) == LU_OK) {
            uint64_t at = 0;
            for (size_t i = 0; i < plan.n; i++) {
                const lu__delta_op *op = &plan.ops[i];
                if (op->at != at || op->len == 0) abort();
                if (op->from != LU__DELTA_FETCH && (op->from > size || size - op->from < op->len)) abort();
                at += op->len;
            }
            if (at != plan.tail_from || plan.ranges > LU__DELTA_RANGES) abort();
            lu__delta_plan_free(&env, &plan);
        }
    }
    lu__zip_layout_free(&env, mem);
    lu__zip_layout_free(&env, file);
    return 0;
}
