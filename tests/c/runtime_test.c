/*
 * runtime_test.c: the C API's runtime tier (jmpco_spawn, jmpco_run,
 * jmpco_wait_fd, jmpco_sleep_ms), checked from C through include/jmpco.h.
 * Built and run by tests/c_api.rs against both libjmpco.a and libjmpco.so,
 * and by scripts/valgrind-c.sh under memcheck.
 *
 * Every test runs once per backend (the spawned coroutines' backend, set
 * with jmpco_spawn_with). Prints one line per failed check and a closing
 * "runtime_test: N passed, N failed"; exits 0 only if nothing failed.
 * Timing bounds are loose (a loaded machine is slow, never early).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "jmpco.h"

#include "counted_checks.h"
#include "runtime_support.h"

/* Reads until EAGAIN; returns the byte count. */
static size_t drain(int fd) {
    char buf[4096];
    size_t total = 0;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) return total;
        total += (size_t)n;
    }
}

/* --- spawn and run ------------------------------------------------------ */

static char order[64];
static size_t order_len;

/* Logs its letter, yields (sleep 0), logs it again. */
static void *log_twice(void *arg) {
    char c = *(const char *)arg;
    order[order_len++] = c;
    CHECK_RC(jmpco_sleep_ms(0), JMPCO_OK);
    order[order_len++] = (char)(c - 'a' + 'A');
    return NULL;
}

static void spawned_coroutines_run_in_order_and_interleave_at_yields(void) {
    static const char letters[] = "abc";
    order_len = 0;
    for (int i = 0; i < 3; i++) spawn(log_twice, (void *)&letters[i]);
    CHECK(order_len == 0); /* nothing runs before jmpco_run */
    run();
    order[order_len] = '\0';
    CHECK(strcmp(order, "abcABC") == 0);
}

static void run_with_nothing_spawned_returns_at_once(void) {
    double t0 = now_ms();
    run();
    run();
    CHECK(now_ms() - t0 < 100);
}

static int counter;
static void *count_one(void *arg) {
    (void)arg;
    counter++;
    return (void *)0x1234; /* discarded */
}

static void run_can_be_called_again_for_later_spawns(void) {
    counter = 0;
    spawn(count_one, NULL);
    run();
    CHECK(counter == 1);
    spawn(count_one, NULL);
    spawn(count_one, NULL);
    run();
    CHECK(counter == 3);
}

/* Spawns arg children (each counts itself) from inside a coroutine. */
static void *spawn_children(void *arg) {
    int n = (int)(intptr_t)arg;
    for (int i = 0; i < n; i++) spawn(count_one, NULL);
    CHECK(counter == 0); /* children start on a later turn */
    CHECK_RC(jmpco_sleep_ms(0), JMPCO_OK);
    CHECK(counter == n);
    return NULL;
}

static void spawn_from_inside_a_coroutine_runs_on_the_same_loop(void) {
    counter = 0;
    spawn(spawn_children, (void *)(intptr_t)5);
    run();
    CHECK(counter == 5);
}

static void *sleep_then_count(void *arg) {
    CHECK_RC(jmpco_sleep_ms((unsigned)(uintptr_t)arg), JMPCO_OK);
    counter++;
    return NULL;
}

static void a_thousand_coroutines_sleep_concurrently(void) {
    counter = 0;
    double t0 = now_ms();
    for (int i = 0; i < 1000; i++) spawn(sleep_then_count, (void *)(uintptr_t)20);
    run();
    double took = now_ms() - t0;
    CHECK(counter == 1000);
    CHECK(took >= 20 && took < 1500); /* concurrent: not 1000 x 20 ms */
}

/* --- sleep -------------------------------------------------------------- */

static double slept[3];
static void *timed_sleep(void *arg) {
    unsigned ms = (unsigned)(uintptr_t)arg;
    double t0 = now_ms();
    CHECK_RC(jmpco_sleep_ms(ms), JMPCO_OK);
    slept[ms / 50] = now_ms() - t0;
    return NULL;
}

static void sleep_lasts_at_least_the_request_and_not_much_more(void) {
    for (unsigned ms = 0; ms <= 100; ms += 50) spawn(timed_sleep, (void *)(uintptr_t)ms);
    double t0 = now_ms();
    run();
    double took = now_ms() - t0;
    for (int i = 0; i < 3; i++) CHECK(slept[i] >= 50.0 * i && slept[i] < 50.0 * i + 200);
    CHECK(took >= 100 && took < 300); /* the sleeps overlapped */
}

/* --- wait_fd ------------------------------------------------------------ */

struct pipe_test {
    int sv[2];
    int rc1, rc2, rc3;
    double waited;
    int step;
};

/* Data already buffered: ready at once, again and again (level), until it
   is read; then the wait times out. */
static void *wait_level(void *arg) {
    struct pipe_test *t = arg;
    double t0 = now_ms();
    t->rc1 = jmpco_wait_fd(t->sv[0], JMPCO_READABLE, -1);
    t->rc2 = jmpco_wait_fd(t->sv[0], JMPCO_READABLE, 0);
    t->waited = now_ms() - t0;
    CHECK(drain(t->sv[0]) == 5);
    t0 = now_ms();
    t->rc3 = jmpco_wait_fd(t->sv[0], JMPCO_READABLE, 50);
    double timed = now_ms() - t0;
    CHECK(timed >= 50 && timed < 250);
    return NULL;
}

static void wait_fd_returns_at_once_while_data_is_buffered_and_times_out_after(void) {
    struct pipe_test t = {{-1, -1}, 99, 99, 99, 0, 0};
    socket_pair(t.sv);
    CHECK(write(t.sv[1], "hello", 5) == 5);
    spawn(wait_level, &t);
    run();
    CHECK_RC(t.rc1, JMPCO_OK);
    CHECK_RC(t.rc2, JMPCO_OK);
    CHECK(t.waited < 50);
    CHECK_RC(t.rc3, JMPCO_ETIMEDOUT);
    close_pair(t.sv);
}

/* Reads what is buffered, then waits for more: it must park until the
   writer (another coroutine) sends it. */
static void *reader_parks(void *arg) {
    struct pipe_test *t = arg;
    t->rc1 = jmpco_wait_fd(t->sv[0], JMPCO_READABLE, -1);
    CHECK(drain(t->sv[0]) == 3);
    double t0 = now_ms();
    t->rc2 = jmpco_wait_fd(t->sv[0], JMPCO_READABLE, 2000);
    t->waited = now_ms() - t0;
    CHECK(t->step == 1); /* the writer ran first */
    CHECK(drain(t->sv[0]) == 4);
    return NULL;
}

static void *writer_later(void *arg) {
    struct pipe_test *t = arg;
    CHECK_RC(jmpco_sleep_ms(30), JMPCO_OK);
    t->step = 1;
    CHECK(write(t->sv[1], "more", 4) == 4);
    return NULL;
}

static void wait_fd_parks_after_a_drain_until_more_data_comes(void) {
    struct pipe_test t = {{-1, -1}, 99, 99, 99, 0, 0};
    socket_pair(t.sv);
    CHECK(write(t.sv[1], "abc", 3) == 3);
    spawn(reader_parks, &t);
    spawn(writer_later, &t);
    run();
    CHECK_RC(t.rc1, JMPCO_OK);
    CHECK_RC(t.rc2, JMPCO_OK);
    CHECK(t.waited >= 25 && t.waited < 1000);
    close_pair(t.sv);
}

/* Two coroutines wait on one fd at once; one byte wakes both. */
static int woken;
static void *wait_readable(void *arg) {
    struct pipe_test *t = arg;
    CHECK_RC(jmpco_wait_fd(t->sv[0], JMPCO_READABLE, 2000), JMPCO_OK);
    woken++;
    return NULL;
}

static void *write_one_later(void *arg) {
    struct pipe_test *t = arg;
    CHECK_RC(jmpco_sleep_ms(20), JMPCO_OK);
    CHECK(woken == 0);
    CHECK(write(t->sv[1], "x", 1) == 1);
    return NULL;
}

static void two_coroutines_can_wait_on_one_fd(void) {
    struct pipe_test t = {{-1, -1}, 0, 0, 0, 0, 0};
    socket_pair(t.sv);
    woken = 0;
    spawn(wait_readable, &t);
    spawn(wait_readable, &t);
    spawn(write_one_later, &t);
    run();
    CHECK(woken == 2);
    close_pair(t.sv);
}

/* Fills the send buffer, waits for room (times out), then waits again while
   another coroutine drains the peer. */
static void *fill_then_wait_writable(void *arg) {
    struct pipe_test *t = arg;
    char chunk[4096];
    memset(chunk, 'z', sizeof chunk);
    while (write(t->sv[1], chunk, sizeof chunk) > 0) {
    }
    CHECK(errno == EAGAIN || errno == EWOULDBLOCK);
    t->rc1 = jmpco_wait_fd(t->sv[1], JMPCO_WRITABLE, 30);
    t->step = 1; /* the drainer may start */
    t->rc2 = jmpco_wait_fd(t->sv[1], JMPCO_WRITABLE | JMPCO_READABLE, 2000);
    return NULL;
}

static void *drain_when_told(void *arg) {
    struct pipe_test *t = arg;
    while (t->step == 0) CHECK_RC(jmpco_sleep_ms(5), JMPCO_OK);
    CHECK_RC(jmpco_sleep_ms(20), JMPCO_OK);
    CHECK(drain(t->sv[0]) > 0);
    return NULL;
}

static void wait_fd_writable_times_out_on_a_full_socket_then_wakes_on_room(void) {
    struct pipe_test t = {{-1, -1}, 99, 99, 99, 0, 0};
    socket_pair(t.sv);
    spawn(fill_then_wait_writable, &t);
    spawn(drain_when_told, &t);
    run();
    CHECK_RC(t.rc1, JMPCO_ETIMEDOUT);
    CHECK_RC(t.rc2, JMPCO_OK);
    close_pair(t.sv);
}

/* A peer that closes makes the fd readable (EOF): the wait ends. */
static void *wait_for_eof(void *arg) {
    struct pipe_test *t = arg;
    t->rc1 = jmpco_wait_fd(t->sv[0], JMPCO_READABLE, 2000);
    char c;
    CHECK(read(t->sv[0], &c, 1) == 0);
    return NULL;
}

static void *close_later(void *arg) {
    struct pipe_test *t = arg;
    CHECK_RC(jmpco_sleep_ms(10), JMPCO_OK);
    close(t->sv[1]);
    t->sv[1] = -1;
    return NULL;
}

static void wait_fd_wakes_on_peer_close(void) {
    struct pipe_test t = {{-1, -1}, 99, 99, 99, 0, 0};
    socket_pair(t.sv);
    spawn(wait_for_eof, &t);
    spawn(close_later, &t);
    run();
    CHECK_RC(t.rc1, JMPCO_OK);
    close(t.sv[0]);
}

/* --- refusals ----------------------------------------------------------- */

struct refusals {
    int run_inside, yield_inside, nested_wait, nested_sleep;
    jmpco_coro *current;
};

static void *nested_body(void *arg) {
    struct refusals *r = arg;
    r->nested_wait = jmpco_wait_fd(0, JMPCO_READABLE, 0);
    r->nested_sleep = jmpco_sleep_ms(1);
    return NULL;
}

static void *refused_inside(void *arg) {
    struct refusals *r = arg;
    r->run_inside = jmpco_run();
    /* A spawned coroutine yields to the scheduler, and has a handle (see
       task_test.c for both). */
    r->yield_inside = jmpco_yield(NULL, NULL);
    r->current = jmpco_current();
    /* A jmpco_create coroutine resumed here is not a spawned one. */
    jmpco_coro *co = NULL;
    CHECK_RC(jmpco_create(&co, nested_body, r, NULL), JMPCO_OK);
    CHECK_RC(jmpco_resume(co, NULL, NULL), JMPCO_OK);
    CHECK_RC(jmpco_destroy(co), JMPCO_OK);
    return NULL;
}

static void enotcoro_and_ebusy_where_the_runtime_does_not_run(void) {
    int sv[2];
    socket_pair(sv);
    CHECK_RC(jmpco_wait_fd(sv[0], JMPCO_READABLE, 0), JMPCO_ENOTCORO);
    CHECK_RC(jmpco_wait_fd(sv[0], JMPCO_WRITABLE, -1), JMPCO_ENOTCORO);
    CHECK_RC(jmpco_sleep_ms(0), JMPCO_ENOTCORO);
    CHECK_RC(jmpco_sleep_ms(10), JMPCO_ENOTCORO);
    close_pair(sv);

    struct refusals r = {99, 99, 99, 99, (jmpco_coro *)&r};
    spawn(refused_inside, &r);
    run();
    CHECK_RC(r.run_inside, JMPCO_EBUSY);
    CHECK_RC(r.yield_inside, JMPCO_OK);
    CHECK(r.current != NULL && r.current != (jmpco_coro *)&r);
    CHECK_RC(r.nested_wait, JMPCO_ENOTCORO);
    CHECK_RC(r.nested_sleep, JMPCO_ENOTCORO);
}

static int bad_args[8];
static void *bad_waits(void *arg) {
    int fd = *(int *)arg;
    bad_args[0] = jmpco_wait_fd(fd, 0, 0);
    bad_args[1] = jmpco_wait_fd(fd, 4, 0);
    bad_args[2] = jmpco_wait_fd(fd, -1, 0);
    bad_args[3] = jmpco_wait_fd(fd, JMPCO_READABLE, -2);
    bad_args[4] = jmpco_wait_fd(-1, JMPCO_READABLE, 0);
    int closed = dup(fd);
    close(closed);
    bad_args[5] = jmpco_wait_fd(closed, JMPCO_READABLE, 0);
    return NULL;
}

static void einval_for_bad_arguments(void) {
    CHECK_RC(jmpco_spawn(NULL, NULL), JMPCO_EINVAL);
    CHECK_RC(jmpco_spawn_with(NULL, NULL, NULL), JMPCO_EINVAL);
    jmpco_options opts;
    jmpco_options_init(&opts);
    int bad_backend = 77;
    memcpy(&opts.backend, &bad_backend, sizeof bad_backend);
    CHECK_RC(jmpco_spawn_with(count_one, NULL, &opts), JMPCO_EINVAL);
    jmpco_options_init(&opts);
    opts.stack_size = SIZE_MAX;
    CHECK_RC(jmpco_spawn_with(count_one, NULL, &opts), JMPCO_EINVAL);
    CHECK_RC(jmpco_run(), JMPCO_OK); /* nothing was queued by the refusals */

    int sv[2];
    socket_pair(sv);
    for (int i = 0; i < 8; i++) bad_args[i] = 99;
    spawn(bad_waits, &sv[0]);
    run();
    for (int i = 0; i < 6; i++) CHECK_RC(bad_args[i], JMPCO_EINVAL);
    close_pair(sv);
}

/* --- threads ------------------------------------------------------------ */

static _Thread_local int thread_counter;
/* No CHECK on other threads: the tallies are not atomic. */
static void *count_on_thread(void *arg) {
    (void)arg;
    if (jmpco_sleep_ms(5) == JMPCO_OK) thread_counter++;
    return NULL;
}

static void *thread_main(void *arg) {
    (void)arg;
    jmpco_options opts;
    jmpco_options_init(&opts);
    opts.backend = backend;
    for (int i = 0; i < 50; i++) jmpco_spawn_with(count_on_thread, NULL, &opts);
    int rc = jmpco_run();
    /* Spawned but never run: freed without running when the thread exits. */
    jmpco_spawn_with(count_on_thread, NULL, &opts);
    return (void *)(intptr_t)(rc == JMPCO_OK ? thread_counter : -1);
}

static void each_thread_runs_its_own_scheduler(void) {
    pthread_t threads[4];
    for (int i = 0; i < 4; i++) CHECK(pthread_create(&threads[i], NULL, thread_main, NULL) == 0);
    counter = 0;
    spawn(count_one, NULL);
    run(); /* this thread's scheduler: only its own coroutine */
    CHECK(counter == 1);
    for (int i = 0; i < 4; i++) {
        void *result = NULL;
        CHECK(pthread_join(threads[i], &result) == 0);
        CHECK((intptr_t)result == 50);
    }
}

static void constants_have_the_documented_values(void) {
    CHECK(JMPCO_READABLE == 1 && JMPCO_WRITABLE == 2 && JMPCO_ETIMEDOUT == -6);
}

int main(void) {
    FOR_EACH_BACKEND(3) {
        spawned_coroutines_run_in_order_and_interleave_at_yields();
        run_with_nothing_spawned_returns_at_once();
        run_can_be_called_again_for_later_spawns();
        spawn_from_inside_a_coroutine_runs_on_the_same_loop();
        a_thousand_coroutines_sleep_concurrently();
        sleep_lasts_at_least_the_request_and_not_much_more();
        wait_fd_returns_at_once_while_data_is_buffered_and_times_out_after();
        wait_fd_parks_after_a_drain_until_more_data_comes();
        two_coroutines_can_wait_on_one_fd();
        wait_fd_writable_times_out_on_a_full_socket_then_wakes_on_room();
        wait_fd_wakes_on_peer_close();
        enotcoro_and_ebusy_where_the_runtime_does_not_run();
        einval_for_bad_arguments();
        each_thread_runs_its_own_scheduler();
        constants_have_the_documented_values();
    }
    return report("runtime_test");
}
