// V8's microtask queue (microtasks.cc) and guest mode on Node's libuv loop
// (guest.cc): what they contribute to the addon's exports.
#pragma once

#include <napi.h>

namespace coio {

// drainMicrotasks, isRunningMicrotasks.
void InitMicrotasks(Napi::Env env, Napi::Object exports);
// Guest (class).
void InitGuest(Napi::Env env, Napi::Object exports);

}  // namespace coio
