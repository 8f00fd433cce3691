/*
 * switch_asm.S -- the asm backend: a hand-written x86-64 System V switch.
 *
 * One saved format, one landing, three ways in
 * --------------------------------------------
 * A suspended context is its saved stack pointer (ctx->sp), which points
 * at three words on the context's own stack:
 *
 *            higher addresses
 *        |  suspended frames ...  |
 *        +------------------------+  <- CFA = ctx->sp + 24
 *   +16  | saved rbp              |
 *    +8  | saved rbx              |
 *    +0  | pc: a landing          |  <- ctx->sp
 *        +------------------------+
 *            lower addresses
 *
 * The pc always points at the *landing* (switch_asm_land.inc):
 *
 *     leaq 8(%rcx), %rsp  rcx = our ctx->sp: our stack, past the pc
 *     popq %rbx
 *     popq %rbp
 *
 * So continuing a context C means: the leaving side saves itself, then
 * rcx = C->sp, rdx = transfer, and go to [rcx] in one of two ways:
 *
 *   call *(%rcx)   after pushing rbp and rbx and storing rsp - 8 (where
 *                  the call puts the leaver's pc) in from->sp: the call
 *                  completes the leaver's saved frame.  This is a resume.
 *   ret            with rsp = rcx, after pushing rbp, rbx and a pc and
 *                  storing rsp in from->sp.  This is a suspend.
 *
 * Either way the landing leaves rsp = C->sp + 24 with C's rbx and rbp, and
 * every entry below can continue a context that any other entry saved.
 * (A signal between the store of from->sp and the `call` may write below
 * rsp, into the pc's slot: harmless, the call writes the pc after it and
 * nothing reads from->sp before we have left.)
 *
 * The entries:
 *   switch_asm_resume.inc + switch_asm_land.inc    resume, inline
 *   switch_asm_suspend.inc + switch_asm_land.inc   suspend, inline
 *   switch_asm_exit.inc                            exit, inline: a ret
 *                                                  that saves nothing
 *   jmpco_asm_switch (below)                       C ABI, either way
 * The .inc fragments are assembled *inline* into their callers: Rust's
 * `asm!` blocks (src/switch/asm.rs, by include_str!) and C's (csrc/
 * switch_asm_entries.h, by the assembler's .include).  Only rbx and rbp
 * are in the frame because they are the two callee-saved registers Rust
 * inline asm cannot declare clobbered (LLVM reserves rbx; rbp is the frame
 * pointer).  r12-r15 are *not* saved: the inline blocks declare them
 * clobbered, so the compiler saves whichever of them it has live, often
 * none (corosensei's approach); the C-ABI entry saves them itself.
 *
 * Why inline, and why call/ret (the front end)
 * --------------------------------------------
 * A round trip is ~10-15 cycles, so what limits it is the front end:
 *  - Returns.  A CPU predicts `ret` from its return stack buffer (RSB),
 *    which `call`s push.  A symmetric switch (call switch, swap, ret) pops
 *    the entry the *other* side's call pushed, so both returns of a round
 *    trip mispredict (~15-20 cycles each: on this project's machine the
 *    old symmetric switch took ~33 ns, ~11 ns once they were predicted).
 *    Here a resume `call`s straight into the coroutine and the suspend
 *    `ret`s to that call: they nest like a call and its return, and
 *    coroutines that resume coroutines nest too.  The `call *` is
 *    predicted by the branch target buffer.
 *  - Taken branches.  Each one ends a fetch block.  Entering the switch
 *    through shared functions (call resume_fn; ... jmp *pc; and jmp
 *    suspend_fn; ... ret) costs two more taken branches per round trip
 *    than inline code: measured ~0.5 ns each on the AMD EPYC VM, turning
 *    corosensei's own protocol from 4.5 into 5.5 ns.  Hence the inline
 *    fragments: one `call` and one `ret` per round trip, as in corosensei.
 *  - Memory between the sides.  Everything one side stores and the other
 *    loads within the round trip lengthens it (a thread-local "running
 *    coroutine" written by the resumer and read by the suspend cost jmpco
 *    ~3.5 of ~9 ns).  So the suspend also says "it was me" in a register:
 *    eax = 0 at the resumer's landing, where the exit (eax = 1) and
 *    jmpco_asm_switch leave rax non-zero, and the resumer need not load a
 *    state.
 *    The Rust side keeps to the same rule: the owner records the state in
 *    the Coroutine, and a suspend of a Hold coroutine writes no state at
 *    all (src/coroutine/entry.rs).  Storing Exec and Hold into the header
 *    around every switch, and loading it back, kept jmpco's API round trip
 *    at 1.32x corosensei's; without them it measures 1.00x.
 *
 * The psABI rules this relies on (System V AMD64 psABI, 3.2)
 * ----------------------------------------------------------
 *  1. rbx, rbp, r12-r15 and rsp are callee-saved; every other general
 *     register, all vector registers, the flags and the x87 stack are
 *     scratch.  The inline entries clobber all of those plus r12-r15 (the
 *     asm blocks say so); jmpco_asm_switch preserves all six for C.
 *  2. The control bits of MXCSR and the x87 control word are callee-saved.
 *     See "MXCSR and the x87 control word" below: not switched.
 *  3. jmpco_asm_switch's arguments arrive in rdi, rsi, rdx; its pointer
 *     result leaves in rax.  The fragments keep the transfer in rdx.
 *  4. At a function's entry, rsp + 8 is a multiple of 16.  Nothing here
 *     needs an aligned rsp except a fresh context's entry (below).
 *  5. The direction flag is clear at entry and exit: never touched here.
 *  6. The 128-byte red zone below rsp belongs to leaf functions only.
 *     Rust asm! blocks without `nostack` may push, so the compiler keeps
 *     nothing there across them; the C inline entries step over it; a C
 *     caller of jmpco_asm_switch made a call, so nothing is there either.
 *
 * A fresh context, as jmpco_asm_init leaves it (stack_top 16-byte aligned):
 *
 *        +------------------------+  <- stack_top (nothing stored here)
 *   +24  | 0                      |  return address of `entry`: unwinders
 *        +------------------------+     stop here; rsp at entry points here
 *   +16  | rbp = 0                |  frame-pointer walks stop (ASan: entry)
 *    +8  | rbx = entry            |  the start stub jumps through rbx
 *    +0  | jmpco_asm_start_land   |  pc: the start stub's landing
 *        +------------------------+  <- ctx->sp = stack_top - 32
 *
 * Offsets (csrc/switch_asm_layout.h, checked in switch_asm_init.c)
 * ----------------------------------------------------------------
 *   jmpco_asm_ctx:   +0 sp (8 bytes), rest of JMPCO_ASM_CTX_SIZE unused
 *   saved frame:     +0 pc, +8 rbx, +16 rbp; size 24 (= the CFA offset)
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
 * did, at first: stmxcsr/fnstcw/ldmxcsr/fldcw cost ~5 ns of a then ~9 ns
 * round trip on this project's AMD EPYC VM (ldmxcsr and fldcw are
 * microcoded and serialising), more than the whole switch.  So jmpco treats both as
 * thread state for every backend but ucontext: a body that changes the
 * rounding mode, FTZ/DAZ or the exception masks must restore them before
 * it suspends or returns (fesetenv around the code that needs them).
 * tests/c/switch_asm_test.c pins this behaviour down.
 *
 * Unwinding and debuggers (CFI)
 * -----------------------------
 * jmpco_asm_switch describes its frame at every instruction: after its
 * pushes the CFA is rsp + 56 with r12-r15, rbx and rbp at fixed offsets;
 * at its landing, where rsp may still be on the leaver's stack, the CFA is
 * rcx + 64 (rcx = its own saved sp), and each pop restores a register.
 * jmpco_asm_start: `.cfi_undefined rip` marks it outermost, so an unwinder
 * stops there.  Inside a running
 * coroutine, unwinding goes body -> ... -> entry and stops: entry's return
 * address is 0 and its saved rbp is 0.  The inline fragments carry no CFI
 * (an asm! block cannot know whether its function's CFA is rsp- or
 * rbp-based): at their boundaries the compiler's own CFI is exact; a
 * debugger stopped on one of their few instructions may see a wrong
 * caller, never a wrong program.
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
 * and C inline entries then use that C switch in both directions.  A fresh
 * context starts in a C function (asan_start, planted in rbx with the real
 * entry in rbp) that finishes the first switch, then calls entry; the start
 * stub moves rbp to rsi and clears rbp for it.
 *
 * Not handled: CET.  Shadow stacks: a suspend's `ret` returns across
 * stacks, which a shadow stack rejects, so this object carries no GNU
 * property note and src/switch/cet.rs refuses the backend when they are
 * on.  IBT: a resume's `call *` lands on a landing with no `endbr64`;
 * Linux enables no user-mode IBT today.
 */

#include "switch_asm_layout.h"

#if !defined(__x86_64__) || defined(__ILP32__) || !defined(__ELF__)
#error "jmpco: csrc/switch_asm.S is written for x86-64 System V ELF (Linux, BSDs) only"
#endif

#if JMPCO_ASM_CTX_SP != 0 || JMPCO_ASM_FRAME_PC != 0 || JMPCO_ASM_FRAME_RBX != 8 || \
    JMPCO_ASM_FRAME_RBP != 16
#error "the .inc fragments spell out these offsets: change them too"
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
 * The C-ABI switch: switch_asm_resume.inc and switch_asm_land.inc with
 * CFI, wrapped in the saves of r12-r15.  A context it suspends continues
 * at its landing (label 7), which restores everything and returns to the
 * C caller.  Used by C callers of the raw switch (tests), the ASan build
 * and jmpco_asm_exit; the library's own resumes, suspends and exits are
 * inline (the exit is switch_asm_exit.inc: a suspend that saves nothing).
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
	.cfi_adjust_cfa_offset 8
	.cfi_offset %r15, -40
	pushq	%rbp			/* the saved frame: rbp, rbx, ...        */
	.cfi_adjust_cfa_offset 8
	.cfi_offset %rbp, -48
	pushq	%rbx
	.cfi_adjust_cfa_offset 8	/* CFA = rsp + 56                        */
	.cfi_offset %rbx, -56
	leaq	-8(%rsp), %rax		/* ... and the pc the call pushes:       */
	movq	%rax, JMPCO_ASM_CTX_SP(%rdi)	/* from->sp                      */
	movq	JMPCO_ASM_CTX_SP(%rsi), %rcx	/* rcx = to->sp                  */
	callq	*JMPCO_ASM_FRAME_PC(%rcx)	/* pc = 7f; continue `to`        */
7:					/* the landing; rcx = our saved sp, so   */
	.cfi_def_cfa %rcx, 64		/* CFA = rcx + 64 however we came here   */
	leaq	8(%rcx), %rsp		/* our stack, past our pc                */
	.cfi_def_cfa %rsp, 56		/* CFA = rsp + 56 again                  */
	popq	%rbx
	.cfi_adjust_cfa_offset -8
	.cfi_restore %rbx
	popq	%rbp
	.cfi_adjust_cfa_offset -8
	.cfi_restore %rbp
	popq	%r15			/* restore r15-r12 of the context saved  */
	.cfi_adjust_cfa_offset -8	/* here                                  */
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
	movq	%rdx, %rax		/* result: the continuing side's transfer */
	ret
	.cfi_endproc
	.size	JMPCO_ASM_SWITCH, .-JMPCO_ASM_SWITCH

/* ------------------------------------------------------------------------
 * jmpco_asm_start: where a fresh context begins.  Not callable: reached
 * only by continuing a fresh context, at its landing jmpco_asm_start_land,
 * with rcx = its ctx->sp and rdx = transfer, as for any landing.  Leaves rdi =
 * transfer, rbx = entry, rbp = 0, rsp = stack_top - 8, [rsp] = 0.  Hidden:
 * only switch_asm_init.c names it (to plant the pc).
 * --------------------------------------------------------------------- */
	.globl	jmpco_asm_start
	.hidden	jmpco_asm_start
	.globl	jmpco_asm_start_land
	.hidden	jmpco_asm_start_land
	.type	jmpco_asm_start, @function
	.p2align 4
jmpco_asm_start:
	.cfi_startproc
	.cfi_undefined %rip		/* outermost frame: unwinding stops here */
	nop				/* never run: makes landing - 1 fall     */
					/* inside this FDE for unwinders         */
jmpco_asm_start_land:
#include "switch_asm_land.inc"
	movq	%rdx, %rdi		/* first argument of entry = transfer    */
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
