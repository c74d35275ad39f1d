// V8's microtask queue, for the blocking loop (src/microtasks.ts).
//
// While coio's own loop blocks in epoll_wait (run(), runUntilComplete), Node
// never gets back to the top of its stack, so it never runs a microtask
// checkpoint: promise continuations (async functions resumed by a coio
// Future) would wait until the loop returns. drainMicrotasks() runs the
// checkpoint from inside the loop, after each batch of callbacks.
//
// V8 refuses to start a checkpoint while one is running: when the loop was
// entered from inside a microtask (after an `await`, at the top level of an
// ES module, in an async test body) the call does nothing. Both functions
// say so, so the TypeScript side can fail at once instead of hanging.
//
// Node's process.nextTick queue is JavaScript state inside Node; nothing here
// drains it (it runs when the loop returns to Node, or in guest mode).
//
// This file uses V8's API directly (N-API has no microtask calls); the
// headers come with Node (node-gyp puts them on the include path).
#include <v8.h>

#include "addon.h"

namespace coio {
namespace {

v8::MicrotaskQueue* CurrentQueue(v8::Isolate* isolate) {
  // The queue of the calling context: Node's main context uses the isolate's
  // default queue; a vm context made with microtaskMode 'afterEvaluate' has
  // its own.
  return isolate->GetCurrentContext()->GetMicrotaskQueue();
}

// drainMicrotasks(): true after running every queued microtask (and those they
// queue), false when it could not because a microtask is running.
Napi::Value DrainMicrotasks(const Napi::CallbackInfo& info) {
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  v8::MicrotaskQueue* queue = CurrentQueue(isolate);
  if (queue->IsRunningMicrotasks()) return Napi::Boolean::New(info.Env(), false);
  queue->PerformCheckpoint(isolate);
  return Napi::Boolean::New(info.Env(), true);
}

Napi::Value IsRunningMicrotasks(const Napi::CallbackInfo& info) {
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  return Napi::Boolean::New(info.Env(), CurrentQueue(isolate)->IsRunningMicrotasks());
}

// clearKeptObjects(): let the garbage collector take the targets of the
// WeakRefs made (or dereferenced) so far. V8 keeps every such target alive
// until the embedder ends the current job; Node ends it only when its stack
// unwinds, which the blocking loop never lets happen while it runs (and a
// checkpoint refused inside a microtask does not end it either). Without
// this, each WeakRef made while the loop runs would pin its target until
// the loop returns. src/unretrieved.ts calls it between callbacks, where a
// coio program's "job" (one callback) has ended.
Napi::Value ClearKeptObjects(const Napi::CallbackInfo& info) {
  v8::Isolate::GetCurrent()->ClearKeptObjects();
  return info.Env().Undefined();
}

}  // namespace

void InitMicrotasks(Napi::Env env, Napi::Object exports) {
  exports.Set("drainMicrotasks", Napi::Function::New(env, DrainMicrotasks, "drainMicrotasks"));
  exports.Set("clearKeptObjects", Napi::Function::New(env, ClearKeptObjects, "clearKeptObjects"));
  exports.Set("isRunningMicrotasks",
              Napi::Function::New(env, IsRunningMicrotasks, "isRunningMicrotasks"));
}

}  // namespace coio
