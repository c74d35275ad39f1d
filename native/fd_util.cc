#include "fd_util.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace coio {

int SetNonBlockCloexec(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) return errno;
  int fd_flags = fcntl(fd, F_GETFD);
  if (fd_flags < 0 || fcntl(fd, F_SETFD, fd_flags | FD_CLOEXEC) < 0) return errno;
  return 0;
}

int OpenPipe(int fds[2]) {
// pipe2(2) sets both flags atomically (no window in which a concurrent
// fork+exec inherits the fds); macOS has no pipe2.
#if defined(__APPLE__)
  if (pipe(fds) < 0) return errno;
  int err = SetNonBlockCloexec(fds[0]);
  if (err == 0) err = SetNonBlockCloexec(fds[1]);
  if (err != 0) {
    CloseQuietly(fds[0]);
    CloseQuietly(fds[1]);
  }
  return err;
#else
  return pipe2(fds, O_NONBLOCK | O_CLOEXEC) == 0 ? 0 : errno;
#endif
}

void CloseQuietly(int fd) {
  int saved_errno = errno;
  close(fd);
  errno = saved_errno;
}

}  // namespace coio
