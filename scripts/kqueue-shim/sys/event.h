/*
 * A stand-in <sys/event.h> for compile-checking and exercising
 * native/poller_kqueue.cc on Linux, where there is no kqueue. Written from
 * the kqueue(2) manual page: the struct kevent layout and the constant
 * values are FreeBSD's. The calls are emulated over poll(2) by
 * kqueue_shim.cc. Used only by scripts/check-kqueue.sh, never by the build.
 */
#ifndef COIO_KQUEUE_SHIM_SYS_EVENT_H
#define COIO_KQUEUE_SHIM_SYS_EVENT_H

#include <stdint.h>
#include <time.h>

struct kevent {
  uintptr_t ident;     /* identifier for this event (an fd here) */
  short filter;        /* filter for event */
  unsigned short flags;
  unsigned int fflags;
  intptr_t data;
  void* udata;
};

#define EVFILT_READ (-1)
#define EVFILT_WRITE (-2)

#define EV_ADD 0x0001
#define EV_DELETE 0x0002
#define EV_ENABLE 0x0004
#define EV_DISABLE 0x0008
#ifndef COIO_SHIM_NO_RECEIPT /* to test the fallback for kernels without it */
#define EV_RECEIPT 0x0040
#endif
#define EV_ERROR 0x4000
#define EV_EOF 0x8000

#define EV_SET(kevp, a, b, c, d, e, f) \
  do {                                 \
    struct kevent* ev_ = (kevp);       \
    ev_->ident = (a);                  \
    ev_->filter = (b);                 \
    ev_->flags = (c);                  \
    ev_->fflags = (d);                 \
    ev_->data = (e);                   \
    ev_->udata = (f);                  \
  } while (0)

#ifdef __cplusplus
extern "C" {
#endif
int kqueue(void);
int kevent(int kq, const struct kevent* changelist, int nchanges, struct kevent* eventlist,
           int nevents, const struct timespec* timeout);

/* Test hooks (shim only): make the next change of (ident, filter) fail with
 * err; count the knotes registered on kq. */
void kqueue_shim_fail_next(uintptr_t ident, short filter, int err);
int kqueue_shim_knotes(int kq);
#ifdef __cplusplus
}
#endif

#endif
