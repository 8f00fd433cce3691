/*
 * switch_asm.S -- the asm backend: a hand-written x86-64 System V switch.
 *
 *   void *jmpco_asm_switch(jmpco_asm_ctx *from,   rdi
 *                          jmpco_asm_ctx *to,     rsi
 *                          void *transfer);       rdx  -> returns in rax
 *
 *   Rust: extern "C" fn(from: *mut jmpco_asm_ctx, to: *mut jmpco_asm_ctx,
 *                       transfer: *mut c_void) -> *mut c_void
 *
 * Same contract as every backend (csrc/jmpco_switch.h): save the running
 * context into `from` (which may be uninitialised), continue `to` (fresh
 * from jmpco_asm_init, or saved by an earlier switch), hand it `transfer`.
 * When a later switch continues `from`, this call returns that switch's
 * `transfer`.  jmpco_asm_init (csrc/switch_asm_init.c, in C so the frame is
 * a checked struct) builds a fresh context; this file holds the switch and
 * the start stub a fresh context begins in.
 *
 * The psABI rules this relies on (System V AMD64 psABI, 3.2)
 * ----------------------------------------------------------
 *  1. rbx, rbp, r12, r13, r14, r15 and rsp are callee-saved; every other
 *     general register, all of xmm0-15/ymm/zmm, the flags and the x87
 *     register stack are caller-saved (scratch).  Because the switch is an
 *     ordinary call, the compiler has already spilled every scratch value it
 *     still needs: the switch saves exactly six registers plus rsp and the
 *     return address, and nothing of the vector state.
 *  2. The control bits of MXCSR (rounding, exception masks, FTZ/DAZ) and
 *     the x87 control word are callee-saved; the status bits are scratch.
 *     See "MXCSR and the x87 control word" below: we save both.
 *  3. Arguments arrive in rdi, rsi, rdx; a pointer result leaves in rax.
 *  4. At a function's entry, rsp + 8 is a multiple of 16 (the `call` pushed
 *     an 8-byte return address onto a 16-byte aligned stack).
 *  5. The direction flag is clear at entry and exit: we never touch it, so
 *     each side keeps it clear.
 *  6. The 128-byte red zone below rsp belongs to leaf functions only.  Every
 *     frame that is suspended here made a call (to this function), so no
 *     live data sits below a saved rsp; we only ever write below the current
 *     rsp by pushing.
 *
 * What a switch does
 * ------------------
 * Push the six callee-saved registers and a word holding MXCSR and the x87
 * control word onto the *current* stack, store rsp into from->sp, load rsp
 * from to->sp, and undo the same steps in reverse on the other stack: load
 * the control words, pop six registers, `ret`.  Every suspended context is
 * therefore a frame of this very function, stopped between its `movq %rsp,
 * (%rdi)` and `movq (%rsi), %rsp`; the `ret` returns from the call that
 * suspended the target, with rax = transfer.  No branch: a fresh context is
 * made to look exactly like a suspended one (below), so the first switch
 * into it runs the same 22 instructions and its `ret` lands in the start
 * stub instead of after a `call`.
 *
 * A suspended context (ctx->sp points at the lowest word):
 *
 *            higher addresses
 *        |  caller's frame ...    |
 *        +------------------------+  <- CFA = ctx->sp + 64 (caller's rsp
 *   +56  | return address         |     before its `call`; 16-byte aligned)
 *        +------------------------+
 *   +48  | saved rbp              |
 *   +40  | saved rbx              |
 *   +32  | saved r12              |
 *   +24  | saved r13              |
 *   +16  | saved r14              |
 *    +8  | saved r15              |
 *        +-----------+------+-----+
 *    +0  | mxcsr(32) | fcw  | pad |  <- ctx->sp (16-byte aligned)
 *        +-----------+------+-----+
 *            lower addresses
 *
 * A fresh context, as jmpco_asm_init leaves it (stack_top 16-byte aligned):
 *
 *        +------------------------+  <- stack_top (nothing stored here)
 *   +64  | 0                      |  return address of `entry`: unwinders
 *        +------------------------+     stop here; rsp at entry points here
 *   +56  | jmpco_asm_start_resume |  what the switch's `ret` jumps to
 *   +48  | rbp = 0                |  frame-pointer walks stop
 *   +40  | rbx = 0                |
 *   +32  | r12 = entry            |  the stub jumps through r12
 *   +24  | r13 = 0                |
 *   +16  | r14 = 0                |
 *    +8  | r15 = 0                |
 *    +0  | mxcsr | fcw | 0        |  the creating thread's control words
 *        +------------------------+  <- ctx->sp = stack_top - 72
 *
 * Offsets (csrc/switch_asm_layout.h, checked in switch_asm_init.c)
 * ----------------------------------------------------------------
 *   jmpco_asm_ctx:   +0 sp (8 bytes), rest of JMPCO_ASM_CTX_SIZE unused
 *   switch frame:    +0 MXCSR, +4 x87 CW, +8 r15, +16 r14, +24 r13,
 *                    +32 r12, +40 rbx, +48 rbp, +56 return address,
 *                    size 64 (= the CFA offset from ctx->sp)
 *   fresh frame:     the above plus +64 zero return address; size 72
 *
 * Entry register state
 * --------------------
 * When `entry(transfer)` starts: rdi = transfer of the first switch into
 * the context; rsp = stack_top - 8, so rsp + 8 is 16-byte aligned (rule 4)
 * and [rsp] = 0, a zero return address; rbp = rbx = r13 = r14 = r15 = 0,
 * r12 = entry; MXCSR and the x87 control word as the thread that called
 * init had them; DF clear.  `entry` must never return: `ret` to address 0
 * faults.
 *
 * MXCSR and the x87 control word: saved, per context
 * ---------------------------------------------------
 * The psABI makes their control bits callee-saved (rule 2), and from the
 * caller's point of view the switch is a call: if a coroutine body sets the
 * rounding mode or FTZ and then yields, the resumer would see its own
 * floating-point environment changed behind a call -- a psABI violation
 * that silently changes results.  The prior art splits: boost.context's
 * jump_fcontext saves both (stmxcsr/fnstcw, unless BOOST_USE_TSX), libaco
 * saves both (unless ACO_CONFIG_SHARE_FPU_MXCSR_ENV), swapcontext saves the
 * whole FP environment; corosensei's x86_64 switch does not (its inline asm
 * relies on clobber_abi("sysv64"), which covers registers only, and Rust
 * code assumes the default environment anyway), and glibc's jmp_buf does
 * not, so neither does our sjlj backend.  We follow the psABI: each
 * context keeps its own environment, like a thread, for 4 instructions per
 * switch.  Measured when this file was added (tests/c/bench_round_trips.c,
 * AMD EPYC VM, gcc 12 -O2): 56 instructions per round trip with them, 48
 * without (callgrind), about 30 ns vs 27 ns -- still well under sjlj.
 * Status bits (sticky exception flags) ride along with MXCSR; they are
 * scratch, so that is harmless.  These 4 instructions are the first thing
 * to drop if callers ever promise never to change the environment.
 *
 * Unwinding and debuggers (CFI)
 * -----------------------------
 * jmpco_asm_switch: after the pushes the CFA is rsp + 64 and the six
 * registers sit at fixed CFA offsets.  After `movq (%rsi), %rsp` the same
 * rule describes the *target's* suspended frame (same layout), so an
 * unwinder stopped anywhere in the function finds a consistent caller: the
 * suspender of `from` before the stack swap, the suspender of `to` after.
 * Each pop then restores its register's rule.
 * jmpco_asm_start: `.cfi_undefined rip` marks it outermost.  Its resume
 * point is one byte in (after a `nop`), so an unwinder that looks up
 * "return address - 1" -- as they all do for a normal frame -- lands inside
 * this function's FDE, not in whatever the linker put before it.
 * Inside a running coroutine, unwinding goes body -> ... -> entry and stops:
 * entry's return address is 0 (libgcc returns _URC_END_OF_STACK for ra 0;
 * glibc's backtrace() drops the null) and its saved rbp is 0.
 *
 * Signals: a signal frame is pushed below the current rsp.  At every
 * instruction here, everything live on either stack is at or above rsp, so
 * a handler can run at any point of the switch.
 *
 * AddressSanitizer (-DJMPCO_ASAN, see csrc/asan_fiber.h)
 * ------------------------------------------------------
 * Assembly cannot call the fiber annotations around its own stack swap
 * without growing the switch, so with JMPCO_ASAN this function is renamed
 * jmpco_asm_switch_raw (hidden) and switch_asm_init.c defines
 * jmpco_asm_switch in C around it: announce, raw switch, finish.  A fresh
 * context then starts in a C function (asan_start, planted in r12 with the
 * real entry in r13) that finishes the first switch before calling entry;
 * the start stub passes r13 as the second argument for it.  Without
 * JMPCO_ASAN this file assembles to exactly the same bytes as before.
 *
 * Not handled: CET shadow stacks (the `ret` into another stack would not
 * match the shadow stack, so this object carries no GNU property note and a
 * link including it is not marked SHSTK-compatible).  With -fcf-protection
 * an `endbr64` opens jmpco_asm_switch for IBT; the start stub needs none,
 * as it is reached by `ret`, which IBT does not check.
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

	.text

/* ------------------------------------------------------------------------
 * void *jmpco_asm_switch(jmpco_asm_ctx *from, jmpco_asm_ctx *to,
 *                        void *transfer)
 * --------------------------------------------------------------------- */
	.globl	JMPCO_ASM_SWITCH
#ifdef JMPCO_ASAN
	.hidden	JMPCO_ASM_SWITCH
#endif
	.type	JMPCO_ASM_SWITCH, @function
	.p2align 4
JMPCO_ASM_SWITCH:
	.cfi_startproc			/* CFA = rsp + 8, ra at CFA - 8          */
	JMPCO_ENDBR			/* IBT landing pad (only with CET)       */
	pushq	%rbp			/* save callee-saved rbp                 */
	.cfi_adjust_cfa_offset 8
	.cfi_offset %rbp, -16
	pushq	%rbx			/* save rbx                              */
	.cfi_adjust_cfa_offset 8
	.cfi_offset %rbx, -24
	pushq	%r12			/* save r12                              */
	.cfi_adjust_cfa_offset 8
	.cfi_offset %r12, -32
	pushq	%r13			/* save r13                              */
	.cfi_adjust_cfa_offset 8
	.cfi_offset %r13, -40
	pushq	%r14			/* save r14                              */
	.cfi_adjust_cfa_offset 8
	.cfi_offset %r14, -48
	pushq	%r15			/* save r15                              */
	.cfi_adjust_cfa_offset 8
	.cfi_offset %r15, -56
	subq	$8, %rsp		/* one word for the FP control words;    */
	.cfi_adjust_cfa_offset 8	/* CFA = rsp + 64 = JMPCO_ASM_FRAME_SIZE */
	stmxcsr	JMPCO_ASM_FRAME_MXCSR(%rsp)	/* save MXCSR                    */
	fnstcw	JMPCO_ASM_FRAME_X87CW(%rsp)	/* save x87 control word         */
	movq	%rdx, %rax		/* result for the other side = transfer  */
	movq	%rsp, JMPCO_ASM_CTX_SP(%rdi)	/* from->sp: `from` is now saved */
	movq	JMPCO_ASM_CTX_SP(%rsi), %rsp	/* rsp = to->sp: on `to`s stack; */
					/* the CFA rule now describes its frame  */
	ldmxcsr	JMPCO_ASM_FRAME_MXCSR(%rsp)	/* restore `to`s MXCSR           */
	fldcw	JMPCO_ASM_FRAME_X87CW(%rsp)	/* restore `to`s x87 control     */
	addq	$8, %rsp		/* drop the control-word slot            */
	.cfi_adjust_cfa_offset -8
	popq	%r15			/* restore `to`s r15                     */
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r15
	popq	%r14			/* restore r14                           */
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r14
	popq	%r13			/* restore r13                           */
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r13
	popq	%r12			/* restore r12 (entry, if fresh)         */
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r12
	popq	%rbx			/* restore rbx                           */
	.cfi_adjust_cfa_offset -8
	.cfi_restore %rbx
	popq	%rbp			/* restore rbp (0, if fresh)             */
	.cfi_adjust_cfa_offset -8
	.cfi_restore %rbp
	ret				/* into `to`s suspended switch call, or  */
					/* into jmpco_asm_start_resume if fresh  */
	.cfi_endproc
	.size	JMPCO_ASM_SWITCH, .-JMPCO_ASM_SWITCH

/* ------------------------------------------------------------------------
 * jmpco_asm_start: where a fresh context begins.  Not callable: reached
 * only by the `ret` of jmpco_asm_switch, at jmpco_asm_start_resume, with
 * rax = transfer, r12 = entry, rbp = 0, rsp = stack_top - 8, [rsp] = 0.
 * Hidden: only switch_asm_init.c names it (to plant the resume address).
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
	movq	%r13, %rsi		/* asan_start(transfer, entry = r13)     */
#endif
	jmpq	*%r12			/* entry(transfer) with [rsp] = 0 as its */
					/* return address; never returns         */
	int3				/* never reached; also stops straight-   */
					/* line speculation past the jump        */
	.cfi_endproc
	.size	jmpco_asm_start, .-jmpco_asm_start

/* The stack of this object need not be executable. */
	.section .note.GNU-stack, "", @progbits
