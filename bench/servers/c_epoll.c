/*
 * c_epoll: the floor. A plain single-threaded epoll echo server in C.
 *
 * Level-triggered; each readiness event does one read into a 256 KiB buffer
 * and writes the bytes straight back. A partial write keeps the rest in a
 * per-fd pending buffer, switches the fd's interest from EPOLLIN to
 * EPOLLOUT until it drains (so reading stops while the peer isn't reading:
 * backpressure), then back. One recv and one send per message when the
 * socket buffers allow it: what any event loop costs above this is
 * overhead.
 *
 * Contract (shared by every server in bench/servers/):
 *   c_epoll [--host 127.0.0.1] (--port N | --unix PATH)
 *   prints "PID <pid>" and "PORT <n>" on stdout once listening (port 0 =
 *   ephemeral, the bound port is printed); exits 0 on SIGTERM/SIGINT and
 *   when its stdin reaches EOF (the harness died).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define BUF_SIZE (256 * 1024)
#define MAX_EVENTS 512

struct pending {
    char *data;
    size_t len, off;
};

static volatile sig_atomic_t stopping;
static struct pending *pend; /* indexed by fd */
static size_t pend_cap;
static int epfd, is_unix;

static void on_signal(int sig) {
    (void)sig;
    stopping = 1;
}

static struct pending *pending_for(int fd) {
    if ((size_t)fd >= pend_cap) {
        size_t cap = pend_cap ? pend_cap : 1024;
        while (cap <= (size_t)fd) cap *= 2;
        pend = realloc(pend, cap * sizeof *pend);
        memset(pend + pend_cap, 0, (cap - pend_cap) * sizeof *pend);
        pend_cap = cap;
    }
    return &pend[fd];
}

static void set_interest(int fd, unsigned events) {
    struct epoll_event ev = {.events = events, .data.fd = fd};
    epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
}

static void drop(int fd) {
    if ((size_t)fd < pend_cap && pend[fd].data) {
        free(pend[fd].data);
        pend[fd].data = NULL;
    }
    close(fd); /* closing removes it from the epoll set */
}

/* Write data; keep what the socket didn't take. Returns -1 if fd was dropped. */
static int write_all(int fd, const char *data, size_t len) {
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);
        if (n > 0) {
            off += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pending *p = pending_for(fd);
            size_t rest = len - off;
            char *copy = malloc(rest);
            memcpy(copy, data + off, rest);
            free(p->data);
            p->data = copy;
            p->len = rest;
            p->off = 0;
            set_interest(fd, EPOLLOUT);
            return 0;
        } else {
            drop(fd);
            return -1;
        }
    }
    return 0;
}

static void flush_pending(int fd) {
    struct pending *p = pending_for(fd);
    while (p->off < p->len) {
        ssize_t n = write(fd, p->data + p->off, p->len - p->off);
        if (n > 0) {
            p->off += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        } else {
            drop(fd);
            return;
        }
    }
    free(p->data);
    p->data = NULL;
    set_interest(fd, EPOLLIN);
}

static int listen_on(const char *host, int port, const char *unix_path) {
    int fd;
    if (unix_path) {
        struct sockaddr_un un = {.sun_family = AF_UNIX};
        if (strlen(unix_path) >= sizeof un.sun_path) return -1;
        strcpy(un.sun_path, unix_path);
        unlink(unix_path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *)&un, sizeof un) < 0) return -1;
    } else {
        struct addrinfo hints = {0}, *res = NULL;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
        char ps[16];
        snprintf(ps, sizeof ps, "%d", port);
        if (getaddrinfo(host, ps, &hints, &res) != 0) return -1;
        fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) < 0) return -1;
        freeaddrinfo(res);
    }
    if (listen(fd, 4096) < 0) return -1;
    return fd;
}

static int bound_port(int fd) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) return -1;
    if (ss.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return 0;
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1", *unix_path = NULL;
    int port = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--host") && i + 1 < argc) host = argv[++i];
        else if (!strcmp(argv[i], "--port") && i + 1 < argc) port = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--unix") && i + 1 < argc) unix_path = argv[++i];
        else {
            fprintf(stderr, "usage: c_epoll [--host H] (--port N | --unix PATH)\n");
            return 2;
        }
    }
    is_unix = unix_path != NULL;

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: epoll_wait returns EINTR */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int lfd = listen_on(host, port, unix_path);
    if (lfd < 0) {
        perror("c_epoll: listen");
        return 1;
    }
    static char buf[BUF_SIZE];
    epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
    epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev);
    ev.data.fd = 0; /* stdin: EOF means the harness is gone */
    int watch_stdin = epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &ev) == 0;

    printf("PID %d\nPORT %d\n", (int)getpid(), bound_port(lfd));
    fflush(stdout);

    struct epoll_event evs[MAX_EVENTS];
    while (!stopping) {
        int n = epoll_wait(epfd, evs, MAX_EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("c_epoll: epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == lfd) {
                for (;;) {
                    int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (c < 0) break; /* EAGAIN, or EMFILE: retried on the next event */
                    if (!is_unix) {
                        int one = 1;
                        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    }
                    struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
                    epoll_ctl(epfd, EPOLL_CTL_ADD, c, &cev);
                }
            } else if (fd == 0 && watch_stdin) {
                ssize_t r = read(0, buf, sizeof buf);
                if (r <= 0) stopping = 1;
            } else if (evs[i].events & EPOLLOUT) {
                flush_pending(fd);
            } else {
                ssize_t r = read(fd, buf, BUF_SIZE);
                if (r > 0) write_all(fd, buf, (size_t)r);
                else if (r == 0 || (errno != EAGAIN && errno != EINTR)) drop(fd);
            }
        }
    }
    if (unix_path) unlink(unix_path);
    return 0;
}
