// epoll(7) backend, Linux's default. Level-triggered: a ready fd is reported
// by every wait until its condition is consumed, so the loop never misses
// readiness it did not act on.
#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <new>

#include "poller.h"

namespace coio {
namespace {

uint32_t EpollEvents(int interest) {
  uint32_t events = 0;
  // EPOLLRDHUP (peer shut its write side) only with read interest: it is
  // level-triggered too, so asking for it on a write-only fd would make a
  // half-closed socket that is still being written to report on every wait.
  if (interest & kPollRead) events |= EPOLLIN | EPOLLRDHUP;
  if (interest & kPollWrite) events |= EPOLLOUT;
  // EPOLLERR and EPOLLHUP are always reported, whatever we ask (epoll_ctl(2)),
  // so interest 0 still tells about errors and hang-ups.
  return events;
}

int32_t Bits(uint32_t events) {
  int32_t bits = 0;
  if (events & (EPOLLIN | EPOLLPRI)) bits |= kPollRead;
  if (events & EPOLLOUT) bits |= kPollWrite;
  if (events & EPOLLERR) bits |= kPollError;
  if (events & (EPOLLHUP | EPOLLRDHUP)) bits |= kPollHup;
  return bits;
}

class EpollBackend final : public PollerBackend {
 public:
  EpollBackend(int epfd, std::unique_ptr<epoll_event[]> events)
      : epfd_(epfd), events_(std::move(events)) {}
  ~EpollBackend() override {
    if (epfd_ >= 0) close(epfd_);
  }

  // The registry and the kernel disagree when an fd was closed behind the
  // poller's back: close(2) drops the registration from the interest list
  // (when no dup of the open file remains), so the next owner of the number
  // gets ENOENT from EPOLL_CTL_MOD; and an fd the registry forgot (removed
  // while a dup kept the file open) is still there for EPOLL_CTL_ADD
  // (EEXIST). Each falls back to the other op, as libuv does.
  int Add(int fd, int interest) override {
    int err = Ctl(EPOLL_CTL_ADD, fd, interest);
    return err == EEXIST ? Ctl(EPOLL_CTL_MOD, fd, interest) : err;
  }
  int Modify(int fd, int, int interest) override {
    int err = Ctl(EPOLL_CTL_MOD, fd, interest);
    if (err != ENOENT) return err;
    err = Ctl(EPOLL_CTL_ADD, fd, interest);
    return err == 0 ? kReAdded : err;
  }
  // Caveat (epoll(7) Q6): registration belongs to the open file, not the
  // fd number, so an fd closed while a dup(2) of it is still open stays in
  // the interest list and cannot be removed any more (EBADF). The Poller
  // forgets it anyway; only closing the epoll fd drops it.
  int Remove(int fd, int) override {
    // Before Linux 2.6.9 EPOLL_CTL_DEL required a non-null event (BUGS in
    // epoll_ctl(2)); passing one costs nothing.
    epoll_event ev{};
    return epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, &ev) == 0 ? 0 : errno;
  }

  int Wait(int64_t timeout_ns, int32_t* out, int max_pairs) override {
    int n = epoll_wait(epfd_, events_.get(), max_pairs, TimeoutNsToMs(timeout_ns));
    if (n < 0) return -errno;
    for (int i = 0; i < n; ++i) {
      out[2 * i] = events_[i].data.fd;
      out[2 * i + 1] = Bits(events_[i].events);
    }
    return n;
  }

  int Close() override {
    int fd = epfd_;
    epfd_ = -1;
    // close(2): on Linux the fd is released even when close reports EINTR.
    return close(fd) == 0 || errno == EINTR ? 0 : errno;
  }

  int Fileno() const override { return epfd_; }
  const char* CtlSyscall() const override { return "epoll_ctl"; }
  const char* WaitSyscall() const override { return "epoll_wait"; }

 private:
  int Ctl(int op, int fd, int interest) {
    epoll_event ev{};
    ev.events = EpollEvents(interest);
    ev.data.fd = fd;
    return epoll_ctl(epfd_, op, fd, &ev) == 0 ? 0 : errno;
  }

  int epfd_;
  // The wait buffer, sized once to the caller's pair capacity.
  std::unique_ptr<epoll_event[]> events_;
};

std::unique_ptr<PollerBackend> CreateEpollBackend(int max_pairs, int* err) {
  std::unique_ptr<epoll_event[]> events(new (std::nothrow) epoll_event[max_pairs]);
  if (!events) {
    *err = ENOMEM;
    return nullptr;
  }
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) {
    *err = errno;
    return nullptr;
  }
  std::unique_ptr<PollerBackend> backend(new (std::nothrow) EpollBackend(epfd, std::move(events)));
  if (!backend) {
    close(epfd);
    *err = ENOMEM;
  }
  return backend;
}

// epoll stays the default; io_uring (poller_uring.cc) is listed where the
// kernel lets us make a ring (availableBackends() probes each).
const BackendEntry kLinuxBackends[] = {
    {"epoll", CreateEpollBackend, "epoll_create1"},
    {"io_uring", CreateUringBackend, "io_uring_setup"},
};

}  // namespace

size_t OsBackends(const BackendEntry** entries) {
  *entries = kLinuxBackends;
  return sizeof kLinuxBackends / sizeof kLinuxBackends[0];
}

}  // namespace coio
