// The JS class Waker over the per-OS fds of waker.h: a poller registers
// fileno() for reading, and wake() (from a signal handler or another thread
// on the native side) makes it readable so a blocked wait() returns.
#include <unistd.h>

#include <cerrno>

#include "addon.h"
#include "errors.h"
#include "waker.h"

namespace coio {
namespace {

class Waker : public Napi::ObjectWrap<Waker> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Waker",
                       {
                           InstanceMethod<&Waker::Fileno>("fileno"),
                           InstanceMethod<&Waker::Wake>("wake"),
                           InstanceMethod<&Waker::Drain>("drain"),
                           InstanceMethod<&Waker::Close>("close"),
                           InstanceAccessor<&Waker::GetClosed>("closed"),
                       });
  }

  explicit Waker(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Waker>(info) {
    int err = OpenWaker(&fds_);
    if (err != 0) ThrowErrno(info.Env(), err, WakerCreateSyscall());
  }

  ~Waker() override { CloseFds(); }

 private:
  Napi::Value Fileno(const Napi::CallbackInfo& info) {
    EnsureOpen(info.Env(), "fileno");
    return Napi::Number::New(info.Env(), fds_.read_fd);
  }

  Napi::Value Wake(const Napi::CallbackInfo& info) {
    EnsureOpen(info.Env(), "write");
    SignalWaker(fds_.write_fd);
    return info.Env().Undefined();
  }

  Napi::Value Drain(const Napi::CallbackInfo& info) {
    EnsureOpen(info.Env(), "read");
    bool woken;
    int err = DrainWaker(fds_.read_fd, &woken);
    if (err != 0) ThrowErrno(info.Env(), err, "read");
    return Napi::Boolean::New(info.Env(), woken);
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    CloseFds();
    return info.Env().Undefined();
  }

  Napi::Value GetClosed(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), fds_.read_fd < 0);
  }

  void EnsureOpen(Napi::Env env, const char* syscall) const {
    if (fds_.read_fd < 0) ThrowErrno(env, EBADF, syscall);
  }

  // close(2) errors are not reported: there is nothing left to retry, and
  // the fds are released either way (EINTR is not retried, see close(2)).
  void CloseFds() {
    if (fds_.write_fd >= 0 && fds_.write_fd != fds_.read_fd) close(fds_.write_fd);
    if (fds_.read_fd >= 0) close(fds_.read_fd);
    fds_ = WakerFds();
  }

  WakerFds fds_;
};

}  // namespace

Napi::Function DefineWaker(Napi::Env env) { return Waker::Define(env); }

}  // namespace coio
