// Linux: pidfd_open(2) (Linux 5.3) through syscall(2), since older C
// libraries have no wrapper. Headers too old to name it compile the
// "no pidfds" answer.
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "pidfd.h"

namespace coio {

int OpenPidfd(pid_t pid, int* err) {
  *err = 0;
#if defined(SYS_pidfd_open)
  // Safe from pid reuse: pid is our child and we have not reaped it yet.
  long fd = syscall(SYS_pidfd_open, pid, 0);
  if (fd >= 0) return static_cast<int>(fd);
  if (errno != ENOSYS && errno != EPERM) *err = errno;
#else
  (void)pid;
#endif
  return -1;
}

bool PidfdCompiled() { return true; }

}  // namespace coio
