// No sendfile call (OpenBSD, NetBSD, other POSIX systems, the portable
// build): native.build.sendfile is false and src/sendfile.ts reads and
// sends instead (or raises SendfileNotAvailableError when told not to).
// Called anyway, the wrapper reports ENOSYS.
#include <cerrno>

#include "sendfile.h"

namespace coio {

int SendfileChunk(int sock_fd, int file_fd, int64_t offset, size_t count, size_t* sent) {
  (void)sock_fd;
  (void)file_fd;
  (void)offset;
  (void)count;
  *sent = 0;
  return ENOSYS;
}

bool SendfileCompiled() { return false; }

}  // namespace coio
