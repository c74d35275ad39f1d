/*
 * c_uring: a plain single-threaded io_uring echo server in C, beside the
 * c_epoll floor: what a completion loop costs with nothing above it.
 *
 * Raw syscalls and <linux/io_uring.h> only (no liburing). One ring, set up
 * with IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN where the
 * kernel has them (--plain: without), one io_uring_enter per loop turn that
 * submits everything queued and waits for a completion. Per connection one
 * operation in flight: a recv into the connection's own 256 KiB buffer; its
 * completion submits a send of those bytes (the rest again after a short
 * send); the send's completion submits the next recv. So reading stops while
 * the peer isn't reading (backpressure), as c_epoll's switch to EPOLLOUT
 * does. Connections come from one multishot accept.
 *
 * Contract (shared by every server in bench/servers/):
 *   c_uring [--host 127.0.0.1] (--port N | --unix PATH) [--plain]
 *   prints "PID <pid>" and "PORT <n>" on stdout once listening (port 0 =
 *   ephemeral, the bound port is printed); exits 0 on SIGTERM/SIGINT and
 *   when its stdin reaches EOF (the harness died). Prints "SKIP <reason>"
 *   and exits 3 where no ring can be made.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/io_uring.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef IORING_SETUP_SUBMIT_ALL
#define IORING_SETUP_SUBMIT_ALL (1U << 7)
#endif
#ifndef IORING_SETUP_SINGLE_ISSUER
#define IORING_SETUP_SINGLE_ISSUER (1U << 12)
#endif
#ifndef IORING_SETUP_DEFER_TASKRUN
#define IORING_SETUP_DEFER_TASKRUN (1U << 13)
#endif
#ifndef IORING_ACCEPT_MULTISHOT
#define IORING_ACCEPT_MULTISHOT (1U << 0)
#endif
#ifndef IORING_CQE_F_MORE
#define IORING_CQE_F_MORE (1U << 1)
#endif

#define BUF_SIZE (256 * 1024)
#define SQ_ENTRIES 256
#define CQ_ENTRIES 1024

enum { OP_ACCEPT = 1, OP_RECV, OP_SEND, OP_STDIN };

struct conn {
    char *buf;
    size_t len, off; /* bytes received, bytes sent back */
};

static volatile sig_atomic_t stopping;
static struct conn *conns; /* indexed by fd */
static size_t conns_cap;
static int is_unix;

static int ring_fd;
static unsigned *sq_head, *sq_tail, sq_mask, sq_entries, sq_local;
static unsigned *cq_head, *cq_tail, cq_mask;
static struct io_uring_sqe *sqes;
static struct io_uring_cqe *cqes;

static void on_signal(int sig) {
    (void)sig;
    stopping = 1;
}

static int ring_setup(int plain) {
    const unsigned fast = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL;
    const unsigned choices[] = {fast, IORING_SETUP_SUBMIT_ALL, 0};
    struct io_uring_params p;
    int fd = -1;
    for (unsigned i = plain ? 1 : 0; i < 3; i++) {
        memset(&p, 0, sizeof p);
        p.flags = choices[i] | IORING_SETUP_CQSIZE;
        p.cq_entries = CQ_ENTRIES;
        fd = (int)syscall(__NR_io_uring_setup, SQ_ENTRIES, &p);
        if (fd >= 0 || errno != EINVAL) break;
    }
    if (fd < 0) return -errno;
    size_t sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    size_t cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    if (cq_len > sq_len) sq_len = cq_len; /* one mapping: IORING_FEAT_SINGLE_MMAP (5.4) */
    char *sq = mmap(NULL, sq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
    sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
                MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
    if (sq == MAP_FAILED || sqes == MAP_FAILED) return -errno;
    sq_head = (unsigned *)(sq + p.sq_off.head);
    sq_tail = (unsigned *)(sq + p.sq_off.tail);
    sq_mask = *(unsigned *)(sq + p.sq_off.ring_mask);
    sq_entries = p.sq_entries;
    unsigned *array = (unsigned *)(sq + p.sq_off.array);
    for (unsigned i = 0; i < sq_entries; i++) array[i] = i;
    sq_local = *sq_tail;
    cq_head = (unsigned *)(sq + p.cq_off.head);
    cq_tail = (unsigned *)(sq + p.cq_off.tail);
    cq_mask = *(unsigned *)(sq + p.cq_off.ring_mask);
    cqes = (struct io_uring_cqe *)(sq + p.cq_off.cqes);
    ring_fd = fd;
    fprintf(stderr, "c_uring: setup flags 0x%x\n", p.flags & ~IORING_SETUP_CQSIZE);
    return 0;
}

static int enter(unsigned min_complete) {
    atomic_store_explicit((_Atomic unsigned *)sq_tail, sq_local, memory_order_release);
    unsigned to_submit = sq_local - atomic_load_explicit((_Atomic unsigned *)sq_head, memory_order_acquire);
    unsigned flags = min_complete ? IORING_ENTER_GETEVENTS : 0;
    return (int)syscall(__NR_io_uring_enter, ring_fd, to_submit, min_complete, flags, NULL, 0);
}

static struct io_uring_sqe *next_sqe(void) {
    while (sq_local - atomic_load_explicit((_Atomic unsigned *)sq_head, memory_order_acquire) >= sq_entries) {
        if (enter(0) < 0 && errno != EINTR && errno != EBUSY && errno != EAGAIN) return NULL;
    }
    struct io_uring_sqe *sqe = &sqes[sq_local & sq_mask];
    memset(sqe, 0, sizeof *sqe);
    sq_local++;
    return sqe;
}

static uint64_t ud(int fd, int op) { return ((uint64_t)(uint32_t)fd << 8) | (uint64_t)op; }

static struct conn *conn_for(int fd) {
    if ((size_t)fd >= conns_cap) {
        size_t cap = conns_cap ? conns_cap : 1024;
        while (cap <= (size_t)fd) cap *= 2;
        conns = realloc(conns, cap * sizeof *conns);
        memset(conns + conns_cap, 0, (cap - conns_cap) * sizeof *conns);
        conns_cap = cap;
    }
    return &conns[fd];
}

static void queue_accept(int lfd) {
    struct io_uring_sqe *sqe = next_sqe();
    sqe->opcode = IORING_OP_ACCEPT;
    sqe->fd = lfd;
    sqe->ioprio = IORING_ACCEPT_MULTISHOT;
    /* Blocking sockets: the ring waits for readiness itself (an O_NONBLOCK
     * file may get EAGAIN back instead). */
    sqe->accept_flags = SOCK_CLOEXEC;
    sqe->user_data = ud(lfd, OP_ACCEPT);
}

static void queue_recv(int fd, void *buf, size_t len, int op) {
    struct io_uring_sqe *sqe = next_sqe();
    sqe->opcode = op == OP_STDIN ? IORING_OP_READ : IORING_OP_RECV; /* stdin may be a pipe */
    if (op == OP_STDIN) sqe->off = (uint64_t)-1;                    /* at the current position */
    sqe->fd = fd;
    sqe->addr = (uint64_t)(uintptr_t)buf;
    sqe->len = (uint32_t)len;
    sqe->user_data = ud(fd, op);
}

static void queue_send(int fd, struct conn *c) {
    struct io_uring_sqe *sqe = next_sqe();
    sqe->opcode = IORING_OP_SEND;
    sqe->fd = fd;
    sqe->addr = (uint64_t)(uintptr_t)(c->buf + c->off);
    sqe->len = (uint32_t)(c->len - c->off);
    sqe->msg_flags = MSG_NOSIGNAL;
    sqe->user_data = ud(fd, OP_SEND);
}

static void drop(int fd) {
    struct conn *c = conn_for(fd);
    free(c->buf);
    c->buf = NULL;
    close(fd); /* no operation of ours is in flight on it */
}

static int listen_on(const char *host, int port, const char *unix_path) {
    int fd;
    if (unix_path) {
        struct sockaddr_un un = {.sun_family = AF_UNIX};
        if (strlen(unix_path) >= sizeof un.sun_path) return -1;
        strcpy(un.sun_path, unix_path);
        unlink(unix_path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *)&un, sizeof un) < 0) return -1;
    } else {
        struct addrinfo hints = {0}, *res = NULL;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
        char ps[16];
        snprintf(ps, sizeof ps, "%d", port);
        if (getaddrinfo(host, ps, &hints, &res) != 0) return -1;
        fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
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
    int port = 0, plain = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--host") && i + 1 < argc) host = argv[++i];
        else if (!strcmp(argv[i], "--port") && i + 1 < argc) port = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--unix") && i + 1 < argc) unix_path = argv[++i];
        else if (!strcmp(argv[i], "--plain")) plain = 1;
        else {
            fprintf(stderr, "usage: c_uring [--host H] (--port N | --unix PATH) [--plain]\n");
            return 2;
        }
    }
    is_unix = unix_path != NULL;

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: io_uring_enter returns EINTR */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int err = ring_setup(plain);
    if (err < 0) {
        printf("SKIP io_uring_setup failed: %s\n", strerror(-err));
        fflush(stdout);
        return 3;
    }
    int lfd = listen_on(host, port, unix_path);
    if (lfd < 0) {
        perror("c_uring: listen");
        return 1;
    }
    static char stdin_buf[4096];
    queue_accept(lfd);
    queue_recv(0, stdin_buf, sizeof stdin_buf, OP_STDIN); /* stdin: EOF means the harness is gone */

    printf("PID %d\nPORT %d\n", (int)getpid(), bound_port(lfd));
    fflush(stdout);

    while (!stopping) {
        if (enter(1) < 0 && errno != EINTR && errno != ETIME && errno != EBUSY && errno != EAGAIN) {
            perror("c_uring: io_uring_enter");
            return 1;
        }
        unsigned head = *cq_head;
        unsigned tail = atomic_load_explicit((_Atomic unsigned *)cq_tail, memory_order_acquire);
        for (; head != tail; head++) {
            struct io_uring_cqe *cqe = &cqes[head & cq_mask];
            int fd = (int)(cqe->user_data >> 8);
            int op = (int)(cqe->user_data & 0xff);
            int res = cqe->res;
            if (op == OP_ACCEPT) {
                if (res >= 0) {
                    if (!is_unix) {
                        int one = 1;
                        setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    }
                    struct conn *c = conn_for(res);
                    c->buf = malloc(BUF_SIZE);
                    queue_recv(res, c->buf, BUF_SIZE, OP_RECV);
                }
                /* EMFILE and the like end the multishot accept: armed again. */
                if (!(cqe->flags & IORING_CQE_F_MORE)) queue_accept(lfd);
            } else if (op == OP_STDIN) {
                if (res <= 0) stopping = 1;
                else queue_recv(0, stdin_buf, sizeof stdin_buf, OP_STDIN);
            } else if (op == OP_RECV) {
                struct conn *c = conn_for(fd);
                if (res <= 0) {
                    drop(fd);
                } else {
                    c->len = (size_t)res;
                    c->off = 0;
                    queue_send(fd, c);
                }
            } else if (op == OP_SEND) {
                struct conn *c = conn_for(fd);
                if (res < 0) {
                    drop(fd);
                } else {
                    c->off += (size_t)res;
                    if (c->off < c->len) queue_send(fd, c);
                    else queue_recv(fd, c->buf, BUF_SIZE, OP_RECV);
                }
            }
        }
        atomic_store_explicit((_Atomic unsigned *)cq_head, head, memory_order_release);
    }
    if (unix_path) unlink(unix_path);
    return 0;
}
