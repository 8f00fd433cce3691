/*
 * switch_asm_init.c -- the C half of the asm backend: jmpco_asm_init and
 * the checks that tie csrc/switch_asm_layout.h to real C layouts.
 *
 * jmpco_asm_init writes, just below `stack_top`, a saved frame that looks
 * exactly like one a switch leaves behind when it suspends a context (see
 * the essay and diagrams in switch_asm.S), except that its pc is the start
 * stub's landing jmpco_asm_start_land and its rbx slot holds `entry`.  One
 * more word above it, the zero return address `entry` will see, makes
 * rsp + 8 16-byte aligned at entry.  The first switch into the context
 * thus needs no "fresh?" test: it continues this frame like any other, and
 * the start stub's landing pops it, moves transfer to rdi and jumps to
 * entry.
 *
 * The frame is written through `struct asm_fresh_frame`, whose every offset
 * is asserted against the #defines the assembler uses: change one side and
 * the build fails instead of the coroutine.  The library itself (without
 * ASan) writes the same four words from Rust, inline in every creation
 * (`Asm::init` in src/switch/asm.rs), and a unit test there compares its
 * frame with this function's word for word: change the layout and that
 * test fails.
 *
 * Also here: jmpco_asm_exit, and with JMPCO_ASAN the C jmpco_asm_switch
 * that wraps the assembly (renamed jmpco_asm_switch_raw) in the fiber
 * annotations of csrc/asan_fiber.h.  Under ASan a fresh frame's rbx holds
 * asan_start and rbp the real entry: it finishes the first
 * switch into the new stack, then calls entry.
 */
#include "jmpco_switch.h"
#include "switch_asm_layout.h"

#include "asan_fiber.h"

#include <stddef.h>
#include <stdint.h>

#if !defined(__x86_64__) || defined(__ILP32__) || !defined(__ELF__)
#error "jmpco: the asm backend (csrc/switch_asm.S) is written for x86-64 System V ELF only"
#endif

/* What jmpco_asm_ctx's opaque bytes hold. */
struct asm_ctx {
  void *sp; /* saved rsp of the suspended context: its switch frame */
#ifdef JMPCO_ASAN
  struct jmpco_stack_bounds bounds; /* own stack, from init or finish */
  void *fake_stack;                 /* saved by start when leaving */
#endif
};

/* A saved frame, lowest address first: what ctx->sp points at. */
struct asm_frame {
  uint64_t pc; /* where the context continues: a landing */
  uint64_t rbx, rbp;
};

/* A fresh context: one saved frame plus entry's zero return address. */
struct asm_fresh_frame {
  struct asm_frame frame;
  uint64_t entry_ra; /* 0: unwinders stop at `entry` */
};

_Static_assert(offsetof(struct asm_ctx, sp) == JMPCO_ASM_CTX_SP, "JMPCO_ASM_CTX_SP");
_Static_assert(sizeof(struct asm_ctx) <= JMPCO_ASM_CTX_SIZE,
               "struct asm_ctx outgrew JMPCO_ASM_CTX_SIZE");
_Static_assert(_Alignof(struct asm_ctx) <= JMPCO_CTX_ALIGN,
               "struct asm_ctx needs more than JMPCO_CTX_ALIGN");
_Static_assert(sizeof(jmpco_asm_ctx) == JMPCO_ASM_CTX_SIZE, "opaque storage size");

_Static_assert(offsetof(struct asm_frame, rbx) == JMPCO_ASM_FRAME_RBX, "rbx slot");
_Static_assert(offsetof(struct asm_frame, rbp) == JMPCO_ASM_FRAME_RBP, "rbp slot");
_Static_assert(offsetof(struct asm_frame, pc) == JMPCO_ASM_FRAME_PC, "pc slot");
_Static_assert(sizeof(struct asm_frame) == JMPCO_ASM_FRAME_SIZE, "saved frame size");

_Static_assert(offsetof(struct asm_fresh_frame, frame) == 0, "fresh frame starts with a frame");
_Static_assert(offsetof(struct asm_fresh_frame, entry_ra) == JMPCO_ASM_FRESH_ENTRY_RA,
               "entry's zero return address");
_Static_assert(sizeof(struct asm_fresh_frame) == JMPCO_ASM_FRESH_SIZE, "fresh frame size");
/* rsp at entry = stack_top - 8, so rsp + 8 is 16-byte aligned (psABI). */
_Static_assert(JMPCO_ASM_FRESH_SIZE - JMPCO_ASM_FRESH_ENTRY_RA == 8,
               "entry's return address is the top word of the stack");

/* The start stub's landing (switch_asm.S).  A code address, never called
 * from C: only stored as a saved pc. */
extern const unsigned char jmpco_asm_start_land[];

static inline struct asm_ctx *asmc(jmpco_asm_ctx *c) {
  return (struct asm_ctx *)(void *)c->opaque;
}

#ifdef JMPCO_ASAN
/* The assembly switch, renamed under JMPCO_ASAN (switch_asm.S). */
void *jmpco_asm_switch_raw(jmpco_asm_ctx *from, jmpco_asm_ctx *to, void *transfer);

/* Where a fresh context starts under ASan: the start stub jumps here with
 * rdi = transfer, rsi = entry (from rbp).  Finishes the switch into the new
 * stack (no fake stack yet) before any instrumented code of entry runs. */
__attribute__((noreturn)) static void asan_start(void *transfer, jmpco_entry_fn entry) {
  JMPCO_ASAN_ARRIVE(NULL);
  entry(transfer);
  __builtin_unreachable(); /* entry never returns (contract) */
}

void *jmpco_asm_switch(jmpco_asm_ctx *from_, jmpco_asm_ctx *to_, void *transfer) {
  struct asm_ctx *from = asmc(from_);
  struct asm_ctx *to = asmc(to_);
  JMPCO_ASAN_LEAVE(&from->fake_stack, &from->bounds, &to->bounds);
  void *result = jmpco_asm_switch_raw(from_, to_, transfer);
  JMPCO_ASAN_ARRIVE(from->fake_stack);
  return result;
}
#endif

/* Where jmpco_asm_exit saves the finished side: written, never read.  Not
 * a local: under ASan with detect_stack_use_after_return an address-taken
 * local lives on the fake stack, which the exit announcement destroys. */
static _Thread_local jmpco_asm_ctx dead;

void jmpco_asm_exit(jmpco_asm_ctx *to, void *transfer) {
  /* The asm switch saves nothing it could skip: save the finished side into
   * a scratch context, never continued. */
#ifdef JMPCO_ASAN
  JMPCO_ASAN_LEAVE_FOR_GOOD(&asmc(to)->bounds);
  jmpco_asm_switch_raw(&dead, to, transfer);
#else
  jmpco_asm_switch(&dead, to, transfer);
#endif
  __builtin_trap(); /* a finished context was continued: a caller bug */
}

void jmpco_asm_init(jmpco_asm_ctx *ctx, void *stack_top, size_t stack_size,
                    jmpco_entry_fn entry) {
  struct asm_fresh_frame *f =
      (struct asm_fresh_frame *)(void *)((unsigned char *)stack_top - JMPCO_ASM_FRESH_SIZE);
  *f = (struct asm_fresh_frame){
      .frame =
          {
              .pc = (uint64_t)(uintptr_t)jmpco_asm_start_land,
#ifdef JMPCO_ASAN
              .rbx = (uint64_t)(uintptr_t)asan_start,
              .rbp = (uint64_t)(uintptr_t)entry,
#else
              .rbx = (uint64_t)(uintptr_t)entry,
              .rbp = 0,
#endif
          },
      .entry_ra = 0,
  };
  asmc(ctx)->sp = f;
#ifdef JMPCO_ASAN
  asmc(ctx)->bounds.bottom = (unsigned char *)stack_top - stack_size;
  asmc(ctx)->bounds.size = stack_size;
  asmc(ctx)->fake_stack = NULL;
#else
  (void)stack_size; /* only ASan needs the bounds */
#endif
}
