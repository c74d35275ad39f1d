// New fds made by the plain POSIX calls, then fcntl(2) sets O_NONBLOCK and
// FD_CLOEXEC: macOS (no pipe2, no SOCK_NONBLOCK, no accept4), other POSIX
// systems, and the portable build, which runs these paths on Linux.
// fd_new_atomic.cc is the other side (fd_util.h).
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "fd_util.h"

namespace coio {

namespace {

// Sets the flags on a new fd, or closes it: returns 0 or an errno.
int Finish(int fd) {
  int err = SetNonBlockCloexec(fd);
  if (err != 0) CloseQuietly(fd);
  return err;
}

}  // namespace

int OpenPipe(int fds[2]) {
  if (pipe(fds) < 0) return errno;
  int err = Finish(fds[0]);
  if (err != 0) {
    CloseQuietly(fds[1]);
    return err;
  }
  err = Finish(fds[1]);
  if (err != 0) CloseQuietly(fds[0]);
  return err;
}

int OpenSocket(int family, int type, int* fd) {
  *fd = socket(family, type, 0);
  if (*fd < 0) return errno;
  int err = Finish(*fd);
  if (err != 0) *fd = -1;
  return err;
}

int OpenSocketPair(int family, int type, int fds[2]) {
  if (socketpair(family, type, 0, fds) < 0) return errno;
  int err = Finish(fds[0]);
  if (err != 0) {
    CloseQuietly(fds[1]);
    return err;
  }
  err = Finish(fds[1]);
  if (err != 0) CloseQuietly(fds[0]);
  return err;
}

int AcceptConnection(int listen_fd, int* client) {
  do {
    *client = accept(listen_fd, nullptr, nullptr);
  } while (*client < 0 && errno == EINTR);
  if (*client < 0) return errno;
  int err = Finish(*client);
  if (err != 0) *client = -1;
  return err;
}

}  // namespace coio
