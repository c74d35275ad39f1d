// kqueue(2) backend, the default on macOS and the BSDs.
//
// kqueue keys its events by (ident, filter): a socket watched for reading
// and writing is two kevents, EVFILT_READ and EVFILT_WRITE, and one wait can
// return both. We MERGE them: each fd appears at most once per wait, with
// the union of its bits, exactly as with epoll, poll and select.
//
// Registration follows the interest: a filter is added (EV_ADD) when its
// bit is set and deleted (EV_DELETE) when cleared, never merely disabled,
// so the kernel holds knotes only for what is wanted. Interest 0 therefore
// registers nothing in the kernel (like select, and unlike epoll, which
// still reports errors and hang-ups for it).
//
// Events are level-triggered (no EV_CLEAR): as with epoll, a condition is
// reported by every wait until it is consumed.
#include <sys/types.h>
#include <sys/event.h>
#include <sys/time.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <new>
#include <vector>

#include "poller.h"

namespace coio {
namespace {

// EV_RECEIPT (FreeBSD 8, macOS 10.6, OpenBSD 6.2, NetBSD 10) makes kevent
// return one result per change, EV_ERROR set and the errno (0 on success)
// in data, without draining pending events (kqueue(2)). Where it is
// missing, failed changes still come back as EV_ERROR results when the
// eventlist has room, which we always give; a plain pending event in the
// results is ignored (level-triggered, it is reported again by the next wait).
#ifdef EV_RECEIPT
constexpr unsigned short kReceipt = EV_RECEIPT;
#else
constexpr unsigned short kReceipt = 0;
#endif

class KqueueBackend final : public PollerBackend {
 public:
  KqueueBackend(int kq, std::unique_ptr<struct kevent[]> events)
      : kq_(kq), events_(std::move(events)) {}
  ~KqueueBackend() override {
    if (kq_ >= 0) close(kq_);
  }

  int Add(int fd, int interest) override {
    try {
      if (static_cast<size_t>(fd) >= pair_of_fd_.size()) pair_of_fd_.resize(fd + 1, -1);
    } catch (const std::bad_alloc&) {
      return ENOMEM;
    }
    return Change(fd, 0, interest);
  }

  int Modify(int fd, int old_interest, int interest) override {
    // Asked again with the same interest (a new owner took the fd over):
    // EV_ADD each filter, which only updates one that is still there and
    // restores one that close(2) dropped behind our back.
    if (old_interest == interest) return Change(fd, 0, interest);
    return Change(fd, old_interest, interest);
  }

  int Remove(int fd, int old_interest) override { return Change(fd, old_interest, 0); }

  int Wait(int64_t timeout_ns, int32_t* out, int max_pairs) override {
    timespec ts;
    timespec* tsp = nullptr;
    if (timeout_ns >= 0) {
      // kevent takes a timespec: nanoseconds, no rounding needed.
      ts.tv_sec = static_cast<time_t>(timeout_ns / 1000000000);
      ts.tv_nsec = static_cast<long>(timeout_ns % 1000000000);
      tsp = &ts;
    }
    // At most max_pairs kevents, so at most max_pairs pairs after merging.
    int n = kevent(kq_, nullptr, 0, events_.get(), max_pairs, tsp);
    if (n < 0) return -errno;

    int count = 0;
    for (int i = 0; i < n; ++i) {
      const struct kevent& kev = events_[i];
      int fd = static_cast<int>(kev.ident);
      int32_t bits = Bits(kev);
      bool mergeable = fd >= 0 && static_cast<size_t>(fd) < pair_of_fd_.size();
      if (mergeable && pair_of_fd_[fd] >= 0) {
        out[2 * pair_of_fd_[fd] + 1] |= bits;  // the fd's other filter
        continue;
      }
      if (mergeable) pair_of_fd_[fd] = count;
      out[2 * count] = fd;
      out[2 * count + 1] = bits;
      ++count;
    }
    // Reset the merge index for the next wait: O(count), no clearing of the
    // whole table.
    for (int i = 0; i < count; ++i) {
      int fd = out[2 * i];
      if (fd >= 0 && static_cast<size_t>(fd) < pair_of_fd_.size()) pair_of_fd_[fd] = -1;
    }
    return count;
  }

  int Close() override {
    int kq = kq_;
    kq_ = -1;
    return close(kq) == 0 || errno == EINTR ? 0 : errno;
  }

  int Fileno() const override { return kq_; }
  const char* CtlSyscall() const override { return "kevent"; }
  const char* WaitSyscall() const override { return "kevent"; }

 private:
  static int32_t Bits(const struct kevent& kev) {
    // EV_ERROR in a wait's results only comes from a change submitted with
    // that wait; we submit none, but report it rather than drop it.
    if (kev.flags & EV_ERROR) return kPollError;
    int32_t bits = 0;
    if (kev.filter == EVFILT_READ) bits |= kPollRead;
    if (kev.filter == EVFILT_WRITE) bits |= kPollWrite;
    // EV_EOF: EVFILT_READ when the read direction shut down (peer closed),
    // EVFILT_WRITE when the reader went away. For sockets fflags then holds
    // the pending socket error, if any (kqueue(2), EVFILT_READ "Sockets").
    if (kev.flags & EV_EOF) {
      bits |= kPollHup;
      if (kev.fflags != 0) bits |= kPollError;
    }
    return bits;
  }

  // Moves fd from old_interest to interest in one kevent call: EV_ADD for
  // each filter gained, EV_DELETE for each filter lost. On failure, undoes
  // the changes that did succeed, so the kernel matches the registry.
  int Change(int fd, int old_interest, int interest) {
    struct kevent changes[2];
    int n = 0;
    if ((interest ^ old_interest) & kPollRead) {
      EV_SET(&changes[n++], fd, EVFILT_READ, ((interest & kPollRead) ? EV_ADD : EV_DELETE) | kReceipt,
             0, 0, 0);
    }
    if ((interest ^ old_interest) & kPollWrite) {
      EV_SET(&changes[n++], fd, EVFILT_WRITE,
             ((interest & kPollWrite) ? EV_ADD : EV_DELETE) | kReceipt, 0, 0, 0);
    }
    if (n == 0) return 0;

    int errs[2] = {0, 0};
    int err = Submit(changes, n, errs);
    // The call itself failed: with room for every result in the eventlist
    // that means no change was processed, except for EINTR, after which
    // "all changes in the changelist have been applied" (kqueue(2)).
    if (err != 0) return err == EINTR ? 0 : err;

    int first_error = 0;
    struct kevent undo[2];
    int m = 0;
    for (int i = 0; i < n; ++i) {
      if (errs[i] != 0) {
        if (first_error == 0) first_error = errs[i];
        continue;
      }
      bool was_add = (changes[i].flags & EV_ADD) != 0;
      EV_SET(&undo[m++], fd, changes[i].filter, (was_add ? EV_DELETE : EV_ADD) | kReceipt, 0, 0,
             0);
    }
    if (first_error == 0) return 0;
    // Undo what succeeded (best effort), so the kernel matches the registry,
    // which keeps the old interest when we report an error.
    if (m > 0) {
      int ignored[2];
      Submit(undo, m, ignored);
    }
    return first_error;
  }

  // Applies the changes in one kevent call. Returns the call's errno, or 0
  // with each change's own errno (0: applied) in errs[i].
  int Submit(const struct kevent* changes, int n, int* errs) {
    struct kevent results[2];
    const timespec no_wait = {0, 0};
    int r = kevent(kq_, changes, n, results, n, &no_wait);
    if (r < 0) return errno;
    for (int i = 0; i < n; ++i) errs[i] = 0;
    for (int j = 0; j < r; ++j) {
      if (!(results[j].flags & EV_ERROR) || results[j].data == 0) continue;
      for (int i = 0; i < n; ++i) {
        if (changes[i].filter == results[j].filter) errs[i] = static_cast<int>(results[j].data);
      }
    }
    return 0;
  }

  int kq_;
  std::unique_ptr<struct kevent[]> events_;  // the wait buffer, sized once
  // Merge index: fd -> its pair's index in the current wait's output, -1.
  // Grown by Add (never by Wait).
  std::vector<int32_t> pair_of_fd_;
};

std::unique_ptr<PollerBackend> CreateKqueueBackend(int max_pairs, int* err) {
  std::unique_ptr<struct kevent[]> events(new (std::nothrow) struct kevent[max_pairs]);
  if (!events) {
    *err = ENOMEM;
    return nullptr;
  }
  int kq = kqueue();
  if (kq < 0) {
    *err = errno;
    return nullptr;
  }
  // A kqueue is not inherited by fork(2) children, but its fd would survive
  // exec: close-on-exec like every other fd we create.
  if (fcntl(kq, F_SETFD, FD_CLOEXEC) < 0) {
    *err = errno;
    close(kq);
    return nullptr;
  }
  std::unique_ptr<PollerBackend> backend(new (std::nothrow) KqueueBackend(kq, std::move(events)));
  if (!backend) {
    close(kq);
    *err = ENOMEM;
  }
  return backend;
}

const BackendEntry kBsdBackends[] = {{"kqueue", CreateKqueueBackend, "kqueue"}};

}  // namespace

size_t OsBackends(const BackendEntry** entries) {
  *entries = kBsdBackends;
  return sizeof kBsdBackends / sizeof kBsdBackends[0];
}

}  // namespace coio
