/*
 * fdio_test.c: the C runtime tier's registered I/O (jmpco_read,
 * jmpco_write, jmpco_accept, jmpco_connect, jmpco_close), checked from C
 * through include/jmpco.h: each call's success path and each errno it
 * documents, and an echo of 1 MiB streams with a resetting client after
 * which the process has the fds it had before. Built and run by
 * tests/c_api.rs against both libjmpco.a and libjmpco.so, and by
 * scripts/valgrind-c.sh under memcheck.
 *
 * (NULL buffers, which the kernel answers with EFAULT, are checked by
 * tests/ffi_rust.rs: memcheck reports the call itself.)
 *
 * Every test runs once per backend. Prints one line per failed check and a
 * closing "fdio_test: N passed, N failed"; exits 0 only if nothing failed.
 * Sockets are on 127.0.0.1 or socketpairs; every wait has a timeout, so a
 * broken build fails instead of hanging. Timing bounds are loose.
 */
#define _DEFAULT_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
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

/* Every wait in a test that should end is bounded by this (ms). */
#define LONG_WAIT 5000

#define CHECK_ERR(expr, want_errno)                                                      \
    do {                                                                                 \
        errno = 0;                                                                       \
        long rc_ = (long)(expr);                                                         \
        int errno_ = errno;                                                              \
        if (rc_ == -1 && errno_ == (want_errno)) {                                       \
            passed++;                                                                    \
        } else {                                                                         \
            failed++;                                                                    \
            printf("FAIL [%s] %s:%d: %s returned %ld, errno %d (%s), want -1 and %s\n", \
                   backend_name, __func__, __LINE__, #expr, rc_, errno_,                 \
                   strerror(errno_), #want_errno);                                       \
        }                                                                                \
    } while (0)

/* A connected AF_UNIX stream pair, blocking (the calls make it
   non-blocking on first use). */
static void blocking_pair(int sv[2]) { socket_pair_with(sv, 0); }

/* A TCP listener on 127.0.0.1 with a free port; its address in *addr. */
static int tcp_listener(struct sockaddr_in *addr, int backlog) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof *addr;
    if (fd < 0 || bind(fd, (struct sockaddr *)addr, sizeof *addr) != 0 ||
        listen(fd, backlog) != 0 || getsockname(fd, (struct sockaddr *)addr, &len) != 0) {
        perror("tcp_listener");
        exit(1);
    }
    return fd;
}

static int tcp_socket(void) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        perror("socket");
        exit(1);
    }
    return fd;
}

/* A connected TCP pair, made with the registered calls from the thread's
   own stack, where they block like the system calls. */
static void tcp_pair(int *client, int *server) {
    struct sockaddr_in addr;
    int l = tcp_listener(&addr, 4);
    *client = tcp_socket();
    /* Loopback: the connect completes without the accept. */
    CHECK(jmpco_connect(*client, (struct sockaddr *)&addr, sizeof addr, LONG_WAIT) == 0);
    *server = jmpco_accept(l, NULL, NULL, LONG_WAIT);
    CHECK(*server >= 0);
    CHECK(jmpco_close(l) == 0);
}

/* Sets SO_LINGER 0, so that closing sends a reset. */
static void linger_zero(int fd) {
    struct linger lg = {1, 0};
    CHECK(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) == 0);
}

static unsigned char pattern_byte(size_t i, unsigned seed) {
    return (unsigned char)(i * 31u + seed);
}

/* --- read --------------------------------------------------------------- */

struct rw {
    int fd, peer;
    ssize_t n1, n2, n3;
    int e1, e2, e3;
    double took;
    int step;
    char buf[64];
};

static void *read_buffered_then_eof(void *arg) {
    struct rw *t = arg;
    t->n1 = jmpco_read(t->fd, t->buf, sizeof t->buf, LONG_WAIT);
    t->n2 = jmpco_read(t->fd, t->buf, 0, LONG_WAIT);
    close(t->peer);
    t->n3 = jmpco_read(t->fd, t->buf, sizeof t->buf, LONG_WAIT);
    return NULL;
}

static void read_returns_buffered_data_zero_for_len_zero_and_zero_at_eof(void) {
    int sv[2];
    blocking_pair(sv);
    struct rw t = {sv[0], sv[1], 99, 99, 99, 0, 0, 0, 0, 0, {0}};
    CHECK(write(sv[1], "hello", 5) == 5);
    spawn(read_buffered_then_eof, &t);
    run();
    CHECK(t.n1 == 5 && memcmp(t.buf, "hello", 5) == 0);
    CHECK(t.n2 == 0);
    CHECK(t.n3 == 0);
    CHECK(fcntl(sv[0], F_GETFL) & O_NONBLOCK); /* set on first use */
    CHECK(jmpco_close(sv[0]) == 0);
}

/* A short read shows the socket drained; the next read must still see data
   that comes later (it parks, then wakes on the new edge). */
static void *read_short_then_park(void *arg) {
    struct rw *t = arg;
    t->n1 = jmpco_read(t->fd, t->buf, sizeof t->buf, LONG_WAIT);
    double t0 = now_ms();
    t->n2 = jmpco_read(t->fd, t->buf, sizeof t->buf, LONG_WAIT);
    t->took = now_ms() - t0;
    CHECK(t->step == 1); /* the writer ran first */
    return NULL;
}

static void *write_later(void *arg) {
    struct rw *t = arg;
    CHECK_RC(jmpco_sleep_ms(30), JMPCO_OK);
    t->step = 1;
    CHECK(write(t->peer, "more", 4) == 4);
    return NULL;
}

static void read_parks_after_a_short_read_until_more_data_comes(void) {
    int sv[2];
    blocking_pair(sv);
    struct rw t = {sv[0], sv[1], 99, 99, 99, 0, 0, 0, 0, 0, {0}};
    CHECK(write(sv[1], "abc", 3) == 3);
    spawn(read_short_then_park, &t);
    spawn(write_later, &t);
    run();
    CHECK(t.n1 == 3);
    CHECK(t.n2 == 4 && memcmp(t.buf, "more", 4) == 0);
    CHECK(t.took >= 25 && t.took < 2000);
    close(sv[1]);
    CHECK(jmpco_close(sv[0]) == 0);
}

/* A full read may leave data behind: the next read asks the kernel. */
static void *read_in_pieces(void *arg) {
    struct rw *t = arg;
    t->n1 = jmpco_read(t->fd, t->buf, 2, LONG_WAIT);
    t->n2 = jmpco_read(t->fd, t->buf + 2, 2, LONG_WAIT);
    CHECK_ERR(jmpco_read(t->fd, t->buf + 4, 2, 30), EAGAIN);
    return NULL;
}

static void read_after_a_full_read_gets_the_rest_then_times_out(void) {
    int sv[2];
    blocking_pair(sv);
    struct rw t = {sv[0], sv[1], 99, 99, 99, 0, 0, 0, 0, 0, {0}};
    CHECK(write(sv[1], "abcd", 4) == 4);
    spawn(read_in_pieces, &t);
    run();
    CHECK(t.n1 == 2 && t.n2 == 2 && memcmp(t.buf, "abcd", 4) == 0);
    close(sv[1]);
    CHECK(jmpco_close(sv[0]) == 0);
}

/* A short read clears the readiness bit; data that comes before the loop
   polls again is still returned by a read that may not wait. */
static void *read_zero_timeout_asks_the_kernel(void *arg) {
    struct rw *t = arg;
    CHECK_ERR(jmpco_read(t->fd, t->buf, sizeof t->buf, 0), EAGAIN); /* registers */
    CHECK(write(t->peer, "abc", 3) == 3);
    t->n1 = jmpco_read(t->fd, t->buf, sizeof t->buf, LONG_WAIT);
    CHECK(write(t->peer, "de", 2) == 2); /* no loop turn in between */
    t->n2 = jmpco_read(t->fd, t->buf, sizeof t->buf, 0);
    return NULL;
}

static void read_with_timeout_zero_returns_data_that_came_after_a_short_read(void) {
    int sv[2];
    blocking_pair(sv);
    struct rw t = {sv[0], sv[1], 99, 99, 99, 0, 0, 0, 0, 0, {0}};
    spawn(read_zero_timeout_asks_the_kernel, &t);
    run();
    CHECK(t.n1 == 3);
    CHECK(t.n2 == 2 && memcmp(t.buf, "de", 2) == 0);
    close(sv[1]);
    CHECK(jmpco_close(sv[0]) == 0);
}

static void *read_timeouts(void *arg) {
    struct rw *t = arg;
    double t0 = now_ms();
    CHECK_ERR(jmpco_read(t->fd, t->buf, sizeof t->buf, 0), EAGAIN);
    CHECK(now_ms() - t0 < 50);
    t0 = now_ms();
    CHECK_ERR(jmpco_read(t->fd, t->buf, sizeof t->buf, 50), EAGAIN);
    t->took = now_ms() - t0;
    return NULL;
}

static void read_times_out_with_eagain(void) {
    int sv[2];
    blocking_pair(sv);
    struct rw t = {sv[0], sv[1], 0, 0, 0, 0, 0, 0, 0, 0, {0}};
    spawn(read_timeouts, &t);
    run();
    CHECK(t.took >= 50 && t.took < 1000);
    close(sv[1]);
    CHECK(jmpco_close(sv[0]) == 0);
}

static void *read_bad(void *arg) {
    struct rw *t = arg;
    CHECK_ERR(jmpco_read(-1, t->buf, 1, 0), EBADF);
    int closed = dup(t->fd);
    close(closed);
    CHECK_ERR(jmpco_read(closed, t->buf, 1, 0), EBADF);
    CHECK_ERR(jmpco_read(t->fd, t->buf, 1, -2), EINVAL);
    return NULL;
}

static void read_refuses_bad_fds_and_timeouts(void) {
    int sv[2];
    blocking_pair(sv);
    struct rw t = {sv[0], sv[1], 0, 0, 0, 0, 0, 0, 0, 0, {0}};
    spawn(read_bad, &t);
    run();
    close(sv[1]);
    CHECK(jmpco_close(sv[0]) == 0);
}

/* A TCP peer that resets: the read fails with ECONNRESET. */
static void *read_reset(void *arg) {
    struct rw *t = arg;
    CHECK_RC(jmpco_sleep_ms(10), JMPCO_OK);
    CHECK_ERR(jmpco_read(t->fd, t->buf, sizeof t->buf, LONG_WAIT), ECONNRESET);
    return NULL;
}

static void *reset_later(void *arg) {
    struct rw *t = arg;
    CHECK_RC(jmpco_sleep_ms(20), JMPCO_OK);
    linger_zero(t->peer);
    CHECK(jmpco_close(t->peer) == 0);
    return NULL;
}

static void read_reports_a_reset_as_econnreset(void) {
    int client, server;
    tcp_pair(&client, &server);
    struct rw t = {server, client, 0, 0, 0, 0, 0, 0, 0, 0, {0}};
    spawn(read_reset, &t);
    spawn(reset_later, &t);
    run();
    CHECK(jmpco_close(server) == 0);
}

/* --- write -------------------------------------------------------------- */

#define BIG (1u << 20)

struct big {
    int fd, peer;
    unsigned char *data, *back;
    size_t got;
    ssize_t written;
};

static void *write_big(void *arg) {
    struct big *b = arg;
    b->written = jmpco_write(b->fd, b->data, BIG, LONG_WAIT);
    return NULL;
}

static void *read_big(void *arg) {
    struct big *b = arg;
    while (b->got < BIG) {
        ssize_t n = jmpco_read(b->peer, b->back + b->got, BIG - b->got, LONG_WAIT);
        if (n <= 0) break;
        b->got += (size_t)n;
    }
    return NULL;
}

static void write_writes_everything_while_the_peer_reads(void) {
    int sv[2];
    blocking_pair(sv);
    struct big b = {sv[0], sv[1], malloc(BIG), calloc(1, BIG), 0, 0};
    for (size_t i = 0; i < BIG; i++) b.data[i] = pattern_byte(i, 3);
    spawn(write_big, &b);
    spawn(read_big, &b);
    run();
    CHECK(b.written == (ssize_t)BIG);
    CHECK(b.got == BIG && memcmp(b.data, b.back, BIG) == 0);
    free(b.data);
    free(b.back);
    CHECK(jmpco_close(sv[0]) == 0);
    CHECK(jmpco_close(sv[1]) == 0);
}

static void *write_timeouts(void *arg) {
    struct big *b = arg;
    double t0 = now_ms();
    b->written = jmpco_write(b->fd, b->data, BIG, 50); /* nobody reads */
    double took = now_ms() - t0;
    CHECK(took >= 50 && took < 1000);
    CHECK_ERR(jmpco_write(b->fd, b->data, 1, 0), EAGAIN); /* full: none */
    CHECK(jmpco_write(b->fd, b->data, 0, 0) == 0);
    return NULL;
}

static void write_times_out_with_a_short_count_then_eagain(void) {
    int sv[2];
    blocking_pair(sv);
    struct big b = {sv[0], sv[1], calloc(1, BIG), NULL, 0, 0};
    spawn(write_timeouts, &b);
    run();
    CHECK(b.written > 0 && b.written < (ssize_t)BIG); /* what fit */
    free(b.data);
    CHECK(jmpco_close(sv[0]) == 0);
    CHECK(jmpco_close(sv[1]) == 0);
}

static void *write_bad(void *arg) {
    struct rw *t = arg;
    CHECK_ERR(jmpco_write(-1, "x", 1, 0), EBADF);
    int closed = dup(t->fd);
    close(closed);
    CHECK_ERR(jmpco_write(closed, "x", 1, 0), EBADF);
    CHECK_ERR(jmpco_write(t->fd, "x", 1, -5), EINVAL);
    close(t->peer);
    /* A socket whose peer is gone: EPIPE, and no SIGPIPE (we are alive). */
    CHECK_ERR(jmpco_write(t->fd, "x", 1, LONG_WAIT), EPIPE);
    return NULL;
}

static void write_refuses_bad_fds_and_timeouts_and_gives_epipe(void) {
    int sv[2];
    blocking_pair(sv);
    struct rw t = {sv[0], sv[1], 0, 0, 0, 0, 0, 0, 0, 0, {0}};
    spawn(write_bad, &t);
    run();
    CHECK(jmpco_close(sv[0]) == 0);
}

/* --- accept and connect --------------------------------------------------- */

struct conn {
    int listen_fd, accepted, client, rc, err;
    struct sockaddr_in addr, peer;
    socklen_t peer_len;
};

static void *accept_one(void *arg) {
    struct conn *c = arg;
    c->peer_len = sizeof c->peer;
    c->accepted = jmpco_accept(c->listen_fd, (struct sockaddr *)&c->peer, &c->peer_len, LONG_WAIT);
    char buf[8] = {0};
    CHECK(jmpco_read(c->accepted, buf, sizeof buf, LONG_WAIT) == 2 && memcmp(buf, "hi", 2) == 0);
    return NULL;
}

static void *connect_one(void *arg) {
    struct conn *c = arg;
    CHECK_RC(jmpco_sleep_ms(20), JMPCO_OK); /* the acceptor parks first */
    c->client = tcp_socket();
    c->rc = jmpco_connect(c->client, (struct sockaddr *)&c->addr, sizeof c->addr, LONG_WAIT);
    CHECK(jmpco_write(c->client, "hi", 2, LONG_WAIT) == 2);
    return NULL;
}

static void accept_and_connect_meet_and_the_new_fd_is_nonblocking(void) {
    struct conn c;
    memset(&c, 0, sizeof c);
    c.listen_fd = tcp_listener(&c.addr, 8);
    spawn(accept_one, &c);
    spawn(connect_one, &c);
    run();
    CHECK(c.rc == 0);
    CHECK(c.accepted >= 0);
    CHECK(c.peer_len == sizeof c.peer && c.peer.sin_family == AF_INET);
    CHECK(fcntl(c.accepted, F_GETFL) & O_NONBLOCK);
    CHECK(fcntl(c.accepted, F_GETFD) & FD_CLOEXEC);
    CHECK(jmpco_close(c.accepted) == 0);
    CHECK(jmpco_close(c.client) == 0);
    CHECK(jmpco_close(c.listen_fd) == 0);
}

static void *accept_bad(void *arg) {
    struct conn *c = arg;
    double t0 = now_ms();
    CHECK_ERR(jmpco_accept(c->listen_fd, NULL, NULL, 0), EAGAIN);
    CHECK_ERR(jmpco_accept(c->listen_fd, NULL, NULL, 40), EAGAIN);
    double took = now_ms() - t0;
    CHECK(took >= 40 && took < 1000);
    CHECK_ERR(jmpco_accept(-1, NULL, NULL, 0), EBADF);
    CHECK_ERR(jmpco_accept(c->listen_fd, NULL, NULL, -2), EINVAL);
    int unlistened = tcp_socket();
    CHECK_ERR(jmpco_accept(unlistened, NULL, NULL, 0), EINVAL);
    CHECK(jmpco_close(unlistened) == 0);
    int p[2];
    CHECK(pipe(p) == 0);
    CHECK_ERR(jmpco_accept(p[0], NULL, NULL, 0), ENOTSOCK);
    CHECK(jmpco_close(p[0]) == 0 && jmpco_close(p[1]) == 0);
    return NULL;
}

static void accept_times_out_with_eagain_and_passes_the_kernels_errors(void) {
    struct conn c;
    memset(&c, 0, sizeof c);
    c.listen_fd = tcp_listener(&c.addr, 8);
    spawn(accept_bad, &c);
    run();
    CHECK(jmpco_close(c.listen_fd) == 0);
}

static void *connect_bad(void *arg) {
    struct conn *c = arg;
    /* A port bound but not listening: refused. */
    struct sockaddr_in closed;
    int holder = tcp_listener(&closed, 1);
    close(holder);
    int s = tcp_socket();
    CHECK_ERR(jmpco_connect(s, (struct sockaddr *)&closed, sizeof closed, LONG_WAIT),
              ECONNREFUSED);
    CHECK(jmpco_close(s) == 0);
    /* The kernel's own refusal, at once: not an AF_INET address. */
    s = tcp_socket();
    struct sockaddr_in wrong = c->addr;
    wrong.sin_family = AF_UNIX;
    CHECK_ERR(jmpco_connect(s, (struct sockaddr *)&wrong, sizeof wrong, LONG_WAIT), EAFNOSUPPORT);
    CHECK(jmpco_close(s) == 0);
    CHECK_ERR(jmpco_connect(-1, (struct sockaddr *)&c->addr, sizeof c->addr, 0), EBADF);
    s = tcp_socket();
    CHECK_ERR(jmpco_connect(s, (struct sockaddr *)&c->addr, sizeof c->addr, -3), EINVAL);
    CHECK(jmpco_close(s) == 0);
    return NULL;
}

static void connect_reports_refusal_and_the_kernels_errors(void) {
    struct conn c;
    memset(&c, 0, sizeof c);
    c.listen_fd = tcp_listener(&c.addr, 8);
    spawn(connect_bad, &c);
    run();
    CHECK(jmpco_close(c.listen_fd) == 0);
}

/* A listener whose accept queue is full drops new SYNs: a connect stays
   in progress, and its timeout ends it. */
static void *connect_timeout(void *arg) {
    struct conn *c = arg;
    int fds[8];
    int n = 0;
    c->rc = 0;
    while (n < 8) {
        fds[n] = tcp_socket();
        double t0 = now_ms();
        int rc = jmpco_connect(fds[n], (struct sockaddr *)&c->addr, sizeof c->addr, 100);
        c->err = errno;
        n++;
        if (rc != 0) {
            double took = now_ms() - t0;
            c->rc = took >= 100 && took < 2000 ? -1 : -2;
            break;
        }
    }
    for (int i = 0; i < n; i++) CHECK(jmpco_close(fds[i]) == 0);
    return NULL;
}

static void connect_times_out_with_etimedout(void) {
    struct conn c;
    memset(&c, 0, sizeof c);
    c.listen_fd = tcp_listener(&c.addr, 0); /* room for one pending */
    spawn(connect_timeout, &c);
    run();
    CHECK(c.rc == -1); /* one connect failed, after its timeout */
    CHECK(c.err == ETIMEDOUT);
    CHECK(jmpco_close(c.listen_fd) == 0);
}

/* --- close ---------------------------------------------------------------- */

struct closing {
    int fd;
    int read_errno, wait_rc;
    ssize_t read_rc;
    double took;
};

static void *park_in_read(void *arg) {
    struct closing *c = arg;
    char buf[8];
    double t0 = now_ms();
    errno = 0;
    c->read_rc = jmpco_read(c->fd, buf, sizeof buf, LONG_WAIT);
    c->read_errno = errno;
    c->took = now_ms() - t0;
    return NULL;
}

static void *park_in_wait_fd(void *arg) {
    struct closing *c = arg;
    c->wait_rc = jmpco_wait_fd(c->fd, JMPCO_READABLE, LONG_WAIT);
    return NULL;
}

static void *close_soon(void *arg) {
    struct closing *c = arg;
    CHECK_RC(jmpco_sleep_ms(20), JMPCO_OK);
    CHECK(jmpco_close(c->fd) == 0);
    return NULL;
}

static void close_wakes_the_waiters_with_ebadf(void) {
    int sv[2];
    blocking_pair(sv);
    struct closing c = {sv[0], 0, 99, 99, 0};
    spawn(park_in_read, &c);
    spawn(park_in_wait_fd, &c);
    spawn(close_soon, &c);
    run();
    CHECK(c.read_rc == -1 && c.read_errno == EBADF);
    CHECK_RC(c.wait_rc, JMPCO_EINVAL);
    CHECK(c.took < 1000);
    CHECK_ERR(jmpco_close(sv[0]), EBADF); /* closed already */
    CHECK_ERR(jmpco_close(-1), EBADF);
    close(sv[1]);
}

/* A close the waiter's scheduler does not see: jmpco_close on another
   thread (it drops that thread's registration only), or close(2) under a
   jmpco_wait_fd. epoll forgets a closed file without an event, so the
   waiter is not woken: it waits until its timeout. */
#define UNSEEN_WAIT 200

struct unseen_close {
    int fd;
    ssize_t read_rc;
    int read_errno, wait_rc;
    double read_took, wait_took;
};

static void *read_with_a_timeout(void *arg) {
    struct unseen_close *u = arg;
    char buf[8];
    double t0 = now_ms();
    errno = 0;
    u->read_rc = jmpco_read(u->fd, buf, sizeof buf, UNSEEN_WAIT);
    u->read_errno = errno;
    u->read_took = now_ms() - t0;
    return NULL;
}

static void *reader_thread(void *arg) {
    jmpco_options opts;
    jmpco_options_init(&opts);
    opts.backend = backend;
    if (jmpco_spawn_with(read_with_a_timeout, arg, &opts) != JMPCO_OK) return NULL;
    return jmpco_run() == JMPCO_OK ? arg : NULL;
}

static void *wait_fd_with_a_timeout(void *arg) {
    struct unseen_close *u = arg;
    double t0 = now_ms();
    u->wait_rc = jmpco_wait_fd(u->fd, JMPCO_READABLE, UNSEEN_WAIT);
    u->wait_took = now_ms() - t0;
    return NULL;
}

static void *close2_soon(void *arg) {
    struct unseen_close *u = arg;
    CHECK_RC(jmpco_sleep_ms(20), JMPCO_OK);
    CHECK(close(u->fd) == 0);
    return NULL;
}

static void a_close_the_waiters_thread_does_not_see_wakes_no_one(void) {
    int sv[2];
    blocking_pair(sv);
    struct unseen_close u = {sv[0], 99, 0, 99, 0, 0};
    char buf[8];
    /* This thread registers the fd too, then closes it under the other
       thread's waiter. */
    CHECK_ERR(jmpco_read(sv[0], buf, sizeof buf, 0), EAGAIN);
    pthread_t reader;
    CHECK(pthread_create(&reader, NULL, reader_thread, &u) == 0);
    struct timespec pause = {0, 50 * 1000 * 1000};
    nanosleep(&pause, NULL);
    CHECK(jmpco_close(sv[0]) == 0);
    void *ok = NULL;
    CHECK(pthread_join(reader, &ok) == 0);
    CHECK(ok == &u);
    CHECK(u.read_rc == -1 && u.read_errno == EAGAIN); /* its timeout, not EBADF */
    CHECK(u.read_took >= UNSEEN_WAIT - 5);
    close(sv[1]);

    blocking_pair(sv);
    struct unseen_close w = {sv[0], 0, 0, 99, 0, 0};
    spawn(wait_fd_with_a_timeout, &w);
    spawn(close2_soon, &w);
    run();
    CHECK_RC(w.wait_rc, JMPCO_ETIMEDOUT); /* not JMPCO_EINVAL */
    CHECK(w.wait_took >= UNSEEN_WAIT - 5);
    close(sv[1]);
}

/* A jmpco_create coroutine resumed inside a spawned one blocks the whole
   thread in a registered call: the writer, a coroutine of the same
   scheduler, cannot run meanwhile, so the read waits out its timeout. */
struct stalled {
    int sv[2];
    ssize_t read_rc;
    int read_errno;
    double read_took;
    int wrote_before_read_returned, wrote;
};

static void *nested_read(void *arg) {
    struct stalled *s = arg;
    char buf[8];
    double t0 = now_ms();
    errno = 0;
    s->read_rc = jmpco_read(s->sv[0], buf, sizeof buf, UNSEEN_WAIT);
    s->read_errno = errno;
    s->read_took = now_ms() - t0;
    s->wrote_before_read_returned = s->wrote;
    return NULL;
}

static void *resume_nested_read(void *arg) {
    jmpco_options opts = backend_options();
    jmpco_coro *co = NULL;
    CHECK_RC(jmpco_create(&co, nested_read, arg, &opts), JMPCO_OK);
    CHECK_RC(jmpco_resume(co, NULL, NULL), JMPCO_OK);
    CHECK_RC(jmpco_destroy(co), JMPCO_OK);
    return NULL;
}

static void *write_after_10ms(void *arg) {
    struct stalled *s = arg;
    CHECK_RC(jmpco_sleep_ms(10), JMPCO_OK);
    CHECK(jmpco_write(s->sv[1], "x", 1, -1) == 1);
    s->wrote = 1;
    return NULL;
}

static void a_nested_coroutines_registered_call_stalls_its_scheduler(void) {
    struct stalled s;
    memset(&s, 0, sizeof s);
    blocking_pair(s.sv);
    spawn(write_after_10ms, &s);
    spawn(resume_nested_read, &s);
    run();
    CHECK(s.read_rc == -1 && s.read_errno == EAGAIN); /* its timeout */
    CHECK(s.read_took >= UNSEEN_WAIT - 5);
    CHECK(!s.wrote_before_read_returned && s.wrote);
    CHECK(jmpco_close(s.sv[0]) == 0);
    CHECK(jmpco_close(s.sv[1]) == 0);
}

/* --- cancellation ------------------------------------------------------- */

struct cancelled_io {
    int fd, listener;
    ssize_t read_rc;
    int read_errno, accept_rc, accept_errno;
    ssize_t again_rc, write_rc;
    int again_errno, write_errno;
    char buf[8];
};

/* Parks in a registered read; after the cancel, tries again with data
   there (the read must still fail, taking nothing) and writes. */
static void *cancelled_reader(void *arg) {
    struct cancelled_io *c = arg;
    errno = 0;
    c->read_rc = jmpco_read(c->fd, c->buf, sizeof c->buf, -1);
    c->read_errno = errno;
    errno = 0;
    c->again_rc = jmpco_read(c->fd, c->buf, sizeof c->buf, 0);
    c->again_errno = errno;
    errno = 0;
    c->write_rc = jmpco_write(c->fd, "x", 1, 0);
    c->write_errno = errno;
    return (void *)1;
}

static void *cancelled_acceptor(void *arg) {
    struct cancelled_io *c = arg;
    errno = 0;
    c->accept_rc = jmpco_accept(c->listener, NULL, NULL, -1);
    c->accept_errno = errno;
    return (void *)2;
}

struct canceller {
    jmpco_task *reader, *acceptor;
    int peer;
};

/* Lets the others park, cancels them, then puts data where the reader's
   retry would find it. */
static void *cancel_both(void *arg) {
    struct canceller *k = arg;
    CHECK_RC(jmpco_sleep_ms(20), JMPCO_OK);
    CHECK_RC(jmpco_cancel(k->reader), JMPCO_OK);
    CHECK_RC(jmpco_cancel(k->acceptor), JMPCO_OK);
    CHECK(write(k->peer, "data", 4) == 4);
    return NULL;
}

/* jmpco_cancel of tasks parked in jmpco_read and jmpco_accept: each call
   returns -1 with ECANCELED, and so does every later registered call of
   the task, even one that would not wait (data is buffered, the socket has
   room): nothing is read or written. The bodies return, and their values
   reach jmpco_join. */
static void cancel_of_tasks_parked_in_registered_calls_fails_them_with_ecanceled(void) {
    int sv[2];
    blocking_pair(sv);
    struct sockaddr_in addr;
    struct cancelled_io c = {.fd = sv[0], .listener = tcp_listener(&addr, 4)};
    jmpco_options opts;
    jmpco_options_init(&opts);
    opts.backend = backend;
    struct canceller k = {.peer = sv[1]};
    CHECK_RC(jmpco_spawn_task(&k.reader, cancelled_reader, &c, &opts), JMPCO_OK);
    CHECK_RC(jmpco_spawn_task(&k.acceptor, cancelled_acceptor, &c, &opts), JMPCO_OK);
    spawn(cancel_both, &k);
    run();
    CHECK(c.read_rc == -1 && c.read_errno == ECANCELED);
    CHECK(c.accept_rc == -1 && c.accept_errno == ECANCELED);
    CHECK(c.again_rc == -1 && c.again_errno == ECANCELED);
    CHECK(c.write_rc == -1 && c.write_errno == ECANCELED);
    void *result = NULL;
    CHECK_RC(jmpco_join(k.reader, &result), JMPCO_OK);
    CHECK(result == (void *)1);
    CHECK_RC(jmpco_join(k.acceptor, &result), JMPCO_OK);
    CHECK(result == (void *)2);
    CHECK_RC(jmpco_task_release(k.reader), JMPCO_OK);
    CHECK_RC(jmpco_task_release(k.acceptor), JMPCO_OK);
    /* The cancelled read took nothing: the data is all still there. */
    char buf[8];
    CHECK(jmpco_read(sv[0], buf, sizeof buf, 0) == 4 && memcmp(buf, "data", 4) == 0);
    CHECK(jmpco_close(sv[0]) == 0);
    CHECK(jmpco_close(c.listener) == 0);
    close(sv[1]);
}

/* --- sharing and reuse -------------------------------------------------- */

struct share {
    int fd, peer, wait_rc;
    ssize_t first, second;
};

static void *share_wait(void *arg) {
    struct share *s = arg;
    s->wait_rc = jmpco_wait_fd(s->fd, JMPCO_READABLE, LONG_WAIT);
    return NULL;
}

static void *share_read(void *arg) {
    struct share *s = arg;
    char buf[8];
    s->first = jmpco_read(s->fd, buf, sizeof buf, LONG_WAIT);
    s->second = jmpco_read(s->fd, buf, sizeof buf, LONG_WAIT);
    return NULL;
}

static void *share_write(void *arg) {
    struct share *s = arg;
    CHECK_RC(jmpco_sleep_ms(20), JMPCO_OK);
    CHECK(write(s->peer, "1", 1) == 1);
    CHECK_RC(jmpco_sleep_ms(20), JMPCO_OK);
    CHECK(write(s->peer, "22", 2) == 2);
    return NULL;
}

/* jmpco_wait_fd parks first and registers the fd; jmpco_read then shares
   that registration, and keeps it after the wait has let go. */
static void wait_fd_and_read_share_one_registration(void) {
    int sv[2];
    blocking_pair(sv);
    struct share s = {sv[0], sv[1], 99, 99, 99};
    spawn(share_wait, &s);
    spawn(share_read, &s);
    spawn(share_write, &s);
    run();
    CHECK_RC(s.wait_rc, JMPCO_OK);
    CHECK(s.first == 1);
    CHECK(s.second == 2);
    CHECK(jmpco_close(sv[0]) == 0);
    close(sv[1]);
}

struct reuse {
    int old_fd, listen_fd, client, accepted;
    struct sockaddr_in addr;
    ssize_t got;
    int stale_errno;
};

/* Registers old_fd with its readiness clear (a read that timed out), then
   closes it with close(2), breaking the rule: its registration is left
   behind for the number's next file. */
static void leave_a_stale_registration(int fd) {
    char c;
    CHECK_ERR(jmpco_read(fd, &c, 1, 0), EAGAIN);
    close(fd);
}

static void *reuse_by_accept(void *arg) {
    struct reuse *r = arg;
    r->client = tcp_socket();
    CHECK(jmpco_connect(r->client, (struct sockaddr *)&r->addr, sizeof r->addr, LONG_WAIT) == 0);
    CHECK(jmpco_write(r->client, "data", 4, LONG_WAIT) == 4);
    leave_a_stale_registration(r->old_fd);
    /* The lowest free number: the one just closed. */
    r->accepted = jmpco_accept(r->listen_fd, NULL, NULL, LONG_WAIT);
    char buf[8];
    r->got = jmpco_read(r->accepted, buf, sizeof buf, 1000);
    return NULL;
}

static void *reuse_by_connect(void *arg) {
    struct reuse *r = arg;
    leave_a_stale_registration(r->old_fd);
    r->client = tcp_socket(); /* the lowest free number: the one closed */
    CHECK(jmpco_connect(r->client, (struct sockaddr *)&r->addr, sizeof r->addr, LONG_WAIT) == 0);
    r->accepted = jmpco_accept(r->listen_fd, NULL, NULL, LONG_WAIT);
    CHECK(jmpco_write(r->accepted, "data", 4, LONG_WAIT) == 4);
    char buf[8];
    r->got = jmpco_read(r->client, buf, sizeof buf, 1000);
    return NULL;
}

/* The documented hazard: a read on a number reused behind the library's
   back waits on the stale registration, until its timeout. */
static void *reuse_by_dup2(void *arg) {
    struct reuse *r = arg;
    int sv[2];
    blocking_pair(sv); /* before the close: its fds do not take the number */
    leave_a_stale_registration(r->old_fd);
    CHECK(write(sv[1], "data", 4) == 4);
    CHECK(dup2(sv[0], r->old_fd) == r->old_fd);
    close(sv[0]);
    char buf[8];
    errno = 0;
    r->got = jmpco_read(r->old_fd, buf, sizeof buf, 50);
    r->stale_errno = errno;
    CHECK(jmpco_close(r->old_fd) == 0);
    close(sv[1]);
    return NULL;
}

/* After EOF (the loop has seen the peer's close), close(2) and a new file
   at the number: the first EAGAIN shows the stale registration, which is
   replaced, so the read waits for the new file's data. */
static void *write_later_to(void *arg) {
    int fd = *(int *)arg;
    CHECK_RC(jmpco_sleep_ms(30), JMPCO_OK);
    CHECK(write(fd, "new", 3) == 3);
    return NULL;
}

static void *reuse_after_eof(void *arg) {
    struct reuse *r = arg;
    int old_peer = r->client;
    char buf[8];
    CHECK_RC(jmpco_sleep_ms(10), JMPCO_OK);
    close(old_peer);                                            /* EOF ... */
    CHECK(jmpco_read(r->old_fd, buf, sizeof buf, LONG_WAIT) == 0); /* ... seen */
    CHECK_RC(jmpco_sleep_ms(10), JMPCO_OK);
    int sv[2];
    blocking_pair(sv);
    close(r->old_fd); /* behind the library's back */
    CHECK(dup2(sv[0], r->old_fd) == r->old_fd);
    close(sv[0]);
    r->accepted = sv[1];
    spawn(write_later_to, &r->accepted);
    r->got = jmpco_read(r->old_fd, buf, sizeof buf, LONG_WAIT);
    CHECK(r->got != 3 || memcmp(buf, "new", 3) == 0);
    return NULL;
}

static void *wait_for_eof_first(void *arg) {
    struct reuse *r = arg;
    char buf[8];
    /* Registers the fd and parks: the peer's close comes as an event. */
    CHECK_ERR(jmpco_read(r->old_fd, buf, sizeof buf, 5), EAGAIN);
    return NULL;
}

static void a_stale_registration_of_a_file_at_eof_is_replaced_on_eagain(void) {
    struct reuse r;
    memset(&r, 0, sizeof r);
    int sv[2];
    blocking_pair(sv);
    r.old_fd = sv[0];
    r.client = sv[1];
    spawn(wait_for_eof_first, &r);
    spawn(reuse_after_eof, &r);
    double t0 = now_ms();
    run();
    CHECK(r.got == 3);
    CHECK(now_ms() - t0 < 2000);
    CHECK(jmpco_close(r.old_fd) == 0);
    close(r.accepted);
}

static void a_number_closed_with_close2_and_reused_by_accept_or_connect_works(void) {
    for (int how = 0; how < 3; how++) {
        struct reuse r;
        memset(&r, 0, sizeof r);
        r.listen_fd = tcp_listener(&r.addr, 8);
        int sv[2];
        blocking_pair(sv);
        r.old_fd = sv[0];
        spawn(how == 0 ? reuse_by_accept : how == 1 ? reuse_by_connect : reuse_by_dup2, &r);
        run();
        if (how < 2) {
            CHECK((how == 0 ? r.accepted : r.client) == r.old_fd); /* the number was reused */
            CHECK(r.got == 4);
            CHECK(jmpco_close(r.accepted) == 0);
            CHECK(jmpco_close(r.client) == 0);
        } else {
            CHECK(r.got == -1 && r.stale_errno == EAGAIN);
        }
        CHECK(jmpco_close(r.listen_fd) == 0);
        close(sv[1]);
    }
}

/* --- outside a coroutine ------------------------------------------------ */

static void outside_a_coroutine_the_calls_block_like_the_system_calls(void) {
    int sv[2];
    blocking_pair(sv);
    char buf[8];
    CHECK(jmpco_write(sv[1], "abc", 3, LONG_WAIT) == 3);
    CHECK(jmpco_read(sv[0], buf, sizeof buf, LONG_WAIT) == 3);
    double t0 = now_ms();
    CHECK_ERR(jmpco_read(sv[0], buf, sizeof buf, 50), EAGAIN);
    double took = now_ms() - t0;
    CHECK(took >= 50 && took < 1000);
    CHECK_ERR(jmpco_read(sv[0], buf, sizeof buf, 0), EAGAIN);
    CHECK(jmpco_close(sv[0]) == 0);
    CHECK(jmpco_read(sv[1], buf, sizeof buf, LONG_WAIT) == 0); /* EOF */
    CHECK(jmpco_close(sv[1]) == 0);
    /* tcp_pair connects and accepts from here. */
    int client, server;
    tcp_pair(&client, &server);
    CHECK(jmpco_write(client, "x", 1, LONG_WAIT) == 1);
    CHECK(jmpco_read(server, buf, 1, LONG_WAIT) == 1);
    CHECK(jmpco_close(client) == 0 && jmpco_close(server) == 0);
}

/* --- the echo ------------------------------------------------------------- */

#define CLIENTS 5
static const size_t echo_sizes[CLIENTS] = {0, 1, 4096, BIG, BIG};

struct echo_server {
    int listen_fd;
    int expected, accepted, served, resets;
};

static void *echo_serve(void *arg) {
    struct echo_server *s = (struct echo_server *)((void **)arg)[0];
    int fd = (int)(intptr_t)((void **)arg)[1];
    free(arg);
    char buf[16384];
    for (;;) {
        ssize_t n = jmpco_read(fd, buf, sizeof buf, LONG_WAIT);
        if (n == 0) break;
        if (n < 0) {
            CHECK(errno == ECONNRESET);
            s->resets++;
            break;
        }
        ssize_t w = jmpco_write(fd, buf, (size_t)n, LONG_WAIT);
        if (w != n) {
            CHECK(w < 0 && (errno == ECONNRESET || errno == EPIPE));
            s->resets++;
            break;
        }
    }
    CHECK(jmpco_close(fd) == 0);
    s->served++;
    return NULL;
}

static void *echo_accept(void *arg) {
    struct echo_server *s = arg;
    while (s->accepted < s->expected) {
        int fd = jmpco_accept(s->listen_fd, NULL, NULL, LONG_WAIT);
        if (fd < 0) {
            CHECK(fd >= 0);
            break;
        }
        s->accepted++;
        void **pair = malloc(2 * sizeof *pair);
        pair[0] = s;
        pair[1] = (void *)(intptr_t)fd;
        spawn(echo_serve, pair);
    }
    return NULL;
}

struct echo_client {
    struct sockaddr_in addr;
    int fd;
    size_t size;
    unsigned seed;
    unsigned char *back;
    size_t got;
    int writer_done, ok;
};

static void *echo_client_writer(void *arg) {
    struct echo_client *c = arg;
    unsigned char *data = malloc(c->size + 1);
    for (size_t i = 0; i < c->size; i++) data[i] = pattern_byte(i, c->seed);
    /* Uneven pieces: the server sees reads of every size. */
    size_t off = 0;
    while (off < c->size) {
        size_t piece = c->size - off < 7919 ? c->size - off : 7919;
        if (jmpco_write(c->fd, data + off, piece, LONG_WAIT) != (ssize_t)piece) break;
        off += piece;
    }
    CHECK(off == c->size);
    CHECK(shutdown(c->fd, SHUT_WR) == 0);
    free(data);
    c->writer_done = 1;
    return NULL;
}

static void *echo_client_reader(void *arg) {
    struct echo_client *c = arg;
    c->back = malloc(c->size + 1);
    for (;;) {
        ssize_t n = jmpco_read(c->fd, c->back + c->got, c->size + 1 - c->got, LONG_WAIT);
        if (n <= 0) {
            CHECK(n == 0);
            break;
        }
        c->got += (size_t)n;
    }
    c->ok = c->got == c->size;
    for (size_t i = 0; c->ok && i < c->size; i++) c->ok = c->back[i] == pattern_byte(i, c->seed);
    free(c->back);
    while (!c->writer_done) CHECK_RC(jmpco_sleep_ms(1), JMPCO_OK);
    CHECK(jmpco_close(c->fd) == 0);
    return NULL;
}

/* Connects, then spawns the writer and the reader on the one fd. */
static void *echo_client_start(void *arg) {
    struct echo_client *c = arg;
    c->fd = tcp_socket();
    CHECK(jmpco_connect(c->fd, (struct sockaddr *)&c->addr, sizeof c->addr, LONG_WAIT) == 0);
    spawn(echo_client_writer, c);
    spawn(echo_client_reader, c);
    return NULL;
}

/* Sends 200 kB, then resets the connection without reading. */
static void *reset_client(void *arg) {
    struct sockaddr_in *addr = arg;
    int fd = tcp_socket();
    CHECK(jmpco_connect(fd, (struct sockaddr *)addr, sizeof *addr, LONG_WAIT) == 0);
    static unsigned char junk[200000];
    CHECK(jmpco_write(fd, junk, sizeof junk, LONG_WAIT) > 0);
    linger_zero(fd);
    CHECK(jmpco_close(fd) == 0);
    return NULL;
}

static void echo_of_1mib_streams_with_a_resetting_client_leaves_no_fd_behind(void) {
    int before = open_fds();
    struct echo_server s = {-1, CLIENTS + 1, 0, 0, 0};
    struct sockaddr_in addr;
    s.listen_fd = tcp_listener(&addr, 64);
    struct echo_client clients[CLIENTS];
    memset(clients, 0, sizeof clients);
    spawn(echo_accept, &s);
    for (int i = 0; i < CLIENTS; i++) {
        clients[i].addr = addr;
        clients[i].size = echo_sizes[i];
        clients[i].seed = (unsigned)i;
        spawn(echo_client_start, &clients[i]);
    }
    spawn(reset_client, &addr);
    run();
    for (int i = 0; i < CLIENTS; i++) {
        if (!clients[i].ok) printf("  client %d (%zu bytes) got %zu\n", i, clients[i].size, clients[i].got);
        CHECK(clients[i].ok);
    }
    CHECK(s.accepted == CLIENTS + 1);
    CHECK(s.served == CLIENTS + 1);
    CHECK(s.resets == 1);
    CHECK(jmpco_close(s.listen_fd) == 0);
    CHECK(open_fds() == before);
}

/* --- threads -------------------------------------------------------------- */

static void *thread_ping(void *arg) {
    (void)arg;
    int sv[2];
    blocking_pair(sv);
    struct big b = {sv[0], sv[1], malloc(BIG), calloc(1, BIG), 0, 0};
    for (size_t i = 0; i < BIG; i++) b.data[i] = pattern_byte(i, 7);
    jmpco_options opts;
    jmpco_options_init(&opts);
    opts.backend = backend;
    int ok = jmpco_spawn_with(write_big, &b, &opts) == JMPCO_OK &&
             jmpco_spawn_with(read_big, &b, &opts) == JMPCO_OK && jmpco_run() == JMPCO_OK &&
             b.written == (ssize_t)BIG && b.got == BIG && memcmp(b.data, b.back, BIG) == 0;
    free(b.data);
    free(b.back);
    ok = ok && jmpco_close(sv[0]) == 0 && jmpco_close(sv[1]) == 0;
    return (void *)(intptr_t)ok;
}

/* No CHECK on the other threads: the tallies are not atomic. */
static void each_thread_registers_its_own_fds(void) {
    pthread_t threads[3];
    for (int i = 0; i < 3; i++) CHECK(pthread_create(&threads[i], NULL, thread_ping, NULL) == 0);
    for (int i = 0; i < 3; i++) {
        void *ok = NULL;
        CHECK(pthread_join(threads[i], &ok) == 0);
        CHECK(ok == (void *)1);
    }
}

int main(void) {
    /* A regression that hangs (a wait never woken, a loop that never parks)
       fails the run instead of stalling it. */
    alarm(600);
    FOR_EACH_BACKEND(3) {
        read_returns_buffered_data_zero_for_len_zero_and_zero_at_eof();
        read_parks_after_a_short_read_until_more_data_comes();
        read_after_a_full_read_gets_the_rest_then_times_out();
        read_with_timeout_zero_returns_data_that_came_after_a_short_read();
        read_times_out_with_eagain();
        read_refuses_bad_fds_and_timeouts();
        read_reports_a_reset_as_econnreset();
        write_writes_everything_while_the_peer_reads();
        write_times_out_with_a_short_count_then_eagain();
        write_refuses_bad_fds_and_timeouts_and_gives_epipe();
        accept_and_connect_meet_and_the_new_fd_is_nonblocking();
        accept_times_out_with_eagain_and_passes_the_kernels_errors();
        connect_reports_refusal_and_the_kernels_errors();
        connect_times_out_with_etimedout();
        close_wakes_the_waiters_with_ebadf();
        a_close_the_waiters_thread_does_not_see_wakes_no_one();
        a_nested_coroutines_registered_call_stalls_its_scheduler();
        cancel_of_tasks_parked_in_registered_calls_fails_them_with_ecanceled();
        wait_fd_and_read_share_one_registration();
        a_number_closed_with_close2_and_reused_by_accept_or_connect_works();
        a_stale_registration_of_a_file_at_eof_is_replaced_on_eagain();
        outside_a_coroutine_the_calls_block_like_the_system_calls();
        echo_of_1mib_streams_with_a_resetting_client_leaves_no_fd_behind();
        each_thread_registers_its_own_fds();
    }
    return report("fdio_test");
}
