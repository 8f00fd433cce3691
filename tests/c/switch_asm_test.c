// switch_asm_test.c -- behaviour tests of the asm backend, in C (there is
// no Rust API over it yet).  Build and run, at both optimisation levels:
//
//   for o in -O2 -O0; do
//     gcc $o -g -Wall -Wextra -Werror -Icsrc -Wa,-Icsrc csrc/*.c csrc/*.S tests/c/switch_asm_test.c
//         -o /tmp/switch_asm_test && /tmp/switch_asm_test || break
//   done
//
// Each test is named by the behaviour it proves.  A failure prints the
// file:line and exits 1; success prints one "ok" line per test.
#include "jmpco_switch.h"

#include <execinfo.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fatal_check.h"

#define STACK_SIZE (64 * 1024)

struct stack {
  _Alignas(16) unsigned char bytes[STACK_SIZE];
};

static struct stack stacks[3];

static void *top_of(struct stack *s) { return s->bytes + STACK_SIZE; }

/* A context that was never initialised, with junk in it: `from` of a first
 * switch must not need anything from it. */
static void junk(jmpco_asm_ctx *c) { memset(c, 0xA5, sizeof *c); }

/* ---- transfer_passes_values_both_ways ------------------------------------ */

static jmpco_asm_ctx tv_main, tv_coro;
static uintptr_t tv_first;

static void tv_entry(void *transfer) {
  tv_first = (uintptr_t)transfer;
  uintptr_t v = (uintptr_t)transfer;
  for (;;) {
    /* yield v * 2 + 1, receive the next value */
    v = (uintptr_t)jmpco_asm_switch(&tv_coro, &tv_main, (void *)(v * 2 + 1));
  }
}

static void transfer_passes_values_both_ways(void) {
  junk(&tv_main);
  jmpco_asm_init(&tv_coro, top_of(&stacks[0]), STACK_SIZE, tv_entry);
  uintptr_t r = (uintptr_t)jmpco_asm_switch(&tv_main, &tv_coro, (void *)(uintptr_t)7);
  CHECK(tv_first == 7);
  CHECK(r == 15);
  for (uintptr_t i = 100; i < 1100; i++) {
    r = (uintptr_t)jmpco_asm_switch(&tv_main, &tv_coro, (void *)i);
    CHECK(r == i * 2 + 1);
  }
  /* full-width pointers survive, in both directions */
  r = (uintptr_t)jmpco_asm_switch(&tv_main, &tv_coro, (void *)(uintptr_t)0x7fffffffffffull);
  CHECK(r == 0xffffffffffffull);
}

/* ---- entry_state_follows_the_psabi --------------------------------------
 * A naked entry reads rsp, its return address and rbp before any prologue
 * can change them, then tail-jumps to the real body. */

static jmpco_asm_ctx es_main, es_coro;
uintptr_t es_rsp, es_ra, es_rbp, es_rbx;
static uintptr_t es_transfer, es_frame;

void es_body(void *transfer);

__attribute__((naked)) static void es_entry(void *transfer) {
  (void)transfer;
  __asm__("movq %rsp, es_rsp(%rip)\n\t"
          "movq (%rsp), %rax\n\t"
          "movq %rax, es_ra(%rip)\n\t"
          "movq %rbp, es_rbp(%rip)\n\t"
          "movq %rbx, es_rbx(%rip)\n\t"
          "jmp es_body\n\t");
}

__attribute__((noinline, used)) void es_body(void *transfer) {
  es_transfer = (uintptr_t)transfer;
  es_frame = (uintptr_t)__builtin_frame_address(0);
  for (;;) {
    jmpco_asm_switch(&es_coro, &es_main, NULL);
  }
}

static void entry_state_follows_the_psabi(void) {
  junk(&es_main);
  unsigned char *top = top_of(&stacks[0]);
  jmpco_asm_init(&es_coro, top, STACK_SIZE, es_entry);
  jmpco_asm_switch(&es_main, &es_coro, (void *)(uintptr_t)0x1234);
  CHECK(es_transfer == 0x1234);
  CHECK(es_rsp % 16 == 8); /* rsp + 8 is 16-byte aligned, in every build */
#if defined(JMPCO_ASAN)
  /* With ASan annotations entry is called by the shim's asan_start (see
   * switch_asm_init.c), so it sees that C frame, not the bare start frame. */
  CHECK(es_rsp < (uintptr_t)top - 8 && es_rsp > (uintptr_t)top - STACK_SIZE);
  return;
#endif
  CHECK(es_rsp == (uintptr_t)top - 8); /* entry's rsp is just below the top */
  CHECK(es_ra == 0);                   /* zero return address             */
  CHECK(es_rbp == 0);                  /* zero frame pointer              */
  CHECK(es_rbx == (uintptr_t)es_entry); /* the start stub jumped through rbx */
  CHECK(es_frame != 0 && es_frame % 16 == 0); /* body's rbp after push rbp */
  CHECK(es_frame < (uintptr_t)top && es_frame > (uintptr_t)top - STACK_SIZE);
}

/* ---- callee_saved_registers_survive_switches ----------------------------
 * Two proofs.  At register level: switch_with_regs (naked, so no compiler
 * in the way) loads all six callee-saved registers from v[0..5], calls
 * jmpco_asm_switch, and stores into v[6] the OR of (register ^ expected)
 * for all six once the call returns; main and the coroutine use different
 * values, so a switch that restored nothing, or the wrong side, shows.  At
 * compiler level: main keeps eight values live across every switch (at -O2
 * they live in callee-saved registers) while the coroutine scribbles over
 * rbx and r12-r15 before switching back. */

void *switch_with_regs(jmpco_asm_ctx *from, jmpco_asm_ctx *to, void *transfer, uint64_t v[7]);

__attribute__((naked, used)) void *switch_with_regs(jmpco_asm_ctx *from, jmpco_asm_ctx *to,
                                                    void *transfer, uint64_t v[7]) {
  (void)from;
  (void)to;
  (void)transfer;
  (void)v;
  __asm__("pushq %rbp\n\t" /* keep our caller's callee-saved registers */
          "pushq %rbx\n\t"
          "pushq %r12\n\t"
          "pushq %r13\n\t"
          "pushq %r14\n\t"
          "pushq %r15\n\t"
          "subq $8, %rsp\n\t" /* rsp 16-byte aligned for the call */
          "movq %rcx, (%rsp)\n\t"
          "movq 0(%rcx), %rbp\n\t"
          "movq 8(%rcx), %rbx\n\t"
          "movq 16(%rcx), %r12\n\t"
          "movq 24(%rcx), %r13\n\t"
          "movq 32(%rcx), %r14\n\t"
          "movq 40(%rcx), %r15\n\t"
          "call jmpco_asm_switch@PLT\n\t"
          "movq (%rsp), %rcx\n\t"
          "xorq 0(%rcx), %rbp\n\t"
          "xorq 8(%rcx), %rbx\n\t"
          "xorq 16(%rcx), %r12\n\t"
          "xorq 24(%rcx), %r13\n\t"
          "xorq 32(%rcx), %r14\n\t"
          "xorq 40(%rcx), %r15\n\t"
          "orq %rbx, %rbp\n\t"
          "orq %r12, %rbp\n\t"
          "orq %r13, %rbp\n\t"
          "orq %r14, %rbp\n\t"
          "orq %r15, %rbp\n\t"
          "movq %rbp, 48(%rcx)\n\t" /* v[6] = 0 iff all six survived */
          "addq $8, %rsp\n\t"
          "popq %r15\n\t"
          "popq %r14\n\t"
          "popq %r13\n\t"
          "popq %r12\n\t"
          "popq %rbx\n\t"
          "popq %rbp\n\t"
          "ret\n\t"); /* rax = the switch's result, untouched */
}

static jmpco_asm_ctx rg_main, rg_coro;
static uint64_t rg_coro_diffs;

static void rg_entry(void *transfer) {
  uint64_t v[7] = {0xc0c0000000000001, 0xc0c0000000000002, 0xc0c0000000000003,
                   0xc0c0000000000004, 0xc0c0000000000005, 0xc0c0000000000006, 0};
  for (;;) {
    transfer = switch_with_regs(&rg_coro, &rg_main, (void *)((uintptr_t)transfer + 1), v);
    rg_coro_diffs |= v[6];
  }
}

static jmpco_asm_ctx cs_main, cs_coro;

static void trash_callee_saved(void) {
  __asm__ volatile("movq $0x5a5a5a5a5a5a5a5a, %%rbx\n\t"
                   "movq $0x1111111111111111, %%r12\n\t"
                   "movq $0x2222222222222222, %%r13\n\t"
                   "movq $0x3333333333333333, %%r14\n\t"
                   "movq $0x4444444444444444, %%r15\n\t" ::
                       : "rbx", "r12", "r13", "r14", "r15");
}

static void cs_entry(void *transfer) {
  (void)transfer;
  for (;;) {
    trash_callee_saved();
    jmpco_asm_switch(&cs_coro, &cs_main, NULL);
  }
}

/* One round of arithmetic over the eight locals a..h, so that all eight
 * stay live across the switch in many_live_locals; the reference runs the
 * same rounds without switching. */
#define MIX_LOCALS()                                                                              \
  do {                                                                                            \
    a += b;                                                                                       \
    b ^= c;                                                                                       \
    c += d * 3;                                                                                   \
    d ^= e;                                                                                       \
    e += f;                                                                                       \
    f ^= g;                                                                                       \
    g += h;                                                                                       \
    h ^= a;                                                                                       \
  } while (0)

__attribute__((noinline)) static uint64_t many_live_locals(uint64_t seed, int rounds) {
  uint64_t a = seed, b = seed * 3, c = seed ^ 0xdeadbeef, d = seed + 77, e = ~seed,
           f = seed << 7, g = seed * seed, h = seed - 1000;
  void *frame = __builtin_frame_address(0); /* forces rbp as frame pointer */
  for (int i = 0; i < rounds; i++) {
    jmpco_asm_switch(&cs_main, &cs_coro, NULL);
    CHECK(__builtin_frame_address(0) == frame);
    MIX_LOCALS();
  }
  return a ^ b ^ c ^ d ^ e ^ f ^ g ^ h;
}

__attribute__((noinline)) static uint64_t many_live_locals_reference(uint64_t seed, int rounds) {
  uint64_t a = seed, b = seed * 3, c = seed ^ 0xdeadbeef, d = seed + 77, e = ~seed,
           f = seed << 7, g = seed * seed, h = seed - 1000;
  for (int i = 0; i < rounds; i++) {
    MIX_LOCALS();
  }
  return a ^ b ^ c ^ d ^ e ^ f ^ g ^ h;
}

static void callee_saved_registers_survive_switches(void) {
  uint64_t v[7] = {0xa0a0000000000001, 0xa0a0000000000002, 0xa0a0000000000003,
                   0xa0a0000000000004, 0xa0a0000000000005, 0xa0a0000000000006, 0};
  junk(&rg_main);
  jmpco_asm_init(&rg_coro, top_of(&stacks[0]), STACK_SIZE, rg_entry);
  for (uintptr_t i = 0; i < 1000; i++) {
    CHECK((uintptr_t)switch_with_regs(&rg_main, &rg_coro, (void *)i, v) == i + 1);
    CHECK(v[6] == 0); /* main's six registers came back */
  }
  CHECK(rg_coro_diffs == 0); /* and the coroutine's, on every resume */

  junk(&cs_main);
  jmpco_asm_init(&cs_coro, top_of(&stacks[0]), STACK_SIZE, cs_entry);
  volatile uint64_t seed = 0x0123456789abcdefull;
  CHECK(many_live_locals(seed, 1000) == many_live_locals_reference(seed, 1000));
}

/* ---- fp_control_words_are_thread_state ---------------------------------
 * The switch leaves MXCSR and the x87 control word alone (see "MXCSR and
 * the x87 control word" in switch_asm.S): a mode the coroutine sets is what
 * main sees after the switch back, and a mode main sets is what the
 * coroutine sees when resumed.  A switch that saved them per context
 * would fail both checks.  Control bits only: the status bits are sticky
 * exception flags.  (Valgrind does not emulate a non-default MXCSR: run
 * this natively.) */

static jmpco_asm_ctx fp_main, fp_coro;
static uint32_t fp_coro_mxcsr_seen;

static uint16_t get_x87cw(void) {
  uint16_t cw;
  __asm__ volatile("fnstcw %0" : "=m"(cw));
  return cw;
}

static void set_x87cw(uint16_t cw) { __asm__ volatile("fldcw %0" : : "m"(cw)); }

#define MXCSR_CONTROL(x) ((x) & ~0x3fu)
#define MXCSR_CORO 0xff80u /* default 0x1f80 | FTZ | RC=round toward zero */
#define X87CW_CORO 0x0b7fu /* RC = round up */

static void fp_entry(void *transfer) {
  (void)transfer;
  __builtin_ia32_ldmxcsr(MXCSR_CORO);
  set_x87cw(X87CW_CORO);
  jmpco_asm_switch(&fp_coro, &fp_main, NULL);
  fp_coro_mxcsr_seen = __builtin_ia32_stmxcsr();
  for (;;) {
    jmpco_asm_switch(&fp_coro, &fp_main, NULL);
  }
}

static void fp_control_words_are_thread_state(void) {
  uint32_t mx = __builtin_ia32_stmxcsr();
  uint16_t cw = get_x87cw();
  junk(&fp_main);
  jmpco_asm_init(&fp_coro, top_of(&stacks[0]), STACK_SIZE, fp_entry);
  jmpco_asm_switch(&fp_main, &fp_coro, NULL);
  uint32_t main_mx_seen = __builtin_ia32_stmxcsr();
  uint16_t main_cw_seen = get_x87cw();
  __builtin_ia32_ldmxcsr(mx); /* main's own modes back, then resume */
  set_x87cw(cw);
  jmpco_asm_switch(&fp_main, &fp_coro, NULL);
  CHECK(MXCSR_CONTROL(main_mx_seen) == MXCSR_CONTROL(MXCSR_CORO));
  CHECK(main_cw_seen == X87CW_CORO);
  CHECK(MXCSR_CONTROL(fp_coro_mxcsr_seen) == MXCSR_CONTROL(mx));
  CHECK(MXCSR_CONTROL(__builtin_ia32_stmxcsr()) == MXCSR_CONTROL(mx));
  CHECK(get_x87cw() == cw);
}

/* ---- two_coroutines_interleave ------------------------------------------ */

static jmpco_asm_ctx il_main, il_a, il_b;
static char il_log[64];
static int il_len;

static void il_entry_a(void *transfer) {
  for (uintptr_t i = (uintptr_t)transfer;; i++) {
    il_log[il_len++] = (char)('a' + i);
    jmpco_asm_switch(&il_a, &il_main, (void *)i);
  }
}

static void il_entry_b(void *transfer) {
  for (uintptr_t i = (uintptr_t)transfer;; i++) {
    il_log[il_len++] = (char)('A' + i);
    jmpco_asm_switch(&il_b, &il_main, (void *)(i + 100));
  }
}

static void two_coroutines_interleave(void) {
  junk(&il_main);
  jmpco_asm_init(&il_a, top_of(&stacks[0]), STACK_SIZE, il_entry_a);
  jmpco_asm_init(&il_b, top_of(&stacks[1]), STACK_SIZE, il_entry_b);
  for (uintptr_t i = 0; i < 5; i++) {
    CHECK((uintptr_t)jmpco_asm_switch(&il_main, &il_a, NULL) == i);
    CHECK((uintptr_t)jmpco_asm_switch(&il_main, &il_b, NULL) == i + 100);
  }
  il_log[il_len] = 0;
  CHECK(strcmp(il_log, "aAbBcCdDeE") == 0);
}

/* ---- a_coroutine_resumes_another (nested) -------------------------------
 * main -> outer -> inner -> outer -> main: outer is the "caller" of inner
 * and keeps its own context for that relationship. */

static jmpco_asm_ctx ne_main, ne_outer, ne_outer_as_caller, ne_inner;

static void ne_inner_entry(void *transfer) {
  uintptr_t v = (uintptr_t)transfer;
  for (;;) {
    v = (uintptr_t)jmpco_asm_switch(&ne_inner, &ne_outer_as_caller, (void *)(v * 10));
  }
}

static void ne_outer_entry(void *transfer) {
  uintptr_t v = (uintptr_t)transfer;
  junk(&ne_outer_as_caller);
  jmpco_asm_init(&ne_inner, top_of(&stacks[2]), STACK_SIZE, ne_inner_entry);
  for (;;) {
    uintptr_t got = (uintptr_t)jmpco_asm_switch(&ne_outer_as_caller, &ne_inner, (void *)(v + 1));
    v = (uintptr_t)jmpco_asm_switch(&ne_outer, &ne_main, (void *)(got + 2));
  }
}

static void a_coroutine_resumes_another(void) {
  junk(&ne_main);
  jmpco_asm_init(&ne_outer, top_of(&stacks[1]), STACK_SIZE, ne_outer_entry);
  for (uintptr_t v = 1; v < 50; v++) {
    CHECK((uintptr_t)jmpco_asm_switch(&ne_main, &ne_outer, (void *)v) == (v + 1) * 10 + 2);
  }
}

/* ---- backtrace_inside_a_coroutine_ends_at_its_entry ---------------------
 * glibc backtrace() (libgcc's DWARF unwinder) must walk body -> entry and
 * stop there: the zero return address ends it, no garbage frames. */

static jmpco_asm_ctx bt_main, bt_coro;
static void *bt_frames[64];
static int bt_count;
static void *bt_body_ra;

__attribute__((noinline)) static void bt_body(void) {
  bt_body_ra = __builtin_return_address(0); /* an address inside bt_entry */
  bt_count = backtrace(bt_frames, 64);
}

static void bt_entry(void *transfer) {
  (void)transfer;
  bt_body();
  for (;;) { /* the loop after the call keeps bt_body from being a tail call */
    jmpco_asm_switch(&bt_coro, &bt_main, NULL);
  }
}

static void backtrace_inside_a_coroutine_ends_at_its_entry(void) {
  junk(&bt_main);
  jmpco_asm_init(&bt_coro, top_of(&stacks[0]), STACK_SIZE, bt_entry);
  jmpco_asm_switch(&bt_main, &bt_coro, NULL);
  /* frames: [0] in bt_body (after the backtrace call), [1] in bt_entry */
  /* Under -fsanitize=address, ASan's backtrace() interceptor is frame [0]
   * and the rest shift up; with -DJMPCO_ASAN the entry is called by the
   * shim's asan_start, one more frame, which is then the outermost. */
#if defined(__SANITIZE_ADDRESS__)
  const int first = 1;
#else
  const int first = 0;
#endif
#if defined(JMPCO_ASAN)
  const int start_frames = 1;
#else
  const int start_frames = 0;
#endif
  CHECK(bt_count == first + 2 + start_frames);
  CHECK(bt_frames[first + 1] == bt_body_ra);
  for (int i = 0; i < bt_count; i++) {
    CHECK(bt_frames[i] != NULL);
  }
}

/* ---- gdb_breakpoint_target ----------------------------------------------
 * Not a check: a named place for `gdb -batch -ex 'break gdb_stop_here'`
 * two calls deep inside a coroutine.  `bt` there must end at gdb_entry. */

static jmpco_asm_ctx gd_main, gd_coro;
volatile int gdb_sink;

__attribute__((noinline)) void gdb_stop_here(int depth) { gdb_sink = depth; }

__attribute__((noinline)) static void gdb_middle(int depth) {
  gdb_stop_here(depth + 1);
  gdb_sink++;
}

static void gdb_entry(void *transfer) {
  (void)transfer;
  gdb_middle(1);
  for (;;) {
    jmpco_asm_switch(&gd_coro, &gd_main, NULL);
  }
}

static void gdb_breakpoint_target(void) {
  junk(&gd_main);
  jmpco_asm_init(&gd_coro, top_of(&stacks[0]), STACK_SIZE, gdb_entry);
  jmpco_asm_switch(&gd_main, &gd_coro, NULL);
  CHECK(gdb_sink == 3);
}

int main(void) {
  struct {
    const char *name;
    void (*run)(void);
  } tests[] = {
      {"transfer_passes_values_both_ways", transfer_passes_values_both_ways},
      {"entry_state_follows_the_psabi", entry_state_follows_the_psabi},
      {"callee_saved_registers_survive_switches", callee_saved_registers_survive_switches},
      {"fp_control_words_are_thread_state", fp_control_words_are_thread_state},
      {"two_coroutines_interleave", two_coroutines_interleave},
      {"a_coroutine_resumes_another", a_coroutine_resumes_another},
      {"backtrace_inside_a_coroutine_ends_at_its_entry",
       backtrace_inside_a_coroutine_ends_at_its_entry},
      {"gdb_breakpoint_target", gdb_breakpoint_target},
  };
  for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
    tests[i].run();
    printf("ok %zu - %s\n", i + 1, tests[i].name);
  }
  return 0;
}
