// bench_round_trips.c -- raw C round-trip timing of the three backends,
// through the same loops the study's Rust benchmarks call
// (study/csrc/bench_loop.c), with jmpco's shim and no Rust at all. From the
// repository root:
//
//   gcc -O2 -Wall -Wextra -Werror -Icsrc -Istudy/csrc -Wa,-Icsrc csrc/*.c csrc/*.S
//       study/csrc/bench_loop.c study/csrc/bench_round_trips.c -o /tmp/bench_round_trips
//   taskset -c 1 /tmp/bench_round_trips            # all backends: median of 5 x 10M
//   /tmp/bench_round_trips asm 1000000             # one backend, one run (for callgrind)
//
// One round trip = main switches into the coroutine and it switches back.
// Prints the machine, the compiler, and a fixed-width table: median ns per
// round trip of 5 runs, min and max, and the ratio against sjlj.
// clock_gettime and uname are POSIX, hidden by -std=c11 without this.
#define _DEFAULT_SOURCE

#include "bench_loop.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

#define STACK_SIZE (64 * 1024)
#define RUNS 5

static _Alignas(16) unsigned char stack[STACK_SIZE];

static int run(const char *backend, uint64_t rounds) {
  void *top = stack + STACK_SIZE;
  if (strcmp(backend, "asm") == 0) {
    return jmpco_bench_asm_round_trips(top, STACK_SIZE, rounds);
  }
  if (strcmp(backend, "sjlj") == 0) {
    return jmpco_bench_sjlj_round_trips(top, STACK_SIZE, rounds);
  }
  if (strcmp(backend, "ucontext") == 0) {
    return jmpco_bench_ucontext_round_trips(top, STACK_SIZE, rounds);
  }
  fprintf(stderr, "unknown backend %s (asm, sjlj, ucontext)\n", backend);
  exit(2);
}

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Median, min and max ns per round trip over RUNS runs. */
static void measure(const char *backend, uint64_t rounds, double out[3]) {
  double ns[RUNS];
  run(backend, rounds / 10); /* warm up caches and branch predictors */
  for (int i = 0; i < RUNS; i++) {
    double t0 = now_ns();
    if (run(backend, rounds) != 0) {
      fprintf(stderr, "%s: setup failed\n", backend);
      exit(1);
    }
    ns[i] = (now_ns() - t0) / (double)rounds;
  }
  qsort(ns, RUNS, sizeof ns[0], cmp_double);
  out[0] = ns[RUNS / 2];
  out[1] = ns[0];
  out[2] = ns[RUNS - 1];
}

int main(int argc, char **argv) {
  if (argc == 3) { /* one backend, one run: for valgrind */
    return run(argv[1], strtoull(argv[2], NULL, 10));
  }
  uint64_t rounds = argc == 2 ? strtoull(argv[1], NULL, 10) : 10000000;
  struct utsname u;
  uname(&u);
  printf("machine: %s %s %s; compiler: gcc %s\n", u.sysname, u.release, u.machine,
         __VERSION__);
  printf("round trips per run: %llu, runs: %d\n", (unsigned long long)rounds, RUNS);
  const char *backends[] = {"asm", "sjlj", "ucontext"};
  double r[3][3];
  for (int b = 0; b < 3; b++) {
    measure(backends[b], rounds, r[b]);
  }
  printf("%-10s %12s %10s %10s %10s\n", "backend", "median ns", "min ns", "max ns", "vs sjlj");
  for (int b = 0; b < 3; b++) {
    printf("%-10s %12.2f %10.2f %10.2f %9.2fx\n", backends[b], r[b][0], r[b][1], r[b][2],
           r[b][0] / r[1][0]);
  }
  return 0;
}
