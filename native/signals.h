// Signal watchers (signals.cc): what they contribute to the addon's exports.
#pragma once

#include <napi.h>

namespace coio {

// signalAdd, signalRemove, signalTake, signalDisposition.
void InitSignals(Napi::Env env, Napi::Object exports);

}  // namespace coio
