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

void CloseQuietly(int fd) {
  int saved_errno = errno;
  close(fd);
  errno = saved_errno;
}

}  // namespace coio
