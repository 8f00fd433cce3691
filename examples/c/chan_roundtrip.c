/*
 * chan_roundtrip.c: a message round trip between two coroutines of one
 * scheduler through two capacity-1 jmpco_chan channels, measured from C:
 * the pinger sends on `ping` and receives on `pong`, the echoer receives on
 * `ping` and sends the message back on `pong`. The same exchange as the
 * Rust contestants of `jmpco-study channel` (two tasks of one worker, two
 * rt::channel::bounded(1)), so the two figures compare the C tier's cost.
 *
 * Usage: ./chan_roundtrip [ROUNDS [BACKEND]]
 *   ROUNDS   default 1000000; 5 runs each, the median is shown
 *   BACKEND  asm or sjlj (the coroutines' switch); default both
 * For steady figures pin it: taskset -c 1 ./chan_roundtrip
 */
#define _POSIX_C_SOURCE 199309L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jmpco.h"

#define RUNS 5

struct pair {
    jmpco_chan *ping, *pong;
    unsigned long rounds;
    double ns;
};

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void check(int rc, const char *what) {
    if (rc != JMPCO_OK) {
        fprintf(stderr, "%s: %s\n", what, jmpco_strerror(rc));
        exit(1);
    }
}

/* Sends every message back, until the pinger closes `ping`. */
static void *echoer(void *arg) {
    struct pair *p = arg;
    void *v;
    int rc;
    while ((rc = jmpco_chan_recv(p->ping, &v, -1)) == JMPCO_OK) {
        check(jmpco_chan_send(p->pong, v, -1), "send pong");
    }
    if (rc != JMPCO_ECLOSED) check(rc, "recv ping");
    return NULL;
}

static void round_trips(struct pair *p, unsigned long rounds) {
    for (unsigned long i = 0; i < rounds; i++) {
        void *v = NULL;
        check(jmpco_chan_send(p->ping, (void *)(uintptr_t)i, -1), "send ping");
        check(jmpco_chan_recv(p->pong, &v, -1), "recv pong");
        if ((uintptr_t)v != i) {
            fprintf(stderr, "sent %lu, got %lu back\n", i, (unsigned long)(uintptr_t)v);
            exit(1);
        }
    }
}

static void *pinger(void *arg) {
    struct pair *p = arg;
    round_trips(p, 1); /* unmeasured: the echoer has started */
    double start = now_ns();
    round_trips(p, p->rounds);
    p->ns = (now_ns() - start) / (double)p->rounds;
    check(jmpco_chan_close(p->ping), "close");
    return NULL;
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
    double per_run[RUNS];
    for (int run = 0; run < RUNS; run++) {
        struct pair p = {NULL, NULL, rounds, 0};
        check(jmpco_chan_make(1, &p.ping), "make");
        check(jmpco_chan_make(1, &p.pong), "make");
        check(jmpco_spawn_with(echoer, &p, &opts), "spawn");
        check(jmpco_spawn_with(pinger, &p, &opts), "spawn");
        check(jmpco_run(), "run");
        check(jmpco_chan_free(p.ping), "free");
        check(jmpco_chan_free(p.pong), "free");
        per_run[run] = p.ns;
    }
    qsort(per_run, RUNS, sizeof per_run[0], by_value);
    return per_run[RUNS / 2];
}

int main(int argc, char **argv) {
    unsigned long rounds = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000UL;
    const char *only = argc > 2 ? argv[2] : NULL;
    if (rounds == 0 || (only && strcmp(only, "asm") != 0 && strcmp(only, "sjlj") != 0)) {
        fprintf(stderr, "usage: %s [ROUNDS > 0 [asm|sjlj]]\n", argv[0]);
        return 2;
    }
    printf("C API channel round trip (two coroutines, two capacity-1 channels),\n"
           "%lu round trips x %d runs, median\n",
           rounds, RUNS);
    printf("%-10s %12s\n", "backend", "ns/round");
    if (!only || strcmp(only, "asm") == 0) {
        printf("%-10s %12.1f\n", "asm", measure(JMPCO_BACKEND_ASM, rounds));
    }
    if (!only || strcmp(only, "sjlj") == 0) {
        printf("%-10s %12.1f\n", "sjlj", measure(JMPCO_BACKEND_SJLJ, rounds));
    }
    return 0;
}
