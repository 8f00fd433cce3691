/*
 * bench_loop.c -- raw C round-trip loops: the same switch functions the Rust
 * layer calls, with no Rust in between.  The benchmarks run these in the
 * same process as the Rust round trip, so the ratio is the Rust layer's
 * cost.  One round trip = main switches into the coroutine, the coroutine
 * switches back.  The coroutine is left suspended when the loop ends; it
 * owns nothing, and its stack belongs to the caller.
 */
#include "jmpco_switch.h"

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

/* The asm backend's loop enters the switch the way src/switch.rs does,
 * through the two entries that keep the return stack buffer balanced
 * (see the essay in switch_asm.S): resume by `call`, suspend by pushing
 * the resume address and jumping.  Not C ABI, so the asm statements say
 * what they clobber: every scratch register plus r12-r15.  They step over
 * the 128-byte red zone, which GCC may use in a function it thinks makes
 * no calls. */
#ifdef JMPCO_ASAN
/* ASan builds switch through the annotated C-ABI switch only. */
#define asm_resume jmpco_asm_switch
#define asm_suspend jmpco_asm_switch
#else
void jmpco_asm_resume(void);
void jmpco_asm_suspend(void);

#define ASM_ENTRY_CLOBBERS                                                                         \
  "rcx", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "xmm0", "xmm1", "xmm2", "xmm3",     \
      "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", \
      "xmm15", "memory", "cc"

static inline void *asm_resume(jmpco_asm_ctx *from, jmpco_asm_ctx *to, void *transfer) {
  void *result;
  __asm__ volatile("leaq -128(%%rsp), %%rsp\n\t"
                   "call jmpco_asm_resume\n\t"
                   "leaq 128(%%rsp), %%rsp"
                   : "=a"(result), "+D"(from), "+S"(to), "+d"(transfer)
                   :
                   : ASM_ENTRY_CLOBBERS);
  return result;
}

static inline void *asm_suspend(jmpco_asm_ctx *from, jmpco_asm_ctx *to, void *transfer) {
  void *result;
  __asm__ volatile("leaq -128(%%rsp), %%rsp\n\t"
                   "leaq 1f(%%rip), %%rax\n\t"
                   "pushq %%rax\n\t"
                   "jmp jmpco_asm_suspend\n"
                   "1:\n\t"
                   "leaq 128(%%rsp), %%rsp"
                   : "=a"(result), "+D"(from), "+S"(to), "+d"(transfer)
                   :
                   : ASM_ENTRY_CLOBBERS);
  return result;
}
#endif /* JMPCO_ASAN */

struct asm_pair {
  jmpco_asm_ctx main;
  jmpco_asm_ctx coro;
};

static void asm_body(void *transfer) {
  struct asm_pair *p = transfer;
  for (;;) {
    asm_suspend(&p->coro, &p->main, NULL);
  }
}

int jmpco_bench_asm_round_trips(void *stack_top, size_t stack_size, uint64_t rounds) {
  struct asm_pair p;
  jmpco_asm_init(&p.coro, stack_top, stack_size, asm_body);
  asm_resume(&p.main, &p.coro, &p); /* first entry: body yields at once */
  for (uint64_t i = 0; i < rounds; i++) {
    asm_resume(&p.main, &p.coro, NULL);
  }
  return 0;
}
