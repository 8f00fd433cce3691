// switch_all_test.c -- the same scenarios on every backend (sjlj, ucontext,
// asm, and sjlj and asm switching through all their entries in turn): ping-pong, a coroutine resuming another, two interleaved
// coroutines, and coroutines that finish with the exit switch and whose
// stack is reused.  Written for AddressSanitizer runs (tests/c_switch.rs):
//
//   gcc -fsanitize=address -DJMPCO_ASAN -g -O1 -U_FORTIFY_SOURCE -Icsrc
//         csrc/*.c csrc/*.S tests/c/switch_all_test.c -o /tmp/switch_all_test
//   ASAN_OPTIONS=detect_stack_use_after_return=1 /tmp/switch_all_test
//
// so every body keeps address-taken locals alive across its switches: with
// detect_stack_use_after_return those live on ASan's per-fiber fake stacks,
// which is what the fiber annotations (csrc/asan_fiber.h) keep apart.  It
// runs without ASan too (then add -Wa,-Icsrc: the asm backend's inline
// entries .include their fragments).  A failure prints the file:line and exits 1;
// success prints one "ok" line per backend and scenario.
#include "jmpco_switch.h"
#include "switch_asm_entries.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fatal_check.h"

#define STACK_SIZE (128 * 1024)

/* ---- one interface over the three backends ------------------------------ */

typedef union {
  jmpco_sjlj_ctx sjlj;
  jmpco_ucontext_ctx uc;
  jmpco_asm_ctx asm_;
} ctx;

struct backend {
  const char *name;
  void (*init)(ctx *c, void *top, size_t size, jmpco_entry_fn entry);
  void *(*sw)(ctx *from, ctx *to, void *transfer);
  void (*exit)(ctx *to, void *transfer);
};

static void sjlj_init(ctx *c, void *top, size_t size, jmpco_entry_fn e) {
  jmpco_sjlj_init(&c->sjlj, top, size, e);
}
static void *sjlj_sw(ctx *f, ctx *t, void *x) { return jmpco_sjlj_switch(&f->sjlj, &t->sjlj, x); }
static void sjlj_exit(ctx *t, void *x) { jmpco_sjlj_exit(&t->sjlj, x); }

static void uc_init(ctx *c, void *top, size_t size, jmpco_entry_fn e) {
  CHECK(jmpco_ucontext_init(&c->uc, top, size, e) == 0);
}
static void *uc_sw(ctx *f, ctx *t, void *x) { return jmpco_ucontext_switch(&f->uc, &t->uc, x); }
static void uc_exit(ctx *t, void *x) { jmpco_ucontext_exit(&t->uc, x); }

static void asm_init(ctx *c, void *top, size_t size, jmpco_entry_fn e) {
  jmpco_asm_init(&c->asm_, top, size, e);
}
static void *asm_sw(ctx *f, ctx *t, void *x) { return jmpco_asm_switch(&f->asm_, &t->asm_, x); }
static void asm_exit(ctx *t, void *x) { jmpco_asm_exit(&t->asm_, x); }

/* Any entry of a backend can continue a context any other entry saved:
 * these switch through all of them in turn, whatever the direction.  For
 * sjlj, jmpco_sjlj_switch and jmpco_sjlj_suspend; for asm, the C-ABI
 * switch and the two Rust-side entries (csrc/switch_asm_entries.h). */
static unsigned mixed_turn;

static void *sjlj_mixed_sw(ctx *f, ctx *t, void *x) {
  if (mixed_turn++ % 2 == 0) {
    return jmpco_sjlj_switch(&f->sjlj, &t->sjlj, x);
  }
  return jmpco_sjlj_suspend(&f->sjlj, &t->sjlj, x);
}

static void *asm_mixed_sw(ctx *f, ctx *t, void *x) {
  switch (mixed_turn++ % 3) {
  case 0:
    return jmpco_asm_switch(&f->asm_, &t->asm_, x);
  case 1:
    return asm_entry_resume(&f->asm_, &t->asm_, x);
  default:
    return asm_entry_suspend(&f->asm_, &t->asm_, x);
  }
}

static const struct backend backends[] = {
    {"sjlj", sjlj_init, sjlj_sw, sjlj_exit},
    {"ucontext", uc_init, uc_sw, uc_exit},
    {"asm", asm_init, asm_sw, asm_exit},
    {"sjlj-mixed-entries", sjlj_init, sjlj_mixed_sw, sjlj_exit},
    {"asm-mixed-entries", asm_init, asm_mixed_sw, asm_exit},
};

static const struct backend *B; /* the backend under test */

struct stack {
  _Alignas(16) unsigned char bytes[STACK_SIZE];
};
static struct stack stacks[3];
static void *top_of(int i) { return stacks[i].bytes + STACK_SIZE; }

/* An address-taken local buffer, filled with a pattern that must survive
 * every switch of the frame that owns it. */
__attribute__((noinline)) static void fill(volatile char *buf, size_t n, char seed) {
  for (size_t i = 0; i < n; i++) buf[i] = (char)(seed + i);
}
__attribute__((noinline)) static int intact(volatile char *buf, size_t n, char seed) {
  for (size_t i = 0; i < n; i++)
    if (buf[i] != (char)(seed + i)) return 0;
  return 1;
}

/* ---- ping_pong_keeps_locals_on_both_sides -------------------------------- */

static ctx pp_main, pp_coro;

static void pp_entry(void *transfer) {
  volatile char mine[96];
  fill(mine, sizeof mine, 'c');
  uintptr_t v = (uintptr_t)transfer;
  for (;;) {
    v = (uintptr_t)B->sw(&pp_coro, &pp_main, (void *)(v * 2 + 1));
    CHECK(intact(mine, sizeof mine, 'c'));
  }
}

static void ping_pong_keeps_locals_on_both_sides(void) {
  volatile char mine[96];
  fill(mine, sizeof mine, 'm');
  B->init(&pp_coro, top_of(0), STACK_SIZE, pp_entry);
  for (uintptr_t i = 0; i < 2000; i++) {
    CHECK((uintptr_t)B->sw(&pp_main, &pp_coro, (void *)i) == i * 2 + 1);
    CHECK(intact(mine, sizeof mine, 'm'));
  }
}

/* ---- a_coroutine_resumes_another ----------------------------------------- */

static ctx ne_main, ne_outer, ne_outer_as_caller, ne_inner;

static void ne_inner_entry(void *transfer) {
  volatile char mine[40];
  fill(mine, sizeof mine, 'i');
  uintptr_t v = (uintptr_t)transfer;
  for (;;) {
    v = (uintptr_t)B->sw(&ne_inner, &ne_outer_as_caller, (void *)(v * 10));
    CHECK(intact(mine, sizeof mine, 'i'));
  }
}

static void ne_outer_entry(void *transfer) {
  volatile char mine[40];
  fill(mine, sizeof mine, 'o');
  uintptr_t v = (uintptr_t)transfer;
  B->init(&ne_inner, top_of(2), STACK_SIZE, ne_inner_entry);
  for (;;) {
    uintptr_t got = (uintptr_t)B->sw(&ne_outer_as_caller, &ne_inner, (void *)(v + 1));
    CHECK(intact(mine, sizeof mine, 'o'));
    v = (uintptr_t)B->sw(&ne_outer, &ne_main, (void *)(got + 2));
    CHECK(intact(mine, sizeof mine, 'o'));
  }
}

static void a_coroutine_resumes_another(void) {
  B->init(&ne_outer, top_of(1), STACK_SIZE, ne_outer_entry);
  for (uintptr_t v = 1; v < 200; v++) {
    CHECK((uintptr_t)B->sw(&ne_main, &ne_outer, (void *)v) == (v + 1) * 10 + 2);
  }
}

/* ---- two_coroutines_interleave ------------------------------------------- */

static ctx il_main, il_a, il_b;
static char il_log[64];
static int il_len;

static void il_body(ctx *self, char base, uintptr_t start) {
  volatile char mine[24];
  fill(mine, sizeof mine, base);
  for (uintptr_t i = start;; i++) {
    il_log[il_len++] = (char)(base + i);
    B->sw(self, &il_main, (void *)i);
    CHECK(intact(mine, sizeof mine, base));
  }
}
static void il_entry_a(void *transfer) { il_body(&il_a, 'a', (uintptr_t)transfer); }
static void il_entry_b(void *transfer) { il_body(&il_b, 'A', (uintptr_t)transfer); }

static void two_coroutines_interleave(void) {
  il_len = 0;
  B->init(&il_a, top_of(0), STACK_SIZE, il_entry_a);
  B->init(&il_b, top_of(1), STACK_SIZE, il_entry_b);
  for (uintptr_t i = 0; i < 5; i++) {
    CHECK((uintptr_t)B->sw(&il_main, &il_a, NULL) == i);
    CHECK((uintptr_t)B->sw(&il_main, &il_b, NULL) == i);
  }
  il_log[il_len] = 0;
  CHECK(strcmp(il_log, "aAbBcCdDeE") == 0);
}

/* ---- finished_coroutines_exit_and_their_stack_is_reused ------------------
 * Each run yields once, then ends with the exit switch (its fake stack is
 * destroyed); the next run starts afresh on the same stack. */

static ctx ex_main, ex_coro;

static void ex_entry(void *transfer) {
  volatile char mine[64];
  fill(mine, sizeof mine, 'x');
  uintptr_t v = (uintptr_t)B->sw(&ex_coro, &ex_main, (void *)((uintptr_t)transfer + 1));
  CHECK(intact(mine, sizeof mine, 'x'));
  B->exit(&ex_main, (void *)(v + 2));
  abort(); /* unreachable: exit never returns */
}

static void finished_coroutines_exit_and_their_stack_is_reused(void) {
  volatile char mine[64];
  fill(mine, sizeof mine, 'M');
  for (uintptr_t run = 0; run < 500; run++) {
    B->init(&ex_coro, top_of(0), STACK_SIZE, ex_entry);
    CHECK((uintptr_t)B->sw(&ex_main, &ex_coro, (void *)run) == run + 1);
    CHECK((uintptr_t)B->sw(&ex_main, &ex_coro, (void *)(run * 3)) == run * 3 + 2);
    CHECK(intact(mine, sizeof mine, 'M'));
  }
}

int main(void) {
  struct {
    const char *name;
    void (*run)(void);
  } tests[] = {
      {"ping_pong_keeps_locals_on_both_sides", ping_pong_keeps_locals_on_both_sides},
      {"a_coroutine_resumes_another", a_coroutine_resumes_another},
      {"two_coroutines_interleave", two_coroutines_interleave},
      {"finished_coroutines_exit_and_their_stack_is_reused",
       finished_coroutines_exit_and_their_stack_is_reused},
  };
  int n = 0;
  for (size_t b = 0; b < sizeof backends / sizeof backends[0]; b++) {
    B = &backends[b];
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
      tests[i].run();
      printf("ok %d - %s: %s\n", ++n, B->name, tests[i].name);
    }
  }
  return 0;
}
