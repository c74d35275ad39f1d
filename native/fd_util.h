// Small fd helpers shared by socket.cc, waker_pipe.cc and spawn.cc.
#pragma once

namespace coio {

// Sets O_NONBLOCK and FD_CLOEXEC (for systems whose socket / accept /
// pipe calls cannot set them atomically). Returns 0 or an errno.
int SetNonBlockCloexec(int fd);

// close(2) that keeps errno; for cleanup paths.
void CloseQuietly(int fd);

// New fds, non-blocking and close-on-exec. One file per OS, so shared code
// keeps no #ifdef: fd_new_atomic.cc sets the flags in the call itself
// (pipe2, SOCK_NONBLOCK, accept4: Linux and the BSDs), fd_new_fcntl.cc with
// fcntl(2) afterwards (macOS, other POSIX systems, the portable build).
// Each returns 0 or an errno, and leaves no fd open when it fails.

// A pipe: fds[0] reads, fds[1] writes.
int OpenPipe(int fds[2]);
// socket(2) with protocol 0.
int OpenSocket(int family, int type, int* fd);
// socketpair(2) with protocol 0.
int OpenSocketPair(int family, int type, int fds[2]);
// accept(2) of a pending connection on listen_fd (EINTR retried; EAGAIN and
// the rest returned as they come).
int AcceptConnection(int listen_fd, int* client);

}  // namespace coio
