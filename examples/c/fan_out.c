/*
 * fan_out.c: fan work out to worker coroutines over a channel, collect the
 * results until a deadline, and cancel the stragglers, through jmpco's C
 * runtime tier (jmpco_spawn_task, jmpco_chan_*, jmpco_cancel, jmpco_join).
 *
 *   producer --jobs--> worker x4 --results--> coordinator
 *
 * A producer coroutine sends 12 jobs over a bounded channel; 4 worker tasks
 * take them and "work" (jmpco_sleep_ms for the job's duration), sending
 * each finished job back over a results channel. Two jobs hang (a stuck
 * backend, say). The coordinator collects results until its deadline, then
 * cancels the workers still busy: a cancelled worker's wait returns
 * JMPCO_ECANCELED, and it gives up its job and returns. Every job ends in
 * exactly one of three states, and the program checks that it does:
 *
 *   done       its result reached the coordinator
 *   abandoned  a worker had it when it was cancelled
 *   unstarted  no worker took it before the deadline
 *
 * All of it runs on one thread, one coroutine at a time: the structs below
 * are shared without locks. It prints a short summary and exits 0 only if
 * every job was counted exactly once. It takes about DEADLINE_MS.
 *
 * Build and run (from the repository root):
 *   cargo build --release
 *   make -C examples/c
 *   ./examples/c/fan_out            (linked with libjmpco.a)
 *   ./examples/c/fan_out-shared     (linked with libjmpco.so)
 */
#define _POSIX_C_SOURCE 199309L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "jmpco.h"

#define JOBS 12
#define WORKERS 4
#define DEADLINE_MS 400
#define STUCK_MS 60000 /* far past the deadline: only a cancel ends it */

enum outcome { PENDING, DONE, ABANDONED, UNSTARTED };

struct farm;

struct job {
    int id;
    unsigned ms;          /* how long the work takes */
    enum outcome outcome; /* set once, by whoever decides the job's fate */
    int counted;          /* how many times a fate was set: must end at 1 */
};

struct worker {
    struct farm *farm;
    jmpco_task *task;
    int ended;     /* its body has returned */
    int cancelled; /* it stopped because a wait returned JMPCO_ECANCELED */
};

/* What every coroutine shares (one thread: no locks needed). */
struct farm {
    jmpco_chan *jobs;    /* producer -> workers, bounded: back-pressure */
    jmpco_chan *results; /* workers -> coordinator, room for every job */
    struct job job[JOBS];
    struct worker worker[WORKERS];
    int tally[4]; /* jobs per outcome */
};

static void check(int rc, const char *what) {
    if (rc != JMPCO_OK) {
        fprintf(stderr, "fan_out: %s: %s\n", what, jmpco_strerror(rc));
        exit(1);
    }
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Records a job's fate. Called once per job if the program is right. */
static void settle(struct farm *f, struct job *job, enum outcome outcome) {
    job->outcome = outcome;
    job->counted++;
    f->tally[outcome]++;
}

/* Sends every job, then closes the channel: "no more work". If the
   coordinator closes it first (its deadline passed while this waited for
   room), the jobs not sent are unstarted. */
static void *producer(void *arg) {
    struct farm *f = arg;
    for (int i = 0; i < JOBS; i++) {
        int rc = jmpco_chan_send(f->jobs, &f->job[i], -1); /* waits while full */
        if (rc != JMPCO_OK) {                              /* JMPCO_ECLOSED */
            for (int j = i; j < JOBS; j++) settle(f, &f->job[j], UNSTARTED);
            return NULL;
        }
    }
    jmpco_chan_close(f->jobs); /* JMPCO_ECLOSED if the coordinator beat us */
    return NULL;
}

/* Takes jobs until the channel is closed and drained; returns how many it
   finished. A cancel makes its current wait (the work, or the wait for a
   job) return JMPCO_ECANCELED: it gives up its job and returns. */
static void *worker(void *arg) {
    struct worker *w = arg;
    struct farm *f = w->farm;
    uintptr_t finished = 0;
    void *msg;
    int rc;
    while ((rc = jmpco_chan_recv(f->jobs, &msg, -1)) == JMPCO_OK) {
        struct job *job = msg;
        rc = jmpco_sleep_ms(job->ms); /* the work: parks this worker only */
        if (rc == JMPCO_OK) rc = jmpco_chan_send(f->results, job, 0); /* has room */
        if (rc != JMPCO_OK) { /* cancelled: the job is not done */
            settle(f, job, ABANDONED);
            break;
        }
        finished++;
    }
    /* JMPCO_ECLOSED: no more jobs. JMPCO_ECANCELED: told to stop. */
    if (rc != JMPCO_ECLOSED && rc != JMPCO_ECANCELED) check(rc, "worker");
    w->cancelled = rc == JMPCO_ECANCELED;
    w->ended = 1;
    return (void *)finished;
}

static jmpco_task *spawn_task(jmpco_fn fn, void *arg) {
    jmpco_task *task = NULL;
    check(jmpco_spawn_task(&task, fn, arg, NULL), "jmpco_spawn_task");
    return task;
}

/* Starts the others, collects results until the deadline, cancels the
   workers still busy, joins everyone, frees everything, and checks that
   every job was counted exactly once: returns arg if so, else NULL. */
static void *coordinator(void *arg) {
    struct farm *f = arg;
    check(jmpco_chan_make(2, &f->jobs), "jmpco_chan_make");
    check(jmpco_chan_make(JOBS, &f->results), "jmpco_chan_make");
    jmpco_task *producer_task = spawn_task(producer, f);
    for (int i = 0; i < WORKERS; i++) {
        f->worker[i].farm = f;
        f->worker[i].task = spawn_task(worker, &f->worker[i]);
    }

    /* Collect: wait for each result, never past the deadline. */
    double deadline = now_ms() + DEADLINE_MS;
    void *msg;
    while (f->tally[DONE] < JOBS) {
        int left = (int)(deadline - now_ms());
        if (left <= 0) break;
        int rc = jmpco_chan_recv(f->results, &msg, left);
        if (rc == JMPCO_ETIMEDOUT) break;
        check(rc, "recv result");
        settle(f, msg, DONE);
    }
    printf("fan_out: %d jobs, %d workers, deadline %d ms: %d done in time\n", JOBS, WORKERS,
           DEADLINE_MS, f->tally[DONE]);

    /* Stop handing out work: jobs nobody took are unstarted. */
    jmpco_chan_close(f->jobs); /* JMPCO_ECLOSED if the producer closed it */
    while (jmpco_chan_recv(f->jobs, &msg, 0) == JMPCO_OK) settle(f, msg, UNSTARTED);

    /* Cancel the workers still at it. Cancelling does not stop them: it
       makes their waits fail, and they return by themselves. */
    for (int i = 0; i < WORKERS; i++)
        if (!f->worker[i].ended) check(jmpco_cancel(f->worker[i].task), "jmpco_cancel");

    /* Join everyone (parks this coroutine while they finish), release. */
    uintptr_t finished = 0;
    int cancelled = 0;
    for (int i = 0; i < WORKERS; i++) {
        void *value = NULL;
        int rc = jmpco_join(f->worker[i].task, &value);
        if (rc == JMPCO_ECANCELED) { /* cancelled before it ever ran: no value */
            cancelled++;
        } else {
            check(rc, "jmpco_join");
            finished += (uintptr_t)value;
            cancelled += f->worker[i].cancelled;
        }
        check(jmpco_task_release(f->worker[i].task), "jmpco_task_release");
    }
    check(jmpco_join(producer_task, NULL), "jmpco_join");
    check(jmpco_task_release(producer_task), "jmpco_task_release");

    /* A result sent just as its worker was cancelled is still done. */
    while (jmpco_chan_recv(f->results, &msg, 0) == JMPCO_OK) settle(f, msg, DONE);
    /* No call is in progress on the channels any more: free them. */
    check(jmpco_chan_free(f->jobs), "jmpco_chan_free");
    check(jmpco_chan_free(f->results), "jmpco_chan_free");

    printf("fan_out: cancelled %d busy workers; abandoned jobs:", cancelled);
    for (int i = 0; i < JOBS; i++)
        if (f->job[i].outcome == ABANDONED) printf(" %d", f->job[i].id);
    printf("\n");

    /* The accounting: every job counted exactly once, and the workers'
       own counts agree with the results received. */
    int once = 1;
    for (int i = 0; i < JOBS; i++) once &= f->job[i].counted == 1;
    int sum = f->tally[DONE] + f->tally[ABANDONED] + f->tally[UNSTARTED];
    int ok = once && sum == JOBS && finished == (uintptr_t)f->tally[DONE];
    printf("fan_out: %d jobs = %d done + %d abandoned + %d unstarted: %s\n", JOBS,
           f->tally[DONE], f->tally[ABANDONED], f->tally[UNSTARTED],
           ok ? "each counted once" : "ACCOUNTING FAILED");
    return ok ? f : NULL;
}

int main(void) {
    static struct farm f; /* zeroed: no job has a fate yet */
    for (int i = 0; i < JOBS; i++) {
        f.job[i].id = i;
        /* Jobs 2 and 5 hang; the others take 5 to 20 ms. */
        f.job[i].ms = (i == 2 || i == 5) ? STUCK_MS : 5 + (unsigned)(i * 7) % 16;
    }
    /* The coordinator is a task too (a coroutine, so jmpco_join parks
       it); its return value is the verdict. */
    jmpco_task *boss = spawn_task(coordinator, &f);
    check(jmpco_run(), "jmpco_run"); /* returns once every coroutine ended */
    void *verdict = NULL;
    check(jmpco_join(boss, &verdict), "jmpco_join");
    check(jmpco_task_release(boss), "jmpco_task_release");
    return verdict == &f ? 0 : 1;
}
