// Linux waker: one eventfd(2), a 64-bit counter the kernel makes readable
// while non-zero. Cheaper than a pipe (one fd, no buffer).
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "waker.h"

namespace coio {

int OpenWaker(WakerFds* fds) {
  int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) return errno;
  fds->read_fd = fd;
  fds->write_fd = fd;
  return 0;
}

int SignalWaker(int write_fd) {
  int saved_errno = errno;  // a signal handler must not clobber errno
  const uint64_t one = 1;
  // EAGAIN: the counter is at its maximum, so it is readable already.
  int err = 0;
  while (write(write_fd, &one, sizeof one) < 0) {
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) err = errno;
    break;
  }
  errno = saved_errno;
  return err;
}

int DrainWaker(int read_fd, bool* woken) {
  *woken = false;
  uint64_t count;
  // Without EFD_SEMAPHORE one read returns the whole counter and resets it
  // to zero (eventfd(2)); loop anyway until EAGAIN, as the contract says.
  for (;;) {
    ssize_t n = read(read_fd, &count, sizeof count);
    if (n == sizeof count) {
      *woken = true;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    return n < 0 ? errno : EIO;
  }
}

const char* WakerCreateSyscall() { return "eventfd"; }

}  // namespace coio
