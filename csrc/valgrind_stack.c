/*
 * valgrind_stack.c: tells Valgrind where coroutine stacks are, so memcheck
 * follows the switches instead of taking each one for a huge stack frame.
 * Built only with the crate's `valgrind` feature (needs <valgrind/valgrind.h>,
 * Debian package valgrind). The client requests are a few no-op instructions
 * when the program runs outside Valgrind.
 *
 * Rust side: src/stack/valgrind.rs
 *   fn jmpco_valgrind_stack_register(lo: *mut c_void, hi: *mut c_void) -> c_uint;
 *   fn jmpco_valgrind_stack_deregister(id: c_uint);
 *   fn jmpco_valgrind_make_undefined(lo: *mut c_void, len: usize);
 */
#include <stddef.h>

#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>

/* Registers the stack [lo, hi) and returns Valgrind's id for it. */
unsigned jmpco_valgrind_stack_register(void *lo, void *hi);
unsigned jmpco_valgrind_stack_register(void *lo, void *hi) {
    return VALGRIND_STACK_REGISTER(lo, hi);
}

/* Forgets a stack registered by jmpco_valgrind_stack_register. */
void jmpco_valgrind_stack_deregister(unsigned id);
void jmpco_valgrind_stack_deregister(unsigned id) {
    VALGRIND_STACK_DEREGISTER(id);
}

/*
 * Marks [lo, lo + len) addressable but undefined: the state of stack memory
 * about to be used afresh. Needed when a stack is reused (pool, reset):
 * memcheck marked what lay below the last owner's stack pointer as no-access.
 */
void jmpco_valgrind_make_undefined(void *lo, size_t len);
void jmpco_valgrind_make_undefined(void *lo, size_t len) {
    (void)VALGRIND_MAKE_MEM_UNDEFINED(lo, len);
}
