/*
 * bench_loop.c -- raw C round-trip loops: the same switch functions the Rust
 * layer calls, with no Rust in between.  The benchmarks run these in the
 * same process as the Rust round trip, so the ratio is the Rust layer's
 * cost.  One round trip = main switches into the coroutine, the coroutine
 * switches back.  The coroutine is left suspended when the loop ends; it
 * owns nothing, and its stack belongs to the caller.
 *
 * Part of the study, not of jmpco: study/build.rs compiles it with the
 * shim's headers (jmpco's csrc/, which its build script names) and links
 * it against the switch functions the library exports.
 */
#include "bench_loop.h"

#include "jmpco_switch.h"
#include "switch_asm_entries.h"

struct sjlj_pair {
  jmpco_sjlj_ctx main;
  jmpco_sjlj_ctx coro;
};

static void sjlj_body(void *transfer) {
  struct sjlj_pair *p = transfer;
  for (;;) {
    jmpco_sjlj_suspend(&p->coro, &p->main, NULL);
  }
}

int jmpco_bench_sjlj_round_trips(void *stack_top, size_t stack_size, uint64_t rounds) {
  struct sjlj_pair p;
  jmpco_sjlj_init(&p.coro, stack_top, stack_size, sjlj_body);
  jmpco_sjlj_switch(&p.main, &p.coro, &p); /* first entry: body yields at once */
  for (uint64_t i = 0; i < rounds; i++) {
    jmpco_sjlj_switch(&p.main, &p.coro, NULL);
  }
  return 0;
}

struct ucontext_pair {
  jmpco_ucontext_ctx main;
  jmpco_ucontext_ctx coro;
};

static void ucontext_body(void *transfer) {
  struct ucontext_pair *p = transfer;
  for (;;) {
    jmpco_ucontext_switch(&p->coro, &p->main, NULL);
  }
}

int jmpco_bench_ucontext_round_trips(void *stack_top, size_t stack_size, uint64_t rounds) {
  struct ucontext_pair p;
  if (jmpco_ucontext_init(&p.coro, stack_top, stack_size, ucontext_body) != 0) {
    return -1;
  }
  jmpco_ucontext_switch(&p.main, &p.coro, &p);
  for (uint64_t i = 0; i < rounds; i++) {
    jmpco_ucontext_switch(&p.main, &p.coro, NULL);
  }
  return 0;
}

/* The asm backend's loop enters the switch the way jmpco's
 * src/switch/asm.rs does (see csrc/switch_asm_entries.h). */
struct asm_pair {
  jmpco_asm_ctx main;
  jmpco_asm_ctx coro;
};

static void asm_body(void *transfer) {
  struct asm_pair *p = transfer;
  for (;;) {
    asm_entry_suspend(&p->coro, &p->main, NULL);
  }
}

int jmpco_bench_asm_round_trips(void *stack_top, size_t stack_size, uint64_t rounds) {
  struct asm_pair p;
  jmpco_asm_init(&p.coro, stack_top, stack_size, asm_body);
  asm_entry_resume(&p.main, &p.coro, &p); /* first entry: body yields at once */
  for (uint64_t i = 0; i < rounds; i++) {
    asm_entry_resume(&p.main, &p.coro, NULL);
  }
  return 0;
}
