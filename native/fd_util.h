// Small fd helpers shared by socket.cc and waker_pipe.cc.
#pragma once

namespace coio {

// Sets O_NONBLOCK and FD_CLOEXEC (for systems whose socket / accept /
// pipe calls cannot set them atomically). Returns 0 or an errno.
int SetNonBlockCloexec(int fd);

// A pipe with both ends non-blocking and close-on-exec: fds[0] reads,
// fds[1] writes. Returns 0 or an errno.
int OpenPipe(int fds[2]);

// close(2) that keeps errno; for cleanup paths.
void CloseQuietly(int fd);

}  // namespace coio
