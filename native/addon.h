// What each native module contributes to the exports, and the data kept per
// Node environment (the main thread and every worker thread load the addon
// separately: nothing here is process-global).
#pragma once

#include <napi.h>

namespace coio {

// Stored with env.SetInstanceData: one per environment, freed with it.
struct AddonData {
  Napi::FunctionReference poller_constructor;
  Napi::FunctionReference waker_constructor;
};

// poller.cc
Napi::Function DefinePoller(Napi::Env env);
Napi::Value Backends(const Napi::CallbackInfo& info);
// waker.cc
Napi::Function DefineWaker(Napi::Env env);
// waker.cc: wakeWrite (another thread's wakeup).
void InitWaker(Napi::Env env, Napi::Object exports);
// socket.cc: the socket functions and their constants.
void InitSocket(Napi::Env env, Napi::Object exports);
// sendfile.cc: sendfile, lseek.
void InitSendfile(Napi::Env env, Napi::Object exports);
// errorFromErrno (errors.cc) and countOpenFds (fd_util.cc).
void InitErrors(Napi::Env env, Napi::Object exports);
void InitFdUtil(Napi::Env env, Napi::Object exports);
// native/memory.cc: tuneMalloc (glibc heap thresholds).
void InitMemory(Napi::Env env, Napi::Object exports);
// microtasks.cc: drainMicrotasks, isRunningMicrotasks (V8's microtask queue).
void InitMicrotasks(Napi::Env env, Napi::Object exports);
// guest.cc: Guest (class), guest mode on Node's libuv loop.
void InitGuest(Napi::Env env, Napi::Object exports);

// uring.cc (Linux) / uring_none.cc: uringProbe, whether io_uring is usable here and why not.
void InitUring(Napi::Env env, Napi::Object exports);

}  // namespace coio
