/*
 * api_test.c: the C API's behaviour, checked from C through include/jmpco.h.
 * Built and run by tests/c_api.rs against both libjmpco.a and libjmpco.so.
 *
 * Every test runs once per backend. Prints one line per failed check and a
 * closing "api_test: N passed, N failed"; exits 0 only if nothing failed.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
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

/* --- bodies ------------------------------------------------------------ */

static void *return_arg(void *arg) { return arg; }

/* Yields arg+1, then whatever it is sent plus one, until sent 0. */
static void *echo_plus_one(void *arg) {
    uintptr_t v = AS_INT(arg);
    while (v != 0) {
        void *in = NULL;
        if (jmpco_yield(AS_PTR(v + 1), &in) != JMPCO_OK) return AS_PTR(9999);
        v = AS_INT(in);
    }
    return AS_PTR(7);
}

/* Records what happens inside: status, current, and the refusals. */
struct inside {
    jmpco_coro *self;
    jmpco_state status;
    jmpco_coro *current;
    int resume_self, destroy_self, reset_self;
    int after_yield; /* set once resumed past the first yield */
};

static void *look_inside(void *arg) {
    struct inside *in = arg;
    in->status = jmpco_status(in->self);
    in->current = jmpco_current();
    in->resume_self = jmpco_resume(in->self, NULL, NULL);
    in->destroy_self = jmpco_destroy(in->self);
    in->reset_self = jmpco_reset(in->self, return_arg, NULL);
    jmpco_yield(NULL, NULL);
    in->after_yield = 1;
    return NULL;
}

/* --- tests ------------------------------------------------------------- */

static void values_pass_through_resume_and_yield(void) {
    jmpco_coro *co = make(echo_plus_one, AS_PTR(10));
    void *out = NULL;
    CHECK(jmpco_status(co) == JMPCO_READY);
    /* The first resume's value is ignored: the body gets arg. */
    CHECK_RC(jmpco_resume(co, AS_PTR(12345), &out), JMPCO_OK);
    CHECK(AS_INT(out) == 11);
    CHECK(jmpco_status(co) == JMPCO_HOLD);
    CHECK_RC(jmpco_resume(co, AS_PTR(41), &out), JMPCO_OK);
    CHECK(AS_INT(out) == 42);
    /* Pointers cross unchanged. */
    static char marker;
    CHECK_RC(jmpco_resume(co, &marker, &out), JMPCO_OK);
    CHECK(out == (void *)(&marker + 1));
    CHECK_RC(jmpco_resume(co, AS_PTR(0), &out), JMPCO_OK);
    CHECK(AS_INT(out) == 7);
    CHECK(jmpco_status(co) == JMPCO_TERM);
    CHECK_RC(jmpco_destroy(co), JMPCO_OK);
}

static void null_out_pointers_are_allowed(void) {
    jmpco_coro *co = make(echo_plus_one, AS_PTR(1));
    CHECK_RC(jmpco_resume(co, NULL, NULL), JMPCO_OK);
    CHECK_RC(jmpco_resume(co, AS_PTR(0), NULL), JMPCO_OK);
    CHECK(jmpco_status(co) == JMPCO_TERM);
    CHECK_RC(jmpco_destroy(co), JMPCO_OK);
}

static void options_init_sets_defaults(void) {
    jmpco_options opts;
    memset(&opts, 0xAB, sizeof opts);
    CHECK_RC(jmpco_options_init(&opts), JMPCO_OK);
    CHECK(opts.stack_size == 64 * 1024);
    CHECK(opts.backend == JMPCO_BACKEND_SJLJ);
    CHECK_RC(jmpco_options_init(NULL), JMPCO_EINVAL);
}

static void create_with_null_or_zero_options_uses_defaults(void) {
    jmpco_coro *co = NULL;
    CHECK_RC(jmpco_create(&co, return_arg, AS_PTR(5), NULL), JMPCO_OK);
    void *out = NULL;
    CHECK_RC(jmpco_resume(co, NULL, &out), JMPCO_OK);
    CHECK(AS_INT(out) == 5);
    CHECK_RC(jmpco_destroy(co), JMPCO_OK);

    jmpco_options opts = {0, backend};
    CHECK_RC(jmpco_create(&co, return_arg, AS_PTR(6), &opts), JMPCO_OK);
    CHECK_RC(jmpco_resume(co, NULL, &out), JMPCO_OK);
    CHECK(AS_INT(out) == 6);
    CHECK_RC(jmpco_destroy(co), JMPCO_OK);
}

static void einval_for_null_and_bad_arguments(void) {
    jmpco_coro *co = NULL;
    jmpco_options opts;
    jmpco_options_init(&opts);
    CHECK_RC(jmpco_create(NULL, return_arg, NULL, &opts), JMPCO_EINVAL);
    CHECK_RC(jmpco_create(&co, NULL, NULL, &opts), JMPCO_EINVAL);
    CHECK(co == NULL);
    /* An out-of-range backend, written the way a careless caller would. */
    int bad = 7;
    memcpy(&opts.backend, &bad, sizeof bad);
    CHECK_RC(jmpco_create(&co, return_arg, NULL, &opts), JMPCO_EINVAL);
    CHECK(co == NULL);
    /* A stack size that cannot even be rounded to pages. */
    jmpco_options_init(&opts);
    opts.stack_size = SIZE_MAX;
    CHECK_RC(jmpco_create(&co, return_arg, NULL, &opts), JMPCO_EINVAL);
    CHECK(co == NULL);

    CHECK_RC(jmpco_resume(NULL, NULL, NULL), JMPCO_EINVAL);
    CHECK_RC(jmpco_reset(NULL, return_arg, NULL), JMPCO_EINVAL);
    CHECK_RC(jmpco_destroy(NULL), JMPCO_EINVAL);
    CHECK(jmpco_id(NULL) == 0);
    CHECK(jmpco_status(NULL) == JMPCO_EXCEPT);

    co = make(return_arg, NULL);
    CHECK_RC(jmpco_reset(co, NULL, NULL), JMPCO_EINVAL);  /* NULL fn */
    CHECK_RC(jmpco_reset(co, return_arg, NULL), JMPCO_EINVAL); /* READY: not finished */
    CHECK_RC(jmpco_destroy(co), JMPCO_OK);

    co = make(echo_plus_one, AS_PTR(1));
    CHECK_RC(jmpco_resume(co, NULL, NULL), JMPCO_OK);
    CHECK_RC(jmpco_reset(co, return_arg, NULL), JMPCO_EINVAL); /* HOLD: not finished */
    CHECK(jmpco_status(co) == JMPCO_HOLD);
    CHECK_RC(jmpco_destroy(co), JMPCO_OK);
}

static void enomem_when_no_stack_can_be_mapped(void) {
    /* 128 TiB: more than a 47-bit user address space can hold. */
    jmpco_options opts;
    jmpco_options_init(&opts);
    opts.backend = backend;
    opts.stack_size = (size_t)1 << 47;
    jmpco_coro *co = NULL;
    CHECK_RC(jmpco_create(&co, return_arg, NULL, &opts), JMPCO_ENOMEM);
    CHECK(co == NULL);
}

static void edone_when_resuming_a_finished_coroutine(void) {
    jmpco_coro *co = make(return_arg, AS_PTR(3));
    void *out = NULL;
    CHECK_RC(jmpco_resume(co, NULL, &out), JMPCO_OK);
    CHECK(jmpco_status(co) == JMPCO_TERM);
    out = AS_PTR(77);
    CHECK_RC(jmpco_resume(co, NULL, &out), JMPCO_EDONE);
    CHECK(AS_INT(out) == 77); /* untouched on error */
    CHECK_RC(jmpco_resume(co, NULL, &out), JMPCO_EDONE);
    CHECK_RC(jmpco_destroy(co), JMPCO_OK);
}

static void ebusy_inside_and_enotcoro_outside(void) {
    struct inside in;
    memset(&in, 0, sizeof in);
    in.self = make(look_inside, &in);
    CHECK(jmpco_current() == NULL);
    CHECK_RC(jmpco_yield(NULL, NULL), JMPCO_ENOTCORO);
    CHECK_RC(jmpco_resume(in.self, NULL, NULL), JMPCO_OK);
    CHECK(in.status == JMPCO_EXEC);
    CHECK(in.current == in.self);
    CHECK(in.resume_self == JMPCO_EBUSY);
    CHECK(in.destroy_self == JMPCO_EBUSY);
    CHECK(in.reset_self == JMPCO_EBUSY);
    CHECK(jmpco_current() == NULL);
    CHECK(jmpco_status(in.self) == JMPCO_HOLD);
    CHECK_RC(jmpco_resume(in.self, NULL, NULL), JMPCO_OK);
    CHECK(in.after_yield == 1);
    CHECK(jmpco_status(in.self) == JMPCO_TERM);
    CHECK_RC(jmpco_destroy(in.self), JMPCO_OK);
}

/* Nesting: outer creates and drives inner; inner sees both as running. */
struct nest {
    jmpco_coro *outer, *inner;
    jmpco_coro *current_in_inner, *current_in_outer_after;
    jmpco_state outer_state_in_inner;
    int resume_outer_from_inner, destroy_outer_from_inner;
    uintptr_t sum;
};

static void *nest_inner(void *arg) {
    struct nest *n = arg;
    n->current_in_inner = jmpco_current();
    n->outer_state_in_inner = jmpco_status(n->outer);
    n->resume_outer_from_inner = jmpco_resume(n->outer, NULL, NULL);
    n->destroy_outer_from_inner = jmpco_destroy(n->outer);
    for (uintptr_t i = 1; i <= 3; i++) jmpco_yield(AS_PTR(i), NULL);
    return AS_PTR(100);
}

static void *nest_outer(void *arg) {
    struct nest *n = arg;
    n->inner = make(nest_inner, n);
    void *out = NULL;
    while (jmpco_resume(n->inner, NULL, &out) == JMPCO_OK) {
        n->sum += AS_INT(out);
        /* Pass each of inner's values up to our own resumer. */
        if (jmpco_status(n->inner) == JMPCO_HOLD) jmpco_yield(out, NULL);
    }
    n->current_in_outer_after = jmpco_current();
    jmpco_destroy(n->inner);
    return AS_PTR(n->sum);
}

static void nested_coroutines_resume_each_other(void) {
    struct nest n;
    memset(&n, 0, sizeof n);
    n.outer = make(nest_outer, &n);
    void *out = NULL;
    uintptr_t seen = 0;
    int yields = 0;
    while (jmpco_resume(n.outer, NULL, &out) == JMPCO_OK && jmpco_status(n.outer) == JMPCO_HOLD) {
        seen += AS_INT(out);
        yields++;
    }
    CHECK(yields == 3);
    CHECK(seen == 6);
    CHECK(AS_INT(out) == 106);
    CHECK(n.current_in_inner == n.inner);
    CHECK(n.current_in_outer_after == n.outer);
    CHECK(n.outer_state_in_inner == JMPCO_EXEC);
    CHECK(n.resume_outer_from_inner == JMPCO_EBUSY);
    CHECK(n.destroy_outer_from_inner == JMPCO_EBUSY);
    CHECK(jmpco_status(n.outer) == JMPCO_TERM);
    CHECK(jmpco_current() == NULL);
    CHECK_RC(jmpco_destroy(n.outer), JMPCO_OK);
}

static int after_yield_ran;
static void *yield_then_mark(void *arg) {
    (void)arg;
    jmpco_yield(NULL, NULL);
    after_yield_ran = 1;
    return NULL;
}

static void destroy_of_suspended_coroutine_does_not_run_it(void) {
    after_yield_ran = 0;
    jmpco_coro *co = make(yield_then_mark, NULL);
    CHECK_RC(jmpco_resume(co, NULL, NULL), JMPCO_OK);
    CHECK(jmpco_status(co) == JMPCO_HOLD);
    CHECK_RC(jmpco_destroy(co), JMPCO_OK);
    CHECK(after_yield_ran == 0);
    /* And one that never started. */
    co = make(yield_then_mark, NULL);
    CHECK_RC(jmpco_destroy(co), JMPCO_OK);
    CHECK(after_yield_ran == 0);
}

static void reset_reuses_a_finished_coroutine(void) {
    jmpco_coro *co = make(return_arg, AS_PTR(1));
    unsigned long long id = jmpco_id(co);
    CHECK(id != 0);
    void *out = NULL;
    CHECK_RC(jmpco_resume(co, NULL, &out), JMPCO_OK);
    CHECK(jmpco_status(co) == JMPCO_TERM);
    CHECK_RC(jmpco_reset(co, echo_plus_one, AS_PTR(20)), JMPCO_OK);
    CHECK(jmpco_status(co) == JMPCO_READY);
    CHECK(jmpco_id(co) == id);
    CHECK_RC(jmpco_resume(co, NULL, &out), JMPCO_OK);
    CHECK(AS_INT(out) == 21);
    CHECK_RC(jmpco_resume(co, AS_PTR(0), &out), JMPCO_OK);
    CHECK(AS_INT(out) == 7);
    CHECK(jmpco_status(co) == JMPCO_TERM);
    /* Again, many times: the stack is reused each time. */
    for (int i = 0; i < 1000; i++) {
        CHECK_RC(jmpco_reset(co, return_arg, AS_PTR(i)), JMPCO_OK);
        CHECK_RC(jmpco_resume(co, NULL, &out), JMPCO_OK);
    }
    CHECK(AS_INT(out) == 999);
    CHECK_RC(jmpco_destroy(co), JMPCO_OK);
}

static void ids_are_unique_and_nonzero(void) {
    jmpco_coro *a = make(return_arg, NULL), *b = make(return_arg, NULL);
    CHECK(jmpco_id(a) != 0 && jmpco_id(b) != 0);
    CHECK(jmpco_id(a) != jmpco_id(b));
    jmpco_destroy(a);
    jmpco_destroy(b);
}

#define MANY 10000
static void ten_thousand_coroutines_alive_at_once(void) {
    static jmpco_coro *cos[MANY];
    for (uintptr_t i = 0; i < MANY; i++) cos[i] = make(echo_plus_one, AS_PTR(i + 1));
    int ok = 1;
    for (uintptr_t i = 0; i < MANY; i++) {
        void *out = NULL;
        ok &= jmpco_resume(cos[i], NULL, &out) == JMPCO_OK && AS_INT(out) == i + 2;
    }
    CHECK(ok);
    for (uintptr_t i = 0; i < MANY; i++) {
        void *out = NULL;
        ok &= jmpco_resume(cos[i], AS_PTR(2 * i + 1), &out) == JMPCO_OK && AS_INT(out) == 2 * i + 2;
    }
    CHECK(ok);
    /* Half finish, half are destroyed while suspended. */
    for (uintptr_t i = 0; i < MANY; i += 2) {
        ok &= jmpco_resume(cos[i], AS_PTR(0), NULL) == JMPCO_OK && jmpco_status(cos[i]) == JMPCO_TERM;
    }
    CHECK(ok);
    for (uintptr_t i = 0; i < MANY; i++) ok &= jmpco_destroy(cos[i]) == JMPCO_OK;
    CHECK(ok);
}

/* Another thread may read status and id, but not drive the coroutine. */
struct foreign {
    jmpco_coro *co;
    int resume, reset, destroy, yield;
    jmpco_state status;
    unsigned long long id;
};

static void *foreign_thread(void *arg) {
    struct foreign *f = arg;
    f->resume = jmpco_resume(f->co, NULL, NULL);
    f->reset = jmpco_reset(f->co, return_arg, NULL);
    f->destroy = jmpco_destroy(f->co);
    f->yield = jmpco_yield(NULL, NULL);
    f->status = jmpco_status(f->co);
    f->id = jmpco_id(f->co);
    return NULL;
}

static void another_thread_cannot_drive_a_coroutine(void) {
    struct foreign f;
    memset(&f, 0, sizeof f);
    f.co = make(echo_plus_one, AS_PTR(1));
    CHECK_RC(jmpco_resume(f.co, NULL, NULL), JMPCO_OK);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, foreign_thread, &f) == 0);
    pthread_join(t, NULL);
    CHECK(f.resume == JMPCO_EINVAL);
    CHECK(f.reset == JMPCO_EINVAL);
    CHECK(f.destroy == JMPCO_EINVAL);
    CHECK(f.yield == JMPCO_ENOTCORO);
    CHECK(f.status == JMPCO_HOLD);
    CHECK(f.id == jmpco_id(f.co));
    CHECK_RC(jmpco_destroy(f.co), JMPCO_OK);
}

/*
 * A coroutine stays its creator's after the creator exits. glibc caches the
 * stack of a joined thread and hands it, with the same thread-local storage,
 * to the next thread created with the same attributes: the successor must
 * still be refused. Each round creates and resumes a coroutine on a thread
 * that then exits, and checks a successor thread; rounds go on until one
 * successor is seen to have the creator's TLS (tls_probe at the same
 * address), at most REUSE_ROUNDS of them. The coroutines can never be
 * destroyed (that is the point), so they stay in `orphans`, reachable.
 */
#define REUSE_ROUNDS 8
static _Thread_local char tls_probe;
static jmpco_coro *orphans[3 * REUSE_ROUNDS]; /* every round of every backend */
static size_t orphan_count;

struct reuse {
    jmpco_coro *co;
    int created_resume;
    const char *creator_tls, *successor_tls;
    int resume, reset, destroy;
    jmpco_state status;
    unsigned long long id;
};

static void *create_resume_and_exit(void *arg) {
    struct reuse *r = arg;
    r->co = make(echo_plus_one, AS_PTR(1));
    r->created_resume = jmpco_resume(r->co, NULL, NULL);
    r->creator_tls = &tls_probe;
    return NULL;
}

static void *successor_thread(void *arg) {
    struct reuse *r = arg;
    r->successor_tls = &tls_probe;
    r->resume = jmpco_resume(r->co, NULL, NULL);
    r->reset = jmpco_reset(r->co, return_arg, NULL);
    r->destroy = jmpco_destroy(r->co);
    r->status = jmpco_status(r->co);
    r->id = jmpco_id(r->co);
    return NULL;
}

static void a_coroutine_is_refused_on_a_new_thread_that_reuses_its_creators_tls(void) {
    int reused = 0;
    for (int round = 0; round < REUSE_ROUNDS && !reused; round++) {
        struct reuse r;
        memset(&r, 0, sizeof r);
        pthread_t t;
        CHECK(pthread_create(&t, NULL, create_resume_and_exit, &r) == 0);
        pthread_join(t, NULL);
        CHECK_RC(r.created_resume, JMPCO_OK);
        unsigned long long id = jmpco_id(r.co);
        if (orphan_count < sizeof orphans / sizeof orphans[0]) orphans[orphan_count++] = r.co;
        CHECK(pthread_create(&t, NULL, successor_thread, &r) == 0);
        pthread_join(t, NULL);
        reused = r.successor_tls == r.creator_tls;
        CHECK_RC(r.resume, JMPCO_EINVAL);
        CHECK_RC(r.reset, JMPCO_EINVAL);
        CHECK_RC(r.destroy, JMPCO_EINVAL);
        CHECK(r.status == JMPCO_HOLD);
        CHECK(r.id == id && id != 0);
        /* Nor is the coroutine the thread's that never owned it. */
        CHECK_RC(jmpco_resume(r.co, NULL, NULL), JMPCO_EINVAL);
        CHECK_RC(jmpco_destroy(r.co), JMPCO_EINVAL);
        CHECK(jmpco_status(r.co) == JMPCO_HOLD);
    }
    if (!reused) {
        printf("note [%s]: no successor thread got its creator's TLS in %d rounds; "
               "the reuse case went unexercised\n",
               backend_name, REUSE_ROUNDS);
    }
}

static void strerror_names_every_code(void) {
    const int codes[] = {JMPCO_OK,    JMPCO_EINVAL,   JMPCO_ENOMEM,   JMPCO_EDONE,
                         JMPCO_EBUSY, JMPCO_ENOTCORO, JMPCO_ETIMEDOUT};
    const char *unknown = jmpco_strerror(12345);
    CHECK(unknown != NULL && strstr(unknown, "unknown") != NULL);
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *msg = jmpco_strerror(codes[i]);
        CHECK(msg != NULL && *msg != '\0' && strcmp(msg, unknown) != 0);
        for (size_t j = 0; j < i; j++) CHECK(strcmp(msg, jmpco_strerror(codes[j])) != 0);
    }
}

static void codes_and_enums_have_the_documented_values(void) {
    CHECK(JMPCO_OK == 0 && JMPCO_EINVAL == -1 && JMPCO_ENOMEM == -2 && JMPCO_EDONE == -3);
    CHECK(JMPCO_EBUSY == -4 && JMPCO_ENOTCORO == -5 && JMPCO_ETIMEDOUT == -6);
    CHECK(JMPCO_BACKEND_SJLJ == 0 && JMPCO_BACKEND_UCONTEXT == 1 && JMPCO_BACKEND_ASM == 2);
    CHECK(JMPCO_READY == 0 && JMPCO_EXEC == 1 && JMPCO_HOLD == 2 && JMPCO_TERM == 3 &&
          JMPCO_EXCEPT == 4);
}

static void deep_recursion_fits_a_small_stack(void);

/* A tiny stack_size is rounded up to JMPCO_MIN_STACK_SIZE, which runs a body that yields. */
static void smallest_stack_still_runs_a_body(void) {
    jmpco_options opts;
    jmpco_options_init(&opts);
    opts.backend = backend;
    opts.stack_size = 1;
    CHECK(JMPCO_MIN_STACK_SIZE == 16384);
    jmpco_coro *co = NULL;
    CHECK_RC(jmpco_create(&co, echo_plus_one, AS_PTR(4), &opts), JMPCO_OK);
    void *out = NULL;
    CHECK_RC(jmpco_resume(co, NULL, &out), JMPCO_OK);
    CHECK(AS_INT(out) == 5);
    CHECK_RC(jmpco_resume(co, AS_PTR(0), &out), JMPCO_OK);
    CHECK(jmpco_status(co) == JMPCO_TERM);
    CHECK_RC(jmpco_destroy(co), JMPCO_OK);
}

int main(void) {
    FOR_EACH_BACKEND(2) {
        values_pass_through_resume_and_yield();
        null_out_pointers_are_allowed();
        options_init_sets_defaults();
        create_with_null_or_zero_options_uses_defaults();
        einval_for_null_and_bad_arguments();
        enomem_when_no_stack_can_be_mapped();
        edone_when_resuming_a_finished_coroutine();
        ebusy_inside_and_enotcoro_outside();
        nested_coroutines_resume_each_other();
        destroy_of_suspended_coroutine_does_not_run_it();
        reset_reuses_a_finished_coroutine();
        ids_are_unique_and_nonzero();
        ten_thousand_coroutines_alive_at_once();
        another_thread_cannot_drive_a_coroutine();
        a_coroutine_is_refused_on_a_new_thread_that_reuses_its_creators_tls();
        strerror_names_every_code();
        codes_and_enums_have_the_documented_values();
        deep_recursion_fits_a_small_stack();
        smallest_stack_still_runs_a_body();
    }
    return report("api_test");
}

/* Uses most of a 32 KiB stack: the stack size option is honoured. */
static unsigned recurse(unsigned depth) {
    volatile char pad[256];
    pad[0] = (char)depth;
    return depth == 0 ? (unsigned)pad[0] : recurse(depth - 1) + 1;
}

static void *recurse_body(void *arg) { return AS_PTR(recurse((unsigned)AS_INT(arg))); }

static void deep_recursion_fits_a_small_stack(void) {
    jmpco_options opts;
    jmpco_options_init(&opts);
    opts.backend = backend;
    opts.stack_size = 32 * 1024;
    jmpco_coro *co = NULL;
    CHECK_RC(jmpco_create(&co, recurse_body, AS_PTR(80), &opts), JMPCO_OK);
    void *out = NULL;
    CHECK_RC(jmpco_resume(co, NULL, &out), JMPCO_OK);
    CHECK(AS_INT(out) == 80);
    CHECK_RC(jmpco_destroy(co), JMPCO_OK);
}
