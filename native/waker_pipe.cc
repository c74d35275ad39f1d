// Portable waker: a non-blocking, close-on-exec pipe. wake() writes one
// byte; drain() reads until the pipe is empty.
#include <unistd.h>

#include <cerrno>

#include "fd_util.h"
#include "waker.h"

namespace coio {

int OpenWaker(WakerFds* fds) {
  int pipe_fds[2];
  int err = OpenPipe(pipe_fds);
  if (err != 0) return err;
  fds->read_fd = pipe_fds[0];
  fds->write_fd = pipe_fds[1];
  return 0;
}

int SignalWaker(int write_fd) {
  int saved_errno = errno;  // a signal handler must not clobber errno
  const char byte = 1;
  // EAGAIN: the pipe is full of earlier wakeups, so it is readable already.
  int err = 0;
  while (write(write_fd, &byte, 1) < 0) {
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) err = errno;
    break;
  }
  errno = saved_errno;
  return err;
}

int DrainWaker(int read_fd, bool* woken) {
  *woken = false;
  char buf[256];
  for (;;) {
    ssize_t n = read(read_fd, buf, sizeof buf);
    if (n > 0) {
      *woken = true;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    // 0 (EOF) cannot happen while we hold the write end.
    return n < 0 ? errno : 0;
  }
}

const char* WakerCreateSyscall() { return "pipe"; }

}  // namespace coio
