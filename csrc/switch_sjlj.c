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
 * context is a frame of jmpco_sjlj_switch (or jmpco_sjlj_suspend, its twin
 * below) waiting in `if (_setjmp(...))`.
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
 * Returning without a mispredicted `ret`
 * --------------------------------------
 * A CPU predicts `ret` from its return stack buffer (RSB), a small stack of
 * the addresses its `call`s pushed.  A switch breaks that pairing: when
 * _longjmp lands in the other context's jmpco_sjlj_switch, the newest RSB
 * entry is glibc's own `call __longjmp` inside _longjmp (not ours to
 * change), so the landing side's `ret` would be predicted to go there and
 * mispredict -- twice per round trip, ~15-20 cycles each, more than half of
 * a raw round trip on this project's test machine (~60 ns before, ~30-45
 * ns after).  So the function that returns from a landing is compiled with
 * GCC's function_return("thunk-extern"): its `ret` becomes `jmp
 * __x86_return_thunk`, which pops the return address and jumps to it
 * through a register, an indirect jump predicted from the branch target
 * buffer.  And there are two such functions, the same switch compiled
 * twice (switch_sjlj_core.h): jmpco_sjlj_switch, which resumers call, and
 * jmpco_sjlj_suspend, which a coroutine calls to go back.  Each has its own
 * thunk, so each return jump has one steady target (the resumer's call
 * site, the suspender's); one shared jump would alternate between them,
 * which the predictor often misses.  Either function works in either
 * direction: they differ only in which jump their returns take.  (The
 * price: glibc's own `jmp *` at the end of _longjmp now alternates between
 * the two landing sites; measured, the split still wins.)  The RSB keeps
 * the stale entries; it is a ring, so they are overwritten, never an error.  Compilers without the
 * attribute get a plain `ret`: slower, same behaviour.  With Intel IBT
 * enforced the register jump would need an ENDBR at every return site, but
 * Linux enables no user-mode IBT, and the shadow stacks that do exist make
 * jmpco refuse this backend anyway (src/switch/cet.rs).
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
#include "switch_sjlj_core.h"

#ifdef JMPCO_ASAN
/* Declared in asan_fiber.h: the one per-thread record of the context being
 * left, for every file that switches. */
__attribute__((visibility("hidden"))) _Thread_local struct jmpco_stack_bounds *jmpco_asan_leaving;
#endif

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

JMPCO_SJLJ_RETURN_THUNK

JMPCO_DEFINE_SJLJ_SWITCH(jmpco_sjlj_switch)

void jmpco_sjlj_exit(jmpco_sjlj_ctx *to_, void *transfer) {
  struct sjlj_ctx *to = sjlj(to_);
  /* `to` is always a saved context here (the resumer waiting in
   * jmpco_sjlj_switch), never a fresh one. */
  to->transfer = transfer;
  JMPCO_ASAN_LEAVE_FOR_GOOD(&to->bounds);
  _longjmp(to->buf, 1);
}
