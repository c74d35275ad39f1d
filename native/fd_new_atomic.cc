// New fds with O_NONBLOCK and FD_CLOEXEC set by the call that makes them
// (pipe2, SOCK_NONBLOCK | SOCK_CLOEXEC, accept4): no window in which a
// concurrent fork + exec inherits them. Linux, FreeBSD 10, NetBSD 8,
// OpenBSD 5.7. fd_new_fcntl.cc is the other side (fd_util.h).
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "fd_util.h"

namespace coio {

int OpenPipe(int fds[2]) { return pipe2(fds, O_NONBLOCK | O_CLOEXEC) == 0 ? 0 : errno; }

int OpenSocket(int family, int type, int* fd) {
  *fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  return *fd < 0 ? errno : 0;
}

int OpenSocketPair(int family, int type, int fds[2]) {
  return socketpair(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0 ? 0 : errno;
}

int AcceptConnection(int listen_fd, int* client) {
  do {
    *client = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  } while (*client < 0 && errno == EINTR);
  return *client < 0 ? errno : 0;
}

}  // namespace coio
