// pidfd_open(2), one file per OS: pidfd_linux.cc on Linux, pidfd_none.cc
// elsewhere (and in the portable build, which watches children through
// SIGCHLD as macOS and the BSDs do). spawn.cc's pidfdOpen is over it.
#pragma once

#include <sys/types.h>

namespace coio {

// An fd (close-on-exec) that polls readable once child `pid` exits, or -1:
// with *err = 0 where this system has no pidfds (not compiled in, a kernel
// before 5.3, a sandbox refusing the syscall), else *err is the errno.
int OpenPidfd(pid_t pid, int* err);
// Whether this build calls pidfd_open at all (for native.build).
bool PidfdCompiled();

}  // namespace coio
