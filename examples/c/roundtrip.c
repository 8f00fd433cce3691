/*
 * roundtrip.c: the resume+yield round trip measured from C through jmpco's
 * C API, for each backend. Each round trip is one jmpco_resume that switches
 * into the coroutine and one jmpco_yield that switches back.
 *
 * Usage: ./roundtrip [ROUNDS [BACKEND]]
 *   ROUNDS   default 1000000; 5 runs each, the median is shown
 *   BACKEND  sjlj or ucontext; default both
 * For steady figures pin it: taskset -c 1 ./roundtrip
 */
#define _POSIX_C_SOURCE 199309L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jmpco.h"

#define RUNS 5

static void *yield_forever(void *arg) {
    (void)arg;
    for (;;) {
        if (jmpco_yield(NULL, NULL) != JMPCO_OK) {
            fprintf(stderr, "jmpco_yield failed\n");
            exit(1);
        }
    }
}

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median ns per round trip over RUNS runs of `rounds` round trips. */
static double measure(jmpco_backend backend, unsigned long rounds) {
    jmpco_options opts;
    jmpco_options_init(&opts);
    opts.backend = backend;
    jmpco_coro *co = NULL;
    int rc = jmpco_create(&co, yield_forever, NULL, &opts);
    if (rc != JMPCO_OK) {
        fprintf(stderr, "jmpco_create: %s\n", jmpco_strerror(rc));
        exit(1);
    }
    jmpco_resume(co, NULL, NULL); /* start it: it now waits in jmpco_yield */
    double per_run[RUNS];
    for (int run = 0; run < RUNS; run++) {
        double start = now_ns();
        for (unsigned long i = 0; i < rounds; i++) {
            if (jmpco_resume(co, NULL, NULL) != JMPCO_OK) {
                fprintf(stderr, "jmpco_resume failed\n");
                exit(1);
            }
        }
        per_run[run] = (now_ns() - start) / (double)rounds;
    }
    jmpco_destroy(co); /* suspended: freed without running it again */
    qsort(per_run, RUNS, sizeof per_run[0], by_value);
    return per_run[RUNS / 2];
}

int main(int argc, char **argv) {
    unsigned long rounds = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000UL;
    const char *only = argc > 2 ? argv[2] : NULL;
    if (rounds == 0 || (only && strcmp(only, "sjlj") != 0 && strcmp(only, "ucontext") != 0)) {
        fprintf(stderr, "usage: %s [ROUNDS > 0 [sjlj|ucontext]]\n", argv[0]);
        return 2;
    }
    printf("C API resume+yield round trip, %lu round trips x %d runs, median\n", rounds, RUNS);
    printf("%-10s %12s\n", "backend", "ns/round");
    if (!only || strcmp(only, "sjlj") == 0) {
        printf("%-10s %12.1f\n", "sjlj", measure(JMPCO_BACKEND_SJLJ, rounds));
    }
    if (!only || strcmp(only, "ucontext") == 0) {
        printf("%-10s %12.1f\n", "ucontext", measure(JMPCO_BACKEND_UCONTEXT, rounds));
    }
    return 0;
}
