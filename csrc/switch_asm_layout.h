/*
 * switch_asm_layout.h -- the one place the asm backend's offsets live.
 *
 * Included by csrc/switch_asm.S (through the C preprocessor: the capital .S
 * makes cc/gcc preprocess it) and by csrc/switch_asm_init.c, which checks
 * every number below with _Static_assert against the C structs that mirror
 * the same memory.  Only #defines here: this file must stay valid assembler
 * input.  See the essay at the top of switch_asm.S for the pictures.
 */
#ifndef JMPCO_SWITCH_ASM_LAYOUT_H
#define JMPCO_SWITCH_ASM_LAYOUT_H

/* struct jmpco_asm_ctx (opaque storage of JMPCO_ASM_CTX_SIZE bytes):
 * the only field is the saved stack pointer of a suspended context. */
#define JMPCO_ASM_CTX_SP 0

/* The saved frame: what a suspended context keeps on its own stack, as
 * byte offsets from the saved stack pointer (ctx->sp) upwards.  The pc is
 * lowest, so a resume continues a context with `call *(ctx->sp)` and a
 * suspend with `ret` from rsp = ctx->sp.  The .inc fragments that Rust
 * inlines spell these numbers out (they cannot include this file);
 * switch_asm_init.c asserts them. */
#define JMPCO_ASM_FRAME_PC 0     /* where the context continues: a landing */
#define JMPCO_ASM_FRAME_RBX 8
#define JMPCO_ASM_FRAME_RBP 16
#define JMPCO_ASM_FRAME_SIZE 24  /* ctx->sp + 24 = the CFA                 */

/* A fresh context (built by jmpco_asm_init, and by the Rust library's
 * inline Asm::init, src/switch/asm.rs, whose test holds it to the same
 * words) is one saved frame whose pc is the start stub, plus one more
 * word above it: the zero return address `entry` finds at its rsp.  So a
 * fresh ctx->sp is stack_top - JMPCO_ASM_FRESH_SIZE. */
#define JMPCO_ASM_FRESH_ENTRY_RA 24 /* offset of the zero return address   */
#define JMPCO_ASM_FRESH_SIZE 32

#endif /* JMPCO_SWITCH_ASM_LAYOUT_H */
