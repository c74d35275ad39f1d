// Linux: sendfile(2) with an explicit offset (the file position stays put).
// The socket is non-blocking, so a full send buffer returns EAGAIN, and a
// partial send returns its count. A reset peer makes it fail with EPIPE
// (Node ignores SIGPIPE, and sendfile has no MSG_NOSIGNAL) or ECONNRESET.
#include <sys/sendfile.h>
#include <sys/types.h>

#include <cerrno>
#include <limits>

#include "sendfile.h"

namespace coio {

int SendfileChunk(int sock_fd, int file_fd, int64_t offset, size_t count, size_t* sent) {
  *sent = 0;
  // A 32-bit off_t cannot name the offset: the kernel's own answer.
  if (offset > static_cast<int64_t>(std::numeric_limits<off_t>::max())) return EOVERFLOW;
  off_t off = static_cast<off_t>(offset);
  ssize_t n = sendfile(sock_fd, file_fd, &off, count);
  if (n < 0) return errno;
  *sent = static_cast<size_t>(n);
  return 0;
}

bool SendfileCompiled() { return true; }

}  // namespace coio
