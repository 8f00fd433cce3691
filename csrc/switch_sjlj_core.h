/*
 * switch_sjlj_core.h -- the sjlj backend's context, stack entry and switch,
 * shared by its two translation units.  The essay is in switch_sjlj.c.
 *
 * Why two files: the switch is compiled twice, as jmpco_sjlj_switch (used
 * to resume) and jmpco_sjlj_suspend (used to go back to the resumer), so
 * that each direction returns from its landing through a jump of its own.
 * One shared jump would alternate between the two directions' return
 * sites, which branch history many branches back cannot tell apart; two
 * jumps each have one steady target.  GCC names the return thunk
 * __x86_return_thunk and only one can exist per file.
 */
#ifndef JMPCO_SWITCH_SJLJ_CORE_H
#define JMPCO_SWITCH_SJLJ_CORE_H

/* _setjmp/_longjmp are POSIX, hidden by -std=c11 without this. */
#define _DEFAULT_SOURCE

#include "jmpco_switch.h"

#include "asan_fiber.h"

#include <setjmp.h>
#include <stdint.h>

#if !defined(__x86_64__)
#error "jmpco: the sjlj backend's stack entry is written for x86-64 only (aarch64 is not yet verified)"
#endif

struct sjlj_ctx {
  jmp_buf buf;          /* callee-saved registers, filled by _setjmp */
  void *transfer;       /* set by the switch that continues this context */
  jmpco_entry_fn entry; /* non-NULL while fresh: the first switch starts it */
  void *stack_top;      /* where a fresh context's stack begins */
#ifdef JMPCO_ASAN
  struct jmpco_stack_bounds bounds; /* own stack, from init or finish */
  void *fake_stack;                 /* saved by start when leaving */
#endif
};

_Static_assert(sizeof(struct sjlj_ctx) <= JMPCO_SJLJ_CTX_SIZE,
               "struct sjlj_ctx outgrew JMPCO_SJLJ_CTX_SIZE");
_Static_assert(_Alignof(struct sjlj_ctx) <= JMPCO_CTX_ALIGN,
               "struct sjlj_ctx needs more than JMPCO_CTX_ALIGN");
_Static_assert(sizeof(jmpco_sjlj_ctx) == JMPCO_SJLJ_CTX_SIZE, "opaque storage size");

static inline struct sjlj_ctx *sjlj(jmpco_sjlj_ctx *c) {
  return (struct sjlj_ctx *)(void *)c->opaque;
}

#ifndef JMPCO_ASAN
/* Move to `top`, clear the frame pointer, push a zero return address and
 * jump to entry(arg).  Never returns. */
__attribute__((noreturn, noinline)) static void enter_stack(void *top, jmpco_entry_fn entry,
                                                            void *arg) {
  __asm__ volatile("movq %[top], %%rsp\n\t" /* rsp = 16-byte aligned stack top    */
                   "xorl %%ebp, %%ebp\n\t"  /* rbp = 0: frame-pointer walks stop  */
                   "pushq $0\n\t"           /* return address 0: unwinders stop;  */
                                            /* now rsp % 16 == 8, as after a call */
                   "jmpq *%[entry]\n\t"     /* entry(rdi = arg), never returns    */
                   :
                   : [top] "S"(top), [entry] "a"(entry), "D"(arg)
                   : "memory");
  __builtin_unreachable();
}
#define ENTER_STACK enter_stack
#else /* JMPCO_ASAN */
/* Under ASan a fresh stack begins here, not in `entry`: finish the switch
 * (no fake stack yet) before any instrumented code of `entry` runs.
 * enter_stack_asan() leaves rdi = transfer and rsi = entry. */
__attribute__((noreturn)) static void asan_start(void *transfer, jmpco_entry_fn entry) {
  JMPCO_ASAN_ARRIVE(NULL);
  entry(transfer);
  __builtin_unreachable(); /* entry never returns (contract) */
}

/* enter_stack() for ASan builds: the same three instructions, but into
 * asan_start(transfer, entry). */
__attribute__((noreturn, noinline)) static void enter_stack_asan(void *top, jmpco_entry_fn entry,
                                                                 void *arg) {
  void (*start)(void *, jmpco_entry_fn) = asan_start;
  __asm__ volatile("movq %[top], %%rsp\n\t"
                   "xorl %%ebp, %%ebp\n\t"
                   "pushq $0\n\t"
                   "jmpq *%[start]\n\t"
                   :
                   : [top] "c"(top), [start] "a"(start), "D"(arg), "S"(entry)
                   : "memory");
  __builtin_unreachable();
}
#define ENTER_STACK enter_stack_asan
#endif /* JMPCO_ASAN */

#if defined(__has_attribute)
#if __has_attribute(function_return)
#define JMPCO_RETURN_BY_JUMP __attribute__((function_return("thunk-extern")))
#endif
#endif

#ifdef JMPCO_RETURN_BY_JUMP
/* Defines, in the including file only, the return thunk GCC jumps to
 * instead of `ret`.  A local label, not a global symbol: each of the two
 * files gets its own thunk, hence its own indirect jump and its own branch
 * prediction (see "Returning without a mispredicted `ret`").  On entry
 * [rsp] is the return address; rax holds the return value and rcx, a
 * caller-saved scratch register that returns nothing, is free. */
#define JMPCO_SJLJ_RETURN_THUNK                                                                    \
__asm__(".text\n" \
        ".type __x86_return_thunk, @function\n" \
        ".p2align 4\n" \
        "__x86_return_thunk:\n" \
        "  .cfi_startproc\n" \
        "  popq %rcx\n"        /* rcx = return address, rsp as after `ret` */ \
        "  .cfi_adjust_cfa_offset -8\n" \
        "  .cfi_register %rip, %rcx\n" \
        "  jmpq *%rcx\n"       /* predicted by the BTB, not the RSB */ \
        "  int3\n"             /* stops straight-line speculation */ \
        "  .cfi_endproc\n" \
        ".size __x86_return_thunk, .-__x86_return_thunk\n");
#else
#define JMPCO_RETURN_BY_JUMP
#define JMPCO_SJLJ_RETURN_THUNK
#endif

/* Defines the switch itself as `name`: jmpco_sjlj_switch (switch_sjlj.c)
 * and jmpco_sjlj_suspend (switch_sjlj_suspend.c).  A macro, not an inline
 * function: GCC never inlines a function that calls setjmp, and each copy
 * must own its landing and its return jump.  `from` is not modified
 * between _setjmp and the _longjmp that returns there, so it keeps its
 * value (C11 7.13.2.1p3).  from->entry is cleared once saved: `from` is
 * not fresh any more (it may never have been initialised at all). */
#define JMPCO_DEFINE_SJLJ_SWITCH(name)                                                             \
  JMPCO_RETURN_BY_JUMP                                                                             \
  void *name(jmpco_sjlj_ctx *from_, jmpco_sjlj_ctx *to_, void *transfer) {                         \
    struct sjlj_ctx *from = sjlj(from_);                                                           \
    struct sjlj_ctx *to = sjlj(to_);                                                               \
    if (_setjmp(from->buf) == 0) {                                                                 \
      from->entry = NULL;                                                                          \
      JMPCO_ASAN_LEAVE(&from->fake_stack, &from->bounds, &to->bounds);                             \
      if (__builtin_expect(to->entry != NULL, 0)) {                                                \
        jmpco_entry_fn entry = to->entry;                                                          \
        to->entry = NULL;                                                                          \
        ENTER_STACK(to->stack_top, entry, transfer);                                               \
      }                                                                                            \
      to->transfer = transfer;                                                                     \
      _longjmp(to->buf, 1);                                                                        \
    }                                                                                              \
    JMPCO_ASAN_ARRIVE(from->fake_stack);                                                           \
    return from->transfer;                                                                         \
  }

#endif /* JMPCO_SWITCH_SJLJ_CORE_H */
