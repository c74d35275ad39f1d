/*
 * c_epoll_tls: the TLS floor. c_epoll's echo with OpenSSL in between: what
 * the crypto, the record layer and the syscalls cost with no event loop or
 * language runtime above them. Built by the harness with the system libssl
 * (cc -O2 -o c_epoll_tls c_epoll_tls.c -lssl -lcrypto), bench only.
 *
 * Level-triggered epoll, one SSL object per connection over its socket
 * (SSL_set_fd), read-ahead on (one read() per socket buffer, not two per
 * record). Each readiness event decrypts everything the socket has, up to a
 * 256 KiB buffer, and encrypts it back in one SSL_write (OpenSSL cuts it into
 * 16 KiB records). A write the socket doesn't take keeps its rest and switches
 * the fd to EPOLLOUT until it drains (no reading meanwhile: backpressure).
 *
 * Contract (shared by every server in bench/servers/):
 *   c_epoll_tls --cert CERT.pem --key KEY.pem [--host 127.0.0.1] (--port N | --unix PATH)
 *   prints "PID <pid>" and "PORT <n>" once listening; exits 0 on SIGTERM/SIGINT
 *   and when its stdin reaches EOF (the harness died).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
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

struct conn {
    SSL *ssl;
    int handshaking;
    char *pend; /* plaintext SSL_write has not taken yet (retried with the same bytes) */
    size_t len;
};

static volatile sig_atomic_t stopping;
static struct conn *conns; /* indexed by fd */
static size_t conns_cap;
static int epfd, is_unix;
static SSL_CTX *ctx;
static char buf[BUF_SIZE];

static void on_signal(int sig) {
    (void)sig;
    stopping = 1;
}

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

static void set_interest(int fd, unsigned events) {
    struct epoll_event ev = {.events = events, .data.fd = fd};
    epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
}

static void drop(int fd) {
    struct conn *c = conn_for(fd);
    if (c->ssl) SSL_free(c->ssl);
    free(c->pend);
    memset(c, 0, sizeof *c);
    ERR_clear_error();
    close(fd);
}

/* SSL_write everything; keep what the socket didn't take. 0 done, 1 blocked, -1 dropped. */
static int tls_write(int fd, struct conn *c, const char *data, size_t len) {
    size_t off = 0;
    while (off < len) {
        int n = SSL_write(c->ssl, data + off, (int)(len - off));
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        int e = SSL_get_error(c->ssl, n);
        if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
            size_t rest = len - off;
            if (data != c->pend) {
                char *copy = malloc(rest);
                memcpy(copy, data + off, rest);
                free(c->pend);
                c->pend = copy;
            } else if (off) {
                memmove(c->pend, c->pend + off, rest);
            }
            c->len = rest;
            set_interest(fd, EPOLLOUT);
            return 1;
        }
        drop(fd);
        return -1;
    }
    if (data == c->pend) {
        free(c->pend);
        c->pend = NULL;
        c->len = 0;
        set_interest(fd, EPOLLIN);
    }
    return 0;
}

/* Decrypt all that is readable (up to BUF_SIZE), encrypt it back; again until the socket is dry. */
static void echo(int fd, struct conn *c) {
    for (;;) {
        size_t got = 0;
        int dry = 0;
        while (got < BUF_SIZE) {
            int n = SSL_read(c->ssl, buf + got, (int)(BUF_SIZE - got));
            if (n > 0) {
                got += (size_t)n;
                continue;
            }
            int e = SSL_get_error(c->ssl, n);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                dry = 1;
                break;
            }
            /* close_notify, EOF, reset, a bad record: this connection is done */
            drop(fd);
            return;
        }
        if (got && tls_write(fd, c, buf, got) != 0) return; /* blocked (resumes on EPOLLOUT) or dropped */
        if (dry) return;
    }
}

static void on_event(int fd, unsigned events) {
    struct conn *c = conn_for(fd);
    if (!c->ssl) return;
    if (c->handshaking) {
        int r = SSL_do_handshake(c->ssl);
        if (r != 1) {
            int e = SSL_get_error(c->ssl, r);
            if (e == SSL_ERROR_WANT_READ) set_interest(fd, EPOLLIN);
            else if (e == SSL_ERROR_WANT_WRITE) set_interest(fd, EPOLLOUT);
            else drop(fd);
            return;
        }
        c->handshaking = 0;
        set_interest(fd, EPOLLIN);
    } else if (c->pend) {
        (void)events;
        if (tls_write(fd, c, c->pend, c->len) != 0) return;
        /* drained: what read-ahead holds raises no epoll event, so read on now */
    }
    echo(fd, c);
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
    const char *host = "127.0.0.1", *unix_path = NULL, *cert = NULL, *key = NULL;
    int port = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--host") && i + 1 < argc) host = argv[++i];
        else if (!strcmp(argv[i], "--port") && i + 1 < argc) port = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--unix") && i + 1 < argc) unix_path = argv[++i];
        else if (!strcmp(argv[i], "--cert") && i + 1 < argc) cert = argv[++i];
        else if (!strcmp(argv[i], "--key") && i + 1 < argc) key = argv[++i];
        else cert = NULL, key = NULL, i = argc;
    }
    if (!cert || !key) {
        fprintf(stderr, "usage: c_epoll_tls --cert CERT.pem --key KEY.pem [--host H] (--port N | --unix PATH)\n");
        return 2;
    }
    is_unix = unix_path != NULL;

    ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        fprintf(stderr, "c_epoll_tls: loading %s / %s: ", cert, key);
        ERR_print_errors_fp(stderr);
        return 1;
    }
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_read_ahead(ctx, 1);

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
        perror("c_epoll_tls: listen");
        return 1;
    }
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
            perror("c_epoll_tls: epoll_wait");
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
                    struct conn *cn = conn_for(c);
                    cn->ssl = SSL_new(ctx);
                    if (!cn->ssl) {
                        close(c);
                        continue;
                    }
                    SSL_set_fd(cn->ssl, c);
                    SSL_set_accept_state(cn->ssl);
                    cn->handshaking = 1;
                    struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
                    epoll_ctl(epfd, EPOLL_CTL_ADD, c, &cev);
                }
            } else if (fd == 0 && watch_stdin) {
                ssize_t r = read(0, buf, sizeof buf);
                if (r <= 0) stopping = 1;
            } else {
                on_event(fd, evs[i].events);
            }
        }
    }
    if (unix_path) unlink(unix_path);
    return 0;
}
