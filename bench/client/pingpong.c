/*
 * pingpong: closed-loop echo load generator for the coio benchmark suite.
 *
 * N active connections each send an S-byte message, wait until S bytes have
 * come back, and start again at once (closed loop: one message in flight per
 * connection). K more connections can be held open and idle (connected,
 * never sending) to measure how a server's cost grows with connections it
 * is not serving. One thread, level-triggered epoll; the request path does
 * no allocation (latencies go into a fixed log-linear histogram).
 *
 * Phases: connect (idle first, then active; --idle-touch B: each idle
 * connection echoes B bytes once, then stays idle) -> optional GO handshake on
 * stdin (--wait-go: prints "CONNECTED <n>" on stderr, waits for a line on
 * stdin, so a harness can check the server accepted them all, or read its
 * memory) -> warm-up W s -> measurement D s -> abortive close -> JSON on
 * stdout.
 *
 * With --server-pid, the server's utime+stime (clock ticks, from
 * /proc/<pid>/stat) are read at the exact start and end of the measured
 * window, as are this process's getrusage() and the machine-wide busy ticks
 * from /proc/stat (to spot other load on a shared machine).
 *
 * --tls (a build with -DPINGPONG_TLS, linked with the system libssl): every
 * connection speaks TLS (OpenSSL, no certificate verification: the bench
 * measures the server, not the PKI). Each handshake completes before the
 * warm-up starts; the measured window sees only application data records.
 *
 * --reconnect: the connection rate instead of the request rate. Each of the
 * N slots loops: connect, (TLS handshake), one S-byte echo, abortive close
 * (RST: no TIME_WAIT), and again. A "request" is then one whole connection;
 * its latency runs from connect() to the last byte of the echo. Every
 * handshake is a full one (no session resumption).
 *
 * Build: cc -O2 -o pingpong pingpong.c   (Linux only: epoll, /proc)
 *        cc -O2 -DPINGPONG_TLS -o pingpong_tls pingpong.c -lssl -lcrypto
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#ifdef PINGPONG_TLS
#include <openssl/err.h>
#include <openssl/ssl.h>
#endif

#define RBUF_SIZE (256 * 1024)
#define MAX_EVENTS 1024
#define CONNECT_IN_FLIGHT 128
#define CONNECT_TIMEOUT_S 30.0

/* ---- options ---------------------------------------------------------- */

static const char *opt_host = "127.0.0.1";
static int opt_port = 0;
static const char *opt_unix = NULL;
static int opt_conns = 10;
static int opt_idle = 0;
static size_t opt_size = 1024;
static double opt_duration = 2.0;
static double opt_warmup = 0.5;
static int opt_server_pid = 0;
static int opt_wait_go = 0;
static int opt_graceful = 0;
static size_t opt_idle_touch = 0; /* bytes each idle connection echoes once before going idle */
static int opt_tls = 0;
static int opt_reconnect = 0;
static const char *opt_tls_ciphers = NULL;      /* TLS 1.3 ciphersuites (SSL_CTX_set_ciphersuites) */
static const char *opt_tls_max = NULL;          /* "1.2" to cap the version */

/* ---- time and histogram ----------------------------------------------- */

static inline uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * Log-linear histogram of nanoseconds: values < 128 are exact; above, each
 * power of two is split into 64 sub-buckets (relative error < 1.6%).
 * index = shift*64 + (v >> shift), with shift chosen so v >> shift is in
 * [64, 128).
 */
#define HIST_BUCKETS (64 * 64)
static uint64_t hist[HIST_BUCKETS];
static uint64_t hist_count, hist_max, hist_sum;

static inline void hist_record(uint64_t v) {
    unsigned idx;
    if (v < 128) {
        idx = (unsigned)v;
    } else {
        unsigned bits = 64 - (unsigned)__builtin_clzll(v);
        unsigned shift = bits - 7;
        idx = shift * 64 + (unsigned)(v >> shift);
        if (idx >= HIST_BUCKETS) idx = HIST_BUCKETS - 1;
    }
    hist[idx]++;
    hist_count++;
    hist_sum += v;
    if (v > hist_max) hist_max = v;
}

/* Midpoint of the bucket holding the value at quantile q, in ns. */
static double hist_quantile(double q) {
    if (hist_count == 0) return 0;
    uint64_t rank = (uint64_t)(q * (double)hist_count);
    if (rank < 1) rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += hist[i];
        if (seen >= rank) {
            if (i < 128) return (double)i;
            unsigned shift = i / 64 - 1;
            uint64_t m = i - shift * 64;
            double lo = (double)(m << shift), hi = (double)(((m + 1) << shift) - 1);
            double mid = (lo + hi) / 2;
            return mid > (double)hist_max ? (double)hist_max : mid;
        }
    }
    return (double)hist_max;
}

/* ---- /proc readers ---------------------------------------------------- */

/* utime + stime of a process in clock ticks; -1 if unreadable. */
static int read_proc_cpu(int pid, long long *utime, long long *stime) {
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* comm may contain spaces */
    if (!p) return -1;
    p++;
    /* after ')': field 3 (state) ... field 14 utime, field 15 stime */
    int field = 2;
    char *save = NULL;
    for (char *tok = strtok_r(p, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        field++;
        if (field == 14) *utime = atoll(tok);
        if (field == 15) { *stime = atoll(tok); return 0; }
    }
    return -1;
}

/* Machine-wide busy and total ticks (all cores) from /proc/stat. */
static int read_proc_stat(long long *busy, long long *total, long long *steal) {
    char buf[1024];
    int fd = open("/proc/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    long long v[10] = {0};
    if (sscanf(buf, "cpu %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld", &v[0], &v[1], &v[2],
               &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]) < 4)
        return -1;
    /* user nice system idle iowait irq softirq steal (guest counted in user) */
    long long t = 0;
    for (int i = 0; i < 8; i++) t += v[i];
    *total = t;
    *busy = t - v[3] - v[4];
    *steal = v[7]; /* time the hypervisor ran someone else while we wanted the CPU */
    return 0;
}

static double tv_s(struct timeval tv) { return (double)tv.tv_sec + (double)tv.tv_usec / 1e6; }

/* ---- connections ------------------------------------------------------ */

enum { ST_ECHO, ST_CONNECTING, ST_HANDSHAKE };

struct conn {
    int fd;
    int out_armed; /* EPOLLOUT registered (a send was partial) */
    int dead;
    int state;     /* ST_ECHO, or (--reconnect) connecting / handshaking */
    size_t sent, recvd;
    uint64_t t0;
#ifdef PINGPONG_TLS
    SSL *ssl;
#endif
};

static struct conn *conns;
static int *idle_fds;
static int epfd;
static char *sbuf, *rbuf;
static int measuring;
static uint64_t n_requests, n_bytes, n_errors;
static uint64_t n_recv, n_send, n_wait; /* syscalls (TLS: SSL_read/SSL_write calls) in the measured window */
static int n_alive;
static char first_error[128];

static char tls_last_error[120]; /* OpenSSL's reason for the last TLS failure (errno is then EPROTO) */

static void note_error(const char *what, int err) {
    n_errors++;
    if (first_error[0]) return;
    if (err == EPROTO && tls_last_error[0])
        snprintf(first_error, sizeof first_error, "%s: %s", what, tls_last_error);
    else
        snprintf(first_error, sizeof first_error, "%s: %s", what, strerror(err));
}

static struct sockaddr_storage target;
static socklen_t target_len;

static int resolve_target(void) {
    memset(&target, 0, sizeof target);
    if (opt_unix) {
        struct sockaddr_un *un = (struct sockaddr_un *)&target;
        un->sun_family = AF_UNIX;
        if (strlen(opt_unix) >= sizeof un->sun_path) return -1;
        strcpy(un->sun_path, opt_unix);
        target_len = sizeof *un;
        return 0;
    }
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST;
    char port[16];
    snprintf(port, sizeof port, "%d", opt_port);
    if (getaddrinfo(opt_host, port, &hints, &res) != 0 || !res) return -1;
    memcpy(&target, res->ai_addr, res->ai_addrlen);
    target_len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

/* Start one non-blocking connect; returns fd (connected or in progress) or -1. */
static int start_connect(int *in_progress) {
    int fd = socket(target.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (target.ss_family != AF_UNIX) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    *in_progress = 0;
    if (connect(fd, (struct sockaddr *)&target, target_len) == 0) return fd;
    if (errno == EINPROGRESS || errno == EAGAIN) {
        if (errno == EAGAIN && target.ss_family == AF_UNIX) { /* listen backlog full */
            close(fd);
            errno = EAGAIN;
            return -1;
        }
        *in_progress = 1;
        return fd;
    }
    int e = errno;
    close(fd);
    errno = e;
    return -1;
}

/*
 * Open `count` connections into out[], at most CONNECT_IN_FLIGHT pending at
 * a time (a burst of thousands of SYNs overflows the server's accept queue,
 * and each dropped SYN costs a 1 s retransmit). Returns how many succeeded;
 * failed slots hold -1.
 */
static int connect_many(int *out, int count) {
    if (count <= 0) return 0;
    int cep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event evs[CONNECT_IN_FLIGHT];
    int next = 0, pending = 0, ok = 0, retries = 0;
    double deadline = (double)now_ns() / 1e9 + CONNECT_TIMEOUT_S;
    char *is_pending = calloc((size_t)count, 1);
    for (int i = 0; i < count; i++) out[i] = -1;
    while (next < count || pending > 0) {
        while (next < count && pending < CONNECT_IN_FLIGHT) {
            int inprog;
            int fd = start_connect(&inprog);
            if (fd < 0) {
                if ((errno == EAGAIN || errno == ECONNREFUSED) && retries < 1000 &&
                    (double)now_ns() / 1e9 < deadline) {
                    retries++;
                    usleep(2000); /* backlog full: let the server accept */
                    break;
                }
                note_error("connect", errno);
                next++;
                continue;
            }
            if (!inprog) {
                out[next++] = fd;
                ok++;
                continue;
            }
            struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = (uint32_t)next};
            epoll_ctl(cep, EPOLL_CTL_ADD, fd, &ev);
            is_pending[next] = 1;
            out[next++] = fd;
            pending++;
        }
        if (pending == 0) continue;
        int n = epoll_wait(cep, evs, CONNECT_IN_FLIGHT, 100);
        if (n < 0 && errno != EINTR) break;
        for (int i = 0; i < n; i++) {
            int slot = (int)evs[i].data.u32, fd = out[slot], err = 0;
            socklen_t len = sizeof err;
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
            epoll_ctl(cep, EPOLL_CTL_DEL, fd, NULL);
            is_pending[slot] = 0;
            pending--;
            if (err) {
                note_error("connect", err);
                close(fd);
                out[slot] = -1;
            } else {
                ok++;
            }
        }
        if ((double)now_ns() / 1e9 > deadline) {
            note_error("connect", ETIMEDOUT);
            for (int i = 0; i < count; i++)
                if (is_pending[i]) {
                    close(out[i]);
                    out[i] = -1;
                }
            break;
        }
    }
    free(is_pending);
    close(cep);
    return ok;
}

/* ---- TLS (OpenSSL over the same non-blocking sockets) ------------------ */

#ifdef PINGPONG_TLS
static SSL_CTX *tls_ctx;
static char tls_version[32], tls_cipher[64];
#define CONN_TLS(c) ((c)->ssl != NULL)

/* Keep OpenSSL's reason for the failure (for first_error); errno = EPROTO. */
static void tls_fail(int ssl_err) {
    unsigned long e = ERR_peek_last_error();
    if (e) {
        ERR_error_string_n(e, tls_last_error, sizeof tls_last_error);
    } else if (ssl_err == SSL_ERROR_SYSCALL && errno) {
        snprintf(tls_last_error, sizeof tls_last_error, "%s", strerror(errno));
    } else {
        snprintf(tls_last_error, sizeof tls_last_error, "SSL_get_error %d", ssl_err);
    }
    ERR_clear_error();
    errno = EPROTO;
}

static int tls_init(void) {
    tls_ctx = SSL_CTX_new(TLS_client_method());
    if (!tls_ctx) return -1;
    SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_NONE, NULL); /* the bench measures the server, not the PKI */
    SSL_CTX_set_session_cache_mode(tls_ctx, SSL_SESS_CACHE_OFF); /* every handshake a full one */
    SSL_CTX_set_mode(tls_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_options(tls_ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    /* One read() per socket buffer rather than two per record (header, body): the client
     * has to keep up with the server. Reads loop until SSL_read would block, so nothing
     * read ahead is left waiting for an epoll event. */
    SSL_CTX_set_read_ahead(tls_ctx, 1);
    if (opt_tls_max && strcmp(opt_tls_max, "1.2") == 0 && !SSL_CTX_set_max_proto_version(tls_ctx, TLS1_2_VERSION))
        return -1;
    if (opt_tls_ciphers && !SSL_CTX_set_ciphersuites(tls_ctx, opt_tls_ciphers)) return -1;
    return 0;
}

static SSL *tls_new(int fd) {
    SSL *ssl = SSL_new(tls_ctx);
    if (!ssl) return NULL;
    SSL_set_fd(ssl, fd);
    SSL_set_connect_state(ssl);
    return ssl;
}

/* One step of the handshake: 1 done, 0 wants *events, -1 failed (errno set). */
static int tls_handshake_step(SSL *ssl, uint32_t *events) {
    int r = SSL_do_handshake(ssl);
    if (r == 1) {
        if (!tls_version[0]) {
            snprintf(tls_version, sizeof tls_version, "%s", SSL_get_version(ssl));
            snprintf(tls_cipher, sizeof tls_cipher, "%s", SSL_get_cipher_name(ssl));
        }
        return 1;
    }
    int e = SSL_get_error(ssl, r);
    if (e == SSL_ERROR_WANT_READ) { *events = EPOLLIN; return 0; }
    if (e == SSL_ERROR_WANT_WRITE) { *events = EPOLLOUT; return 0; }
    tls_fail(e);
    return -1;
}

/* The handshake of an already connected socket, before the measured window. */
static SSL *tls_handshake_blocking(int fd) {
    SSL *ssl = tls_new(fd);
    if (!ssl) return NULL;
    uint64_t deadline = now_ns() + (uint64_t)(CONNECT_TIMEOUT_S * 1e9);
    for (;;) {
        uint32_t ev = 0;
        int r = tls_handshake_step(ssl, &ev);
        if (r == 1) return ssl;
        if (r < 0) {
            note_error("TLS handshake", errno);
            break;
        }
        uint64_t t = now_ns();
        struct pollfd pfd = {.fd = fd, .events = ev == EPOLLIN ? POLLIN : POLLOUT};
        if (t >= deadline || poll(&pfd, 1, (int)((deadline - t) / 1000000) + 1) <= 0) {
            note_error("TLS handshake", ETIMEDOUT);
            break;
        }
    }
    SSL_free(ssl);
    return NULL;
}
#else
#define CONN_TLS(c) 0
#endif

/* send/recv, or SSL_write/SSL_read on a TLS connection: -1 with errno EAGAIN when it would block. */
static ssize_t conn_send(struct conn *c, const char *buf, size_t len) {
#ifdef PINGPONG_TLS
    if (c->ssl) {
        int n = SSL_write(c->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
        if (n > 0) return n;
        int e = SSL_get_error(c->ssl, n);
        if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
            errno = EAGAIN;
            return -1;
        }
        tls_fail(e);
        return -1;
    }
#endif
    return send(c->fd, buf, len, MSG_NOSIGNAL);
}

static ssize_t conn_recv(struct conn *c, char *buf, size_t len) {
#ifdef PINGPONG_TLS
    if (c->ssl) {
        int n = SSL_read(c->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
        if (n > 0) return n;
        int e = SSL_get_error(c->ssl, n);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            errno = EAGAIN;
            return -1;
        }
        if (e == SSL_ERROR_ZERO_RETURN) return 0; /* close_notify, or EOF (SSL_OP_IGNORE_UNEXPECTED_EOF) */
        tls_fail(e);
        return -1;
    }
#endif
    return recv(c->fd, buf, len, 0);
}

static void conn_free_tls(struct conn *c) {
#ifdef PINGPONG_TLS
    if (c->ssl) SSL_free(c->ssl);
    c->ssl = NULL;
#else
    (void)c;
#endif
}

static void kill_conn(struct conn *c, const char *what, int err) {
    if (c->dead) return;
    note_error(what, err);
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    conn_free_tls(c);
    close(c->fd);
    c->dead = 1;
    n_alive--;
}

static void set_out(struct conn *c, int idx, int on) {
    if (c->out_armed == on) return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.u32 = (uint32_t)idx};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->out_armed = on;
}

static void do_send(struct conn *c, int idx) {
    while (c->sent < opt_size) {
        ssize_t n = conn_send(c, sbuf + c->sent, opt_size - c->sent);
        n_send++;
        if (n > 0) {
            c->sent += (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            set_out(c, idx, 1);
            return;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            kill_conn(c, "send", n < 0 ? errno : EPIPE);
            return;
        }
    }
    set_out(c, idx, 0);
}

static void start_request(struct conn *c, int idx, uint64_t t) {
    c->sent = 0;
    c->recvd = 0;
    c->t0 = t;
    do_send(c, idx);
}

static void reconnect(struct conn *c, int idx, uint64_t t);

static void on_readable(struct conn *c, int idx) {
    for (;;) {
        ssize_t n = conn_recv(c, rbuf, RBUF_SIZE);
        n_recv++;
        if (n > 0) {
            c->recvd += (size_t)n;
            if (c->recvd > c->sent) {
                kill_conn(c, "protocol (more bytes back than sent)", EPROTO);
                return;
            }
            if (c->recvd == opt_size) {
                uint64_t t = now_ns();
                if (measuring) {
                    hist_record(t - c->t0);
                    n_requests++;
                    n_bytes += 2 * opt_size;
                }
                if (opt_reconnect) reconnect(c, idx, t);
                else start_request(c, idx, t);
                return; /* level-triggered: epoll reports the next reply */
            }
            /* short read: drained (a TLS read returns one record at most: read on until it would block) */
            if (!CONN_TLS(c) && (size_t)n < RBUF_SIZE) return;
        } else if (n == 0) {
            kill_conn(c, "recv (EOF)", ECONNRESET);
            return;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return;
        } else if (errno != EINTR) {
            kill_conn(c, "recv", errno);
            return;
        }
    }
}

/*
 * --reconnect: each slot connects, handshakes (TLS), echoes once, closes with
 * an RST and starts over; c->t0 is the connect() of the current connection.
 */
static void slot_handshake(struct conn *c, int idx);

static void slot_ready(struct conn *c, int idx) {
    c->state = ST_ECHO;
    c->sent = c->recvd = 0;
    do_send(c, idx); /* t0 stays at connect() */
}

static void slot_connected(struct conn *c, int idx) {
#ifdef PINGPONG_TLS
    if (opt_tls) {
        c->ssl = tls_new(c->fd);
        if (!c->ssl) {
            kill_conn(c, "SSL_new", ENOMEM);
            return;
        }
        c->state = ST_HANDSHAKE;
        slot_handshake(c, idx);
        return;
    }
#endif
    slot_ready(c, idx);
}

static void slot_handshake(struct conn *c, int idx) {
#ifdef PINGPONG_TLS
    uint32_t ev = 0;
    int r = tls_handshake_step(c->ssl, &ev);
    if (r == 1) {
        set_out(c, idx, 0);
        slot_ready(c, idx);
    } else if (r == 0) {
        set_out(c, idx, ev == EPOLLOUT);
    } else {
        kill_conn(c, "TLS handshake", errno);
    }
#else
    (void)c, (void)idx;
#endif
}

static void slot_open(struct conn *c, int idx, uint64_t t) {
    int inprog;
    int fd = start_connect(&inprog);
    c->fd = fd;
    if (fd < 0) {
        c->dead = 1;
        n_alive--;
        note_error("connect", errno);
        return;
    }
    c->t0 = t;
    c->sent = c->recvd = 0;
    c->out_armed = inprog;
    struct epoll_event ev = {.events = EPOLLIN | (inprog ? EPOLLOUT : 0), .data.u32 = (uint32_t)idx};
    epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
    if (inprog) c->state = ST_CONNECTING;
    else slot_connected(c, idx);
}

static void slot_connect_done(struct conn *c, int idx) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) {
        kill_conn(c, "connect", err);
        return;
    }
    set_out(c, idx, 0);
    slot_connected(c, idx);
}

static void reconnect(struct conn *c, int idx, uint64_t t) {
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    conn_free_tls(c);
    close(c->fd);
    slot_open(c, idx, t);
}

/*
 * One echo of `size` bytes on each idle connection, one connection at a time:
 * the server's per-connection state after it has served a request (lazily
 * allocated buffers, objects) rather than just after accept.
 */
static int touch_idle(int *fds, int count, size_t size) {
    int ok = 0;
    for (int i = 0; i < count; i++) {
        if (fds[i] < 0) continue;
        size_t sent = 0, got = 0;
        struct pollfd pfd = {.fd = fds[i]};
        while (got < size) {
            if (sent < size) {
                ssize_t n = send(fds[i], sbuf + sent, size - sent, MSG_NOSIGNAL);
                if (n > 0) sent += (size_t)n;
                else if (n < 0 && errno != EAGAIN && errno != EINTR) break;
            }
            pfd.events = POLLIN | (sent < size ? POLLOUT : 0);
            if (poll(&pfd, 1, 5000) <= 0) break;
            ssize_t n = recv(fds[i], rbuf, RBUF_SIZE, 0);
            if (n > 0) got += (size_t)n;
            else if (n == 0 || (errno != EAGAIN && errno != EINTR)) break;
        }
        if (got == size) ok++;
        else note_error("idle touch", ETIMEDOUT);
    }
    return ok;
}

static void close_all_fds(int *fds, int count) {
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    for (int i = 0; i < count; i++) {
        if (fds[i] < 0) continue;
        /* Abortive close (RST): no TIME_WAIT left behind by 10,000-connection runs. */
        if (!opt_graceful) setsockopt(fds[i], SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        close(fds[i]);
    }
}

/* ---- main ------------------------------------------------------------- */

static double parse_size(const char *s) {
    char *end;
    double v = strtod(s, &end);
    if (*end == 'k' || *end == 'K') v *= 1024;
    else if (*end == 'm' || *end == 'M') v *= 1024 * 1024;
    return v;
}

static void usage(void) {
    fprintf(stderr,
            "usage: pingpong [--host H] (--port P | --unix PATH) [-c N] [-s BYTES] [-d SEC]\n"
            "                [-w SEC] [--idle K [--idle-touch BYTES]] [--server-pid PID] [--wait-go]\n"
            "                [--graceful-close] [--tls [--tls-ciphersuites LIST] [--tls-max 1.2]] [--reconnect]\n");
    exit(2);
}

int main(int argc, char **argv) {
    static struct option longopts[] = {
        {"host", required_argument, 0, 'H'},        {"port", required_argument, 0, 'p'},
        {"unix", required_argument, 0, 'u'},        {"connections", required_argument, 0, 'c'},
        {"size", required_argument, 0, 's'},        {"duration", required_argument, 0, 'd'},
        {"warmup", required_argument, 0, 'w'},      {"idle", required_argument, 0, 'i'},
        {"server-pid", required_argument, 0, 'P'},  {"wait-go", no_argument, 0, 'g'},
        {"graceful-close", no_argument, 0, 'G'},    {"help", no_argument, 0, 'h'},
        {"idle-touch", required_argument, 0, 'T'}, {"tls", no_argument, 0, 'L'},
        {"reconnect", no_argument, 0, 'R'},         {"tls-ciphersuites", required_argument, 0, 'C'},
        {"tls-max", required_argument, 0, 'M'},
        {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "c:s:d:w:h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'H': opt_host = optarg; break;
        case 'p': opt_port = atoi(optarg); break;
        case 'u': opt_unix = optarg; break;
        case 'c': opt_conns = atoi(optarg); break;
        case 's': opt_size = (size_t)parse_size(optarg); break;
        case 'd': opt_duration = atof(optarg); break;
        case 'w': opt_warmup = atof(optarg); break;
        case 'i': opt_idle = atoi(optarg); break;
        case 'P': opt_server_pid = atoi(optarg); break;
        case 'g': opt_wait_go = 1; break;
        case 'G': opt_graceful = 1; break;
        case 'T': opt_idle_touch = (size_t)parse_size(optarg); break;
        case 'L': opt_tls = 1; break;
        case 'R': opt_reconnect = 1; break;
        case 'C': opt_tls_ciphers = optarg; break;
        case 'M': opt_tls_max = optarg; break;
        default: usage();
        }
    }
    if ((!opt_unix && opt_port <= 0) || opt_conns < 0 || opt_idle < 0 || opt_size == 0) usage();
    signal(SIGPIPE, SIG_IGN);
#ifdef PINGPONG_TLS
    if (opt_tls && (opt_idle > 0 || opt_idle_touch)) {
        fprintf(stderr, "pingpong: --tls measures active connections only (no --idle)\n");
        return 2;
    }
    if (opt_tls && tls_init() != 0) {
        fprintf(stderr, "pingpong: TLS setup failed: ");
        ERR_print_errors_fp(stderr);
        return 2;
    }
#else
    if (opt_tls) {
        fprintf(stderr, "pingpong: built without TLS (cc -DPINGPONG_TLS ... -lssl -lcrypto)\n");
        return 2;
    }
#endif

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    getrlimit(RLIMIT_NOFILE, &rl);
    if ((rlim_t)(opt_conns + opt_idle + 16) > rl.rlim_cur) {
        fprintf(stderr, "pingpong: %d connections exceed RLIMIT_NOFILE %llu\n", opt_conns + opt_idle,
                (unsigned long long)rl.rlim_cur);
        return 2;
    }
    if (resolve_target() != 0) {
        fprintf(stderr, "pingpong: bad address\n");
        return 2;
    }

    size_t sbuf_size = opt_idle_touch > opt_size ? opt_idle_touch : opt_size;
    sbuf = malloc(sbuf_size);
    rbuf = malloc(RBUF_SIZE);
    for (size_t i = 0; i < sbuf_size; i++) sbuf[i] = (char)('a' + i % 26);
    conns = calloc((size_t)opt_conns + 1, sizeof *conns);
    idle_fds = calloc((size_t)opt_idle + 1, sizeof *idle_fds);
    int *active_fds = calloc((size_t)opt_conns + 1, sizeof *active_fds);

    /* Idle first, so the active connections get the server's highest fds. */
    uint64_t t_connect = now_ns();
    int idle_ok = connect_many(idle_fds, opt_idle);
    /* --reconnect: the active slots connect once the load starts */
    int active_ok = opt_reconnect ? 0 : connect_many(active_fds, opt_conns);
    int touched = opt_idle_touch ? touch_idle(idle_fds, opt_idle, opt_idle_touch) : 0;
    double connect_s = (double)(now_ns() - t_connect) / 1e9;
    uint64_t t_handshake = now_ns();
#ifdef PINGPONG_TLS
    /* Handshakes before the measured window (and before the harness's GO). */
    if (opt_tls && !opt_reconnect) {
        for (int i = 0; i < opt_conns; i++) {
            if (active_fds[i] < 0) continue;
            conns[i].ssl = tls_handshake_blocking(active_fds[i]);
            if (!conns[i].ssl) {
                close(active_fds[i]);
                active_fds[i] = -1;
                active_ok--;
            }
        }
    }
#endif
    double handshake_s = (double)(now_ns() - t_handshake) / 1e9;

    if (opt_wait_go) {
        fprintf(stderr, "CONNECTED %d\n", idle_ok + active_ok);
        fflush(stderr);
        char line[64];
        ssize_t n = read(0, line, sizeof line); /* harness says GO (or closes stdin) */
        if (n <= 0) {
            close_all_fds(idle_fds, opt_idle);
            close_all_fds(active_fds, opt_conns);
            return 3;
        }
    }

    epfd = epoll_create1(EPOLL_CLOEXEC);
    for (int i = 0; i < opt_conns && opt_reconnect; i++) {
        conns[i].fd = -1;
        conns[i].dead = 0;
        n_alive++;
    }
    for (int i = 0; i < opt_conns && !opt_reconnect; i++) {
        conns[i].fd = active_fds[i];
        if (active_fds[i] < 0) {
            conns[i].dead = 1;
            continue;
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(epfd, EPOLL_CTL_ADD, active_fds[i], &ev);
        n_alive++;
    }

    struct rusage ru0 = {0}, ru1 = {0};
    long long su0 = 0, ss0 = 0, su1 = 0, ss1 = 0, busy0 = 0, tot0 = 0, busy1 = 0, tot1 = 0, st0 = 0, st1 = 0;
    int have_server = 0, have_stat = 0;
    uint64_t t_start = now_ns();
    uint64_t t_measure = t_start + (uint64_t)(opt_warmup * 1e9);
    uint64_t t_end = t_measure + (uint64_t)(opt_duration * 1e9);
    uint64_t t_measured_from = t_start, t_measured_to = t_start;
    struct epoll_event evs[MAX_EVENTS];

    if (opt_duration > 0 && n_alive > 0) {
        uint64_t t = now_ns();
        for (int i = 0; i < opt_conns; i++)
            if (conns[i].dead) continue;
            else if (opt_reconnect) slot_open(&conns[i], i, t);
            else start_request(&conns[i], i, t);
        for (;;) {
            t = now_ns();
            if (!measuring && t >= t_measure) {
                measuring = 1;
                memset(hist, 0, sizeof hist);
                hist_count = hist_max = hist_sum = 0;
                n_requests = n_bytes = 0;
                n_recv = n_send = n_wait = 0;
                getrusage(RUSAGE_SELF, &ru0);
                if (opt_server_pid) have_server = read_proc_cpu(opt_server_pid, &su0, &ss0) == 0;
                have_stat = read_proc_stat(&busy0, &tot0, &st0) == 0;
                t_measured_from = t = now_ns();
                t_end = t + (uint64_t)(opt_duration * 1e9);
            }
            if (measuring && t >= t_end) break;
            if (n_alive == 0) break;
            uint64_t deadline = measuring ? t_end : t_measure;
            int timeout_ms = (int)((deadline - t) / 1000000) + 1;
            int n = epoll_wait(epfd, evs, MAX_EVENTS, timeout_ms);
            n_wait++;
            if (n < 0) {
                if (errno == EINTR) continue;
                note_error("epoll_wait", errno);
                break;
            }
            for (int i = 0; i < n; i++) {
                int idx = (int)evs[i].data.u32;
                struct conn *c = &conns[idx];
                if (c->dead) continue;
                if (c->state == ST_CONNECTING) {
                    slot_connect_done(c, idx);
                    continue;
                }
                if (c->state == ST_HANDSHAKE) {
                    slot_handshake(c, idx);
                    continue;
                }
                if (evs[i].events & EPOLLOUT) do_send(c, idx);
                if (!c->dead && (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) on_readable(c, idx);
            }
        }
        t_measured_to = now_ns();
        getrusage(RUSAGE_SELF, &ru1);
        if (have_server) have_server = read_proc_cpu(opt_server_pid, &su1, &ss1) == 0;
        if (have_stat) have_stat = read_proc_stat(&busy1, &tot1, &st1) == 0;
    }

    for (int i = 0; i < opt_conns; i++) {
        active_fds[i] = conns[i].dead ? -1 : conns[i].fd;
        conn_free_tls(&conns[i]);
    }
    close_all_fds(active_fds, opt_conns);
    close_all_fds(idle_fds, opt_idle);

    double wall = (double)(t_measured_to - t_measured_from) / 1e9;
    double cu = tv_s(ru1.ru_utime) - tv_s(ru0.ru_utime);
    double cs = tv_s(ru1.ru_stime) - tv_s(ru0.ru_stime);
    printf("{\"connections\":%d,\"connected\":%d,\"idle\":%d,\"idle_connected\":%d,\"size\":%zu,", opt_conns,
           active_ok, opt_idle, idle_ok, opt_size);
    printf("\"idle_touched\":%d,", touched);
    printf("\"reconnect\":%s,\"handshake_s\":%.3f,", opt_reconnect ? "true" : "false", handshake_s);
#ifdef PINGPONG_TLS
    if (opt_tls) printf("\"tls\":{\"version\":\"%s\",\"cipher\":\"%s\"},", tls_version, tls_cipher);
    else printf("\"tls\":null,");
#else
    printf("\"tls\":null,");
#endif
    printf("\"warmup_s\":%.3f,\"duration_s\":%.6f,\"connect_s\":%.3f,", opt_warmup, wall, connect_s);
    printf("\"requests\":%llu,\"rps\":%.1f,\"bytes\":%llu,\"errors\":%llu,\"alive_at_end\":%d,",
           (unsigned long long)n_requests, wall > 0 ? (double)n_requests / wall : 0.0,
           (unsigned long long)n_bytes, (unsigned long long)n_errors, n_alive);
    printf("\"first_error\":");
    if (first_error[0]) printf("\"%s\",", first_error);
    else printf("null,");
    printf("\"latency_us\":{\"p50\":%.2f,\"p90\":%.2f,\"p99\":%.2f,\"p999\":%.2f,\"max\":%.2f,\"mean\":%.2f},",
           hist_quantile(0.50) / 1e3, hist_quantile(0.90) / 1e3, hist_quantile(0.99) / 1e3,
           hist_quantile(0.999) / 1e3, (double)hist_max / 1e3,
           hist_count ? (double)hist_sum / (double)hist_count / 1e3 : 0.0);
    printf("\"client_cpu_s\":{\"user\":%.6f,\"sys\":%.6f},", cu, cs);
    printf("\"client_syscalls\":{\"recv\":%llu,\"send\":%llu,\"epoll_wait\":%llu},", (unsigned long long)n_recv,
           (unsigned long long)n_send, (unsigned long long)n_wait);
    printf("\"clk_tck\":%ld,", sysconf(_SC_CLK_TCK));
    if (have_server)
        printf("\"server_cpu_ticks\":{\"utime\":%lld,\"stime\":%lld},", su1 - su0, ss1 - ss0);
    else
        printf("\"server_cpu_ticks\":null,");
    if (have_stat)
        printf("\"machine_ticks\":{\"busy\":%lld,\"total\":%lld,\"steal\":%lld}", busy1 - busy0, tot1 - tot0,
               st1 - st0);
    else
        printf("\"machine_ticks\":null");
    printf("}\n");
    return 0;
}
