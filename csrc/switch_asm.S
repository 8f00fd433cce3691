/*
 * switch_asm.S -- the asm backend: a hand-written x86-64 System V switch.
 *
 * Three ways in, one saved format
 * -------------------------------
 *   jmpco_asm_resume    Rust's way into a coroutine (src/switch.rs).
 *   jmpco_asm_suspend   Rust's way back out, to the resumer.
 *   jmpco_asm_switch    the C-ABI switch of csrc/jmpco_switch.h, for C
 *                       callers (tests, the ASan build, the exit switch).
 *
 * All three leave a suspended context in one format: its saved stack
 * pointer (ctx->sp) points at three words on its own stack,
 *
 *            higher addresses
 *        |  suspended frames ...  |
 *        +------------------------+  <- CFA = ctx->sp + 24
 *   +16  | resume address (pc)    |  where the context continues
 *    +8  | saved rbp              |
 *    +0  | saved rbx              |  <- ctx->sp
 *        +------------------------+
 *            lower addresses
 *
 * and continuing a context means: rsp = ctx->sp, pop rbx and rbp, rax =
 * transfer, go to pc.  So any entry can continue a context any other entry
 * suspended.  Only rbx and rbp are in the frame because they are the two
 * callee-saved registers Rust inline asm cannot declare clobbered (LLVM
 * reserves rbx; rbp is the frame pointer).  r12-r15 are *not* saved here:
 * the Rust asm! blocks around resume and suspend declare them clobbered,
 * so the compiler saves whichever of them it has live, often none.  That
 * is corosensei's approach and the main reason it is fast; the C-ABI entry
 * saves r12-r15 itself, around a resume.
 *
 * Why two Rust entries (return stack buffer)
 * ------------------------------------------
 * A CPU predicts `ret` from its return stack buffer (RSB), which its
 * `call`s push.  A symmetric switch -- call switch, swap stacks, ret --
 * pops the entry the *other* side's call pushed, so both `ret`s of a round
 * trip mispredict (~15-20 cycles each: on this project's machine the old
 * symmetric switch took ~33 ns a round trip, ~11 ns once the returns were
 * predicted).  The two Rust entries keep the RSB balanced instead:
 *
 *   resume:   Rust `call jmpco_asm_resume` pushes the resumer's pc (and an
 *             RSB entry); the coroutine continues by `jmp *` to its own
 *             saved pc, predicted from the branch target buffer.  The RSB
 *             entry stays: it is the suspend's.
 *   suspend:  Rust pushes its own pc by hand and `jmp`s to
 *             jmpco_asm_suspend (no RSB push), which ends in a real `ret`
 *             to the resumer's pc, exactly what the RSB predicts.
 *
 * So resume/suspend pairs nest like calls and returns, and coroutines that
 * resume coroutines nest too.  jmpco_asm_suspend must be entered by `jmp`
 * with [rsp] = pc, never by `call` (a call would leave an RSB entry the
 * `ret` does not consume).
 *
 * The psABI rules this relies on (System V AMD64 psABI, 3.2)
 * ----------------------------------------------------------
 *  1. rbx, rbp, r12-r15 and rsp are callee-saved; every other general
 *     register, all vector registers, the flags and the x87 stack are
 *     scratch.  The Rust entries clobber all of those plus r12-r15 (the
 *     asm! blocks say so); jmpco_asm_switch preserves all six for C.
 *  2. The control bits of MXCSR and the x87 control word are callee-saved.
 *     See "MXCSR and the x87 control word" below: not switched.
 *  3. Arguments arrive in rdi, rsi, rdx; a pointer result leaves in rax.
 *  4. At a function's entry, rsp + 8 is a multiple of 16.  Nothing here
 *     needs an aligned rsp except a fresh context's entry (below).
 *  5. The direction flag is clear at entry and exit: never touched here.
 *  6. The 128-byte red zone below rsp belongs to leaf functions only.
 *     Rust asm! blocks without `nostack` may push, so the compiler keeps
 *     nothing there across them; a C caller made a call, so neither does it.
 *
 * A fresh context, as jmpco_asm_init leaves it (stack_top 16-byte aligned):
 *
 *        +------------------------+  <- stack_top (nothing stored here)
 *   +24  | 0                      |  return address of `entry`: unwinders
 *        +------------------------+     stop here; rsp at entry points here
 *   +16  | jmpco_asm_start_resume |  pc: the start stub
 *    +8  | rbp = 0                |  frame-pointer walks stop (ASan: entry)
 *    +0  | rbx = entry            |  the stub jumps through rbx
 *        +------------------------+  <- ctx->sp = stack_top - 32
 *
 * Offsets (csrc/switch_asm_layout.h, checked in switch_asm_init.c)
 * ----------------------------------------------------------------
 *   jmpco_asm_ctx:   +0 sp (8 bytes), rest of JMPCO_ASM_CTX_SIZE unused
 *   saved frame:     +0 rbx, +8 rbp, +16 pc; size 24 (= the CFA offset)
 *   fresh frame:     the above plus +24 zero return address; size 32
 *
 * Entry register state
 * --------------------
 * When `entry(transfer)` starts: rdi = transfer of the first switch into
 * the context; rsp = stack_top - 8, so rsp + 8 is 16-byte aligned (rule 4)
 * and [rsp] = 0, a zero return address; rbp = 0, rbx = entry; DF clear.
 * `entry` must never return: `ret` to address 0 faults.
 *
 * MXCSR and the x87 control word: not switched (thread state)
 * -----------------------------------------------------------
 * The psABI makes their control bits callee-saved, and a switch looks like
 * a call, so a purist switch saves them per context: boost.context's
 * jump_fcontext does (stmxcsr/fnstcw), libaco too (unless
 * ACO_CONFIG_SHARE_FPU_MXCSR_ENV), swapcontext saves the whole FP
 * environment.  glibc's jmp_buf does not, so the sjlj backend cannot, and
 * corosensei's switch does not either (Rust code assumes the default
 * environment: LLVM compiles it for round-to-nearest).  This backend
 * did, at first: stmxcsr/fnstcw/ldmxcsr/fldcw cost ~5 ns of a ~9 ns round
 * trip on this project's AMD EPYC VM (ldmxcsr and fldcw are microcoded and
 * serialising), more than the whole switch.  So jmpco treats both as
 * thread state for every backend but ucontext: a body that changes the
 * rounding mode, FTZ/DAZ or the exception masks must restore them before
 * it suspends or returns (fesetenv around the code that needs them).
 * tests/c/switch_asm_test.c pins this behaviour down.
 *
 * Unwinding and debuggers (CFI)
 * -----------------------------
 * Each entry describes its frame: after `push rbp; push rbx` the CFA is
 * rsp + 24 with rbp at CFA-16 and rbx at CFA-24, and after the stack swap
 * the same rule describes the *target's* suspended frame (same layout),
 * so an unwinder stopped anywhere here finds a consistent caller.
 * jmpco_asm_suspend is entered by jmp with the pc already pushed, exactly
 * as a call would leave it, so gdb's `bt` there walks into the Rust
 * suspend and up the coroutine's frames.  jmpco_asm_start: `.cfi_undefined
 * rip` marks it outermost; its resume point is one byte in (after a
 * `nop`), so an unwinder looking up "return address - 1" stays in this
 * FDE.  Inside a running coroutine, unwinding goes body -> ... -> entry and
 * stops: entry's return address is 0 and its saved rbp is 0.
 *
 * Signals: a signal frame is pushed below the current rsp.  At every
 * instruction here, everything live on either stack is at or above rsp, so
 * a handler can run at any point of the switch.
 *
 * AddressSanitizer (-DJMPCO_ASAN, see csrc/asan_fiber.h)
 * ------------------------------------------------------
 * Assembly cannot call the fiber annotations around its own stack swap, so
 * with JMPCO_ASAN the C-ABI entry is renamed jmpco_asm_switch_raw (hidden)
 * and switch_asm_init.c defines jmpco_asm_switch in C around it; the Rust
 * side then uses that C switch in both directions (src/switch.rs).  A fresh
 * context starts in a C function (asan_start, planted in rbx
 * with the real entry in rbp) that finishes the first switch, then calls
 * entry; the start stub moves rbp to rsi and clears rbp for it.
 *
 * Not handled: CET.  Shadow stacks: the coroutine's own returns after a
 * resume would not match the shadow stack, so this object carries no GNU
 * property note and src/shadow_stack.rs refuses the backend when they are
 * on.  IBT: the `jmp *` of a resume lands on a return site with no
 * `endbr64`; Linux enables no user-mode IBT today.
 */

#include "switch_asm_layout.h"

#if !defined(__x86_64__) || defined(__ILP32__) || !defined(__ELF__)
#error "jmpco: csrc/switch_asm.S is written for x86-64 System V ELF (Linux, BSDs) only"
#endif

#ifdef JMPCO_ASAN
#define JMPCO_ASM_SWITCH jmpco_asm_switch_raw	/* wrapped in C */
#else
#define JMPCO_ASM_SWITCH jmpco_asm_switch
#endif

#if defined(__CET__) && (__CET__ & 1)
#define JMPCO_ENDBR endbr64
#else
#define JMPCO_ENDBR
#endif

/* The common middle of every entry: on entry [rsp] = pc of the running
 * context, rdi = from, rsi = to, rdx = transfer.  Saves rbp and rbx under
 * the pc, stores rsp in from->sp, moves to `to`s stack and pops its rbx
 * and rbp, leaving rsp at `to`s pc and rax = transfer.  CFI: the caller's
 * frame before the swap, `to`s suspended frame after it. */
.macro SAVE_AND_SWAP
	pushq	%rbp			/* save rbp under the pc                 */
	.cfi_adjust_cfa_offset 8
	.cfi_offset %rbp, -16
	pushq	%rbx			/* save rbx                              */
	.cfi_adjust_cfa_offset 8	/* CFA = rsp + 24 = JMPCO_ASM_FRAME_SIZE */
	.cfi_offset %rbx, -24
	movq	%rsp, JMPCO_ASM_CTX_SP(%rdi)	/* from->sp: `from` is saved     */
	movq	JMPCO_ASM_CTX_SP(%rsi), %rsp	/* rsp = to->sp: `to`s stack;    */
					/* the CFA rule now describes its frame  */
	movq	%rdx, %rax		/* result for the other side = transfer  */
	popq	%rbx			/* restore `to`s rbx (entry, if fresh)   */
	.cfi_adjust_cfa_offset -8
	.cfi_restore %rbx
	popq	%rbp			/* restore `to`s rbp (0, if fresh)       */
	.cfi_adjust_cfa_offset -8
	.cfi_restore %rbp
.endm

	.text

/* ------------------------------------------------------------------------
 * jmpco_asm_resume: Rust only (not C ABI: r12-r15 are clobbered).
 * Entered by `call` from src/switch.rs with rdi = from (the resumer's
 * context), rsi = to (the coroutine's), rdx = transfer.  Continues `to` by
 * an indirect jump, leaving the call's RSB entry for the suspend's `ret`.
 * --------------------------------------------------------------------- */
	.globl	jmpco_asm_resume
	.hidden	jmpco_asm_resume
	.type	jmpco_asm_resume, @function
	.p2align 4
jmpco_asm_resume:
	.cfi_startproc			/* CFA = rsp + 8, pc at CFA - 8          */
	SAVE_AND_SWAP
	popq	%rcx			/* rcx = `to`s pc (scratch, no result)   */
	.cfi_adjust_cfa_offset -8
	.cfi_register %rip, %rcx
	jmpq	*%rcx			/* continue `to`: predicted by the BTB   */
	int3				/* stops straight-line speculation       */
	.cfi_endproc
	.size	jmpco_asm_resume, .-jmpco_asm_resume

/* ------------------------------------------------------------------------
 * jmpco_asm_suspend: Rust only (not C ABI: r12-r15 are clobbered).
 * Entered by `jmp`, never `call`, from src/switch.rs after it pushed its
 * own pc, with rdi = from (the coroutine's context), rsi = to (the
 * resumer's), rdx = transfer.  Its `ret` goes to the resumer's pc, which
 * the resumer's `call` put on top of the RSB.
 * --------------------------------------------------------------------- */
	.globl	jmpco_asm_suspend
	.hidden	jmpco_asm_suspend
	.type	jmpco_asm_suspend, @function
	.p2align 4
jmpco_asm_suspend:
	.cfi_startproc			/* [rsp] = pc, as after a call           */
	SAVE_AND_SWAP
	ret				/* to `to`s pc: predicted by the RSB     */
	.cfi_endproc
	.size	jmpco_asm_suspend, .-jmpco_asm_suspend

/* ------------------------------------------------------------------------
 * void *jmpco_asm_switch(jmpco_asm_ctx *from, jmpco_asm_ctx *to,
 *                        void *transfer)
 * The C-ABI switch: preserves r12-r15 around a resume, so a context it
 * suspends continues at label 1 below, which restores them and returns to
 * the C caller.  Symmetric calls like this one mispredict their returns
 * (see above); C callers of the library use the Rust entries through the
 * C API, this one serves tests, the ASan build and the exit switch.
 * --------------------------------------------------------------------- */
	.globl	JMPCO_ASM_SWITCH
#ifdef JMPCO_ASAN
	.hidden	JMPCO_ASM_SWITCH
#endif
	.type	JMPCO_ASM_SWITCH, @function
	.p2align 4
JMPCO_ASM_SWITCH:
	.cfi_startproc			/* CFA = rsp + 8                         */
	JMPCO_ENDBR			/* IBT landing pad (only with CET)       */
	pushq	%r12			/* save the callee-saved registers the   */
	.cfi_adjust_cfa_offset 8	/* saved frame leaves out                */
	.cfi_offset %r12, -16
	pushq	%r13
	.cfi_adjust_cfa_offset 8
	.cfi_offset %r13, -24
	pushq	%r14
	.cfi_adjust_cfa_offset 8
	.cfi_offset %r14, -32
	pushq	%r15
	.cfi_adjust_cfa_offset 8	/* CFA = rsp + 40                        */
	.cfi_offset %r15, -40
	call	jmpco_asm_resume	/* save with pc = 1f, continue `to`      */
1:	popq	%r15			/* continued: restore r15-r12 of the     */
	.cfi_adjust_cfa_offset -8	/* context saved here                    */
	.cfi_restore %r15
	popq	%r14
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r14
	popq	%r13
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r13
	popq	%r12
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r12
	ret				/* rax = the continuing switch's transfer */
	.cfi_endproc
	.size	JMPCO_ASM_SWITCH, .-JMPCO_ASM_SWITCH

/* ------------------------------------------------------------------------
 * jmpco_asm_start: where a fresh context begins.  Not callable: reached
 * only by continuing a fresh context, at jmpco_asm_start_resume, with
 * rax = transfer, rbx = entry, rbp = 0, rsp = stack_top - 8, [rsp] = 0.
 * Hidden: only switch_asm_init.c names it (to plant the pc).
 * --------------------------------------------------------------------- */
	.globl	jmpco_asm_start
	.hidden	jmpco_asm_start
	.globl	jmpco_asm_start_resume
	.hidden	jmpco_asm_start_resume
	.type	jmpco_asm_start, @function
	.p2align 4
jmpco_asm_start:
	.cfi_startproc
	.cfi_undefined %rip		/* outermost frame: unwinding stops here */
	nop				/* never run: makes resume - 1 fall      */
					/* inside this FDE for unwinders         */
jmpco_asm_start_resume:
	movq	%rax, %rdi		/* first argument of entry = transfer    */
#ifdef JMPCO_ASAN
	movq	%rbp, %rsi		/* asan start(transfer, entry = rbp)     */
	xorl	%ebp, %ebp		/* rbp = 0: frame-pointer walks stop     */
#endif
	jmpq	*%rbx			/* entry(transfer) with [rsp] = 0 as its */
					/* return address; never returns         */
	int3				/* never reached; also stops straight-   */
					/* line speculation past the jump        */
	.cfi_endproc
	.size	jmpco_asm_start, .-jmpco_asm_start

/* The stack of this object need not be executable. */
	.section .note.GNU-stack, "", @progbits
