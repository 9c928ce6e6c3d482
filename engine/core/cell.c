/* cell.c -- the cell that publishes the current snapshot to readers
 * without a lock, without a shared write and, where the system allows,
 * without a locked instruction per lookup.
 *
 * The cell has LU_CELL_SLOTS slots; the published snapshot sits in one
 * (`current`), snapshots retired but perhaps still held in others. A reader
 * (cell.h, inline) loads `current`, counts an acquisition of that slot on
 * its CPU's counters, loads the slot's snapshot, and later counts a
 * release of the same slot, on whatever CPU it then runs on. Counts are
 * never reset: a slot has no reader when, summed over every CPU, its
 * releases equal its acquisitions.
 *
 * A writer (serialized by the caller) puts the new snapshot in a free slot,
 * points `current` at it, empties the old slot (a reader that still finds
 * the old slot number sees NULL there, lets go and looks again) and marks
 * it retiring. Then it reclaims: after a barrier on every CPU running the
 * process (membarrier; a fence when the readers fence themselves) it sums
 * each retiring slot's releases and then its acquisitions; a slot whose
 * sums are equal has no reader, and its snapshot is freed (with it the
 * last references to removed volumes) and the slot freed. Why that is
 * safe: a reader that loaded the snapshot from the slot did so before the
 * barrier, and its acquisition, counted earlier, is then visible to the
 * sums; a reader whose load came after the barrier found the slot empty.
 * A release is counted after the reader's last use of the snapshot, and
 * the release sums are read first, so a reader counted out is counted in.
 *
 * Readers never wait for writers, and writers never wait for readers: a
 * held snapshot stays retiring, and the release of its last reader (which
 * sees the slot marked) reclaims it, so a removed volume is closed as soon
 * as nobody reads it. That reclaim takes the cell's lock only if it is
 * free; if a writer holds it, the writer reclaims once more before it
 * lets go (`again`). A writer waits only when every slot is held.
 */
#include <sched.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/membarrier.h>
#include <sys/syscall.h>
#endif

#include "internal.h"

/* Asks the kernel for expedited private barriers (once per process; an
 * idempotent request). False when it cannot give them. */
static bool barriers_registered(void)
{
#if defined(__linux__) && defined(SYS_membarrier)
    return syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
#else
    return false;
#endif
}

/* The barrier of runtimes without membarrier: lowering a page's
 * protection makes the kernel shoot its TLB entries down, with an
 * interrupt, on every CPU that runs a thread of this process, and the
 * interrupt orders that CPU's earlier stores before its later loads. */
static bool barrier_by_tlb(lu_snapshot_cell *c)
{
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0) return false;
    if (!c->tlb_block && !(c->tlb_block = lu__malloc((const lu_env *)c->env, 2 * (size_t)page))) return false;
    char *p = (char *)(((uintptr_t)c->tlb_block + (uintptr_t)page - 1) & ~((uintptr_t)page - 1));
    *(volatile char *)p = 1;   /* mapped, and in this CPU's TLB */
    if (mprotect(p, (size_t)page, PROT_READ) != 0) return false;
    return mprotect(p, (size_t)page, PROT_READ | PROT_WRITE) == 0;
}

/* A full barrier on every CPU that runs a thread of this process (the
 * fast path's readers do not fence), else on this one. False when the
 * fast path's barrier failed both ways: nothing may be reclaimed then
 * (logged once). */
static bool barrier_everywhere(lu_snapshot_cell *c)
{
    atomic_thread_fence(memory_order_seq_cst);
    if (!c->fast) return true;
#if defined(__linux__) && defined(SYS_membarrier)
    if (syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0) return true;
    /* the registration lost, or membarrier forbidden since (a seccomp
     * filter installed after the context opened) */
    if (barriers_registered() && syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0) return true;
#endif
    if (barrier_by_tlb(c)) return true;
    if (!c->barrier_failed) {
        c->barrier_failed = true;
        lu__log((const lu_env *)c->env, LU_LOG_ERROR,
                "neither membarrier nor mprotect works: retired mount tables (and removed volumes) stay open");
    }
    return false;
}

lu_status lu__cell_init(lu_snapshot_cell *c, const lu_env *env, lu_error *err)
{
    memset(c, 0, sizeof *c);
    c->env = env;
    long n = sysconf(_SC_NPROCESSORS_CONF);
    c->ncpu = n < 1 ? 1 : n > LU_CELL_MAX_CPUS ? LU_CELL_MAX_CPUS : (uint32_t)n;
    size_t bytes = (size_t)c->ncpu * LU_CELL_SLOTS * sizeof(lu_cell_count);
    c->cpu_block = lu__calloc(env, 1, bytes + LU_CACHE_LINE);
    if (!c->cpu_block) return lu__fail(err, LU_MEM_ERROR, "out of memory for the reader counts");
    /* each CPU's block (LU_CELL_SLOTS * 16 bytes) starts a cache line */
    c->cpu = (lu_cell_count *)(((uintptr_t)c->cpu_block + LU_CACHE_LINE - 1) & ~(uintptr_t)(LU_CACHE_LINE - 1));
    atomic_init(&c->current, 0);
    atomic_init(&c->again, 0);
    for (size_t i = 0; i < LU_CELL_SLOTS; i++) {
        atomic_init(&c->slots[i], NULL);
        atomic_init(&c->retiring[i], 0);
        atomic_init(&c->shared[i].in, 0);
        atomic_init(&c->shared[i].out, 0);
    }
    for (size_t i = 0; i < (size_t)c->ncpu * LU_CELL_SLOTS; i++) {
        atomic_init(&c->cpu[i].in, 0);
        atomic_init(&c->cpu[i].out, 0);
    }
#if defined(LU_CELL_RSEQ)
    c->fast = __rseq_size > 0 && barriers_registered();
#endif
    if (pthread_mutex_init(&c->lock, NULL) != 0) {
        lu__free(env, c->cpu_block);
        c->cpu_block = NULL;
        return lu__fail(err, LU_MEM_ERROR, "cannot make the reader counts' lock");
    }
    return LU_OK;
}

/* The sum of one count of slot w over every CPU and the shared block.
 * Releases are read with acquire: a release's add (a release operation on
 * the atomic path) then orders the reader's last use of the snapshot
 * before its free, as ThreadSanitizer checks (it does not follow fences). */
static uint64_t sum(const lu_snapshot_cell *c, uint32_t w, bool out)
{
    memory_order mo = out ? memory_order_acquire : memory_order_relaxed;
    uint64_t t = atomic_load_explicit(out ? &c->shared[w].out : &c->shared[w].in, mo);
    for (size_t k = 0; k < c->ncpu; k++) {
        const lu_cell_count *n = &c->cpu[k * LU_CELL_SLOTS + w];
        t += atomic_load_explicit(out ? &n->out : &n->in, mo);
    }
    return t;
}

/* Frees every retiring slot's snapshot that no reader holds. Under c->lock.
 * The barrier is needed once per retirement: after it, every reader that
 * found the snapshot in the slot has its acquisition visible, and every
 * later one finds the slot empty; reclaims after that (a releasing
 * reader's) only sum, with a fence. */
static void reclaim_locked(lu_snapshot_cell *c)
{
    bool any = false, unfenced = false;
    for (uint32_t w = 1; w < LU_CELL_SLOTS; w++)
        if (atomic_load_explicit(&c->retiring[w], memory_order_relaxed)) {
            any = true;
            unfenced |= !c->fenced[w];
        }
    if (!any) return;
    if (unfenced) {
        if (!barrier_everywhere(c)) return;
        for (uint32_t w = 1; w < LU_CELL_SLOTS; w++)
            c->fenced[w] = atomic_load_explicit(&c->retiring[w], memory_order_relaxed);
    } else {
        atomic_thread_fence(memory_order_seq_cst);
    }
    for (uint32_t w = 1; w < LU_CELL_SLOTS; w++) {
        if (!atomic_load_explicit(&c->retiring[w], memory_order_relaxed)) continue;
        uint64_t out = sum(c, w, true);
        atomic_thread_fence(memory_order_acquire);   /* the releases first: a reader counted out is counted in */
        if (sum(c, w, false) != out) continue;
        lu_snapshot *s = c->held[w];
        c->held[w] = NULL;
        c->fenced[w] = 0;
        atomic_store_explicit(&c->retiring[w], 0, memory_order_relaxed);
        lu__snapshot_free(s);
    }
}

/* Reclaims again while a reclaim was skipped for the lock (`again`). The
 * flag and the lock form a store-then-load pattern on both sides (set
 * `again`, try the lock; let go of the lock, read `again`): the fences
 * keep either side from missing the other on any architecture. */
static void reclaim_pending(lu_snapshot_cell *c)
{
    for (;;) {
        atomic_thread_fence(memory_order_seq_cst);
        if (!atomic_load_explicit(&c->again, memory_order_seq_cst)) return;
        if (pthread_mutex_trylock(&c->lock) != 0) return;   /* its holder reads `again` after it lets go */
        atomic_store_explicit(&c->again, 0, memory_order_seq_cst);
        reclaim_locked(c);
        pthread_mutex_unlock(&c->lock);
    }
}

void lu__cell_reclaim(lu_snapshot_cell *c)
{
    atomic_store_explicit(&c->again, 1, memory_order_seq_cst);
    reclaim_pending(c);
}

/* A slot that holds no snapshot, or 0. Under c->lock. */
static uint32_t free_slot(const lu_snapshot_cell *c)
{
    for (uint32_t i = 1; i < LU_CELL_SLOTS; i++)
        if (!c->held[i]) return i;
    return 0;
}

void lu__cell_publish(lu_snapshot_cell *c, lu_snapshot *s)
{
    pthread_mutex_lock(&c->lock);
    uint32_t old = atomic_load_explicit(&c->current, memory_order_relaxed), w = 0;
    while (s && !(w = free_slot(c))) {   /* every slot is held: reclaim, else wait for a release */
        reclaim_locked(c);
        if ((w = free_slot(c))) break;
        pthread_mutex_unlock(&c->lock);
        sched_yield();
        pthread_mutex_lock(&c->lock);
    }
    if (s) {
        s->slot = w;
        c->held[w] = s;
        atomic_store_explicit(&c->slots[w], s, memory_order_release);
    }
    atomic_store_explicit(&c->current, w, memory_order_seq_cst);
    if (old) {
        atomic_store_explicit(&c->slots[old], NULL, memory_order_seq_cst);
        atomic_store_explicit(&c->retiring[old], 1, memory_order_seq_cst);
    }
    reclaim_locked(c);
    pthread_mutex_unlock(&c->lock);
    reclaim_pending(c);
}

void lu__cell_fini(lu_snapshot_cell *c)
{
    if (!c->cpu_block) return;
    lu__cell_publish(c, NULL);
    /* no reader is left (the caller's contract): free whatever a failed
     * barrier kept */
    for (uint32_t w = 1; w < LU_CELL_SLOTS; w++)
        if (c->held[w]) {
            lu__snapshot_free(c->held[w]);
            c->held[w] = NULL;
        }
    pthread_mutex_destroy(&c->lock);
    lu__free((const lu_env *)c->env, c->tlb_block);
    lu__free((const lu_env *)c->env, c->cpu_block);
    c->cpu_block = NULL;
}
