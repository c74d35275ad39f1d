// select(2) backend: the primitive of the asyncio documents, kept for
// completeness and as a last resort. An fd_set is a fixed bitmap of
// FD_SETSIZE bits, and FD_SET / FD_ISSET on an fd >= FD_SETSIZE writes or
// reads outside it (select(2) BUGS; glibc's _FORTIFY_SOURCE aborts), so the
// Poller refuses such fds at add() (FdLimit below) and nothing here ever
// touches a bit past FD_SETSIZE.
//
// select has no error or hang-up set: an error or EOF makes an fd readable
// (and writable), which is how they show up here. An fd registered with
// interest 0 is in no set and reports nothing.
#include <fcntl.h>
#include <sys/select.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>
#include <new>

#include "poller.h"

namespace coio {
namespace {

constexpr uint8_t kRegistered = 0x80;

class SelectBackend final : public PollerBackend {
 public:
  SelectBackend() {
    FD_ZERO(&read_set_);
    FD_ZERO(&write_set_);
    std::memset(state_, 0, sizeof state_);
  }

  int Add(int fd, int interest) override {
    state_[fd] = kRegistered;
    ids_[fd] = FileIdOf(fd);
    Apply(fd, interest);
    if (fd > max_fd_) max_fd_ = fd;
    return 0;
  }

  // One fstat: was the number closed and reused since it was added?
  int Modify(int fd, int, int interest) override {
    Apply(fd, interest);
    FileId now = FileIdOf(fd);
    if (now == ids_[fd]) return 0;
    ids_[fd] = now;
    return kReAdded;
  }

  int Remove(int fd, int) override {
    Apply(fd, 0);
    state_[fd] = 0;
    while (max_fd_ >= 0 && state_[max_fd_] == 0) --max_fd_;
    return 0;
  }

  int Wait(int64_t timeout_ns, int32_t* out, int max_pairs) override {
    // select overwrites its sets: work on copies (two 128-byte struct copies
    // on the stack; nothing allocated).
    fd_set readable = read_set_;
    fd_set writable = write_set_;
    timeval tv;
    timeval* tvp = nullptr;
    if (timeout_ns >= 0) {
      // Microseconds, rounded up so the wait never ends early.
      int64_t us = (timeout_ns + 999) / 1000;
      tv.tv_sec = static_cast<time_t>(us / 1000000);
      tv.tv_usec = static_cast<suseconds_t>(us % 1000000);
      tvp = &tv;
    }
    int ready = select(max_fd_ + 1, &readable, &writable, nullptr, tvp);
    if (ready < 0) return errno == EBADF ? ReportClosed(out, max_pairs) : -errno;
    if (ready == 0) return 0;

    // Rotate the scan start as poll does, so no fd starves when more are
    // ready than `out` holds. `ready` counts set bits (an fd in both sets
    // counts twice).
    int n = max_fd_ + 1;
    int fd = scan_start_ < n ? scan_start_ : 0;
    int found = 0;
    int count = 0;
    for (int k = 0; k < n && found < ready; ++k, fd = (fd + 1 == n ? 0 : fd + 1)) {
      int32_t bits = 0;
      if (FD_ISSET(fd, &readable)) {
        bits |= kPollRead;
        ++found;
      }
      if (FD_ISSET(fd, &writable)) {
        bits |= kPollWrite;
        ++found;
      }
      if (bits == 0) continue;
      if (count == max_pairs) {
        scan_start_ = fd;
        break;
      }
      out[2 * count] = fd;
      out[2 * count + 1] = bits;
      ++count;
    }
    return count;
  }

  int Close() override { return 0; }

  int FdLimit() const override { return FD_SETSIZE; }
  const char* CtlSyscall() const override { return "select"; }
  const char* WaitSyscall() const override { return "select"; }

 private:
  void Apply(int fd, int interest) {
    if (interest & kPollRead) {
      FD_SET(fd, &read_set_);
    } else {
      FD_CLR(fd, &read_set_);
    }
    if (interest & kPollWrite) {
      FD_SET(fd, &write_set_);
    } else {
      FD_CLR(fd, &write_set_);
    }
  }

  // select fails as a whole with EBADF when a registered fd was closed
  // before being removed. Report each such fd with the error bit, as poll's
  // POLLNVAL does, so the owner sees which one and removes it.
  int ReportClosed(int32_t* out, int max_pairs) {
    int count = 0;
    for (int fd = 0; fd <= max_fd_ && count < max_pairs; ++fd) {
      if (state_[fd] == 0 || (!FD_ISSET(fd, &read_set_) && !FD_ISSET(fd, &write_set_))) continue;
      if (fcntl(fd, F_GETFD) == -1 && errno == EBADF) {
        out[2 * count] = fd;
        out[2 * count + 1] = kPollError | kPollNval;
        ++count;
      }
    }
    return count > 0 ? count : -EBADF;
  }

  fd_set read_set_;
  fd_set write_set_;
  uint8_t state_[FD_SETSIZE];  // kRegistered or 0, per fd
  FileId ids_[FD_SETSIZE];     // per registered fd: the file it named when added
  int max_fd_ = -1;
  int scan_start_ = 0;
};

}  // namespace

std::unique_ptr<PollerBackend> CreateSelectBackend(int, int* err) {
  std::unique_ptr<PollerBackend> backend(new (std::nothrow) SelectBackend());
  if (!backend) *err = ENOMEM;
  return backend;
}

}  // namespace coio
