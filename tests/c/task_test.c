/*
 * task_test.c: the C API's task handles and the core calls inside spawned
 * coroutines: jmpco_current and jmpco_yield in a jmpco_spawn coroutine,
 * jmpco_spawn_task, jmpco_join, jmpco_cancel and jmpco_task_release,
 * checked from C through include/jmpco.h. Built and run by tests/c_api.rs
 * against both libjmpco.a and libjmpco.so, and by scripts/valgrind-c.sh
 * under memcheck.
 *
 * Every test runs once per backend (the spawned coroutines' backend). Prints
 * one line per failed check and a closing "task_test: N passed, N failed";
 * exits 0 only if nothing failed. Checks run on the main thread only (the
 * tallies are not atomic): other threads store what they saw for main to
 * check. Timing bounds are loose (a loaded machine is slow, never early).
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

/* Sleeps the thread (not a coroutine wait). */
static void thread_sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

#define SENTINEL ((void *)0x5e5e)

/* --- jmpco_current and jmpco_yield in spawned coroutines ---------------- */

struct view_test {
    jmpco_coro *view[3];
    unsigned long long id[3];
    jmpco_state status[3];
    int same_after_wait[3], exec_after_wait[3];
    int resume_rc, reset_rc, destroy_rc;
    jmpco_state other_status; /* task 0's look at task 1, parked */
    jmpco_coro *nested_current, *nested_self, *after_nested;
    unsigned long long nested_id;
};
static struct view_test vt;

static void *nested_current(void *arg) {
    (void)arg;
    vt.nested_current = jmpco_current();
    return NULL;
}

static void *record_view(void *arg) {
    int i = (int)(intptr_t)arg;
    jmpco_coro *me = jmpco_current();
    vt.view[i] = me;
    vt.id[i] = jmpco_id(me);
    vt.status[i] = jmpco_status(me);
    CHECK_RC(jmpco_sleep_ms(i == 1 ? 60 : 10), JMPCO_OK);
    vt.same_after_wait[i] = jmpco_current() == me;
    vt.exec_after_wait[i] = jmpco_status(me) == JMPCO_EXEC;
    if (i == 0) {
        vt.other_status = jmpco_status(vt.view[1]);
        vt.resume_rc = jmpco_resume(me, NULL, NULL);
        vt.reset_rc = jmpco_reset(me, nested_current, NULL);
        vt.destroy_rc = jmpco_destroy(me);
        /* A jmpco_create coroutine resumed here is current inside itself. */
        jmpco_coro *co = NULL;
        CHECK_RC(jmpco_create(&co, nested_current, NULL, NULL), JMPCO_OK);
        vt.nested_self = co;
        vt.nested_id = jmpco_id(co);
        CHECK_RC(jmpco_resume(co, NULL, NULL), JMPCO_OK);
        CHECK_RC(jmpco_destroy(co), JMPCO_OK);
        vt.after_nested = jmpco_current();
    }
    return NULL;
}

static void current_in_a_spawned_coroutine_is_exec_with_an_id_of_its_own(void) {
    memset(&vt, 0, sizeof vt);
    CHECK(jmpco_current() == NULL); /* the thread's own stack */
    jmpco_coro *plain = NULL;
    CHECK_RC(jmpco_create(&plain, nested_current, NULL, NULL), JMPCO_OK);
    for (int i = 0; i < 3; i++) spawn(record_view, (void *)(intptr_t)i);
    run();
    for (int i = 0; i < 3; i++) {
        CHECK(vt.view[i] != NULL);
        CHECK(vt.status[i] == JMPCO_EXEC);
        CHECK(vt.id[i] != 0 && vt.id[i] != jmpco_id(plain));
        CHECK(vt.same_after_wait[i] && vt.exec_after_wait[i]);
        for (int j = 0; j < i; j++) CHECK(vt.id[i] != vt.id[j] && vt.view[i] != vt.view[j]);
    }
    CHECK(vt.other_status == JMPCO_EXEC);
    CHECK_RC(vt.resume_rc, JMPCO_EBUSY);
    CHECK_RC(vt.reset_rc, JMPCO_EBUSY);
    CHECK_RC(vt.destroy_rc, JMPCO_EBUSY);
    CHECK(vt.nested_current == vt.nested_self);
    CHECK(vt.nested_id != vt.id[0]);
    CHECK(vt.after_nested == vt.view[0]);
    CHECK(jmpco_current() == NULL);
    CHECK_RC(jmpco_destroy(plain), JMPCO_OK);
}

static char order[16];
static size_t order_len;
static int yield_rcs[2];
static void *yielded_values[2];

static void *log_yield_log(void *arg) {
    int i = (int)(intptr_t)arg;
    order[order_len++] = (char)('a' + i);
    yielded_values[i] = SENTINEL;
    yield_rcs[i] = jmpco_yield((void *)0x1, &yielded_values[i]);
    order[order_len++] = (char)('A' + i);
    return NULL;
}

static void yield_in_a_spawned_coroutine_lets_the_others_run_then_continues(void) {
    order_len = 0;
    spawn(log_yield_log, (void *)(intptr_t)0);
    spawn(log_yield_log, (void *)(intptr_t)1);
    run();
    order[order_len] = '\0';
    CHECK(strcmp(order, "abAB") == 0);
    for (int i = 0; i < 2; i++) {
        CHECK_RC(yield_rcs[i], JMPCO_OK);
        CHECK(yielded_values[i] == NULL);
    }
    void *untouched = SENTINEL;
    CHECK_RC(jmpco_yield(NULL, &untouched), JMPCO_ENOTCORO);
    CHECK(untouched == SENTINEL);
}

/* --- join --------------------------------------------------------------- */

static int counter;

static void *sleep_then_return(void *arg) {
    CHECK_RC(jmpco_sleep_ms(20), JMPCO_OK);
    return arg;
}

static void *count_one(void *arg) {
    counter++;
    return arg;
}

struct join_test {
    int rc1, rc2;
    void *r1, *r2;
    double waited;
    int others_ran;
};

static void *join_child(void *arg) {
    struct join_test *t = arg;
    jmpco_task *child = spawn_task(sleep_then_return, (void *)0x42);
    spawn(count_one, NULL);
    double t0 = now_ms();
    t->rc1 = jmpco_join(child, &t->r1);
    t->waited = now_ms() - t0;
    t->others_ran = counter;
    t->rc2 = jmpco_join(child, &t->r2); /* ended: at once, same value */
    CHECK_RC(jmpco_join(child, NULL), JMPCO_OK);
    CHECK_RC(jmpco_task_release(child), JMPCO_OK);
    return NULL;
}

static void join_from_a_coroutine_parks_it_until_the_value_comes(void) {
    struct join_test t = {99, 99, NULL, NULL, 0, 0};
    counter = 0;
    spawn(join_child, &t);
    run();
    CHECK_RC(t.rc1, JMPCO_OK);
    CHECK(t.r1 == (void *)0x42);
    CHECK(t.waited >= 15 && t.waited < 2000);
    CHECK(t.others_ran == 1); /* the thread ran another coroutine meanwhile */
    CHECK_RC(t.rc2, JMPCO_OK);
    CHECK(t.r2 == (void *)0x42);
}

static void join_on_the_tasks_thread_outside_run_is_edeadlk_until_it_ended(void) {
    counter = 0;
    jmpco_task *task = spawn_task(count_one, (void *)0x43);
    void *r = SENTINEL;
    CHECK_RC(jmpco_join(task, &r), JMPCO_EDEADLK);
    CHECK(r == SENTINEL && counter == 0); /* nothing ran */
    run();
    CHECK(counter == 1);
    CHECK_RC(jmpco_join(task, &r), JMPCO_OK);
    CHECK(r == (void *)0x43);
    CHECK_RC(jmpco_join(task, &r), JMPCO_OK); /* again: the same */
    CHECK(r == (void *)0x43);
    CHECK_RC(jmpco_task_release(task), JMPCO_OK);
}

struct thread_join {
    jmpco_task *task;
    int rc;
    void *result;
    double waited;
};

static void *join_on_a_thread(void *arg) {
    struct thread_join *j = arg;
    double t0 = now_ms();
    j->rc = jmpco_join(j->task, &j->result);
    j->waited = now_ms() - t0;
    return NULL;
}

static void join_from_another_thread_blocks_until_the_task_ends(void) {
    struct thread_join j = {NULL, 99, NULL, 0};
    j.task = spawn_task(sleep_then_return, (void *)0x44);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, join_on_a_thread, &j) == 0);
    thread_sleep_ms(10); /* let it block first (not required) */
    run();
    CHECK(pthread_join(th, NULL) == 0);
    CHECK_RC(j.rc, JMPCO_OK);
    CHECK(j.result == (void *)0x44);
    CHECK(j.waited >= 10 && j.waited < 5000);
    CHECK_RC(jmpco_task_release(j.task), JMPCO_OK);
}

/* Runs on the other thread's scheduler: joins a task of main's. */
static void *join_in_a_coroutine(void *arg) {
    struct thread_join *j = arg;
    j->rc = jmpco_join(j->task, &j->result);
    return NULL;
}

static void *scheduler_thread_joining(void *arg) {
    jmpco_options opts = backend_options();
    if (jmpco_spawn_with(join_in_a_coroutine, arg, &opts) != JMPCO_OK) return (void *)1;
    return (void *)(intptr_t)(jmpco_run() == JMPCO_OK ? 0 : 2);
}

static void join_from_a_coroutine_of_another_threads_scheduler_parks_it(void) {
    struct thread_join j = {NULL, 99, NULL, 0};
    j.task = spawn_task(sleep_then_return, (void *)0x45);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, scheduler_thread_joining, &j) == 0);
    run();
    void *status = (void *)99;
    CHECK(pthread_join(th, &status) == 0);
    CHECK(status == NULL);
    CHECK_RC(j.rc, JMPCO_OK);
    CHECK(j.result == (void *)0x45);
    CHECK_RC(jmpco_task_release(j.task), JMPCO_OK);
}

static jmpco_task *self_task, *sibling_task, *ended_task;
static int self_join_rc, nested_join_rc, nested_ended_rc;
static void *nested_ended_value;

static void *join_from_nested(void *arg) {
    (void)arg;
    nested_join_rc = jmpco_join(sibling_task, NULL);
    nested_ended_rc = jmpco_join(ended_task, &nested_ended_value);
    return NULL;
}

static void *join_itself(void *arg) {
    (void)arg;
    self_join_rc = jmpco_join(self_task, NULL);
    jmpco_coro *co = NULL;
    CHECK_RC(jmpco_create(&co, join_from_nested, NULL, NULL), JMPCO_OK);
    CHECK_RC(jmpco_resume(co, NULL, NULL), JMPCO_OK);
    CHECK_RC(jmpco_destroy(co), JMPCO_OK);
    return NULL;
}

static void joins_that_could_never_end_are_edeadlk(void) {
    self_join_rc = nested_join_rc = nested_ended_rc = 99;
    ended_task = spawn_task(count_one, (void *)0x46); /* runs first, ends */
    self_task = spawn_task(join_itself, NULL);
    sibling_task = spawn_task(sleep_then_return, NULL);
    run();
    CHECK_RC(self_join_rc, JMPCO_EDEADLK);
    CHECK_RC(nested_join_rc, JMPCO_EDEADLK);
    CHECK_RC(nested_ended_rc, JMPCO_OK);
    CHECK(nested_ended_value == (void *)0x46);
    CHECK_RC(jmpco_task_release(self_task), JMPCO_OK);
    CHECK_RC(jmpco_task_release(sibling_task), JMPCO_OK);
    CHECK_RC(jmpco_task_release(ended_task), JMPCO_OK);
}

/* A join cycle is not detected: both tasks wait until one is cancelled. */
static jmpco_task *cycle[2];
static int cycle_rc[2];
static void *cycle_value[2];

static void *join_the_other(void *arg) {
    int me = (int)(intptr_t)arg;
    cycle_value[me] = (void *)0x55;
    cycle_rc[me] = jmpco_join(cycle[1 - me], &cycle_value[me]);
    return (void *)(intptr_t)(0x40 + me);
}

static void *break_the_cycle(void *arg) {
    (void)arg;
    CHECK_RC(jmpco_sleep_ms(30), JMPCO_OK);
    CHECK(cycle_rc[0] == 99 && cycle_rc[1] == 99); /* both still waiting */
    CHECK_RC(jmpco_cancel(cycle[0]), JMPCO_OK);
    return NULL;
}

static void a_join_cycle_waits_until_a_cancel_breaks_it(void) {
    cycle_rc[0] = cycle_rc[1] = 99;
    cycle[0] = spawn_task(join_the_other, (void *)0);
    cycle[1] = spawn_task(join_the_other, (void *)1);
    spawn(break_the_cycle, NULL);
    run();
    CHECK_RC(cycle_rc[0], JMPCO_ECANCELED);
    CHECK(cycle_value[0] == (void *)0x55); /* untouched */
    CHECK_RC(cycle_rc[1], JMPCO_OK);
    CHECK(cycle_value[1] == (void *)0x40); /* what the cancelled one returned */
    for (int i = 0; i < 2; i++) CHECK_RC(jmpco_task_release(cycle[i]), JMPCO_OK);
}

/* --- cancel ------------------------------------------------------------- */

struct cancel_test {
    jmpco_task *victim;
    int sv[2];
    int pending_rc;
    double pending_waited;
    int later[6];
    int cancel_rc;
};

/* Every wait after the cancel fails, even those that would not wait. */
static void later_waits_fail(struct cancel_test *t) {
    t->later[0] = jmpco_sleep_ms(0);
    t->later[1] = jmpco_sleep_ms(10);
    t->later[2] = jmpco_wait_fd(t->sv[0], JMPCO_WRITABLE, 0); /* ready */
    t->later[3] = jmpco_yield(NULL, NULL);
    t->later[4] = jmpco_join(ended_task, NULL);
    t->later[5] = jmpco_wait_fd(t->sv[0], JMPCO_READABLE, -1);
}

static void *wait_fd_then_return(void *arg) {
    struct cancel_test *t = arg;
    double t0 = now_ms();
    t->pending_rc = jmpco_wait_fd(t->sv[0], JMPCO_READABLE, -1);
    t->pending_waited = now_ms() - t0;
    later_waits_fail(t);
    return (void *)0x99;
}

static void *sleep_long_then_return(void *arg) {
    struct cancel_test *t = arg;
    double t0 = now_ms();
    t->pending_rc = jmpco_sleep_ms(20000);
    t->pending_waited = now_ms() - t0;
    later_waits_fail(t);
    return (void *)0x98;
}

static void *sleep_200(void *arg) {
    CHECK_RC(jmpco_sleep_ms(200), JMPCO_OK);
    return arg;
}

static jmpco_task *slow_task;
static int slow_ended, slow_ended_before_join_returned;

static void *join_slow_then_return(void *arg) {
    struct cancel_test *t = arg;
    double t0 = now_ms();
    t->pending_rc = jmpco_join(slow_task, NULL);
    t->pending_waited = now_ms() - t0;
    CHECK(jmpco_join(slow_task, NULL) == JMPCO_ECANCELED);
    slow_ended_before_join_returned = slow_ended;
    later_waits_fail(t);
    return (void *)0x97;
}

static void *mark_slow_ended(void *arg) {
    (void)arg;
    CHECK_RC(jmpco_join(slow_task, NULL), JMPCO_OK);
    slow_ended = 1;
    return NULL;
}

static void *cancel_after_10ms(void *arg) {
    struct cancel_test *t = arg;
    CHECK_RC(jmpco_sleep_ms(10), JMPCO_OK);
    t->cancel_rc = jmpco_cancel(t->victim);
    return NULL;
}

/* Spawns body(t) as the victim and a coroutine that cancels it after 10 ms;
   checks the waits it saw and its value. */
static void check_cancel_while_parked(jmpco_fn body, void *value) {
    struct cancel_test t;
    memset(&t, 0, sizeof t);
    t.pending_rc = 99;
    socket_pair(t.sv);
    ended_task = spawn_task(count_one, NULL);
    t.victim = spawn_task(body, &t);
    spawn(cancel_after_10ms, &t);
    double t0 = now_ms();
    run();
    CHECK(now_ms() - t0 < 2000); /* woken by the cancel, not by a timeout */
    CHECK_RC(t.cancel_rc, JMPCO_OK);
    CHECK_RC(t.pending_rc, JMPCO_ECANCELED);
    CHECK(t.pending_waited >= 5 && t.pending_waited < 2000);
    for (int i = 0; i < 6; i++) CHECK_RC(t.later[i], JMPCO_ECANCELED);
    void *r = NULL;
    CHECK_RC(jmpco_join(t.victim, &r), JMPCO_OK); /* it returned by itself */
    CHECK(r == value);
    CHECK_RC(jmpco_cancel(t.victim), JMPCO_OK); /* ended: nothing happens */
    CHECK_RC(jmpco_join(t.victim, &r), JMPCO_OK);
    CHECK(r == value);
    CHECK_RC(jmpco_task_release(t.victim), JMPCO_OK);
    CHECK_RC(jmpco_task_release(ended_task), JMPCO_OK);
    close_pair(t.sv);
}

static void cancel_while_parked_in_wait_fd_fails_it_and_every_later_wait(void) {
    check_cancel_while_parked(wait_fd_then_return, (void *)0x99);
}

static void cancel_while_parked_in_sleep_fails_it_and_every_later_wait(void) {
    check_cancel_while_parked(sleep_long_then_return, (void *)0x98);
}

static void cancel_while_parked_in_join_fails_it_and_every_later_wait(void) {
    slow_ended = 0;
    slow_ended_before_join_returned = 99;
    slow_task = spawn_task(sleep_200, (void *)0x60);
    spawn(mark_slow_ended, NULL);
    check_cancel_while_parked(join_slow_then_return, (void *)0x97);
    CHECK(slow_ended_before_join_returned == 0); /* did not wait for it */
    CHECK(slow_ended == 1);
    void *r = NULL;
    CHECK_RC(jmpco_join(slow_task, &r), JMPCO_OK); /* unaffected */
    CHECK(r == (void *)0x60);
    CHECK_RC(jmpco_task_release(slow_task), JMPCO_OK);
}

static int ran_flag;
static void *set_ran_flag(void *arg) {
    ran_flag = 1;
    return arg;
}

static int unstarted_join_rc;
static void *spawn_then_cancel_unstarted(void *arg) {
    (void)arg;
    jmpco_task *child = spawn_task(set_ran_flag, (void *)0x1);
    CHECK_RC(jmpco_cancel(child), JMPCO_OK);
    unstarted_join_rc = jmpco_join(child, NULL);
    CHECK_RC(jmpco_task_release(child), JMPCO_OK);
    return NULL;
}

static void cancel_of_a_task_not_started_means_it_never_runs(void) {
    ran_flag = 0;
    jmpco_task *task = spawn_task(set_ran_flag, (void *)0x1);
    CHECK_RC(jmpco_cancel(task), JMPCO_OK);
    CHECK_RC(jmpco_cancel(task), JMPCO_OK); /* twice: nothing more */
    void *r = SENTINEL;
    CHECK_RC(jmpco_join(task, &r), JMPCO_ECANCELED); /* ended: no EDEADLK */
    CHECK(r == SENTINEL);
    run();
    CHECK(ran_flag == 0);
    CHECK_RC(jmpco_join(task, &r), JMPCO_ECANCELED);
    CHECK_RC(jmpco_task_release(task), JMPCO_OK);

    /* The same from inside a coroutine. */
    unstarted_join_rc = 99;
    spawn(spawn_then_cancel_unstarted, NULL);
    run();
    CHECK(ran_flag == 0);
    CHECK_RC(unstarted_join_rc, JMPCO_ECANCELED);
}

static jmpco_task *me_task;
static int self_cancel_rcs[3];
static void *cancel_myself(void *arg) {
    (void)arg;
    self_cancel_rcs[0] = jmpco_cancel(me_task);
    self_cancel_rcs[1] = jmpco_sleep_ms(0);
    self_cancel_rcs[2] = jmpco_sleep_ms(0);
    return (void *)0x55;
}

static void a_task_that_cancels_itself_fails_its_next_waits(void) {
    me_task = spawn_task(cancel_myself, NULL);
    run();
    CHECK_RC(self_cancel_rcs[0], JMPCO_OK);
    CHECK_RC(self_cancel_rcs[1], JMPCO_ECANCELED);
    CHECK_RC(self_cancel_rcs[2], JMPCO_ECANCELED);
    void *r = NULL;
    CHECK_RC(jmpco_join(me_task, &r), JMPCO_OK);
    CHECK(r == (void *)0x55);
    CHECK_RC(jmpco_task_release(me_task), JMPCO_OK);
}

static jmpco_task *yielder_task;
static int queued_yield_rc;
static void *yield_once(void *arg) {
    (void)arg;
    queued_yield_rc = jmpco_yield(NULL, NULL);
    return NULL;
}

static void *cancel_the_yielder(void *arg) {
    (void)arg;
    CHECK_RC(jmpco_cancel(yielder_task), JMPCO_OK);
    return NULL;
}

static void cancel_while_queued_after_a_yield_fails_the_yield(void) {
    queued_yield_rc = 99;
    yielder_task = spawn_task(yield_once, NULL);
    spawn(cancel_the_yielder, NULL); /* runs while the yielder is queued */
    run();
    CHECK_RC(queued_yield_rc, JMPCO_ECANCELED);
    CHECK_RC(jmpco_task_release(yielder_task), JMPCO_OK);
}

static void *cancel_from_a_thread(void *arg) {
    thread_sleep_ms(30);
    return (void *)(intptr_t)jmpco_cancel(arg);
}

static void cancel_from_another_thread_reaches_a_parked_task(void) {
    struct cancel_test t;
    memset(&t, 0, sizeof t);
    t.pending_rc = 99;
    socket_pair(t.sv);
    ended_task = spawn_task(count_one, NULL);
    t.victim = spawn_task(wait_fd_then_return, &t);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, cancel_from_a_thread, t.victim) == 0);
    double t0 = now_ms();
    run();
    CHECK(now_ms() - t0 < 5000);
    void *rc = (void *)99;
    CHECK(pthread_join(th, &rc) == 0);
    CHECK(rc == (void *)JMPCO_OK);
    CHECK_RC(t.pending_rc, JMPCO_ECANCELED);
    CHECK(t.pending_waited >= 20);
    void *r = NULL;
    CHECK_RC(jmpco_join(t.victim, &r), JMPCO_OK);
    CHECK(r == (void *)0x99);
    CHECK_RC(jmpco_task_release(t.victim), JMPCO_OK);
    CHECK_RC(jmpco_task_release(ended_task), JMPCO_OK);
    close_pair(t.sv);
}

/* --- handles that are never joined -------------------------------------- */

static void a_released_or_never_joined_task_runs_to_its_end(void) {
    counter = 0;
    CHECK_RC(jmpco_task_release(spawn_task(count_one, NULL)), JMPCO_OK);
    jmpco_task *kept = spawn_task(count_one, NULL);
    run();
    CHECK(counter == 2);
    CHECK_RC(jmpco_task_release(kept), JMPCO_OK); /* never joined */
}

/* Spawns two tasks and exits without running them. */
static void *spawn_and_exit(void *arg) {
    jmpco_task **tasks = arg;
    jmpco_options opts = backend_options();
    for (int i = 0; i < 2; i++)
        if (jmpco_spawn_task(&tasks[i], set_ran_flag, (void *)0x1, &opts) != JMPCO_OK)
            tasks[i] = NULL;
    return NULL;
}

static void tasks_of_a_thread_that_exits_unrun_join_as_canceled(void) {
    ran_flag = 0;
    jmpco_task *tasks[2] = {NULL, NULL};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, spawn_and_exit, tasks) == 0);
    CHECK(pthread_join(th, NULL) == 0);
    for (int i = 0; i < 2; i++) {
        CHECK(tasks[i] != NULL);
        if (tasks[i] == NULL) continue;
        void *r = SENTINEL;
        CHECK_RC(jmpco_join(tasks[i], &r), JMPCO_ECANCELED);
        CHECK(r == SENTINEL);
        CHECK_RC(jmpco_cancel(tasks[i]), JMPCO_OK);
    }
    CHECK(ran_flag == 0);
    for (int i = 0; i < 2; i++)
        if (tasks[i] != NULL) CHECK_RC(jmpco_task_release(tasks[i]), JMPCO_OK);
}

/* --- refusals ----------------------------------------------------------- */

static void bad_arguments_are_einval(void) {
    jmpco_task *task = (jmpco_task *)SENTINEL;
    CHECK_RC(jmpco_spawn_task(NULL, count_one, NULL, NULL), JMPCO_EINVAL);
    CHECK_RC(jmpco_spawn_task(&task, NULL, NULL, NULL), JMPCO_EINVAL);
    jmpco_options opts;
    jmpco_options_init(&opts);
    opts.stack_size = SIZE_MAX;
    CHECK_RC(jmpco_spawn_task(&task, count_one, NULL, &opts), JMPCO_EINVAL);
    jmpco_options_init(&opts);
    int bad_backend = 77;
    memcpy(&opts.backend, &bad_backend, sizeof bad_backend);
    CHECK_RC(jmpco_spawn_task(&task, count_one, NULL, &opts), JMPCO_EINVAL);
    /* 128 TiB: more than a 47-bit user address space can hold. */
    opts = backend_options();
    opts.stack_size = (size_t)1 << 47;
    CHECK_RC(jmpco_spawn_task(&task, count_one, NULL, &opts), JMPCO_ENOMEM);
    CHECK(task == (jmpco_task *)SENTINEL);
    counter = 0;
    run();
    CHECK(counter == 0); /* nothing was spawned by the refusals */
    void *r = SENTINEL;
    CHECK_RC(jmpco_join(NULL, &r), JMPCO_EINVAL);
    CHECK(r == SENTINEL);
    CHECK_RC(jmpco_cancel(NULL), JMPCO_EINVAL);
    CHECK_RC(jmpco_task_release(NULL), JMPCO_EINVAL);
    /* Defaults (NULL options) work. */
    CHECK_RC(jmpco_spawn_task(&task, count_one, (void *)0x2, NULL), JMPCO_OK);
    run();
    CHECK_RC(jmpco_join(task, &r), JMPCO_OK);
    CHECK(r == (void *)0x2);
    CHECK_RC(jmpco_task_release(task), JMPCO_OK);
}

static void codes_have_the_documented_values_and_messages(void) {
    CHECK(JMPCO_EDEADLK == -9 && JMPCO_ECANCELED == -7);
    const char *deadlk = jmpco_strerror(JMPCO_EDEADLK);
    CHECK(strstr(deadlk, "never end") != NULL);
    CHECK(strstr(jmpco_strerror(JMPCO_ECANCELED), "cancelled") != NULL);
    const int others[] = {JMPCO_OK,    JMPCO_EINVAL,   JMPCO_ENOMEM,    JMPCO_EDONE,
                          JMPCO_EBUSY, JMPCO_ENOTCORO, JMPCO_ETIMEDOUT, JMPCO_ECANCELED,
                          12345};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        CHECK(strcmp(deadlk, jmpco_strerror(others[i])) != 0);
}

int main(void) {
    /* This thread's scheduler (an epoll fd and an eventfd) lives until the
       thread exits: make it before counting. */
    backend_name = "setup";
    spawn(count_one, NULL);
    run();
    int baseline = open_fds();
    FOR_EACH_BACKEND(3) {
        current_in_a_spawned_coroutine_is_exec_with_an_id_of_its_own();
        yield_in_a_spawned_coroutine_lets_the_others_run_then_continues();
        join_from_a_coroutine_parks_it_until_the_value_comes();
        join_on_the_tasks_thread_outside_run_is_edeadlk_until_it_ended();
        join_from_another_thread_blocks_until_the_task_ends();
        join_from_a_coroutine_of_another_threads_scheduler_parks_it();
        joins_that_could_never_end_are_edeadlk();
        a_join_cycle_waits_until_a_cancel_breaks_it();
        cancel_while_parked_in_wait_fd_fails_it_and_every_later_wait();
        cancel_while_parked_in_sleep_fails_it_and_every_later_wait();
        cancel_while_parked_in_join_fails_it_and_every_later_wait();
        cancel_of_a_task_not_started_means_it_never_runs();
        a_task_that_cancels_itself_fails_its_next_waits();
        cancel_while_queued_after_a_yield_fails_the_yield();
        cancel_from_another_thread_reaches_a_parked_task();
        a_released_or_never_joined_task_runs_to_its_end();
        tasks_of_a_thread_that_exits_unrun_join_as_canceled();
        bad_arguments_are_einval();
        codes_have_the_documented_values_and_messages();
        CHECK(open_fds() == baseline); /* threads' schedulers, registrations */
    }
    return report("task_test");
}
