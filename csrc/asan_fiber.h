/*
 * asan_fiber.h -- AddressSanitizer fiber annotations for every backend.
 *
 * Built in only with -DJMPCO_ASAN (the crate's `asan` feature, or by hand:
 * `gcc -fsanitize=address -DJMPCO_ASAN ...`).  Without it every macro below
 * expands to nothing and the switches are exactly what they were: not one
 * instruction more.
 *
 * Why
 * ---
 * ASan keeps, per thread, the bounds of "the" stack and (with
 * detect_stack_use_after_return) a fake stack where instrumented frames keep
 * their locals.  A coroutine switch moves rsp to another stack behind its
 * back: it then reports false stack-buffer-overflows, or on a longjmp/noreturn
 * unpoisons the wrong range ("ASan is ignoring requested
 * __asan_handle_no_return: stack type: default ..."), and fake frames of one
 * coroutine get freed while another still uses them.  The runtime's two
 * fiber calls tell it about each switch:
 *
 *   __sanitizer_start_switch_fiber(&fake, bottom, size)
 *       just before leaving: [bottom, bottom + size) is the stack we go to;
 *       ASan stores the leaving side's fake stack in `fake` (pass NULL when
 *       the leaving side is finished for good: its fake stack is destroyed).
 *   __sanitizer_finish_switch_fiber(fake, &old_bottom, &old_size)
 *       first thing after arriving: `fake` is what start stored when this
 *       side last left (NULL on a fresh stack); ASan reports the bounds of
 *       the stack we just came from.
 *
 * Where each side's bounds come from
 * ----------------------------------
 * A coroutine's own context knows its stack from init (stack_top and
 * stack_size).  The resumer's context (the thread's own stack, or another
 * coroutine's) is never initialised by us: it learns its bounds from the
 * out-parameters of finish, the usual pattern (QEMU's coroutine-ucontext,
 * boost.context).  The leaving side cannot name its own stack, but the
 * arriving side is told it: so before leaving, a switch records in a
 * per-thread variable which context it is saving, and the arriving side
 * writes finish's out-parameters into that context's bounds.  Nothing runs
 * on the thread between the two, and a context is only continued on the
 * thread that saved it (jmpco_switch.h), so one thread-local is enough.
 * Every arrival refreshes the bounds; the first one, into a fresh
 * coroutine, fills them before anyone can switch back.
 *
 * The fake-stack pointer is kept in the context being saved, not in a local:
 * in the sjlj backend a local written between _setjmp and _longjmp would be
 * indeterminate when _setjmp returns again (C11 7.13.2.1p3).
 *
 * Weak references: the Rust side cannot be built with ASan on stable Rust
 * (-Zsanitizer=address is nightly-only), so with the `asan` feature the shim
 * may end up in a program without the ASan runtime.  The two functions are
 * declared weak and called only if the runtime is linked in: the feature is
 * then harmless (a test of one pointer per switch) and a C program built with
 * -fsanitize=address that links libjmpco.a gets the annotations.
 */
#ifndef JMPCO_ASAN_FIBER_H
#define JMPCO_ASAN_FIBER_H

#include <stddef.h>

#ifdef JMPCO_ASAN

/* The bounds of the stack a context runs on, as ASan wants them. */
struct jmpco_stack_bounds {
  const void *bottom;
  size_t size;
};

/* Same prototypes as <sanitizer/common_interface_defs.h>, but weak. */
extern void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom,
                                           size_t size) __attribute__((weak));
extern void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old,
                                            size_t *size_old) __attribute__((weak));

/* The bounds of the context the running thread most recently left, for the
 * arriving side to fill; NULL when that context is finished for good.  One
 * per thread, shared by every file that switches (defined in
 * switch_sjlj.c): a switch may leave in one file and arrive in another, as
 * sjlj's jmpco_sjlj_switch and jmpco_sjlj_suspend do. */
extern _Thread_local struct jmpco_stack_bounds *jmpco_asan_leaving;

/* Just before leaving a context that will be continued later: save its fake
 * stack in *fake_save, remember where its bounds go, announce `to`. */
static inline void jmpco_asan_leave(void **fake_save, struct jmpco_stack_bounds *from,
                                    const struct jmpco_stack_bounds *to) {
  jmpco_asan_leaving = from;
  if (__sanitizer_start_switch_fiber) {
    __sanitizer_start_switch_fiber(fake_save, to->bottom, to->size);
  }
}

/* Just before leaving a context for good (the exit switch): its fake stack
 * is destroyed and nobody records its bounds. */
static inline void jmpco_asan_leave_for_good(const struct jmpco_stack_bounds *to) {
  jmpco_asan_leaving = NULL;
  if (__sanitizer_start_switch_fiber) {
    __sanitizer_start_switch_fiber(NULL, to->bottom, to->size);
  }
}

/* First thing after arriving: restore this side's fake stack (NULL on a
 * fresh stack) and record the bounds of the side we came from. */
static inline void jmpco_asan_arrive(void *fake) {
  struct jmpco_stack_bounds *left = jmpco_asan_leaving;
  if (__sanitizer_finish_switch_fiber) {
    __sanitizer_finish_switch_fiber(fake, left ? &left->bottom : NULL,
                                    left ? &left->size : NULL);
  }
}

#define JMPCO_ASAN_LEAVE(fake_save, from, to) jmpco_asan_leave((fake_save), (from), (to))
#define JMPCO_ASAN_LEAVE_FOR_GOOD(to) jmpco_asan_leave_for_good(to)
#define JMPCO_ASAN_ARRIVE(fake) jmpco_asan_arrive(fake)

#else /* !JMPCO_ASAN: no annotations, no cost */

#define JMPCO_ASAN_LEAVE(fake_save, from, to) ((void)0)
#define JMPCO_ASAN_LEAVE_FOR_GOOD(to) ((void)0)
#define JMPCO_ASAN_ARRIVE(fake) ((void)0)

#endif /* JMPCO_ASAN */

#endif /* JMPCO_ASAN_FIBER_H */
