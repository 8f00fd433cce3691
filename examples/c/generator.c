/*
 * generator.c: a coroutine as a generator, through jmpco's C API.
 *
 * The body yields the Fibonacci numbers below a limit, one per resume. Each
 * resume sends back the sum of the numbers the caller has seen so far, and
 * the body returns the last sum it was sent, so values cross both ways
 * through jmpco_resume/jmpco_yield. Runs once per backend (sjlj, ucontext).
 *
 * Build and run (from the repository root):
 *   cargo build --release
 *   make -C examples/c
 *   ./examples/c/generator            (linked with libjmpco.a)
 *   ./examples/c/generator-shared     (linked with libjmpco.so)
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "jmpco.h"

/* Values are opaque void * to jmpco: we pass small integers through them. */
#define AS_PTR(n) ((void *)(uintptr_t)(n))
#define AS_INT(p) ((uintptr_t)(p))

static void check(int rc, const char *what) {
    if (rc != JMPCO_OK) {
        fprintf(stderr, "%s: %s\n", what, jmpco_strerror(rc));
        exit(1);
    }
}

/* The body: yields the Fibonacci numbers below arg; returns the last sum sent. */
static void *fibonacci(void *arg) {
    uintptr_t limit = AS_INT(arg);
    uintptr_t a = 0, b = 1;
    void *sum = AS_PTR(0);
    while (a < limit) {
        check(jmpco_yield(AS_PTR(a), &sum), "jmpco_yield");
        uintptr_t next = a + b;
        a = b;
        b = next;
    }
    return sum; /* the return value ends the coroutine */
}

static void run(jmpco_backend backend, const char *name) {
    jmpco_options opts;
    check(jmpco_options_init(&opts), "jmpco_options_init");
    opts.backend = backend;

    jmpco_coro *co = NULL;
    check(jmpco_create(&co, fibonacci, AS_PTR(50), &opts), "jmpco_create");

    printf("%-8s:", name);
    uintptr_t sum = 0;
    void *value = NULL;
    /* The first resume starts the body with arg; its value is ignored. */
    check(jmpco_resume(co, NULL, &value), "jmpco_resume");
    while (jmpco_status(co) == JMPCO_HOLD) {
        printf(" %" PRIuPTR, AS_INT(value));
        sum += AS_INT(value);
        check(jmpco_resume(co, AS_PTR(sum), &value), "jmpco_resume");
    }
    /* JMPCO_TERM: value is what the body returned. */
    printf(", then TERM returning %" PRIuPTR "\n", AS_INT(value));

    /* A finished coroutine cannot be resumed; destroy frees its stack. */
    if (jmpco_resume(co, NULL, &value) != JMPCO_EDONE) {
        fprintf(stderr, "resume after TERM should be JMPCO_EDONE\n");
        exit(1);
    }
    check(jmpco_destroy(co), "jmpco_destroy");
}

int main(void) {
    run(JMPCO_BACKEND_SJLJ, "sjlj");
    run(JMPCO_BACKEND_UCONTEXT, "ucontext");
    return 0;
}
