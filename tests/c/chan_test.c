/*
 * chan_test.c: the C API's channels (jmpco_chan_make, _send, _recv, _close,
 * _free), checked from C through include/jmpco.h: between coroutines of one
 * scheduler, between two threads' schedulers, between plain threads and
 * coroutines; timeouts, close, free, ordering, backpressure, rendezvous;
 * jmpco_spawn_task tasks cancelled in channel waits (from their thread and
 * from another), a cancelled task's later calls, a message handed to a
 * receiver, or taken from a sender, as it is cancelled.
 * Built and run by tests/c_api.rs against both libjmpco.a and libjmpco.so,
 * and by scripts/valgrind-c.sh under memcheck.
 *
 * Every test runs once per backend (the spawned coroutines' backend), except
 * the big exchange: 10,000 coroutines passing 1,000,000 messages over one
 * channel, which runs once (well under a second natively, a few seconds
 * under memcheck).
 *
 * Prints one line per failed check and a closing
 * "chan_test: N passed, N failed"; exits 0 only if nothing failed. Timing
 * bounds are loose (a loaded machine is slow, never early). Threads other
 * than the main one record what they saw; main checks it after joining. A
 * hang (a lost wake-up) ends the program by SIGALRM after 300 s.
 */
#define _POSIX_C_SOURCE 200809L
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jmpco.h"

#include "counted_checks.h"
#include "runtime_support.h"

#define V(n) ((void *)(uintptr_t)(n))
#define N(p) ((uintptr_t)(p))

static jmpco_chan *make(size_t capacity) {
    jmpco_chan *ch = NULL;
    int rc = jmpco_chan_make(capacity, &ch);
    if (rc != JMPCO_OK || ch == NULL) {
        printf("FAIL [%s] jmpco_chan_make: %s\n", backend_name, jmpco_strerror(rc));
        exit(1);
    }
    return ch;
}

static void start_thread(pthread_t *t, void *(*fn)(void *), void *arg) {
    if (pthread_create(t, NULL, fn, arg) != 0) {
        perror("pthread_create");
        exit(1);
    }
}

/* --- arguments and codes ------------------------------------------------ */

static void bad_arguments_are_einval_and_change_nothing(void) {
    jmpco_chan *ch = NULL;
    void *out = V(0xdead);
    CHECK_RC(jmpco_chan_make(1, NULL), JMPCO_EINVAL);
    CHECK_RC(jmpco_chan_send(NULL, V(1), 0), JMPCO_EINVAL);
    CHECK_RC(jmpco_chan_send(NULL, V(1), -1), JMPCO_EINVAL);
    CHECK_RC(jmpco_chan_recv(NULL, &out, 0), JMPCO_EINVAL);
    CHECK_RC(jmpco_chan_close(NULL), JMPCO_EINVAL);
    CHECK_RC(jmpco_chan_free(NULL), JMPCO_EINVAL);
    CHECK_RC(jmpco_chan_make(1, &ch), JMPCO_OK);
    CHECK(ch != NULL);
    CHECK_RC(jmpco_chan_recv(ch, NULL, 0), JMPCO_EINVAL);
    CHECK_RC(jmpco_chan_recv(ch, NULL, -1), JMPCO_EINVAL);
    CHECK_RC(jmpco_chan_send(ch, V(1), -2), JMPCO_EINVAL);
    CHECK_RC(jmpco_chan_send(ch, V(1), INT_MIN), JMPCO_EINVAL);
    CHECK_RC(jmpco_chan_recv(ch, &out, -2), JMPCO_EINVAL);
    CHECK_RC(jmpco_chan_recv(ch, &out, INT_MIN), JMPCO_EINVAL);
    CHECK(out == V(0xdead));
    /* Nothing was sent by the refusals: the channel is empty, open. */
    CHECK_RC(jmpco_chan_recv(ch, &out, 0), JMPCO_ETIMEDOUT);
    CHECK(out == V(0xdead));
    CHECK_RC(jmpco_chan_send(ch, V(1), 0), JMPCO_OK);
    CHECK_RC(jmpco_chan_free(ch), JMPCO_OK);
}

static void codes_have_the_documented_values_and_messages(void) {
    CHECK(JMPCO_ECLOSED == -8);
    CHECK(strstr(jmpco_strerror(JMPCO_ECLOSED), "closed") != NULL);
    CHECK(strcmp(jmpco_strerror(JMPCO_ECLOSED), jmpco_strerror(-99)) != 0);
}

/* --- a plain thread: it blocks ------------------------------------------ */

static void a_plain_thread_sends_receives_in_order_and_times_out(void) {
    jmpco_chan *ch = make(3);
    void *out = V(0xdead);
    for (uintptr_t i = 1; i <= 3; i++) CHECK_RC(jmpco_chan_send(ch, V(i), 0), JMPCO_OK);
    CHECK_RC(jmpco_chan_send(ch, V(4), 0), JMPCO_ETIMEDOUT); /* full: try */
    double t0 = now_ms();
    CHECK_RC(jmpco_chan_send(ch, V(4), 30), JMPCO_ETIMEDOUT);
    double took = now_ms() - t0;
    CHECK(took >= 30 && took < 500);
    for (uintptr_t i = 1; i <= 3; i++) {
        CHECK_RC(jmpco_chan_recv(ch, &out, -1), JMPCO_OK); /* buffered: no wait */
        CHECK(out == V(i));
    }
    out = V(0xdead);
    CHECK_RC(jmpco_chan_recv(ch, &out, 0), JMPCO_ETIMEDOUT); /* V(4) was never sent */
    t0 = now_ms();
    CHECK_RC(jmpco_chan_recv(ch, &out, 40), JMPCO_ETIMEDOUT);
    took = now_ms() - t0;
    CHECK(took >= 40 && took < 500);
    CHECK(out == V(0xdead));
    /* Freed with messages buffered: they are dropped (memcheck: no leak). */
    CHECK_RC(jmpco_chan_send(ch, V(5), 0), JMPCO_OK);
    CHECK_RC(jmpco_chan_send(ch, NULL, 0), JMPCO_OK); /* NULL is a message too */
    CHECK_RC(jmpco_chan_recv(ch, &out, 0), JMPCO_OK);
    CHECK(out == V(5));
    CHECK_RC(jmpco_chan_recv(ch, &out, 0), JMPCO_OK);
    CHECK(out == NULL);
    CHECK_RC(jmpco_chan_send(ch, V(6), 0), JMPCO_OK);
    CHECK_RC(jmpco_chan_free(ch), JMPCO_OK);
}

/* --- rendezvous --------------------------------------------------------- */

struct meet {
    jmpco_chan *ch;
    char log[16];
    size_t len;
    int rc[4];
    void *got[2];
    double send_took;
};

static void *meet_receiver(void *arg) {
    struct meet *m = arg;
    m->rc[0] = jmpco_chan_recv(m->ch, &m->got[0], -1); /* parks: nobody sends yet */
    m->log[m->len++] = 'r';
    CHECK_RC(jmpco_sleep_ms(20), JMPCO_OK);
    m->rc[1] = jmpco_chan_recv(m->ch, &m->got[1], 2000); /* a sender waits: at once */
    m->log[m->len++] = 'R';
    return NULL;
}

static void *meet_sender(void *arg) {
    struct meet *m = arg;
    /* The receiver, spawned first, waits: a try hands it the message. */
    m->rc[2] = jmpco_chan_send(m->ch, V(1), 0);
    m->log[m->len++] = 's';
    double t0 = now_ms();
    m->rc[3] = jmpco_chan_send(m->ch, V(2), -1); /* waits for the receiver */
    m->send_took = now_ms() - t0;
    m->log[m->len++] = 'S';
    return NULL;
}

static void a_rendezvous_send_waits_for_its_receiver(void) {
    struct meet m = {make(0), {0}, 0, {99, 99, 99, 99}, {NULL, NULL}, 0};
    void *out = V(0xdead);
    CHECK_RC(jmpco_chan_send(m.ch, V(1), 0), JMPCO_ETIMEDOUT);
    CHECK_RC(jmpco_chan_recv(m.ch, &out, 0), JMPCO_ETIMEDOUT);
    CHECK_RC(jmpco_chan_send(m.ch, V(1), 20), JMPCO_ETIMEDOUT); /* a plain thread */
    spawn(meet_receiver, &m);
    spawn(meet_sender, &m);
    run();
    for (int i = 0; i < 4; i++) CHECK_RC(m.rc[i], JMPCO_OK);
    CHECK(m.got[0] == V(1) && m.got[1] == V(2));
    m.log[m.len] = '\0';
    /* The receiver takes the second message straight from the parked
       sender's hand and runs on; the sender resumes after. */
    CHECK(strcmp(m.log, "srRS") == 0);
    CHECK(m.send_took >= 15 && m.send_took < 1000);
    CHECK_RC(jmpco_chan_recv(m.ch, &out, 0), JMPCO_ETIMEDOUT); /* nothing buffered */
    CHECK_RC(jmpco_chan_free(m.ch), JMPCO_OK);
}

/* --- backpressure and order --------------------------------------------- */

struct flow {
    jmpco_chan *ch;
    int sent, sent_when_consumer_started, in_order, failures;
};

static void *flow_producer(void *arg) {
    struct flow *f = arg;
    for (uintptr_t i = 1; i <= 10; i++) {
        if (jmpco_chan_send(f->ch, V(i), -1) != JMPCO_OK) f->failures++;
        f->sent++;
    }
    return NULL;
}

static void *flow_consumer(void *arg) {
    struct flow *f = arg;
    CHECK_RC(jmpco_sleep_ms(20), JMPCO_OK);
    f->sent_when_consumer_started = f->sent;
    for (uintptr_t i = 1; i <= 10; i++) {
        void *out = NULL;
        if (jmpco_chan_recv(f->ch, &out, 1000) != JMPCO_OK) f->failures++;
        if (out == V(i)) f->in_order++;
    }
    return NULL;
}

static void a_full_channel_parks_its_sender_until_a_receive_makes_room(void) {
    struct flow f = {make(3), 0, -1, 0, 0};
    spawn(flow_producer, &f);
    spawn(flow_consumer, &f);
    run();
    CHECK(f.sent_when_consumer_started == 3); /* parked on the fourth */
    CHECK(f.sent == 10);
    CHECK(f.in_order == 10);
    CHECK(f.failures == 0);
    CHECK_RC(jmpco_chan_free(f.ch), JMPCO_OK);
}

#define PRODUCERS 4
#define PER_PRODUCER 1000

struct order {
    jmpco_chan *ch;
    int live_producers;
    uintptr_t next[PRODUCERS];
    int received, out_of_order, failures, end;
};

static struct order order_state;

static void *order_producer(void *arg) {
    uintptr_t p = (uintptr_t)arg;
    struct order *o = &order_state;
    for (uintptr_t seq = 0; seq < PER_PRODUCER; seq++) {
        if (jmpco_chan_send(o->ch, V(p << 16 | seq), -1) != JMPCO_OK) o->failures++;
        if (seq % 7 == 0) jmpco_sleep_ms(0); /* mix the producers up */
    }
    if (--o->live_producers == 0) CHECK_RC(jmpco_chan_close(o->ch), JMPCO_OK);
    return NULL;
}

static void *order_consumer(void *arg) {
    (void)arg;
    struct order *o = &order_state;
    void *out;
    int rc;
    while ((rc = jmpco_chan_recv(o->ch, &out, -1)) == JMPCO_OK) {
        uintptr_t p = N(out) >> 16, seq = N(out) & 0xffff;
        if (p >= PRODUCERS || seq != o->next[p]) o->out_of_order++;
        if (p < PRODUCERS) o->next[p] = seq + 1;
        o->received++;
    }
    o->end = rc;
    return NULL;
}

static void each_producers_messages_come_out_in_the_order_it_sent_them(void) {
    memset(&order_state, 0, sizeof order_state);
    order_state.ch = make(2);
    order_state.live_producers = PRODUCERS;
    spawn(order_consumer, NULL);
    for (uintptr_t p = 0; p < PRODUCERS; p++) spawn(order_producer, (void *)p);
    run();
    CHECK(order_state.received == PRODUCERS * PER_PRODUCER);
    CHECK(order_state.out_of_order == 0);
    CHECK(order_state.failures == 0);
    CHECK_RC(order_state.end, JMPCO_ECLOSED);
    CHECK_RC(jmpco_chan_free(order_state.ch), JMPCO_OK);
}

/* --- close -------------------------------------------------------------- */

static void a_closed_channel_refuses_sends_and_drains_then_reports_closed(void) {
    jmpco_chan *ch = make(4);
    void *out = V(0xdead);
    CHECK_RC(jmpco_chan_send(ch, V(1), 0), JMPCO_OK);
    CHECK_RC(jmpco_chan_send(ch, V(2), 0), JMPCO_OK);
    CHECK_RC(jmpco_chan_close(ch), JMPCO_OK);
    CHECK_RC(jmpco_chan_close(ch), JMPCO_ECLOSED);
    CHECK_RC(jmpco_chan_send(ch, V(3), 0), JMPCO_ECLOSED);
    CHECK_RC(jmpco_chan_send(ch, V(3), -1), JMPCO_ECLOSED); /* no wait */
    CHECK_RC(jmpco_chan_send(ch, V(3), 50), JMPCO_ECLOSED);
    CHECK_RC(jmpco_chan_recv(ch, &out, -1), JMPCO_OK);
    CHECK(out == V(1));
    CHECK_RC(jmpco_chan_recv(ch, &out, 0), JMPCO_OK);
    CHECK(out == V(2));
    out = V(0xdead);
    double t0 = now_ms();
    CHECK_RC(jmpco_chan_recv(ch, &out, 0), JMPCO_ECLOSED);
    CHECK_RC(jmpco_chan_recv(ch, &out, 50), JMPCO_ECLOSED);
    CHECK_RC(jmpco_chan_recv(ch, &out, -1), JMPCO_ECLOSED);
    CHECK(now_ms() - t0 < 40); /* none of them waited */
    CHECK(out == V(0xdead));
    CHECK_RC(jmpco_chan_free(ch), JMPCO_OK);
}

struct closing {
    jmpco_chan *ch;
    int rc[4];
    int closed_rc;
    int receivers, senders; /* started so far */
};

static void *closing_receiver(void *arg) {
    struct closing *c = arg;
    int me = c->receivers++;
    void *out = V(0xdead);
    c->rc[me] = jmpco_chan_recv(c->ch, &out, -1);
    CHECK(out == V(0xdead));
    return NULL;
}

static void *closing_sender(void *arg) {
    struct closing *c = arg;
    int me = c->senders++;
    c->rc[2 + me] = jmpco_chan_send(c->ch, V(100 + me), -1);
    return NULL;
}

static void *closer(void *arg) {
    struct closing *c = arg;
    CHECK_RC(jmpco_sleep_ms(10), JMPCO_OK);
    c->closed_rc = jmpco_chan_close(c->ch);
    return NULL;
}

static void closing_wakes_waiting_receivers_and_senders_with_eclosed(void) {
    /* Two receivers parked on an empty channel. */
    struct closing c = {make(1), {99, 99, 99, 99}, 99, 0, 0};
    spawn(closing_receiver, &c);
    spawn(closing_receiver, &c);
    spawn(closer, &c);
    run();
    CHECK_RC(c.closed_rc, JMPCO_OK);
    CHECK_RC(c.rc[0], JMPCO_ECLOSED);
    CHECK_RC(c.rc[1], JMPCO_ECLOSED);
    CHECK_RC(jmpco_chan_free(c.ch), JMPCO_OK);

    /* Two senders parked on a full one: their messages are not sent, the
       buffered one is still received. */
    struct closing d = {make(1), {99, 99, 99, 99}, 99, 0, 0};
    CHECK_RC(jmpco_chan_send(d.ch, V(1), 0), JMPCO_OK);
    spawn(closing_sender, &d);
    spawn(closing_sender, &d);
    spawn(closer, &d);
    run();
    CHECK_RC(d.closed_rc, JMPCO_OK);
    CHECK_RC(d.rc[2], JMPCO_ECLOSED);
    CHECK_RC(d.rc[3], JMPCO_ECLOSED);
    void *out = NULL;
    CHECK_RC(jmpco_chan_recv(d.ch, &out, 0), JMPCO_OK);
    CHECK(out == V(1));
    CHECK_RC(jmpco_chan_recv(d.ch, &out, -1), JMPCO_ECLOSED);
    CHECK_RC(jmpco_chan_free(d.ch), JMPCO_OK);
}

struct blocked {
    jmpco_chan *ch;
    int rc;
    double took;
};

static void *blocked_receiver_thread(void *arg) {
    struct blocked *b = arg;
    void *out;
    double t0 = now_ms();
    b->rc = jmpco_chan_recv(b->ch, &out, -1);
    b->took = now_ms() - t0;
    return NULL;
}

static void closing_wakes_a_plain_thread_blocked_in_recv(void) {
    struct blocked b = {make(0), 99, 0};
    pthread_t t;
    start_thread(&t, blocked_receiver_thread, &b);
    struct timespec pause = {0, 30 * 1000 * 1000};
    nanosleep(&pause, NULL);
    CHECK_RC(jmpco_chan_close(b.ch), JMPCO_OK);
    CHECK(pthread_join(t, NULL) == 0);
    CHECK_RC(b.rc, JMPCO_ECLOSED);
    CHECK(b.took >= 20 && b.took < 2000); /* it blocked until the close */
    CHECK_RC(jmpco_chan_free(b.ch), JMPCO_OK);
}

/* --- free --------------------------------------------------------------- */

struct freeing {
    jmpco_chan *ch;
    int recv_rc, busy_waiting, busy_woken, freed;
    void *got;
};

static void *free_waiter(void *arg) {
    struct freeing *f = arg;
    f->recv_rc = jmpco_chan_recv(f->ch, &f->got, -1);
    return NULL;
}

static void *free_too_early(void *arg) {
    struct freeing *f = arg;
    f->busy_waiting = jmpco_chan_free(f->ch); /* the waiter is parked in it */
    CHECK_RC(jmpco_chan_send(f->ch, V(7), 0), JMPCO_OK); /* into its hand */
    f->busy_woken = jmpco_chan_free(f->ch); /* woken, not returned yet */
    CHECK_RC(jmpco_sleep_ms(0), JMPCO_OK); /* it returns */
    f->freed = jmpco_chan_free(f->ch);
    return NULL;
}

static void free_refuses_ebusy_while_a_call_is_in_progress(void) {
    struct freeing f = {make(0), 99, 99, 99, 99, NULL};
    spawn(free_waiter, &f);
    spawn(free_too_early, &f);
    run();
    CHECK_RC(f.busy_waiting, JMPCO_EBUSY);
    CHECK_RC(f.busy_woken, JMPCO_EBUSY);
    CHECK_RC(f.freed, JMPCO_OK);
    CHECK_RC(f.recv_rc, JMPCO_OK);
    CHECK(f.got == V(7));
}

/* --- timeouts in coroutines --------------------------------------------- */

struct timing {
    jmpco_chan *ch;
    int rc[4];
    double took[4];
    int ticks_during_wait;
    int ticking;
    void *got[2];
};

static void *ticker(void *arg) {
    struct timing *t = arg;
    while (t->ticking) {
        t->ticks_during_wait++;
        CHECK_RC(jmpco_sleep_ms(2), JMPCO_OK);
    }
    return NULL;
}

static void *timed_waits(void *arg) {
    struct timing *t = arg;
    double t0 = now_ms();
    t->rc[0] = jmpco_chan_recv(t->ch, &t->got[0], 40); /* nothing comes */
    t->took[0] = now_ms() - t0;
    t->ticking = 0;
    t0 = now_ms();
    t->rc[1] = jmpco_chan_recv(t->ch, &t->got[0], -1); /* the late sender's */
    t->took[1] = now_ms() - t0;
    t0 = now_ms();
    t->rc[2] = jmpco_chan_recv(t->ch, &t->got[1], 3000); /* before the deadline */
    t->took[2] = now_ms() - t0;
    /* A full channel: a send times out, and its message stays out. */
    CHECK_RC(jmpco_chan_send(t->ch, V(3), 0), JMPCO_OK);
    t0 = now_ms();
    t->rc[3] = jmpco_chan_send(t->ch, V(4), 30);
    t->took[3] = now_ms() - t0;
    return NULL;
}

static void *late_sender(void *arg) {
    struct timing *t = arg;
    while (t->ticking) CHECK_RC(jmpco_sleep_ms(1), JMPCO_OK);
    CHECK_RC(jmpco_sleep_ms(20), JMPCO_OK);
    CHECK_RC(jmpco_chan_send(t->ch, V(1), -1), JMPCO_OK);
    CHECK_RC(jmpco_sleep_ms(20), JMPCO_OK);
    CHECK_RC(jmpco_chan_send(t->ch, V(2), -1), JMPCO_OK);
    return NULL;
}

static void waits_in_coroutines_park_time_out_and_wake(void) {
    struct timing t = {make(1), {99, 99, 99, 99}, {0}, 0, 1, {NULL, NULL}};
    spawn(timed_waits, &t);
    spawn(ticker, &t);
    spawn(late_sender, &t);
    run();
    CHECK_RC(t.rc[0], JMPCO_ETIMEDOUT);
    CHECK(t.took[0] >= 40 && t.took[0] < 500);
    CHECK(t.ticks_during_wait >= 3); /* the thread ran others meanwhile */
    CHECK_RC(t.rc[1], JMPCO_OK);
    CHECK(t.took[1] >= 15 && t.took[1] < 1000);
    CHECK_RC(t.rc[2], JMPCO_OK);
    CHECK(t.took[2] >= 15 && t.took[2] < 1000);
    CHECK(t.got[0] == V(1) && t.got[1] == V(2));
    CHECK_RC(t.rc[3], JMPCO_ETIMEDOUT);
    CHECK(t.took[3] >= 30 && t.took[3] < 500);
    void *out = NULL;
    CHECK_RC(jmpco_chan_recv(t.ch, &out, 0), JMPCO_OK);
    CHECK(out == V(3));
    CHECK_RC(jmpco_chan_recv(t.ch, &out, 0), JMPCO_ETIMEDOUT); /* V(4) never went in */
    CHECK_RC(jmpco_chan_free(t.ch), JMPCO_OK);
}

/* --- jmpco_create coroutines -------------------------------------------- */

struct nested {
    jmpco_chan *ch;
    int rc[6];
    void *got;
    double took;
};

static void *nested_body(void *arg) {
    struct nested *n = arg;
    n->rc[0] = jmpco_chan_send(n->ch, V(1), 0);  /* room: fine */
    n->rc[1] = jmpco_chan_send(n->ch, V(2), -1); /* would wait */
    n->rc[2] = jmpco_chan_send(n->ch, V(2), 10); /* would wait */
    n->rc[3] = jmpco_chan_recv(n->ch, &n->got, -1); /* buffered: fine */
    n->rc[4] = jmpco_chan_recv(n->ch, &n->got, 10); /* would wait */
    n->rc[5] = jmpco_chan_recv(n->ch, &n->got, 0);  /* a try: fine */
    return NULL;
}

static void *resume_nested(void *arg) {
    jmpco_coro *co = NULL;
    CHECK_RC(jmpco_create(&co, nested_body, arg, NULL), JMPCO_OK);
    CHECK_RC(jmpco_resume(co, NULL, NULL), JMPCO_OK);
    CHECK_RC(jmpco_destroy(co), JMPCO_OK);
    return NULL;
}

static void *blocking_body(void *arg) {
    struct nested *n = arg;
    n->rc[0] = jmpco_chan_send(n->ch, V(1), -1);
    n->rc[1] = jmpco_chan_recv(n->ch, &n->got, -1);
    double t0 = now_ms();
    n->rc[2] = jmpco_chan_recv(n->ch, &n->got, 30); /* blocks the thread */
    n->took = now_ms() - t0;
    return NULL;
}

static void jmpco_create_coroutines_block_off_schedulers_and_refuse_to_wait_in_them(void) {
    struct nested n = {make(1), {99, 99, 99, 99, 99, 99}, NULL, 0};
    spawn(resume_nested, &n);
    run();
    CHECK_RC(n.rc[0], JMPCO_OK);
    CHECK_RC(n.rc[1], JMPCO_ENOTCORO);
    CHECK_RC(n.rc[2], JMPCO_ENOTCORO);
    CHECK_RC(n.rc[3], JMPCO_OK);
    CHECK(n.got == V(1));
    CHECK_RC(n.rc[4], JMPCO_ENOTCORO);
    CHECK_RC(n.rc[5], JMPCO_ETIMEDOUT);
    CHECK_RC(jmpco_chan_recv(n.ch, &n.got, 0), JMPCO_ETIMEDOUT); /* V(2) never went in */

    /* Resumed on a thread whose scheduler is not running: it blocks. */
    struct nested m = {n.ch, {99, 99, 99, 99, 99, 99}, NULL, 0};
    jmpco_coro *co = NULL;
    CHECK_RC(jmpco_create(&co, blocking_body, &m, NULL), JMPCO_OK);
    CHECK_RC(jmpco_resume(co, NULL, NULL), JMPCO_OK);
    CHECK_RC(jmpco_destroy(co), JMPCO_OK);
    CHECK_RC(m.rc[0], JMPCO_OK);
    CHECK_RC(m.rc[1], JMPCO_OK);
    CHECK(m.got == V(1));
    CHECK_RC(m.rc[2], JMPCO_ETIMEDOUT);
    CHECK(m.took >= 30 && m.took < 500);
    CHECK_RC(jmpco_chan_free(n.ch), JMPCO_OK);
}

/* --- plain thread <-> coroutine ----------------------------------------- */

#define THREAD_MESSAGES 10000

struct bridge {
    jmpco_chan *to_coro, *to_thread;
    int thread_failures, thread_in_order;
    int coro_failures, coro_in_order;
};

static void *bridge_thread(void *arg) {
    struct bridge *b = arg;
    for (uintptr_t i = 1; i <= THREAD_MESSAGES; i++)
        if (jmpco_chan_send(b->to_coro, V(i), -1) != JMPCO_OK) b->thread_failures++;
    for (uintptr_t i = 1; i <= THREAD_MESSAGES; i++) {
        void *out = NULL;
        if (jmpco_chan_recv(b->to_thread, &out, -1) != JMPCO_OK) b->thread_failures++;
        if (out == V(i * 3)) b->thread_in_order++;
    }
    return NULL;
}

static void *bridge_coroutine(void *arg) {
    struct bridge *b = arg;
    for (uintptr_t i = 1; i <= THREAD_MESSAGES; i++) {
        void *out = NULL;
        if (jmpco_chan_recv(b->to_coro, &out, -1) != JMPCO_OK) b->coro_failures++;
        if (out == V(i)) b->coro_in_order++;
    }
    for (uintptr_t i = 1; i <= THREAD_MESSAGES; i++)
        if (jmpco_chan_send(b->to_thread, V(i * 3), -1) != JMPCO_OK) b->coro_failures++;
    return NULL;
}

static void a_plain_thread_and_a_coroutine_exchange_both_ways(void) {
    struct bridge b = {make(4), make(0), 0, 0, 0, 0};
    pthread_t t;
    start_thread(&t, bridge_thread, &b);
    spawn(bridge_coroutine, &b);
    run();
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(b.thread_failures == 0 && b.coro_failures == 0);
    CHECK(b.coro_in_order == THREAD_MESSAGES);
    CHECK(b.thread_in_order == THREAD_MESSAGES);
    CHECK_RC(jmpco_chan_free(b.to_coro), JMPCO_OK);
    CHECK_RC(jmpco_chan_free(b.to_thread), JMPCO_OK);
}

/* --- two threads' schedulers -------------------------------------------- */

#define CROSS_COROS 4
#define CROSS_PER_CORO 10000
#define CROSS_ROUNDS 5000

struct cross {
    jmpco_chan *work, *ping, *pong;
    jmpco_backend backend;
    /* Written by each side's own thread (one scheduler per thread: its
       coroutines never run at once). */
    int live_producers, failures_a, failures_b, run_a, run_b;
    uintptr_t next_base; /* thread A's producers' */
    uint64_t received, sum, xor_all, pongs_ok;
};

static void *cross_producer(void *arg) {
    struct cross *c = arg;
    uintptr_t base = c->next_base;
    c->next_base += CROSS_PER_CORO;
    for (uintptr_t i = 1; i <= CROSS_PER_CORO; i++)
        if (jmpco_chan_send(c->work, V(base + i), -1) != JMPCO_OK) c->failures_a++;
    if (--c->live_producers == 0 && jmpco_chan_close(c->work) != JMPCO_OK) c->failures_a++;
    return NULL;
}

static void *cross_consumer(void *arg) {
    struct cross *c = arg;
    void *out;
    while (jmpco_chan_recv(c->work, &out, -1) == JMPCO_OK) {
        c->received++;
        c->sum += N(out);
        c->xor_all ^= N(out);
    }
    return NULL;
}

static void *cross_pinger(void *arg) {
    struct cross *c = arg;
    for (uintptr_t i = 1; i <= CROSS_ROUNDS; i++) {
        void *out = NULL;
        if (jmpco_chan_send(c->ping, V(i), -1) != JMPCO_OK) c->failures_a++;
        if (jmpco_chan_recv(c->pong, &out, 5000) != JMPCO_OK) c->failures_a++;
        if (out == V(i + 1)) c->pongs_ok++;
    }
    if (jmpco_chan_close(c->ping) != JMPCO_OK) c->failures_a++;
    return NULL;
}

static void *cross_echoer(void *arg) {
    struct cross *c = arg;
    void *out;
    while (jmpco_chan_recv(c->ping, &out, -1) == JMPCO_OK)
        if (jmpco_chan_send(c->pong, V(N(out) + 1), -1) != JMPCO_OK) c->failures_b++;
    return NULL;
}

static void cross_spawn(struct cross *c, jmpco_fn fn) {
    jmpco_options opts;
    jmpco_options_init(&opts);
    opts.backend = c->backend;
    if (jmpco_spawn_with(fn, c, &opts) != JMPCO_OK) exit(1);
}

static void *thread_a(void *arg) {
    struct cross *c = arg;
    for (int i = 0; i < CROSS_COROS; i++) cross_spawn(c, cross_producer);
    cross_spawn(c, cross_pinger);
    c->run_a = jmpco_run();
    return NULL;
}

static void *thread_b(void *arg) {
    struct cross *c = arg;
    for (int i = 0; i < CROSS_COROS; i++) cross_spawn(c, cross_consumer);
    cross_spawn(c, cross_echoer);
    c->run_b = jmpco_run();
    return NULL;
}

static void coroutines_of_two_threads_schedulers_exchange_every_message_once(void) {
    struct cross c;
    memset(&c, 0, sizeof c);
    c.work = make(16);
    c.ping = make(1);
    c.pong = make(1);
    c.backend = backend;
    c.live_producers = CROSS_COROS;
    c.run_a = c.run_b = 99;
    pthread_t a, b;
    start_thread(&b, thread_b, &c);
    start_thread(&a, thread_a, &c);
    CHECK(pthread_join(a, NULL) == 0);
    CHECK(pthread_join(b, NULL) == 0);
    CHECK_RC(c.run_a, JMPCO_OK);
    CHECK_RC(c.run_b, JMPCO_OK);
    CHECK(c.failures_a == 0 && c.failures_b == 0);
    uint64_t n = (uint64_t)CROSS_COROS * CROSS_PER_CORO, xor_want = 0;
    for (uint64_t v = 1; v <= n; v++) xor_want ^= v;
    CHECK(c.received == n);
    CHECK(c.sum == n * (n + 1) / 2);
    CHECK(c.xor_all == xor_want);
    CHECK(c.pongs_ok == CROSS_ROUNDS);
    CHECK_RC(jmpco_chan_free(c.work), JMPCO_OK);
    CHECK_RC(jmpco_chan_free(c.ping), JMPCO_OK);
    CHECK_RC(jmpco_chan_free(c.pong), JMPCO_OK);
}

/* --- cancelled tasks (jmpco_spawn_task, jmpco_cancel) -------------------- */

#define LATER_CALLS 6

struct chan_cancel {
    jmpco_chan *empty, *full, *spare; /* spare holds V(42) and has room */
    jmpco_task *receiver, *sender;
    int pending_rc[2]; /* the receiver's recv, the sender's send */
    double waited[2];
    void *got;                   /* the receiver's out: never written */
    int later[2][LATER_CALLS];   /* each one's channel calls after the cancel */
    int later_out_untouched[2];
};

/* A cancelled task's channel calls all fail, those that would not wait
   too, and move nothing: spare keeps its message and gets no other. */
static void later_channel_calls_fail(struct chan_cancel *c, int who) {
    void *out = V(0xdead);
    int *later = c->later[who];
    later[0] = jmpco_chan_recv(c->spare, &out, 0); /* a message is there */
    later[1] = jmpco_chan_recv(c->spare, &out, -1);
    later[2] = jmpco_chan_recv(c->spare, &out, 50);
    later[3] = jmpco_chan_send(c->spare, V(9), 0); /* there is room */
    later[4] = jmpco_chan_send(c->spare, V(9), -1);
    later[5] = jmpco_chan_send(c->spare, V(9), 50);
    c->later_out_untouched[who] = out == V(0xdead);
}

static void *cancelled_receiver(void *arg) {
    struct chan_cancel *c = arg;
    double t0 = now_ms();
    c->pending_rc[0] = jmpco_chan_recv(c->empty, &c->got, -1); /* parks */
    c->waited[0] = now_ms() - t0;
    later_channel_calls_fail(c, 0);
    return V(0x71);
}

static void *cancelled_sender(void *arg) {
    struct chan_cancel *c = arg;
    double t0 = now_ms();
    c->pending_rc[1] = jmpco_chan_send(c->full, V(2), -1); /* full: parks */
    c->waited[1] = now_ms() - t0;
    later_channel_calls_fail(c, 1);
    return V(0x72);
}

static int local_cancel_rc[2];

static void *cancel_both_after_10ms(void *arg) {
    struct chan_cancel *c = arg;
    CHECK_RC(jmpco_sleep_ms(10), JMPCO_OK);
    local_cancel_rc[0] = jmpco_cancel(c->receiver);
    local_cancel_rc[1] = jmpco_cancel(c->sender);
    return NULL;
}

static void *cancel_both_from_a_thread(void *arg) {
    struct chan_cancel *c = arg;
    struct timespec pause = {0, 30 * 1000 * 1000};
    nanosleep(&pause, NULL);
    int rc = jmpco_cancel(c->receiver);
    if (rc == JMPCO_OK) rc = jmpco_cancel(c->sender);
    return (void *)(intptr_t)rc;
}

/* A receiver parked on an empty channel and a sender parked on a full one
   are cancelled (by a coroutine of their thread, or from another thread):
   both calls return JMPCO_ECANCELED, the sender's message was not sent,
   and their waits are gone (a message sent later is not handed to the
   cancelled receiver; the channels can be freed). */
static void check_cancel_in_channel_waits(int from_thread) {
    struct chan_cancel c;
    memset(&c, 0, sizeof c);
    c.empty = make(2);
    c.full = make(1);
    c.spare = make(4);
    c.got = V(0xdead);
    c.pending_rc[0] = c.pending_rc[1] = 99;
    local_cancel_rc[0] = local_cancel_rc[1] = 99;
    CHECK_RC(jmpco_chan_send(c.full, V(1), 0), JMPCO_OK);
    CHECK_RC(jmpco_chan_send(c.spare, V(42), 0), JMPCO_OK);
    c.receiver = spawn_task(cancelled_receiver, &c);
    c.sender = spawn_task(cancelled_sender, &c);
    pthread_t t;
    if (from_thread)
        start_thread(&t, cancel_both_from_a_thread, &c);
    else
        spawn(cancel_both_after_10ms, &c);
    double t0 = now_ms();
    run();
    CHECK(now_ms() - t0 < 5000); /* woken by the cancels */
    if (from_thread) {
        void *rc = V(99);
        CHECK(pthread_join(t, &rc) == 0);
        CHECK_RC((int)(intptr_t)rc, JMPCO_OK);
    } else {
        CHECK_RC(local_cancel_rc[0], JMPCO_OK);
        CHECK_RC(local_cancel_rc[1], JMPCO_OK);
    }
    for (int who = 0; who < 2; who++) {
        CHECK_RC(c.pending_rc[who], JMPCO_ECANCELED);
        CHECK(c.waited[who] >= (from_thread ? 20 : 5) && c.waited[who] < 5000);
        for (int i = 0; i < LATER_CALLS; i++) CHECK_RC(c.later[who][i], JMPCO_ECANCELED);
        CHECK(c.later_out_untouched[who]);
    }
    CHECK(c.got == V(0xdead)); /* the receiver was handed nothing */
    void *r = NULL;
    CHECK_RC(jmpco_join(c.receiver, &r), JMPCO_OK); /* they returned by themselves */
    CHECK(r == V(0x71));
    CHECK_RC(jmpco_join(c.sender, &r), JMPCO_OK);
    CHECK(r == V(0x72));
    CHECK_RC(jmpco_task_release(c.receiver), JMPCO_OK);
    CHECK_RC(jmpco_task_release(c.sender), JMPCO_OK);

    void *out = V(0xdead);
    /* full holds exactly what it held: V(1), not the cancelled V(2). */
    CHECK_RC(jmpco_chan_recv(c.full, &out, 0), JMPCO_OK);
    CHECK(out == V(1));
    CHECK_RC(jmpco_chan_recv(c.full, &out, 0), JMPCO_ETIMEDOUT);
    /* empty has no receiver waiting any more: a send is buffered, not
       handed to the cancelled one, and comes back out. */
    CHECK_RC(jmpco_chan_recv(c.empty, &out, 0), JMPCO_ETIMEDOUT);
    CHECK_RC(jmpco_chan_send(c.empty, V(3), 0), JMPCO_OK);
    CHECK_RC(jmpco_chan_recv(c.empty, &out, 0), JMPCO_OK);
    CHECK(out == V(3));
    /* spare: its one message, nothing taken, nothing added. */
    CHECK_RC(jmpco_chan_recv(c.spare, &out, 0), JMPCO_OK);
    CHECK(out == V(42));
    CHECK_RC(jmpco_chan_recv(c.spare, &out, 0), JMPCO_ETIMEDOUT);
    /* No wait was left behind in them. */
    CHECK_RC(jmpco_chan_free(c.empty), JMPCO_OK);
    CHECK_RC(jmpco_chan_free(c.full), JMPCO_OK);
    CHECK_RC(jmpco_chan_free(c.spare), JMPCO_OK);
}

static void cancel_of_tasks_parked_in_recv_and_send_fails_them_and_moves_nothing(void) {
    check_cancel_in_channel_waits(0);
}

static void cancel_from_another_thread_reaches_tasks_parked_in_channel_waits(void) {
    check_cancel_in_channel_waits(1);
}

static struct chan_cancel self_cancel;

static void *cancel_myself_then_use_channels(void *arg) {
    (void)arg;
    self_cancel.pending_rc[0] = jmpco_cancel(self_cancel.receiver);
    later_channel_calls_fail(&self_cancel, 0);
    return NULL;
}

/* A task that is cancelled before its first channel call (it cancels
   itself, and never waited) gets JMPCO_ECANCELED from every one, timeout
   0 included, and sends and takes nothing. */
static void a_task_cancelled_before_it_waited_sends_and_takes_nothing(void) {
    memset(&self_cancel, 0, sizeof self_cancel);
    self_cancel.spare = make(4);
    self_cancel.pending_rc[0] = 99;
    CHECK_RC(jmpco_chan_send(self_cancel.spare, V(42), 0), JMPCO_OK);
    self_cancel.receiver = spawn_task(cancel_myself_then_use_channels, NULL);
    run();
    CHECK_RC(self_cancel.pending_rc[0], JMPCO_OK);
    for (int i = 0; i < LATER_CALLS; i++) CHECK_RC(self_cancel.later[0][i], JMPCO_ECANCELED);
    CHECK(self_cancel.later_out_untouched[0]);
    void *out = NULL;
    CHECK_RC(jmpco_chan_recv(self_cancel.spare, &out, 0), JMPCO_OK);
    CHECK(out == V(42));
    CHECK_RC(jmpco_chan_recv(self_cancel.spare, &out, 0), JMPCO_ETIMEDOUT);
    CHECK_RC(jmpco_task_release(self_cancel.receiver), JMPCO_OK);
    CHECK_RC(jmpco_chan_free(self_cancel.spare), JMPCO_OK);
}

struct handoff {
    jmpco_chan *ch;
    jmpco_task *first; /* parked first: handed the message, and cancelled */
    int cancel_first;  /* the racer's order: cancel then send, or the reverse */
    int first_rc, second_rc, send_rc, cancel_rc, close_rc;
    void *first_got, *second_got;
};

static void *handoff_first(void *arg) {
    struct handoff *h = arg;
    h->first_rc = jmpco_chan_recv(h->ch, &h->first_got, -1);
    return NULL;
}

static void *handoff_second(void *arg) {
    struct handoff *h = arg;
    h->second_rc = jmpco_chan_recv(h->ch, &h->second_got, -1); /* behind first */
    return NULL;
}

/* Runs once both receivers are parked: sends and cancels the first in one
   turn, before it can run, so the message reaches it as it is cancelled. */
static void *handoff_racer(void *arg) {
    struct handoff *h = arg;
    if (h->cancel_first) {
        h->cancel_rc = jmpco_cancel(h->first);
        h->send_rc = jmpco_chan_send(h->ch, V(7), 0);
    } else {
        h->send_rc = jmpco_chan_send(h->ch, V(7), 0);
        h->cancel_rc = jmpco_cancel(h->first);
    }
    CHECK_RC(jmpco_sleep_ms(20), JMPCO_OK);
    h->close_rc = jmpco_chan_close(h->ch); /* ends the second, if it got nothing */
    return NULL;
}

/* A message handed to a parked receiver in the same turn as it is
   cancelled (just after the cancel, or just before) is neither lost nor
   received twice: the cancelled receiver's recv fails with
   JMPCO_ECANCELED, as every wait of a cancelled task does, and gives the
   message back, here straight to the next waiting receiver. On a buffered
   and on a rendezvous channel. */
static void a_message_handed_to_a_receiver_as_it_is_cancelled_goes_to_the_next(void) {
    for (int capacity = 0; capacity <= 1; capacity++) {
        for (int cancel_first = 0; cancel_first <= 1; cancel_first++) {
            struct handoff h = {make((size_t)capacity), NULL, cancel_first, 99, 99, 99, 99, 99,
                                V(0xdead), V(0xdead)};
            h.first = spawn_task(handoff_first, &h);
            spawn(handoff_second, &h);
            spawn(handoff_racer, &h);
            run();
            CHECK_RC(h.send_rc, JMPCO_OK); /* receivers were waiting */
            CHECK_RC(h.cancel_rc, JMPCO_OK);
            CHECK_RC(h.close_rc, JMPCO_OK);
            int received = (h.first_rc == JMPCO_OK && h.first_got == V(7)) +
                           (h.second_rc == JMPCO_OK && h.second_got == V(7));
            void *out = V(0xdead);
            int rc = jmpco_chan_recv(h.ch, &out, 0); /* closed: what is left */
            if (rc == JMPCO_OK && out == V(7)) {
                received++;
                rc = jmpco_chan_recv(h.ch, &out, 0);
            }
            CHECK_RC(rc, JMPCO_ECLOSED);
            if (received != 1)
                printf("FAIL [%s] capacity %d, cancel %s the send: V(7) received %d times\n",
                       backend_name, capacity, cancel_first ? "before" : "after", received);
            CHECK(received == 1);
            CHECK_RC(h.first_rc, JMPCO_ECANCELED);
            CHECK(h.first_got == V(0xdead));
            CHECK_RC(h.second_rc, JMPCO_OK);
            CHECK(h.second_got == V(7));
            CHECK_RC(jmpco_task_release(h.first), JMPCO_OK);
            CHECK_RC(jmpco_chan_free(h.ch), JMPCO_OK);
        }
    }
}

struct taken {
    jmpco_chan *ch;
    jmpco_task *sender;
    int take_first;
    int send_rc, after_rc, recv_rc, cancel_rc;
    void *got;
};

static void *taken_sender(void *arg) {
    struct taken *t = arg;
    t->send_rc = jmpco_chan_send(t->ch, V(2), -1); /* full: parks */
    t->after_rc = jmpco_chan_send(t->ch, V(3), 0);
    return NULL;
}

static void *taken_racer(void *arg) {
    struct taken *t = arg;
    if (t->take_first) {
        t->recv_rc = jmpco_chan_recv(t->ch, &t->got, 0); /* lets V(2) in */
        t->cancel_rc = jmpco_cancel(t->sender);
    } else {
        t->cancel_rc = jmpco_cancel(t->sender);
        t->recv_rc = jmpco_chan_recv(t->ch, &t->got, 0);
    }
    return NULL;
}

/* The sender's side of the same race: a receive that takes from a full
   channel moves the parked sender's message in, in the turn the sender is
   cancelled. That message has been sent, and cannot be taken back: the
   send returns JMPCO_OK, the message is in the channel once, and the
   task's next call fails. */
static void a_message_taken_from_a_sender_as_it_is_cancelled_counts_as_sent(void) {
    for (int take_first = 0; take_first <= 1; take_first++) {
        struct taken t = {make(1), NULL, take_first, 99, 99, 99, 99, V(0xdead)};
        CHECK_RC(jmpco_chan_send(t.ch, V(1), 0), JMPCO_OK);
        t.sender = spawn_task(taken_sender, &t);
        spawn(taken_racer, &t);
        run();
        CHECK_RC(t.cancel_rc, JMPCO_OK);
        CHECK_RC(t.recv_rc, JMPCO_OK);
        CHECK(t.got == V(1));
        CHECK_RC(t.send_rc, JMPCO_OK);
        CHECK_RC(t.after_rc, JMPCO_ECANCELED);
        void *out = V(0xdead);
        CHECK_RC(jmpco_chan_recv(t.ch, &out, 0), JMPCO_OK);
        CHECK(out == V(2));
        CHECK_RC(jmpco_chan_recv(t.ch, &out, 0), JMPCO_ETIMEDOUT); /* once; no V(3) */
        CHECK_RC(jmpco_task_release(t.sender), JMPCO_OK);
        CHECK_RC(jmpco_chan_free(t.ch), JMPCO_OK);
    }
}

/* --- 10,000 coroutines, 1,000,000 messages ------------------------------ */

#define CROWD 10000 /* half producers, half consumers */
#define CROWD_MESSAGES 1000000

static struct {
    jmpco_chan *ch;
    uint64_t messages, per_producer, live_producers;
    uint64_t received, sum, xor_all, duplicates, out_of_range, failures;
    unsigned char *seen;
    int ends_closed;
} crowd;

static void *crowd_producer(void *arg) {
    uint64_t base = (uintptr_t)arg * crowd.per_producer;
    for (uint64_t i = 1; i <= crowd.per_producer; i++)
        if (jmpco_chan_send(crowd.ch, V(base + i), -1) != JMPCO_OK) crowd.failures++;
    if (--crowd.live_producers == 0 && jmpco_chan_close(crowd.ch) != JMPCO_OK)
        crowd.failures++;
    return NULL;
}

static void *crowd_consumer(void *arg) {
    (void)arg;
    void *out;
    int rc;
    while ((rc = jmpco_chan_recv(crowd.ch, &out, -1)) == JMPCO_OK) {
        uint64_t v = N(out);
        if (v == 0 || v > crowd.messages) {
            crowd.out_of_range++;
            continue;
        }
        if (crowd.seen[v]) crowd.duplicates++;
        crowd.seen[v] = 1;
        crowd.received++;
        crowd.sum += v;
        crowd.xor_all ^= v;
    }
    if (rc == JMPCO_ECLOSED) crowd.ends_closed++;
    return NULL;
}

static void ten_thousand_coroutines_pass_every_message_exactly_once(void) {
    uint64_t producers = CROWD / 2;
    memset(&crowd, 0, sizeof crowd);
    crowd.per_producer = CROWD_MESSAGES / producers;
    crowd.messages = crowd.per_producer * producers;
    crowd.live_producers = producers;
    crowd.seen = calloc(crowd.messages + 1, 1);
    if (crowd.seen == NULL) exit(1);
    crowd.ch = make(64);
    double t0 = now_ms();
    /* Interleaved, so consumers wait on an empty channel as well as
       producers on a full one. */
    for (uintptr_t i = 0; i < producers; i++) {
        spawn_sized(crowd_consumer, NULL, JMPCO_MIN_STACK_SIZE);
        spawn_sized(crowd_producer, (void *)i, JMPCO_MIN_STACK_SIZE);
    }
    run();
    double took = now_ms() - t0;
    uint64_t n = crowd.messages, xor_want = 0;
    for (uint64_t v = 1; v <= n; v++) xor_want ^= v;
    CHECK(crowd.failures == 0);
    CHECK(crowd.out_of_range == 0);
    CHECK(crowd.duplicates == 0);
    CHECK(crowd.received == n);
    CHECK(crowd.sum == n * (n + 1) / 2);
    CHECK(crowd.xor_all == xor_want);
    CHECK(crowd.ends_closed == CROWD / 2);
    uint64_t missing = 0;
    for (uint64_t v = 1; v <= n; v++) missing += !crowd.seen[v];
    CHECK(missing == 0);
    printf("chan_test: %d coroutines passed %llu messages in %.0f ms\n", CROWD,
           (unsigned long long)n, took);
    free(crowd.seen);
    CHECK_RC(jmpco_chan_free(crowd.ch), JMPCO_OK);
}

int main(void) {
    /* A lost wake-up hangs jmpco_run or a join: fail instead (SIGALRM). */
    alarm(300);
    FOR_EACH_BACKEND(3) {
        bad_arguments_are_einval_and_change_nothing();
        codes_have_the_documented_values_and_messages();
        a_plain_thread_sends_receives_in_order_and_times_out();
        a_rendezvous_send_waits_for_its_receiver();
        a_full_channel_parks_its_sender_until_a_receive_makes_room();
        each_producers_messages_come_out_in_the_order_it_sent_them();
        a_closed_channel_refuses_sends_and_drains_then_reports_closed();
        closing_wakes_waiting_receivers_and_senders_with_eclosed();
        closing_wakes_a_plain_thread_blocked_in_recv();
        free_refuses_ebusy_while_a_call_is_in_progress();
        waits_in_coroutines_park_time_out_and_wake();
        jmpco_create_coroutines_block_off_schedulers_and_refuse_to_wait_in_them();
        a_plain_thread_and_a_coroutine_exchange_both_ways();
        coroutines_of_two_threads_schedulers_exchange_every_message_once();
        cancel_of_tasks_parked_in_recv_and_send_fails_them_and_moves_nothing();
        cancel_from_another_thread_reaches_tasks_parked_in_channel_waits();
        a_task_cancelled_before_it_waited_sends_and_takes_nothing();
        a_message_handed_to_a_receiver_as_it_is_cancelled_goes_to_the_next();
        a_message_taken_from_a_sender_as_it_is_cancelled_counts_as_sent();
    }
    backend = JMPCO_BACKEND_SJLJ;
    backend_name = "sjlj";
    ten_thousand_coroutines_pass_every_message_exactly_once();
    return report("chan_test");
}
