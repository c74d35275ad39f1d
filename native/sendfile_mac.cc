// macOS: sendfile(fd, s, offset, &len, hdtr, flags). len is in/out: the
// bytes to send (0 would mean "to the end of the file": the caller never
// passes 0), then the bytes sent, which it also reports when the call fails
// with EAGAIN (non-blocking socket full) or EINTR after a partial send.
// SIGPIPE: coio's sockets have SO_NOSIGPIPE (socket.cc), so a reset peer is EPIPE.
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <cerrno>
#include <limits>

#include "sendfile.h"

namespace coio {

int SendfileChunk(int sock_fd, int file_fd, int64_t offset, size_t count, size_t* sent) {
  *sent = 0;
  if (count > static_cast<uint64_t>(std::numeric_limits<off_t>::max())) {
    count = static_cast<size_t>(std::numeric_limits<off_t>::max());
  }
  off_t len = static_cast<off_t>(count);
  if (sendfile(file_fd, sock_fd, static_cast<off_t>(offset), &len, nullptr, 0) == 0) {
    *sent = static_cast<size_t>(len);
    return 0;
  }
  int err = errno;
  if ((err == EAGAIN || err == EINTR) && len > 0) {
    *sent = static_cast<size_t>(len);
    return 0;
  }
  return err;
}

bool SendfileCompiled() { return true; }

}  // namespace coio
