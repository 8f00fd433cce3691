/*
 * switch_asm_entries.h -- the asm backend's inline entries for C: the
 * resume and suspend fragments (switch_asm_resume.inc,
 * switch_asm_suspend.inc, each followed by switch_asm_land.inc) assembled
 * into the caller, exactly as src/switch/asm.rs assembles them into Rust.
 * For the C tests and the study's raw C benchmark loop
 * (study/csrc/bench_loop.c); not part of the library's interface, and no
 * source of the library includes it.  Needs the assembler to find the
 * fragments: compile with -Wa,-I<csrc> (tests/c_switch.rs and
 * study/build.rs do).
 *
 * Not C ABI, so the asm statements say what they clobber: every scratch
 * register plus r12-r15.  They step over the 128-byte red zone, which GCC
 * may use in a function it thinks makes no calls, and need no alignment
 * (nothing in the fragments depends on it).  With JMPCO_ASAN both are the
 * annotated C-ABI switch instead: the fragments would bypass ASan's fiber
 * annotations.
 */
#ifndef JMPCO_SWITCH_ASM_ENTRIES_H
#define JMPCO_SWITCH_ASM_ENTRIES_H

#include "jmpco_switch.h"

#ifdef JMPCO_ASAN
/* ASan builds switch through the annotated C-ABI switch only. */
#define asm_entry_resume jmpco_asm_switch
#define asm_entry_suspend jmpco_asm_switch
#else

#define ASM_ENTRY_CLOBBERS                                                                         \
  "rax", "rcx", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "xmm0", "xmm1", "xmm2",      \
      "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13",  \
      "xmm14", "xmm15", "memory", "cc"

/* One inline entry: `fragment` and the landing, with the context `from`
 * in register `from_reg` and `to` in `to_reg` ("D" rdi, "S" rsi). */
#define ASM_ENTRY(fragment, from_reg, to_reg, from, to, transfer)                                  \
  __asm__ volatile("leaq -128(%%rsp), %%rsp\n\t"                                                   \
                   ".include \"" fragment "\"\n\t"                                                 \
                   ".include \"switch_asm_land.inc\"\n\t"                                         \
                   "leaq 128(%%rsp), %%rsp"                                                        \
                   : "+" from_reg(from), "+" to_reg(to), "+d"(transfer)                            \
                   :                                                                               \
                   : ASM_ENTRY_CLOBBERS)

/* Saves the running side in `from` and continues `to` (fresh or
 * suspended); returns the transfer of whatever continues `from`. */
static inline void *asm_entry_resume(jmpco_asm_ctx *from, jmpco_asm_ctx *to, void *transfer) {
  ASM_ENTRY("switch_asm_resume.inc", "D", "S", from, to, transfer);
  return transfer;
}

/* The same with the suspend fragment: its `ret` is predicted when `to`
 * was saved by a resume's `call`; correct whoever saved it. */
static inline void *asm_entry_suspend(jmpco_asm_ctx *from, jmpco_asm_ctx *to, void *transfer) {
  ASM_ENTRY("switch_asm_suspend.inc", "S", "D", from, to, transfer);
  return transfer;
}
#endif /* JMPCO_ASAN */

#endif /* JMPCO_SWITCH_ASM_ENTRIES_H */
