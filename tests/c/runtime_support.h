/*
 * runtime_support.h: what the runtime tier's C tests (runtime_test.c,
 * task_test.c, chan_test.c, fdio_test.c) all need: the clock, spawning
 * with the backend under test, running the scheduler, socket pairs and an
 * fd count. Include after jmpco.h and counted_checks.h (it uses `backend`,
 * `backend_name` and CHECK_RC). The functions are `static inline` so a
 * test that does not use one compiles without warnings.
 */
#ifndef JMPCO_TESTS_RUNTIME_SUPPORT_H
#define JMPCO_TESTS_RUNTIME_SUPPORT_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Milliseconds on the monotonic clock. */
static inline double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The default options with the backend under test. */
static inline jmpco_options backend_options(void) {
    jmpco_options opts;
    jmpco_options_init(&opts);
    opts.backend = backend;
    return opts;
}

/* Spawns fn(arg) with the backend under test and `stack_size` (0: the
   default); a failure ends the program. */
static inline void spawn_sized(jmpco_fn fn, void *arg, size_t stack_size) {
    jmpco_options opts = backend_options();
    if (stack_size) opts.stack_size = stack_size;
    int rc = jmpco_spawn_with(fn, arg, &opts);
    if (rc != JMPCO_OK) {
        printf("FAIL [%s] jmpco_spawn_with: %s\n", backend_name, jmpco_strerror(rc));
        exit(1);
    }
}

/* Spawns fn(arg) with the backend under test. */
static inline void spawn(jmpco_fn fn, void *arg) { spawn_sized(fn, arg, 0); }

/* Spawns fn(arg) with the backend under test; the task's handle. */
static inline jmpco_task *spawn_task(jmpco_fn fn, void *arg) {
    jmpco_options opts = backend_options();
    jmpco_task *task = NULL;
    int rc = jmpco_spawn_task(&task, fn, arg, &opts);
    if (rc != JMPCO_OK || task == NULL) {
        printf("FAIL [%s] jmpco_spawn_task: %s\n", backend_name, jmpco_strerror(rc));
        exit(1);
    }
    return task;
}

/* Runs this thread's scheduler until its coroutines have ended. */
static inline void run(void) { CHECK_RC(jmpco_run(), JMPCO_OK); }

/* A connected AF_UNIX stream pair, with `flags` (SOCK_NONBLOCK, or 0). */
static inline void socket_pair_with(int sv[2], int flags) {
    if (socketpair(AF_UNIX, SOCK_STREAM | flags, 0, sv) != 0) {
        perror("socketpair");
        exit(1);
    }
}

/* A connected, non-blocking AF_UNIX stream pair. */
static inline void socket_pair(int sv[2]) { socket_pair_with(sv, SOCK_NONBLOCK); }

static inline void close_pair(int sv[2]) {
    close(sv[0]);
    close(sv[1]);
}

/* Open fds below 1000 (valgrind keeps its own above). */
static inline int open_fds(void) {
    int n = 0;
    for (int fd = 0; fd < 1000; fd++)
        if (fcntl(fd, F_GETFD) != -1) n++;
    return n;
}

#endif /* JMPCO_TESTS_RUNTIME_SUPPORT_H */
