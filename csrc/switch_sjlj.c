/*
 * switch_sjlj.c -- the primary backend: _setjmp/_longjmp plus one stack move.
 *
 * What a switch saves, and where
 * ------------------------------
 * jmpco_sjlj_switch(from, to, transfer) is an ordinary C call, so by the
 * System V x86-64 psABI the caller (Rust) has already spilled every
 * caller-saved register it still needs.  What must survive is exactly the
 * callee-saved set: rbx, rbp, r12-r15, rsp and the return address.  glibc's
 * _setjmp stores those eight words in `from->buf` (rbp, rsp and the pc are
 * mangled with PTR_MANGLE: we never read or edit a jmp_buf, we only hand it
 * back to _longjmp).  _longjmp(to->buf) reloads them, which makes the
 * _setjmp that filled `to->buf` -- inside an earlier call of this very
 * function, on the other stack -- return a second time.  So every suspended
 * context is a frame of jmpco_sjlj_switch waiting in `if (_setjmp(...))`.
 *
 * Not saved: the signal mask (_setjmp, unlike sigsetjmp(env, 1) or
 * swapcontext, makes no rt_sigprocmask call -- that syscall is most of what
 * ucontext costs), and the MXCSR / x87 control words (the psABI calls their
 * control bits callee-saved, but glibc's jmp_buf does not hold them: a body
 * that changes the rounding mode changes it for whoever runs next).
 *
 * Entering a fresh stack
 * ----------------------
 * A fresh context has no jmp_buf yet; `entry` is non-NULL instead.  The
 * first switch into it saves `from` as usual, then enter_stack() moves the
 * stack pointer with three instructions of inline asm:
 *
 *     stack_top  ->  +------------------+  16-byte aligned (psABI: rsp+8 is
 *                    | return addr = 0  |  a multiple of 16 at function entry)
 *      rsp at    ->  +------------------+
 *      entry(arg)    | entry's frame    |  rbp = 0, rdi = transfer
 *                    |       ...        |
 *                    v  grows down      v  (guard page below the stack)
 *
 * The zero return address ends DWARF unwinding (libgcc stops when the
 * return address is 0) and the zero rbp ends frame-pointer walks, so a
 * backtrace taken in a coroutine stops cleanly at its entry.  `entry` never
 * returns: `ret` to address 0 would fault.
 *
 * Red zone: a suspended frame is below no live data of ours -- its own rsp
 * was saved by _setjmp, and the 128 bytes under it are dead because
 * jmpco_sjlj_switch is not a leaf.  Nothing ever runs on a suspended stack,
 * so no signal frame can land on it either.
 *
 * Why -U_FORTIFY_SOURCE (see build.rs): with _FORTIFY_SOURCE, glibc turns
 * longjmp into __longjmp_chk, which aborts with "longjmp causes
 * uninitialized stack frame" whenever the target stack pointer is below the
 * current one on a different stack -- i.e. on half of all coroutine
 * switches.  The check is meant for longjmp within one stack; we jump
 * between stacks on purpose.
 *
 * AddressSanitizer (-DJMPCO_ASAN, see csrc/asan_fiber.h)
 * ------------------------------------------------------
 * With JMPCO_ASAN each context also keeps its stack bounds and a saved fake
 * stack: the switch announces the target's bounds just before _longjmp (or
 * enter_stack) and finishes the switch where _setjmp returns the second
 * time; a fresh stack starts in asan_start(), which finishes the switch
 * before calling `entry`, and the exit switch destroys the dying fake stack.
 * Without JMPCO_ASAN none of this is compiled: same code as before.
 */
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

void jmpco_sjlj_init(jmpco_sjlj_ctx *ctx, void *stack_top, size_t stack_size,
                     jmpco_entry_fn entry) {
  struct sjlj_ctx *c = sjlj(ctx);
  c->transfer = NULL;
  c->entry = entry;
  c->stack_top = stack_top;
#ifdef JMPCO_ASAN
  c->bounds.bottom = (char *)stack_top - stack_size;
  c->bounds.size = stack_size;
  c->fake_stack = NULL;
#else
  (void)stack_size; /* only ASan needs the bounds */
#endif
}

void *jmpco_sjlj_switch(jmpco_sjlj_ctx *from_, jmpco_sjlj_ctx *to_, void *transfer) {
  struct sjlj_ctx *from = sjlj(from_);
  struct sjlj_ctx *to = sjlj(to_);
  /* `from` is not modified between _setjmp and the _longjmp that returns
   * here, so it keeps its value (C11 7.13.2.1p3). */
  if (_setjmp(from->buf) == 0) {
    from->entry = NULL; /* saved now, so not fresh (it may never have been init'ed) */
    JMPCO_ASAN_LEAVE(&from->fake_stack, &from->bounds, &to->bounds);
    if (__builtin_expect(to->entry != NULL, 0)) {
      jmpco_entry_fn entry = to->entry;
      to->entry = NULL;
      ENTER_STACK(to->stack_top, entry, transfer);
    }
    to->transfer = transfer;
    _longjmp(to->buf, 1);
  }
  JMPCO_ASAN_ARRIVE(from->fake_stack);
  return from->transfer;
}

void jmpco_sjlj_exit(jmpco_sjlj_ctx *to_, void *transfer) {
  struct sjlj_ctx *to = sjlj(to_);
  /* `to` is always a saved context here (the resumer waiting in
   * jmpco_sjlj_switch), never a fresh one. */
  to->transfer = transfer;
  JMPCO_ASAN_LEAVE_FOR_GOOD(&to->bounds);
  _longjmp(to->buf, 1);
}
