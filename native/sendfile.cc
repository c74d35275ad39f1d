// sendfile and lseek for src/sendfile.ts (loop.sockSendfile, loop.sendfile).
// The syscall itself is per OS (sendfile.h); this wrapper is shaped like the
// other I/O calls (socket.cc): arguments checked first, EINTR retried,
// WOULD_BLOCK (-1) for EAGAIN, the errors.h error for anything else.
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <limits>

#include "addon.h"
#include "args.h"
#include "errors.h"
#include "sendfile.h"

namespace coio {
namespace {

constexpr int kWouldBlock = -1;
constexpr int64_t kMaxSafe = (int64_t{1} << 53) - 1;
// At most this much per call: Linux caps a call at 0x7ffff000 bytes anyway,
// and the caller loops on the count sent.
constexpr int64_t kMaxChunk = int64_t{1} << 30;

// sendfile(sockFd, fileFd, offset, count): bytes sent (0: offset at or past
// the end of the file) or WOULD_BLOCK.
Napi::Value Sendfile(const Napi::CallbackInfo& info) {
  int sock_fd = static_cast<int>(ArgInteger(info, 0, "sendfile", "sockFd", 0, INT32_MAX));
  int file_fd = static_cast<int>(ArgInteger(info, 1, "sendfile", "fileFd", 0, INT32_MAX));
  int64_t offset = ArgInteger(info, 2, "sendfile", "offset", 0, kMaxSafe);
  int64_t count = ArgInteger(info, 3, "sendfile", "count", 1, kMaxSafe);
  size_t chunk = static_cast<size_t>(count < kMaxChunk ? count : kMaxChunk);
  size_t sent;
  int err;
  do {
    err = SendfileChunk(sock_fd, file_fd, offset, chunk, &sent);
  } while (err == EINTR);
  if (err == 0) return Napi::Number::New(info.Env(), static_cast<double>(sent));
  if (err == EAGAIN || err == EWOULDBLOCK) return Napi::Number::New(info.Env(), kWouldBlock);
  ThrowErrno(info.Env(), err, "sendfile");
}

// lseek(fd, offset, whence): whence 0 (SEEK_SET), 1 (SEEK_CUR) or 2
// (SEEK_END); returns the new position. ESPIPE for a pipe or socket.
Napi::Value Lseek(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "lseek");
  int64_t offset = ArgInteger(info, 1, "lseek", "offset", -kMaxSafe, kMaxSafe);
  int64_t whence_arg = ArgInteger(info, 2, "lseek", "whence", 0, 2);
  int whence = whence_arg == 0 ? SEEK_SET : whence_arg == 1 ? SEEK_CUR : SEEK_END;
  if (offset > static_cast<int64_t>(std::numeric_limits<off_t>::max()) ||
      offset < static_cast<int64_t>(std::numeric_limits<off_t>::min())) {
    ThrowErrno(info.Env(), EOVERFLOW, "lseek");
  }
  off_t pos = lseek(fd, static_cast<off_t>(offset), whence);
  if (pos < 0) ThrowErrno(info.Env(), errno, "lseek");
  return Napi::Number::New(info.Env(), static_cast<double>(pos));
}

}  // namespace

void InitSendfile(Napi::Env env, Napi::Object exports) {
  exports.Set("sendfile", Napi::Function::New(env, Sendfile, "sendfile"));
  exports.Set("lseek", Napi::Function::New(env, Lseek, "lseek"));
}

}  // namespace coio
