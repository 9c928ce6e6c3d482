/* report.c -- what the cases of lubench share: timing, medians and the
 * one report line per case (lubench.h).
 *
 * A leaf: main.c runs the cases and the cases call in here, so no case
 * calls back into main.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lubench.h"

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

double bench_cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void bench_report(bench *b, const char *name, double ours, double peer, const char *unit, const char *op, double bar)
{
    double ratio = peer > 0 ? ours / peer : 0;
    bool ok = strcmp(op, "<=") == 0 ? ratio <= bar : ratio >= bar;
    printf("case %s: ours=%.4g %s peer=%.4g %s ratio=%.3f bar=%s%g %s\n", name, ours, unit, peer, unit, ratio, op, bar,
           ok ? "ok" : "MISS");
    fflush(stdout);
    if (ok) b->ok++;
    else b->miss++;
}
