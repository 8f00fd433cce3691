/*
 * escape_test.c: what the header (jmpco_fn) says follows a body that
 * longjmps out of its coroutine, which is forbidden: the coroutines the
 * jump leaves are refused with JMPCO_EBUSY for good, and the thread goes on
 * working. Built and run by tests/c_api.rs against both libjmpco.a and
 * libjmpco.so, as a program of its own: the coroutines it abandons stay
 * behind, and no other test should run next to them.
 *
 * Every test runs once per backend. Prints one line per failed check and a
 * closing "escape_test: N passed, N failed"; exits 0 only if nothing failed.
 */

/*
 * A jump from one coroutine's stack to another's may go to a lower address,
 * which a fortified longjmp (__longjmp_chk) takes for a jump into a dead
 * frame and aborts on.
 */
#undef _FORTIFY_SOURCE

#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jmpco.h"

#include "counted_checks.h"

#define AS_PTR(n) ((void *)(uintptr_t)(n))
#define AS_INT(p) ((uintptr_t)(p))

/* A coroutine of the backend under test. */
static jmpco_coro *make(jmpco_fn fn, void *arg) {
    jmpco_options opts;
    jmpco_options_init(&opts);
    opts.backend = backend;
    jmpco_coro *co = NULL;
    int rc = jmpco_create(&co, fn, arg, &opts);
    if (rc != JMPCO_OK) {
        printf("FAIL [%s] jmpco_create: %s\n", backend_name, jmpco_strerror(rc));
        exit(1);
    }
    return co;
}

static void *return_arg(void *arg) { return arg; }

/* Yields arg+1, then returns what it is sent plus one. */
static void *yield_then_return(void *arg) {
    void *in = NULL;
    if (jmpco_yield(AS_PTR(AS_INT(arg) + 1), &in) != JMPCO_OK) return AS_PTR(9999);
    return AS_PTR(AS_INT(in) + 1);
}

/* After a jump out, a fresh coroutine runs, yields and returns as ever. */
static void a_fresh_coroutine_still_runs(void) {
    jmpco_coro *co = make(yield_then_return, AS_PTR(40));
    void *out = NULL;
    CHECK_RC(jmpco_resume(co, NULL, &out), JMPCO_OK);
    CHECK(AS_INT(out) == 41 && jmpco_status(co) == JMPCO_HOLD);
    CHECK_RC(jmpco_resume(co, AS_PTR(99), &out), JMPCO_OK);
    CHECK(AS_INT(out) == 100 && jmpco_status(co) == JMPCO_TERM);
    CHECK_RC(jmpco_destroy(co), JMPCO_OK);
}

/*
 * The coroutines jumps leave behind can never be destroyed: they are kept
 * here, reachable, so a leak checker does not count them as lost.
 */
static jmpco_coro *abandoned[8];
static size_t abandoned_count;

static void keep(jmpco_coro *co) {
    if (abandoned_count < sizeof abandoned / sizeof abandoned[0]) abandoned[abandoned_count++] = co;
}

/* Checks that `co`, which a jump left, is refused for good. */
static void check_abandoned(jmpco_coro *co) {
    CHECK(jmpco_status(co) == JMPCO_EXEC);
    CHECK(jmpco_id(co) != 0);
    CHECK_RC(jmpco_resume(co, NULL, NULL), JMPCO_EBUSY);
    CHECK_RC(jmpco_reset(co, return_arg, NULL), JMPCO_EBUSY);
    CHECK_RC(jmpco_destroy(co), JMPCO_EBUSY);
    CHECK(jmpco_status(co) == JMPCO_EXEC);
}

/* --- a jump to the thread's own stack ---------------------------------- */

static jmp_buf to_main;

static void *jump_to_main(void *arg) {
    (void)arg;
    longjmp(to_main, 1);
}

static void a_longjmp_to_the_threads_stack_leaves_the_coroutine_exec_for_good(void) {
    /* static: read after the jump back, and set before it. */
    static jmpco_coro *co;
    static int resume_returned;
    co = make(jump_to_main, NULL);
    resume_returned = 0;
    if (setjmp(to_main) == 0) {
        jmpco_resume(co, NULL, NULL);
        resume_returned = 1;
    }
    CHECK(resume_returned == 0);
    keep(co);
    check_abandoned(co);
    /* The thread's own stack is still outside every coroutine. */
    CHECK(jmpco_current() == NULL);
    CHECK_RC(jmpco_yield(NULL, NULL), JMPCO_ENOTCORO);
    a_fresh_coroutine_still_runs();
    CHECK(jmpco_current() == NULL);
    CHECK_RC(jmpco_yield(NULL, NULL), JMPCO_ENOTCORO);
}

/* --- a jump into an outer coroutine's body ----------------------------- */

/*
 * outer resumes middle, middle resumes inner, inner jumps back into outer's
 * body: middle and inner are both left EXEC, and outer runs on as itself:
 * jmpco_current names it (the thread is on its stack) and it can yield and
 * be resumed as ever.
 */
struct chain {
    jmpco_coro *outer, *middle, *inner;
    jmp_buf to_outer;
    int middle_resume_returned, outer_resume_returned;
    jmpco_coro *current_after_jump;
    int yield_after_jump;
    void *resumed_with;
};

static void *inner_jumps_to_outer(void *arg) {
    struct chain *c = arg;
    longjmp(c->to_outer, 1);
}

static void *middle_resumes_inner(void *arg) {
    struct chain *c = arg;
    jmpco_resume(c->inner, NULL, NULL);
    c->middle_resume_returned = 1;
    return NULL;
}

static void *outer_catches_the_jump(void *arg) {
    struct chain *c = arg;
    if (setjmp(c->to_outer) == 0) {
        jmpco_resume(c->middle, NULL, NULL);
        c->outer_resume_returned = 1;
    }
    /* Inside outer again: the thread runs on outer's stack. */
    c->current_after_jump = jmpco_current();
    c->yield_after_jump = jmpco_yield(AS_PTR(55), &c->resumed_with);
    check_abandoned(c->middle);
    check_abandoned(c->inner);
    /* A coroutine resumed from here runs normally. */
    a_fresh_coroutine_still_runs();
    return AS_PTR(77);
}

static void a_longjmp_into_an_outer_body_leaves_every_skipped_coroutine_exec(void) {
    /* static: the coroutines left behind keep pointers to it. */
    static struct chain c;
    memset(&c, 0, sizeof c);
    c.outer = make(outer_catches_the_jump, &c);
    c.middle = make(middle_resumes_inner, &c);
    c.inner = make(inner_jumps_to_outer, &c);
    void *out = NULL;
    CHECK_RC(jmpco_resume(c.outer, NULL, &out), JMPCO_OK);
    /* Outer yielded from the body the jump landed in. */
    CHECK(AS_INT(out) == 55);
    CHECK(c.current_after_jump == c.outer);
    CHECK(jmpco_status(c.outer) == JMPCO_HOLD);
    CHECK(jmpco_current() == NULL);
    CHECK_RC(jmpco_resume(c.outer, AS_PTR(66), &out), JMPCO_OK);
    CHECK_RC(c.yield_after_jump, JMPCO_OK);
    CHECK(AS_INT(c.resumed_with) == 66);
    CHECK(AS_INT(out) == 77);
    CHECK(c.middle_resume_returned == 0 && c.outer_resume_returned == 0);
    keep(c.middle);
    keep(c.inner);
    /* Outer finished as an ordinary coroutine. */
    CHECK(jmpco_status(c.outer) == JMPCO_TERM);
    CHECK_RC(jmpco_destroy(c.outer), JMPCO_OK);
    check_abandoned(c.middle);
    check_abandoned(c.inner);
    CHECK(jmpco_current() == NULL);
    a_fresh_coroutine_still_runs();
}

int main(void) {
    FOR_EACH_BACKEND(2) {
        a_longjmp_to_the_threads_stack_leaves_the_coroutine_exec_for_good();
        a_longjmp_into_an_outer_body_leaves_every_skipped_coroutine_exec();
    }
    return report("escape_test");
}
