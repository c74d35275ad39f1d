// Module init: the exports of src/native.ts's NativeAddon, nothing else.
//
// The addon is context-aware (NODE_API_MODULE registers a Node-API module,
// which Node loads once per environment: the main thread and each worker
// thread). Per-environment state lives in AddonData (env.SetInstanceData),
// never in statics: one event loop per worker thread must not share any.
#include <napi.h>

#include "addon.h"
#include "pidfd.h"
#include "sendfile.h"
#include "signals.h"
#include "spawn_api.h"
#include "waker.h"

namespace coio {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  AddonData* data = new AddonData();
  // Owned by the environment from here on: deleted at its teardown.
  env.SetInstanceData(data);

  Napi::Function poller = DefinePoller(env);
  data->poller_constructor = Napi::Persistent(poller);
  exports.Set("Poller", poller);

  Napi::Function waker = DefineWaker(env);
  data->waker_constructor = Napi::Persistent(waker);
  exports.Set("Waker", waker);
  InitWaker(env, exports);

  exports.Set("backends", Napi::Function::New(env, Backends, "backends"));
  // What this build compiled in, for code and tests that must not guess it
  // from the OS: the portable build runs macOS's paths on Linux.
  Napi::Object build = Napi::Object::New(env);
  build.Set("portable", Napi::Boolean::New(env, COIO_PORTABLE != 0));
  build.Set("waker", Napi::String::New(env, WakerCreateSyscall()));
  build.Set("pidfd", Napi::Boolean::New(env, PidfdCompiled()));
  build.Set("sendfile", Napi::Boolean::New(env, SendfileCompiled()));
  exports.Set("build", build);
  InitSocket(env, exports);
  InitSendfile(env, exports);
  InitErrors(env, exports);
  InitFdUtil(env, exports);
  InitMemory(env, exports);
  InitSignals(env, exports);
  InitSpawn(env, exports);
  InitMicrotasks(env, exports);
  InitGuest(env, exports);
  InitUring(env, exports);
  return exports;
}

}  // namespace coio

// The macro pastes its argument into identifiers: an unqualified name.
static Napi::Object InitCoio(Napi::Env env, Napi::Object exports) {
  return coio::Init(env, exports);
}

NODE_API_MODULE(coio, InitCoio)
