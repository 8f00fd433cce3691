/*
 * bench_loop.h -- raw C baselines for the study's benchmarks
 * (bench_loop.c): run `rounds` resume+yield round trips between the
 * calling thread and one coroutine on a stack [stack_top - stack_size,
 * stack_top) the caller provides, with no Rust in the loop.  Return 0, or
 * -1 if the backend could not be set up.
 *
 * Not part of jmpco: the study's build.rs compiles bench_loop.c against
 * the library's shim (csrc/jmpco_switch.h, whose switch functions the
 * library exports), and study/src/switch/raw_c.rs declares these three by
 * hand.
 */
#ifndef JMPCO_BENCH_LOOP_H
#define JMPCO_BENCH_LOOP_H

#include <stddef.h>
#include <stdint.h>

int jmpco_bench_sjlj_round_trips(void *stack_top, size_t stack_size, uint64_t rounds);
int jmpco_bench_ucontext_round_trips(void *stack_top, size_t stack_size, uint64_t rounds);
int jmpco_bench_asm_round_trips(void *stack_top, size_t stack_size, uint64_t rounds);

#endif /* JMPCO_BENCH_LOOP_H */
