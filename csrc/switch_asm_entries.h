/*
 * switch_asm_entries.h -- the asm backend's two Rust-side entries
 * (jmpco_asm_resume, jmpco_asm_suspend), entered from C exactly the way
 * src/asm_entry.rs enters them: resume by `call`, suspend by pushing the
 * resume address and jumping, so the pair keeps the return stack buffer
 * balanced (see the essay in switch_asm.S).  For the raw C benchmark loop
 * (bench_loop.c) and the C tests; not part of the library's interface.
 *
 * Not C ABI, so the asm statements say what they clobber: every scratch
 * register plus r12-r15.  They step over the 128-byte red zone, which GCC
 * may use in a function it thinks makes no calls, and need no alignment
 * (nothing in the entries depends on it).  With JMPCO_ASAN both are the
 * annotated C-ABI switch instead: the raw entries would bypass ASan's
 * fiber annotations.
 */
#ifndef JMPCO_SWITCH_ASM_ENTRIES_H
#define JMPCO_SWITCH_ASM_ENTRIES_H

#include "jmpco_switch.h"

#ifdef JMPCO_ASAN
/* ASan builds switch through the annotated C-ABI switch only. */
#define asm_entry_resume jmpco_asm_switch
#define asm_entry_suspend jmpco_asm_switch
#else
void jmpco_asm_resume(void);
void jmpco_asm_suspend(void);

#define ASM_ENTRY_CLOBBERS                                                                         \
  "rcx", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "xmm0", "xmm1", "xmm2", "xmm3",     \
      "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", \
      "xmm15", "memory", "cc"

static inline void *asm_entry_resume(jmpco_asm_ctx *from, jmpco_asm_ctx *to, void *transfer) {
  void *result;
  __asm__ volatile("leaq -128(%%rsp), %%rsp\n\t"
                   "call jmpco_asm_resume\n\t"
                   "leaq 128(%%rsp), %%rsp"
                   : "=a"(result), "+D"(from), "+S"(to), "+d"(transfer)
                   :
                   : ASM_ENTRY_CLOBBERS);
  return result;
}

static inline void *asm_entry_suspend(jmpco_asm_ctx *from, jmpco_asm_ctx *to, void *transfer) {
  void *result;
  __asm__ volatile("leaq -128(%%rsp), %%rsp\n\t"
                   "leaq 1f(%%rip), %%rax\n\t"
                   "pushq %%rax\n\t"
                   "jmp jmpco_asm_suspend\n"
                   "1:\n\t"
                   "leaq 128(%%rsp), %%rsp"
                   : "=a"(result), "+D"(from), "+S"(to), "+d"(transfer)
                   :
                   : ASM_ENTRY_CLOBBERS);
  return result;
}
#endif /* JMPCO_ASAN */

#endif /* JMPCO_SWITCH_ASM_ENTRIES_H */
