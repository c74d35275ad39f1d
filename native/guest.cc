// Guest mode: coio's loop driven by Node's own libuv loop (src/guest.ts).
//
// Instead of blocking in its poller, the coio loop lends its waiting to
// libuv, so Node's timers, fs, http and every npm library keep running:
//
//   uv_poll     on the poller's own fd (epoll / kqueue): readable when one of
//               coio's fds is ready. The callback only notes it.
//   uv_timer    armed for coio's next timer (uv_update_time first, or libuv's
//               cached clock makes it fire early). The callback only notes it.
//   uv_prepare  runs on every libuv iteration right before libuv blocks: the
//               one place coio's JS runs. If I/O or a timer was noted, or
//               callbacks are ready (scheduled from Node callbacks, promise
//               continuations, ...), it runs ONE coio iteration (step), then
//               asks for the next timeout and arms the others.
//   uv_idle     started while coio has callbacks ready, so libuv polls with a
//               zero timeout and comes straight back (Node stays responsive:
//               one coio iteration per libuv iteration).
//   uv_async    never sent: the one ref'd handle, keeping the process alive
//               while the guest runs. Every other handle is unref'd.
//
// The step is called with napi_make_callback, like any Node I/O callback:
// when it returns, Node runs process.nextTick callbacks and microtasks, so
// async functions resume exactly as elsewhere in Node. The timeout query
// runs no user code and is a plain call.
//
// Backends without an fd of their own (poll, select) cannot be watched as a
// whole: the guest then polls them with a zero timeout every `intervalMs`
// (the uv_timer doubles as the interval), trading latency (up to intervalMs)
// for staying within Node's loop. epoll and kqueue are event driven.
//
// Lifetime: the uv handles live in a heap block (Core) that libuv may still
// point to after the JS object is gone; it is freed by the last close
// callback. close() (from JS), the JS object's finalizer and the
// environment's cleanup hook (a worker ending) all close the handles, and
// nothing calls JS once they are closed. When the environment ends (a
// worker terminated while its guest runs), libuv runs the close callbacks
// only after Node has unloaded the worker's addons: the handles are then
// closed without a callback and their Core (a few hundred bytes) is left
// behind, since no code of ours may run by then.
#include <uv.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "args.h"
#include "errors.h"
#include "addon.h"

namespace coio {
namespace {

class Guest;

// Everything libuv points to. Freed when the last handle is closed.
struct Core {
  Guest* owner = nullptr;  // null once closing: callbacks then do nothing
  uv_loop_t* loop = nullptr;
  uv_poll_t poll;
  uv_timer_t timer;
  uv_prepare_t prepare;
  uv_idle_t idle;
  uv_async_t keepalive;
  bool has_poll = false;
  int open_handles = 0;
};

void OnClose(uv_handle_t* handle) {
  Core* core = static_cast<Core*>(handle->data);
  if (--core->open_handles == 0) delete core;
}

class Guest : public Napi::ObjectWrap<Guest> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Guest",
                       {
                           InstanceMethod<&Guest::Close>("close"),
                           InstanceAccessor<&Guest::GetClosed>("closed"),
                       });
  }

  // new Guest(fd, step, nextTimeout, intervalMs)
  explicit Guest(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Guest>(info), env_(info.Env()) {
    Napi::Env env = info.Env();
    int fd = static_cast<int>(ArgInteger(info, 0, "Guest", "fd", -1, INT32_MAX));
    if (!info[1].IsFunction()) throw Napi::TypeError::New(env, "Guest: step must be a function");
    if (!info[2].IsFunction()) throw Napi::TypeError::New(env, "Guest: nextTimeout must be a function");
    double interval = ArgNumber(info, 3, "Guest", "intervalMs");
    if (!(interval >= 1 && interval <= 1e9)) {
      throw Napi::RangeError::New(env, "Guest: intervalMs must be between 1 and 1e9");
    }
    interval_ms_ = static_cast<uint64_t>(std::ceil(interval));

    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
      throw Napi::Error::New(env, "Guest: this Node environment has no libuv loop");
    }

    core_ = new Core();
    core_->loop = loop;
    int err = 0;
    if (fd >= 0) {
      // libuv sets O_NONBLOCK on fd (harmless for an epoll / kqueue fd) and
      // refuses an fd it already watches (UV_EEXIST).
      err = uv_poll_init(loop, &core_->poll, fd);
      if (err != 0) {
        delete core_;
        core_ = nullptr;
        ThrowErrno(env, -err, "uv_poll_init");
      }
      InitHandle(reinterpret_cast<uv_handle_t*>(&core_->poll));
      core_->has_poll = true;
    }
    uv_timer_init(loop, &core_->timer);
    InitHandle(reinterpret_cast<uv_handle_t*>(&core_->timer));
    uv_prepare_init(loop, &core_->prepare);
    InitHandle(reinterpret_cast<uv_handle_t*>(&core_->prepare));
    uv_idle_init(loop, &core_->idle);
    InitHandle(reinterpret_cast<uv_handle_t*>(&core_->idle));
    uv_async_init(loop, &core_->keepalive, nullptr);
    core_->keepalive.data = core_;
    core_->open_handles++;  // the one handle left ref'd
    core_->owner = this;

    step_ = Napi::Persistent(info[1].As<Napi::Function>());
    next_timeout_ = Napi::Persistent(info[2].As<Napi::Function>());
    napi_value resource_name = Napi::String::New(env, "coio.Guest");
    napi_async_init(env, info.This(), resource_name, &async_context_);
    napi_add_env_cleanup_hook(env, CleanupHook, this);
    cleanup_hook_ = true;

    if (core_->has_poll) {
      err = uv_poll_start(&core_->poll, UV_READABLE, OnPoll);
      if (err != 0) {
        Shutdown(false);
        ThrowErrno(env, -err, "uv_poll_start");
      }
    }
    uv_prepare_start(&core_->prepare, OnPrepare);
    if (!core_->has_poll) ArmTimer(static_cast<int64_t>(interval_ms_));
  }

  // Only at the environment's teardown can the object go while its handles
  // are open (its functions, held strongly, keep it reachable until close).
  ~Guest() override {
    Shutdown(true);
    DestroyAsyncContext();
  }

 private:
  void InitHandle(uv_handle_t* handle) {
    handle->data = core_;
    uv_unref(handle);
    core_->open_handles++;
  }

  static Core* CoreOf(void* handle) {
    return static_cast<Core*>(static_cast<uv_handle_t*>(handle)->data);
  }

  // libuv callbacks: the poll and the timer only note what happened; the
  // prepare callback acts on it before libuv blocks again.
  static void OnPoll(uv_poll_t* handle, int status, int events) {
    Core* core = CoreOf(handle);
    if (core->owner == nullptr) return;
    core->owner->io_ready_ = true;
    if (status < 0) {
      // The fd is unusable (closed under us): stop watching, let JS find out.
      core->owner->poll_status_ = status;
      uv_poll_stop(handle);
    }
  }

  static void OnTimer(uv_timer_t* handle) {
    Core* core = CoreOf(handle);
    if (core->owner == nullptr) return;
    core->owner->timer_fired_ = true;
    // Without an fd to watch, the timer is also the polling interval.
    if (!core->has_poll) core->owner->io_ready_ = true;
  }

  static void OnIdle(uv_idle_t*) {}

  static void OnPrepare(uv_prepare_t* handle) {
    Core* core = CoreOf(handle);
    if (core->owner == nullptr) return;
    core->owner->Prepare();
  }

  static void CleanupHook(void* arg) {
    Guest* self = static_cast<Guest*>(arg);
    self->cleanup_hook_ = false;  // being run: must not be removed
    self->Shutdown(true);
  }

  void Prepare() {
    napi_handle_scope scope;
    if (napi_open_handle_scope(env_, &scope) != napi_ok) {
      Idle();
      return;
    }
    bool run = io_ready_ || timer_fired_;
    int64_t timeout = 0;
    if (!run) {
      timeout = CallNextTimeout();
      run = timeout == 0;
    }
    if (run && core_ != nullptr) {
      io_ready_ = false;
      timer_fired_ = false;
      CallStep();
      if (core_ != nullptr) timeout = CallNextTimeout();
    }
    // close() may have been called by the step (the guest finished).
    if (core_ != nullptr) Arm(timeout);
    napi_close_handle_scope(env_, scope);
  }

  // timeout: ms until coio needs a step; 0 now, -1 never (no timer).
  void Arm(int64_t timeout) {
    if (timeout == 0) {
      uv_idle_start(&core_->idle, OnIdle);
    } else {
      uv_idle_stop(&core_->idle);
    }
    if (!core_->has_poll) {
      int64_t interval = static_cast<int64_t>(interval_ms_);
      if (timeout < 0 || timeout > interval) timeout = interval;
    }
    if (timeout > 0) {
      ArmTimer(timeout);
    } else {
      uv_timer_stop(&core_->timer);
    }
  }

  void ArmTimer(int64_t ms) {
    uv_update_time(core_->loop);
    uv_timer_start(&core_->timer, OnTimer, static_cast<uint64_t>(ms), 0);
  }

  // step(pollStatus): one coio iteration. An exception escaping it (guest.ts
  // catches everything, so only a bug) becomes an uncaught exception.
  void CallStep() {
    napi_value recv = Value();
    napi_value fn = step_.Value();
    napi_value arg, result;
    napi_create_int32(env_, poll_status_, &arg);
    poll_status_ = 0;
    in_step_ = true;
    napi_status status = napi_make_callback(env_, async_context_, recv, fn, 1, &arg, &result);
    in_step_ = false;
    if (status == napi_pending_exception) ReportException();
    else if (status != napi_ok) Idle();
    if (core_ == nullptr) DestroyAsyncContext();  // closed by the step
  }

  // nextTimeout(): milliseconds (0: now, -1: no timer), a plain call.
  int64_t CallNextTimeout() {
    napi_value recv = Value();
    napi_value fn = next_timeout_.Value();
    napi_value result;
    napi_status status = napi_call_function(env_, recv, fn, 0, nullptr, &result);
    if (status == napi_pending_exception) {
      ReportException();
      return -1;
    }
    if (status != napi_ok) {
      // JS cannot run any more (the environment is ending): stop acting.
      Idle();
      return -1;
    }
    double ms = -1;
    if (napi_get_value_double(env_, result, &ms) != napi_ok || std::isnan(ms) || ms < 0) return -1;
    return ms >= 1e12 ? static_cast<int64_t>(1e12) : static_cast<int64_t>(std::ceil(ms));
  }

  void ReportException() {
    bool pending = false;
    napi_value exception;
    if (napi_is_exception_pending(env_, &pending) == napi_ok && pending &&
        napi_get_and_clear_last_exception(env_, &exception) == napi_ok) {
      napi_fatal_exception(env_, exception);
    } else {
      Idle();  // "pending exception" without one: JS cannot run any more
    }
  }

  // Stop every handle and let the process (or worker) end; the handles stay
  // open until close(), the finalizer or the cleanup hook closes them.
  void Idle() {
    if (core_ == nullptr) return;
    if (core_->has_poll) uv_poll_stop(&core_->poll);
    uv_timer_stop(&core_->timer);
    uv_prepare_stop(&core_->prepare);
    uv_idle_stop(&core_->idle);
    uv_unref(reinterpret_cast<uv_handle_t*>(&core_->keepalive));
  }

  void DestroyAsyncContext() {
    if (async_context_ == nullptr) return;
    napi_async_destroy(env_, async_context_);
    async_context_ = nullptr;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Shutdown(false);
    return info.Env().Undefined();
  }

  Napi::Value GetClosed(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), core_ == nullptr);
  }

  // Close every handle (their memory goes with the last close callback) and
  // drop the JS references. Idempotent; never calls JS. env_teardown: the
  // addon may be unloaded before libuv gets to the close callbacks, so none
  // is given and the Core is not freed (see the top of this file).
  void Shutdown(bool env_teardown) {
    if (core_ == nullptr) return;
    Core* core = core_;
    core_ = nullptr;
    core->owner = nullptr;
    uv_close_cb on_close = env_teardown ? nullptr : OnClose;
    if (core->has_poll) uv_close(reinterpret_cast<uv_handle_t*>(&core->poll), on_close);
    uv_close(reinterpret_cast<uv_handle_t*>(&core->timer), on_close);
    uv_close(reinterpret_cast<uv_handle_t*>(&core->prepare), on_close);
    uv_close(reinterpret_cast<uv_handle_t*>(&core->idle), on_close);
    uv_close(reinterpret_cast<uv_handle_t*>(&core->keepalive), on_close);
    if (cleanup_hook_) {
      napi_remove_env_cleanup_hook(env_, CleanupHook, this);
      cleanup_hook_ = false;
    }
    // Not while the step runs: its callback scope still uses the context.
    if (!in_step_) DestroyAsyncContext();
    step_.Reset();
    next_timeout_.Reset();
  }

  napi_env env_;
  Core* core_ = nullptr;
  uint64_t interval_ms_ = 1;
  bool io_ready_ = false;
  bool timer_fired_ = false;
  int poll_status_ = 0;
  bool cleanup_hook_ = false;
  bool in_step_ = false;
  napi_async_context async_context_ = nullptr;
  Napi::FunctionReference step_;
  Napi::FunctionReference next_timeout_;
};

}  // namespace

void InitGuest(Napi::Env env, Napi::Object exports) {
  exports.Set("Guest", Guest::Define(env));
}

}  // namespace coio
