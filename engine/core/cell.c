/* cell.c -- the cell that publishes the current snapshot to readers
 * without a lock, and without a shared write per lookup.
 *
 * Publication uses a split reference count (the technique of lock-free
 * atomic shared pointers), split again into LU_CELL_SHARDS shards so that
 * readers on different CPUs write different cache lines. Each shard of the
 * cell is a 64-bit word: the slot number of the current snapshot (high 16
 * bits) and a count of acquisitions on that shard (low 48 bits). A reader
 * picks the shard of the CPU it runs on (one load from the thread's rseq
 * area: lu__cell_shard), registers and learns the snapshot in one
 * fetch_add on that shard's word, and remembers the shard (acquire and
 * release are inline in internal.h: every lookup makes both); it releases by
 * decrementing the snapshot's `inner` count of the same shard (the thread
 * may have moved to another CPU meanwhile: that costs a shared line, never
 * correctness). When a writer replaces the snapshot it exchanges every
 * shard's word and moves each shard's acquisition count into that shard's
 * `inner`. Before that transfer a shard's `inner` is <= 0, so no reader can
 * drain a shard of a snapshot that is still published; after it, whoever
 * brings the shard's `inner` to zero (the writer or the shard's last
 * reader) has drained the shard and decrements the snapshot's
 * `outstanding` shards; whoever brings that to zero frees the snapshot (and
 * with it the last references to removed volumes). Readers never wait and
 * writers never wait for readers: a reader may hold a snapshot as long as
 * it likes (one lu_read), the writer publishes the next one meanwhile.
 * (A writer waits only when LU_SNAPSHOT_SLOTS - 1 snapshots are held at
 * once, for a slot to free up.)
 */
#include <sched.h>

#include "internal.h"

#define COUNT_MASK ((UINT64_C(1) << LU_CELL_COUNT_BITS) - 1)

/* ---- the publication cell ------------------------------------------- */

void lu__cell_init(lu_snapshot_cell *c)
{
    for (size_t k = 0; k < LU_CELL_SHARDS; k++) atomic_init(&c->shards[k].word, 0);
    for (size_t i = 0; i < LU_SNAPSHOT_SLOTS; i++) atomic_init(&c->slots[i], NULL);
}

static void retire(lu_snapshot_cell *c, lu_snapshot *s)
{
    atomic_store_explicit(&c->slots[s->slot], NULL, memory_order_release);
    lu__snapshot_free(s);
}

void lu__cell_drained(lu_snapshot_cell *c, lu_snapshot *s)
{
    if (atomic_fetch_sub_explicit(&s->refs.outstanding, 1, memory_order_acq_rel) == 1) retire(c, s);
}

void lu__cell_publish(lu_snapshot_cell *c, lu_snapshot *s)
{
    uint64_t word = 0;
    if (s) {
        for (size_t k = 0; k < LU_CELL_SHARDS; k++) atomic_init(&s->refs.inner[k].n, 0);
        atomic_init(&s->refs.outstanding, LU_CELL_SHARDS);
        /* Slot 0 means "none". Slots free up as old snapshots drain. */
        for (uint32_t i = 1;; i = i + 1 < LU_SNAPSHOT_SLOTS ? i + 1 : 1) {
            if (atomic_load_explicit(&c->slots[i], memory_order_acquire) == NULL) {
                s->slot = i;
                break;
            }
            if (i + 1 == LU_SNAPSHOT_SLOTS) sched_yield();
        }
        atomic_store_explicit(&c->slots[s->slot], s, memory_order_release);
        word = (uint64_t)s->slot << LU_CELL_COUNT_BITS;
    }
    /* Every shard held the old snapshot's slot (writers are serialized);
     * between these exchanges readers see the old or the new one. */
    for (size_t k = 0; k < LU_CELL_SHARDS; k++) {
        uint64_t old = atomic_exchange_explicit(&c->shards[k].word, word, memory_order_acq_rel);
        uint32_t oslot = (uint32_t)(old >> LU_CELL_COUNT_BITS);
        if (oslot == 0) continue;
        lu_snapshot *os = atomic_load_explicit(&c->slots[oslot], memory_order_acquire);
        long n = (long)(old & COUNT_MASK);
        if (atomic_fetch_add_explicit(&os->refs.inner[k].n, n, memory_order_acq_rel) + n == 0) lu__cell_drained(c, os);
    }
}
