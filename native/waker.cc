// The JS class Waker over the per-OS fds of waker.h: a poller registers
// fileno() for reading, and wake() (from a signal handler or another thread
// on the native side) makes it readable so a blocked wait() returns.
// Another thread wakes it through writeFd() (its own dup of it) and
// wakeWrite(): fileno() is the read end, which only an eventfd can also
// write to.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include "addon.h"
#include "args.h"
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
                           InstanceMethod<&Waker::WriteFd>("writeFd"),
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

  Napi::Value WriteFd(const Napi::CallbackInfo& info) {
    EnsureOpen(info.Env(), "fileno");
    return Napi::Number::New(info.Env(), fds_.write_fd);
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

// One wakeup written from any thread, SIGPIPE held back. Once the loop
// closed its Waker, a pipe's write end has no reader: write(2) fails with
// EPIPE and raises SIGPIPE at this thread. Node ignores SIGPIPE, but a
// process that added and removed a 'SIGPIPE' listener has it back at its
// default action, which kills. So the signal is blocked around the write
// and, if the write raised it, taken back with sigwait before the mask is
// restored (unless one was already pending: that one is not ours).
int WakeFromAnyThread(int write_fd) {
  sigset_t sigpipe;
  sigemptyset(&sigpipe);
  sigaddset(&sigpipe, SIGPIPE);
  sigset_t old_mask;
  int err = pthread_sigmask(SIG_BLOCK, &sigpipe, &old_mask);
  if (err != 0) return err;
  sigset_t pending;
  bool was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
  err = SignalWaker(write_fd);
  if (err == EPIPE && !was_pending && sigpending(&pending) == 0 &&
      sigismember(&pending, SIGPIPE) == 1) {
    int taken;
    sigwait(&sigpipe, &taken);  // pending: returns at once
  }
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  return err;
}

// wakeWrite(fd) -> true when woken (or already awake), false when nobody
// reads any more (EPIPE); other errors (EBADF) throw.
Napi::Value WakeWrite(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "wakeWrite");
  int err = WakeFromAnyThread(fd);
  if (err == EPIPE) return Napi::Boolean::New(info.Env(), false);
  if (err != 0) ThrowErrno(info.Env(), err, "write");
  return Napi::Boolean::New(info.Env(), true);
}

}  // namespace

Napi::Function DefineWaker(Napi::Env env) { return Waker::Define(env); }

void InitWaker(Napi::Env env, Napi::Object exports) {
  exports.Set("wakeWrite", Napi::Function::New(env, WakeWrite, "wakeWrite"));
}

}  // namespace coio
