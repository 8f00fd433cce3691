/*
 * switch_ucontext.c -- the seed notes' backend, kept as the baseline.
 *
 * What a switch saves, and where
 * ------------------------------
 * swapcontext(&from->uc, &to->uc) stores into `from->uc` the callee-saved
 * registers, rsp, the return address, the x87/SSE environment (fnstenv,
 * stmxcsr) and the signal mask, then loads the same from `to->uc`.  Saving
 * and restoring the signal mask is an rt_sigprocmask system call on every
 * switch: that, not the register work, is why this backend is an order of
 * magnitude slower than sjlj.  In exchange the MXCSR/x87 control words do
 * follow each context.
 *
 * Entering a fresh stack
 * ----------------------
 * init() runs getcontext() to get a valid template, points uc_stack at
 * [stack_top - stack_size, stack_top) and calls makecontext().  makecontext
 * only passes `int` arguments, so the context's own address is passed as two
 * 32-bit halves and uc_trampoline() rebuilds it to find `entry` and the
 * first `transfer`.  glibc aligns the new stack to 16 bytes, and its
 * __start_context (the return address makecontext plants) marks the return
 * address undefined for unwinders, so backtraces stop at the trampoline.
 * `entry` never returns; if it did, uc_link is NULL and the thread would
 * exit, so the trampoline aborts instead.
 *
 * AddressSanitizer (-DJMPCO_ASAN, see csrc/asan_fiber.h): each context also
 * keeps its stack bounds and a saved fake stack; the switch announces the
 * target just before swapcontext and finishes right after it returns, the
 * trampoline finishes the first switch into a fresh stack, and the exit
 * switch destroys the dying fake stack.  Compiled out without JMPCO_ASAN.
 */
#include "jmpco_switch.h"

#include "asan_fiber.h"

#include <stdint.h>
#include <stdlib.h>
#include <ucontext.h>

struct uc_ctx {
  ucontext_t uc;        /* full machine context plus signal mask */
  void *transfer;       /* set by the switch that continues this context */
  jmpco_entry_fn entry; /* where a fresh context starts */
#ifdef JMPCO_ASAN
  struct jmpco_stack_bounds bounds; /* own stack, from init or finish */
  void *fake_stack;                 /* saved by start when leaving */
#endif
};

_Static_assert(sizeof(struct uc_ctx) <= JMPCO_UCONTEXT_CTX_SIZE,
               "struct uc_ctx outgrew JMPCO_UCONTEXT_CTX_SIZE");
_Static_assert(_Alignof(struct uc_ctx) <= JMPCO_CTX_ALIGN,
               "struct uc_ctx needs more than JMPCO_CTX_ALIGN");
_Static_assert(sizeof(jmpco_ucontext_ctx) == JMPCO_UCONTEXT_CTX_SIZE, "opaque storage size");
_Static_assert(sizeof(uintptr_t) <= 2 * sizeof(unsigned int),
               "a pointer must fit in two makecontext int arguments");

static inline struct uc_ctx *ucx(jmpco_ucontext_ctx *c) {
  return (struct uc_ctx *)(void *)c->opaque;
}

static void uc_trampoline(unsigned int hi, unsigned int lo) {
  struct uc_ctx *c = (struct uc_ctx *)(((uintptr_t)hi << 32) | (uintptr_t)lo);
  JMPCO_ASAN_ARRIVE(NULL); /* a fresh stack has no fake stack yet */
  c->entry(c->transfer);
  abort(); /* entry must switch away for good, never return */
}

int jmpco_ucontext_init(jmpco_ucontext_ctx *ctx, void *stack_top, size_t stack_size,
                        jmpco_entry_fn entry) {
  struct uc_ctx *c = ucx(ctx);
  if (getcontext(&c->uc) != 0) {
    return -1;
  }
  c->uc.uc_stack.ss_sp = (char *)stack_top - stack_size;
  c->uc.uc_stack.ss_size = stack_size;
  c->uc.uc_stack.ss_flags = 0;
  c->uc.uc_link = NULL;
  c->transfer = NULL;
  c->entry = entry;
#ifdef JMPCO_ASAN
  c->bounds.bottom = c->uc.uc_stack.ss_sp;
  c->bounds.size = stack_size;
  c->fake_stack = NULL;
#endif
  uintptr_t self = (uintptr_t)c;
  makecontext(&c->uc, (void (*)(void))uc_trampoline, 2, (unsigned int)(self >> 32),
              (unsigned int)(self & 0xffffffffu));
  return 0;
}

void *jmpco_ucontext_switch(jmpco_ucontext_ctx *from_, jmpco_ucontext_ctx *to_,
                            void *transfer) {
  struct uc_ctx *from = ucx(from_);
  struct uc_ctx *to = ucx(to_);
  to->transfer = transfer;
  /* swapcontext only fails for invalid arguments, which the Rust state
   * machine rules out; a failure here would be a bug, so stop loudly. */
  JMPCO_ASAN_LEAVE(&from->fake_stack, &from->bounds, &to->bounds);
  if (swapcontext(&from->uc, &to->uc) != 0) {
    abort();
  }
  JMPCO_ASAN_ARRIVE(from->fake_stack);
  return from->transfer;
}

void jmpco_ucontext_exit(jmpco_ucontext_ctx *to_, void *transfer) {
  struct uc_ctx *to = ucx(to_);
  to->transfer = transfer;
  JMPCO_ASAN_LEAVE_FOR_GOOD(&to->bounds);
  setcontext(&to->uc); /* only returns on failure, ruled out as above */
  abort();
}
