/*
 * counted_checks.h: CHECK and CHECK_RC for the C API tests of this folder,
 * which run every test once per backend and keep going
 * after a failure: each check counts as passed or failed, a failure prints
 * one line naming the backend, function and line, and main() prints the
 * totals.  Include after jmpco.h (CHECK_RC names jmpco_strerror).
 */
#ifndef JMPCO_TESTS_COUNTED_CHECKS_H
#define JMPCO_TESTS_COUNTED_CHECKS_H

#include <stdio.h>

static int passed, failed;
static jmpco_backend backend;
static const char *backend_name;

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (cond) {                                                                    \
            passed++;                                                                  \
        } else {                                                                       \
            failed++;                                                                  \
            printf("FAIL [%s] %s:%d: %s\n", backend_name, __func__, __LINE__, #cond); \
        }                                                                              \
    } while (0)

#define CHECK_RC(expr, want)                                                            \
    do {                                                                                \
        int rc_ = (expr);                                                               \
        if (rc_ == (want)) {                                                            \
            passed++;                                                                   \
        } else {                                                                        \
            failed++;                                                                   \
            printf("FAIL [%s] %s:%d: %s returned %d (%s), want %s\n", backend_name,     \
                   __func__, __LINE__, #expr, rc_, jmpco_strerror(rc_), #want);         \
        }                                                                               \
    } while (0)

/* The backends, in the order the tests run on them. */
static const struct {
    jmpco_backend backend;
    const char *name;
} all_backends[] = {{JMPCO_BACKEND_SJLJ, "sjlj"},
                    {JMPCO_BACKEND_UCONTEXT, "ucontext"},
                    {JMPCO_BACKEND_ASM, "asm"}};

/* Runs the loop's body once for each of the first `count` backends, with
   `backend` and `backend_name` set to it. */
#define FOR_EACH_BACKEND(count)                                                 \
    for (size_t b_ = 0; b_ < (count) && (backend = all_backends[b_].backend,   \
                                          backend_name = all_backends[b_].name, 1); \
         b_++)

/* Prints the closing "<program>: N passed, N failed" line; the exit status. */
static int report(const char *program) {
    printf("%s: %d passed, %d failed\n", program, passed, failed);
    return failed == 0 ? 0 : 1;
}

#endif /* JMPCO_TESTS_COUNTED_CHECKS_H */
