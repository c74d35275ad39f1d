#include "fd_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>

#include "addon.h"

namespace coio {

int SetNonBlockCloexec(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) return errno;
  int fd_flags = fcntl(fd, F_GETFD);
  if (fd_flags < 0 || fcntl(fd, F_SETFD, fd_flags | FD_CLOEXEC) < 0) return errno;
  return 0;
}

void CloseQuietly(int fd) {
  int saved_errno = errno;
  close(fd);
  errno = saved_errno;
}

namespace {

// countOpenFds(): how many fds this process has open. A test helper (the
// leak checks compare it before and after), kept beside the other fd
// helpers rather than among the socket calls.
Napi::Value CountOpenFds(const Napi::CallbackInfo& info) {
  // Linux: one entry per open fd, and opendir itself holds one.
  if (DIR* dir = opendir("/proc/self/fd")) {
    int count = 0;
    while (dirent* entry = readdir(dir)) {
      if (entry->d_name[0] != '.') ++count;
    }
    closedir(dir);
    return Napi::Number::New(info.Env(), count - 1);
  }
  // Elsewhere: probe each fd below the soft limit (capped: this is a test
  // helper, not a syscall anyone should run in a loop).
  rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) < 0) return Napi::Number::New(info.Env(), -1);
  rlim_t max = limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur > 65536 ? 65536 : limit.rlim_cur;
  int count = 0;
  for (rlim_t fd = 0; fd < max; ++fd) {
    if (fcntl(static_cast<int>(fd), F_GETFD) != -1) ++count;
  }
  return Napi::Number::New(info.Env(), count);
}

}  // namespace

void InitFdUtil(Napi::Env env, Napi::Object exports) {
  exports.Set("countOpenFds", Napi::Function::New(env, CountOpenFds, "countOpenFds"));
}

}  // namespace coio
