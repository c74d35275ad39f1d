// No pidfds (macOS, the BSDs, other POSIX systems, the portable build):
// src/child_watcher.ts watches every child through SIGCHLD.
#include "pidfd.h"

namespace coio {

int OpenPidfd(pid_t pid, int* err) {
  (void)pid;
  *err = 0;
  return -1;
}

bool PidfdCompiled() { return false; }

}  // namespace coio
