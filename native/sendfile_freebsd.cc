// FreeBSD: sendfile(fd, s, offset, nbytes, hdtr, &sbytes, flags). nbytes 0
// would mean "to the end of the file" (the caller never passes 0); sbytes
// is the count sent, set also when the call fails with EAGAIN (non-blocking
// socket full), EBUSY or EINTR after a partial send.
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <cerrno>

#include "sendfile.h"

namespace coio {

int SendfileChunk(int sock_fd, int file_fd, int64_t offset, size_t count, size_t* sent) {
  *sent = 0;
  off_t sbytes = 0;
  if (sendfile(file_fd, sock_fd, static_cast<off_t>(offset), count, nullptr, &sbytes, 0) == 0) {
    *sent = static_cast<size_t>(sbytes);
    return 0;
  }
  int err = errno;
  if ((err == EAGAIN || err == EBUSY || err == EINTR) && sbytes > 0) {
    *sent = static_cast<size_t>(sbytes);
    return 0;
  }
  return err;
}

bool SendfileCompiled() { return true; }

}  // namespace coio
