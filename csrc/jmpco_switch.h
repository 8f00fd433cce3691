/*
 * jmpco_switch.h -- the one C interface of the context-switch shim.
 *
 * This header is the bindgen input: `src/sys/bindings.rs` is generated from
 * it (see scripts/regen-bindings.sh). Only the files in csrc/ include
 * <setjmp.h> or <ucontext.h>; Rust sees contexts as opaque, fixed-size,
 * fixed-alignment byte arrays whose sizes are checked on both sides
 * (`_Static_assert` in each backend, const asserts in the backend's Rust
 * module: src/switch/sjlj.rs, ucontext.rs, asm.rs).
 *
 * The model
 * ---------
 * A *context* is a suspended point of execution: enough saved state that a
 * later switch can continue it. Each backend has its own context type and
 * the same three operations:
 *
 *   init(ctx, stack_top, entry)   make `ctx` a fresh context that, when first
 *                                 switched to, calls `entry(transfer)` on the
 *                                 stack whose highest address is `stack_top`.
 *   switch(from, to, transfer)    save the running context into `from`, then
 *                                 continue `to`; `transfer` is handed to the
 *                                 other side.  When some later switch
 *                                 continues `from`, this call returns the
 *                                 `transfer` of *that* switch.
 *   exit(to, transfer)            continue `to` without saving anything: the
 *                                 last switch of a finished coroutine, whose
 *                                 context is never continued again.
 *
 * The two sides of a switch always belong to one backend: a coroutine's own
 * context and the context of whoever resumed it ("the caller") are both
 * saved by the coroutine's backend.
 *
 * Contract, for every backend
 * ---------------------------
 *  - `entry` never returns: it must end by switching away for good.  The
 *    first frame on a fresh stack has a zero return address and a zero frame
 *    pointer, so unwinders and debuggers stop there.
 *  - `stack_top` is 16-byte aligned; the memory below it belongs to the
 *    context from init until the owner stops switching to it.
 *  - The signal mask is NOT part of a context (that is what makes the sjlj
 *    backend fast); callers must not change it inside a coroutine and expect
 *    it to follow the coroutine.
 *  - A context may only be continued on the thread that saved it.
 *  - `to` must be fresh (after init) or saved by an earlier switch and not
 *    continued since; continuing a context twice is undefined behaviour.
 *    The Rust layer enforces this with the coroutine state machine.
 *
 * AddressSanitizer: built with -DJMPCO_ASAN (the crate's `asan` feature),
 * every switch, exit and fresh entry carries ASan's fiber annotations
 * (csrc/asan_fiber.h); that is why init takes the stack's size.  Without it
 * the annotations compile to nothing.
 */
#ifndef JMPCO_SWITCH_H
#define JMPCO_SWITCH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Sizes and alignment of the opaque context storage.  Each backend checks
 * with _Static_assert that its real context fits. */
#define JMPCO_SJLJ_CTX_SIZE 256
#define JMPCO_UCONTEXT_CTX_SIZE 1024
#define JMPCO_CTX_ALIGN 16

/* Required alignment of `stack_top`. */
#define JMPCO_STACK_ALIGN 16

/* The function a fresh context starts in.  Receives the `transfer` of the
 * first switch into the context.  Must never return. */
typedef void (*jmpco_entry_fn)(void *transfer);

/* -------------------------------------------------------------------------
 * sjlj backend (csrc/switch_sjlj.c): _setjmp/_longjmp plus a few
 * instructions of inline asm to enter a fresh stack.
 * ---------------------------------------------------------------------- */
typedef struct jmpco_sjlj_ctx {
  _Alignas(JMPCO_CTX_ALIGN) unsigned char opaque[JMPCO_SJLJ_CTX_SIZE];
} jmpco_sjlj_ctx;

/* The stack is [stack_top - stack_size, stack_top); only AddressSanitizer
 * builds (-DJMPCO_ASAN) use `stack_size`. */
void jmpco_sjlj_init(jmpco_sjlj_ctx *ctx, void *stack_top, size_t stack_size,
                     jmpco_entry_fn entry);
void *jmpco_sjlj_switch(jmpco_sjlj_ctx *from, jmpco_sjlj_ctx *to, void *transfer);
/* The same switch, for the way back from a coroutine to the context that
 * resumed it: behaves exactly like jmpco_sjlj_switch (either works in
 * either direction), but the two return through separate jumps, which the
 * CPU predicts better when each is used for one direction only. */
void *jmpco_sjlj_suspend(jmpco_sjlj_ctx *from, jmpco_sjlj_ctx *to, void *transfer);
__attribute__((noreturn)) void jmpco_sjlj_exit(jmpco_sjlj_ctx *to, void *transfer);

/* -------------------------------------------------------------------------
 * ucontext backend (csrc/switch_ucontext.c): getcontext/makecontext/
 * swapcontext, the seed notes' approach, kept as the baseline.
 * `stack_size` is needed by makecontext: the stack is
 * [stack_top - stack_size, stack_top).
 * ---------------------------------------------------------------------- */
typedef struct jmpco_ucontext_ctx {
  _Alignas(JMPCO_CTX_ALIGN) unsigned char opaque[JMPCO_UCONTEXT_CTX_SIZE];
} jmpco_ucontext_ctx;

/* Returns 0, or -1 if getcontext failed (errno is set). */
int jmpco_ucontext_init(jmpco_ucontext_ctx *ctx, void *stack_top, size_t stack_size,
                        jmpco_entry_fn entry);
void *jmpco_ucontext_switch(jmpco_ucontext_ctx *from, jmpco_ucontext_ctx *to, void *transfer);
__attribute__((noreturn)) void jmpco_ucontext_exit(jmpco_ucontext_ctx *to, void *transfer);

/* -------------------------------------------------------------------------
 * asm backend (csrc/switch_asm.S, csrc/switch_asm_init.c): a hand-written
 * x86-64 System V switch.  A suspended context keeps its resume address,
 * rbx and rbp on its own stack; the context itself is just the saved stack
 * pointer.  Besides this C-ABI switch, the Rust side assembles the same
 * instructions inline (csrc/switch_asm_*.inc: see the essay in
 * switch_asm.S).  MXCSR and the x87 control word are thread state, not
 * switched.  Offsets live in csrc/switch_asm_layout.h.  x86-64 ELF only.
 * ---------------------------------------------------------------------- */
#define JMPCO_ASM_CTX_SIZE 32

typedef struct jmpco_asm_ctx {
  _Alignas(JMPCO_CTX_ALIGN) unsigned char opaque[JMPCO_ASM_CTX_SIZE];
} jmpco_asm_ctx;

/* Writes a 32-byte start frame just below `stack_top`.  The stack is
 * [stack_top - stack_size, stack_top); only AddressSanitizer builds
 * (-DJMPCO_ASAN) use `stack_size`. */
void jmpco_asm_init(jmpco_asm_ctx *ctx, void *stack_top, size_t stack_size,
                    jmpco_entry_fn entry);
void *jmpco_asm_switch(jmpco_asm_ctx *from, jmpco_asm_ctx *to, void *transfer);
/* The exit switch: the finished side is saved in a per-thread scratch
 * context that nobody continues. */
__attribute__((noreturn)) void jmpco_asm_exit(jmpco_asm_ctx *to, void *transfer);

#ifdef __cplusplus
}
#endif

#endif /* JMPCO_SWITCH_H */
