/* cell.h -- the publication cell's reader side, inline: every lookup
 * acquires the current snapshot and releases it, so those two must cost
 * next to nothing (cell.c has the writer's side and the design).
 *
 * A reader counts its acquisition and its release of a cell slot on the
 * counters of the CPU it runs on. Where the kernel offers restartable
 * sequences (rseq, registered by glibc for every thread) and the process
 * can issue expedited private memory barriers (membarrier), each count is
 * one plain add to a counter only that CPU's threads write, made safe
 * against preemption and migration by an rseq critical section: no locked
 * instruction, no fence, no cache line shared with another CPU. Elsewhere
 * (no rseq, no membarrier, another architecture, ThreadSanitizer builds)
 * the same counters take atomic adds and the reader a full fence. Included
 * by internal.h only.
 */
#ifndef LU_CORE_CELL_H
#define LU_CORE_CELL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __linux__
#include <sched.h>
#if defined(__has_include)
#if __has_include(<sys/rseq.h>)
#include <sys/rseq.h>
#define LU_HAVE_RSEQ_AREA 1   /* glibc's per-thread rseq area: the CPU number in one load */
#endif
#endif
#endif

/* The per-CPU counts with plain adds: x86-64 only (the critical section is
 * written in its assembly), not under ThreadSanitizer (which cannot see
 * membarrier's ordering and would report the writer's reads as races). */
#if defined(__SANITIZE_THREAD__)
#define LU_CELL_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)   /* clang does not define __SANITIZE_THREAD__ */
#define LU_CELL_TSAN 1
#endif
#endif
#if defined(LU_HAVE_RSEQ_AREA) && defined(__x86_64__) && defined(__GNUC__) && !defined(LU_CELL_TSAN)
#define LU_CELL_RSEQ 1
#endif

typedef struct lu_snapshot lu_snapshot;

/* Slots of the cell: each holds a published or still-held snapshot (slot 0
 * means none). A writer waits for a free slot only when this many - 1
 * snapshots are held by readers at once. */
#define LU_CELL_SLOTS 32
#define LU_CELL_MAX_CPUS 256    /* CPUs with counters of their own; others share `shared` */
#define LU_CACHE_LINE 64

/* One slot's counts on one CPU: acquisitions and releases, never reset.
 * A slot is free of readers when the sums over every CPU are equal. */
typedef struct lu_cell_count {
    _Atomic uint64_t in, out;
} lu_cell_count;

typedef struct lu_snapshot_cell {
    char pad[LU_CACHE_LINE];              /* off the context's other fields */
    /* read by every reader, written by the writer */
    _Atomic uint32_t current;             /* the published slot; 0: nothing published */
    bool fast;                            /* plain per-CPU adds (rseq + membarrier) */
    uint32_t ncpu;                        /* CPUs with a block in `cpu` */
    lu_cell_count *cpu;                   /* ncpu blocks of LU_CELL_SLOTS, each block cache-aligned */
    void *cpu_block;                      /* the allocation `cpu` lies in */
    _Atomic(lu_snapshot *) slots[LU_CELL_SLOTS];
    _Atomic unsigned char retiring[LU_CELL_SLOTS];   /* unpublished, maybe still held */
    unsigned char fenced[LU_CELL_SLOTS];  /* retiring, and a barrier ran since (under lock) */
    char pad2[LU_CACHE_LINE];
    /* the counts of readers on CPUs beyond `ncpu` (atomic adds) */
    lu_cell_count shared[LU_CELL_SLOTS];
    char pad3[LU_CACHE_LINE];
    /* the writer's, and a releasing reader's that frees what it held */
    pthread_mutex_t lock;
    _Atomic int again;                    /* a reclaim was skipped while the lock was taken */
    lu_snapshot *held[LU_CELL_SLOTS];     /* the snapshot in each slot that is not free */
    const void *env;                      /* const lu_env *: the allocator of cpu_block */
    void *tlb_block;                      /* the page of the fallback barrier (cell.c), when used */
    bool barrier_failed;                  /* logged once */
} lu_snapshot_cell;

/* Frees the retired snapshots no reader holds any more (cell.c). */
void lu__cell_reclaim(lu_snapshot_cell *c);

/* The CPU this thread runs on, or -1 when not known. */
static LU_ALWAYS_INLINE int lu__cell_cpu(void)
{
#if defined(LU_HAVE_RSEQ_AREA)
    if (__rseq_size > 0) {
        const volatile struct rseq *r = (const volatile struct rseq *)((char *)__builtin_thread_pointer() + __rseq_offset);
        return (int)r->cpu_id;   /* negative when this thread's registration failed */
    }
#endif
#ifdef __linux__
    return sched_getcpu();
#else
    return -1;
#endif
}

#if defined(LU_CELL_RSEQ)
/* Adds 1 to the counter at byte offset `off` of the current CPU's block,
 * in an rseq critical section: the add is the commit, and the kernel
 * restarts the section (at `abort`, which loops) if the thread is
 * preempted, migrated or signalled between reading its CPU number and the
 * add. False when this CPU has no block (the caller counts in `shared`). */
static LU_ALWAYS_INLINE bool lu__cell_rseq_add(lu_snapshot_cell *c, size_t off)
{
    volatile struct rseq *r = (volatile struct rseq *)((char *)__builtin_thread_pointer() + __rseq_offset);
    for (;;) {
        uint32_t cpu = r->cpu_id;
        if (cpu >= c->ncpu) return false;   /* also an unregistered thread: cpu_id is (uint32_t)-1 or -2 */
        _Atomic uint64_t *v = (_Atomic uint64_t *)((char *)(c->cpu + (size_t)cpu * LU_CELL_SLOTS) + off);
        __asm__ goto(
            ".pushsection __rseq_cs, \"aw\"\n\t"
            ".balign 32\n\t"
            "3:\n\t"
            ".long 0, 0\n\t"                  /* version, flags */
            ".quad 1f, 2f - 1f, 4f\n\t"       /* start, length, abort */
            ".popsection\n\t"
            "leaq 3b(%%rip), %%rax\n\t"
            "movq %%rax, %[cs]\n\t"
            "1:\n\t"
            "cmpl %[cpu], %[cpu_id]\n\t"
            "jnz %l[abort]\n\t"
            "addq $1, %[v]\n\t"               /* the commit */
            "2:\n\t"
            ".pushsection __rseq_failure, \"ax\"\n\t"
            ".byte 0x0f, 0xb9, 0x3d\n\t"      /* ud1 <sig>(%rip), %edi: the signature glibc registered */
            ".long 0x53053053\n\t"
            "4:\n\t"
            "jmp %l[abort]\n\t"
            ".popsection\n\t"
            :
            : [cs] "m"(r->rseq_cs), [cpu] "r"(cpu), [cpu_id] "m"(r->cpu_id), [v] "m"(*v)
            : "memory", "cc", "rax"
            : abort);
        /* no critical section is active any more: the descriptor lies in
         * this library, which may be unloaded (a Lua module) */
        r->rseq_cs = 0;
        return true;
    abort:
        continue;
    }
}
#endif

/* Counts one acquisition (out = false) or release (out = true) of slot w
 * on this thread's CPU. An acquisition is ordered before the reader's
 * later loads: by the writer's membarrier on the fast path, by a fence
 * otherwise; a release after its earlier loads. */
static LU_ALWAYS_INLINE void lu__cell_count(lu_snapshot_cell *c, uint32_t w, bool out)
{
    size_t off = (size_t)w * sizeof(lu_cell_count) + (out ? offsetof(lu_cell_count, out) : 0);
#if defined(LU_CELL_RSEQ)
    if (c->fast) {
        if (!lu__cell_rseq_add(c, off))
            atomic_fetch_add_explicit((_Atomic uint64_t *)((char *)c->shared + off), 1, memory_order_seq_cst);
        return;   /* x86: loads are not reordered with later stores; the asm is a compiler barrier */
    }
#endif
    int cpu = lu__cell_cpu();
    lu_cell_count *block = cpu >= 0 ? c->cpu + (size_t)((unsigned)cpu % c->ncpu) * LU_CELL_SLOTS : c->shared;
    atomic_fetch_add_explicit((_Atomic uint64_t *)((char *)block + off), 1, memory_order_seq_cst);
    atomic_thread_fence(memory_order_seq_cst);
}

/* The current snapshot (NULL when none is published), held until
 * lu__cell_release with the same *token. Never blocks; any thread may
 * release. */
static LU_ALWAYS_INLINE lu_snapshot *lu__cell_acquire(lu_snapshot_cell *c, unsigned *token)
{
    for (;;) {
        uint32_t w = atomic_load_explicit(&c->current, memory_order_acquire);
        *token = w;
        if (w == 0) return NULL;
        lu__cell_count(c, w, false);
        lu_snapshot *s = atomic_load_explicit(&c->slots[w], memory_order_acquire);
        if (s) return s;
        /* the slot was being retired: let go (freeing what it held if
         * this was the last reader) and look again */
        lu__cell_count(c, w, true);
        if (atomic_load_explicit(&c->retiring[w], memory_order_relaxed)) lu__cell_reclaim(c);
    }
}

/* Lets go of a snapshot lu__cell_acquire returned (NULL: nothing). The
 * release of the last reader of a retired snapshot frees it. */
static LU_ALWAYS_INLINE void lu__cell_release(lu_snapshot_cell *c, lu_snapshot *s, unsigned token)
{
    if (!s) return;
    lu__cell_count(c, token, true);
    if (atomic_load_explicit(&c->retiring[token], memory_order_relaxed)) lu__cell_reclaim(c);
}

#endif
