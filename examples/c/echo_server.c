/*
 * echo_server.c: a TCP echo server on jmpco's C runtime tier. One coroutine
 * per client, plus one for the accept loop, all on one thread. The code is
 * written as for blocking sockets, with jmpco_accept, jmpco_read,
 * jmpco_write and jmpco_close in place of accept, read, write and close:
 * each parks only its coroutine while the others run, and keeps one epoll
 * registration for the socket's life (registered I/O), so a read with data
 * waiting is one recv and a write with room one send.
 *
 *   make -C examples/c && ./examples/c/echo_server 7000
 *   nc 127.0.0.1 7000          # type lines: each comes back
 *
 * Usage: echo_server PORT [--once N]
 *   PORT      port on 127.0.0.1; 0 picks a free one. The bound port is
 *             printed as "listening on 127.0.0.1:PORT" (stdout, flushed).
 *   --once N  accept N clients, then stop accepting; exit 0 once all of
 *             them have disconnected (for tests and scripts).
 *
 * jmpco_write sends with MSG_NOSIGNAL, so a client that resets the
 * connection gives EPIPE/ECONNRESET instead of killing the process with
 * SIGPIPE.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "jmpco.h"

#define BUF_SIZE 16384

static long clients_accepted, clients_done, clients_reset;

/* Sends all len bytes. jmpco_write writes everything unless the connection
   fails; after a short count the next call reports why. Returns 0, or -1
   with errno set. */
static int send_all(int fd, const char *buf, size_t len) {
    while (len > 0) {
        ssize_t n = jmpco_write(fd, buf, len, -1);
        if (n < 0) return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* One client: read what comes, send it back, until EOF or an error. */
static void *serve_client(void *arg) {
    int fd = (int)(intptr_t)arg;
    char buf[BUF_SIZE];
    for (;;) {
        ssize_t n = jmpco_read(fd, buf, sizeof buf, -1);
        if (n == 0) break; /* EOF: the client is done */
        if (n < 0) {
            if (errno == ECONNRESET) clients_reset++;
            else perror("echo_server: read");
            break;
        }
        if (send_all(fd, buf, (size_t)n) != 0) {
            if (errno == ECONNRESET || errno == EPIPE) clients_reset++;
            else perror("echo_server: write");
            break;
        }
    }
    jmpco_close(fd);
    clients_done++;
    return NULL;
}

struct acceptor {
    int listen_fd;
    long once; /* 0: forever */
};

/* The accept loop: a coroutine per accepted client. */
static void *accept_loop(void *arg) {
    struct acceptor *a = arg;
    while (a->once == 0 || clients_accepted < a->once) {
        int fd = jmpco_accept(a->listen_fd, NULL, NULL, -1);
        if (fd >= 0) {
            clients_accepted++;
            int one = 1; /* replies go out at once, as the Rust server's do */
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            int rc = jmpco_spawn(serve_client, (void *)(intptr_t)fd);
            if (rc != JMPCO_OK) {
                fprintf(stderr, "echo_server: dropping a client: %s\n", jmpco_strerror(rc));
                jmpco_close(fd);
            }
        } else if (errno == ECONNABORTED || errno == EINTR) {
            continue;
        } else if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            perror("echo_server: accept"); /* out of fds or memory: back off */
            jmpco_sleep_ms(10);
        } else {
            perror("echo_server: accept");
            break;
        }
    }
    jmpco_close(a->listen_fd);
    return NULL;
}

static void usage(void) {
    fprintf(stderr, "usage: echo_server PORT [--once N]\n");
    exit(2);
}

int main(int argc, char **argv) {
    if (argc != 2 && argc != 4) usage();
    char *end;
    long port = strtol(argv[1], &end, 10);
    if (*end != '\0' || port < 0 || port > 65535) usage();
    struct acceptor a = {-1, 0};
    if (argc == 4) {
        if (strcmp(argv[2], "--once") != 0) usage();
        a.once = strtol(argv[3], &end, 10);
        if (*end != '\0' || a.once <= 0) usage();
    }

    a.listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (a.listen_fd < 0) {
        perror("echo_server: socket");
        return 1;
    }
    int one = 1;
    setsockopt(a.listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (bind(a.listen_fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        listen(a.listen_fd, 1024) != 0 ||
        getsockname(a.listen_fd, (struct sockaddr *)&addr, &len) != 0) {
        perror("echo_server: bind/listen");
        return 1;
    }
    printf("listening on 127.0.0.1:%d\n", ntohs(addr.sin_port));
    fflush(stdout);

    int rc = jmpco_spawn(accept_loop, &a);
    if (rc == JMPCO_OK) rc = jmpco_run();
    if (rc != JMPCO_OK) {
        fprintf(stderr, "echo_server: %s\n", jmpco_strerror(rc));
        return 1;
    }
    fprintf(stderr, "echo_server: served %ld clients (%ld reset the connection)\n",
            clients_done, clients_reset);
    return 0;
}
