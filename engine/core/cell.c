/* cell.c -- the cell that publishes the current snapshot to readers
 * without a lock.
 *
 * Publication uses a split reference count (the technique of lock-free
 * atomic shared pointers): the cell's 64-bit word holds the slot number of
 * the current snapshot (high 16 bits) and a count of acquisitions (low 48
 * bits). A reader registers and learns the snapshot in one fetch_add; it
 * releases by decrementing the snapshot's own `inner` count. When a writer
 * replaces the snapshot it moves the acquisition count into `inner`; whoever
 * brings `inner` to zero frees the snapshot (and with it the last references
 * to removed volumes). Before that transfer `inner` is <= 0, so no reader can
 * free a snapshot that is still published.
 */
#include <sched.h>

#include "internal.h"

#define COUNT_BITS 48
#define COUNT_MASK ((UINT64_C(1) << COUNT_BITS) - 1)

/* ---- the publication cell ------------------------------------------- */

void lu__cell_init(lu_snapshot_cell *c)
{
    atomic_init(&c->word, 0);
    for (size_t i = 0; i < LU_SNAPSHOT_SLOTS; i++) atomic_init(&c->slots[i], NULL);
}

static void retire(lu_snapshot_cell *c, lu_snapshot *s)
{
    atomic_store_explicit(&c->slots[s->slot], NULL, memory_order_release);
    lu__snapshot_free(s);
}

lu_snapshot *lu__cell_acquire(lu_snapshot_cell *c)
{
    uint64_t w = atomic_fetch_add_explicit(&c->word, 1, memory_order_acq_rel);
    uint32_t slot = (uint32_t)(w >> COUNT_BITS);
    if (slot == 0) return NULL;
    return atomic_load_explicit(&c->slots[slot], memory_order_acquire);
}

void lu__cell_release(lu_snapshot_cell *c, lu_snapshot *s)
{
    if (s && atomic_fetch_sub_explicit(&s->inner, 1, memory_order_acq_rel) == 1) retire(c, s);
}

void lu__cell_publish(lu_snapshot_cell *c, lu_snapshot *s)
{
    uint64_t word = 0;
    if (s) {
        /* Slot 0 means "none". Slots free up as old snapshots drain; readers
         * hold snapshots only for the length of one call. */
        for (uint32_t i = 1;; i = i + 1 < LU_SNAPSHOT_SLOTS ? i + 1 : 1) {
            if (atomic_load_explicit(&c->slots[i], memory_order_acquire) == NULL) {
                s->slot = i;
                break;
            }
            if (i + 1 == LU_SNAPSHOT_SLOTS) sched_yield();
        }
        atomic_store_explicit(&c->slots[s->slot], s, memory_order_release);
        word = (uint64_t)s->slot << COUNT_BITS;
    }
    uint64_t old = atomic_exchange_explicit(&c->word, word, memory_order_acq_rel);
    uint32_t oslot = (uint32_t)(old >> COUNT_BITS);
    if (oslot == 0) return;
    lu_snapshot *os = atomic_load_explicit(&c->slots[oslot], memory_order_acquire);
    long n = (long)(old & COUNT_MASK);
    if (atomic_fetch_add_explicit(&os->inner, n, memory_order_acq_rel) + n == 0) retire(c, os);
}
