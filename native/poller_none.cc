// For POSIX systems with neither epoll nor kqueue: only the portable
// backends (poll, select) exist, and poll is the default.
#include "poller.h"

namespace coio {

size_t OsBackends(const BackendEntry** entries) {
  *entries = nullptr;
  return 0;
}

}  // namespace coio
