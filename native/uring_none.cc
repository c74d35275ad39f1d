// Builds without io_uring (not Linux, or the portable build): uringProbe
// says so, and no io_uring backend is listed.
#include <napi.h>

#include "addon.h"

namespace coio {

namespace {

Napi::Value UringProbeJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object result = Napi::Object::New(env);
  result.Set("available", Napi::Boolean::New(env, false));
  result.Set("errno", Napi::Number::New(env, 0));
  result.Set("reason", Napi::String::New(env, "io_uring is Linux-only, and this build has no io_uring backend"));
  result.Set("setupFlags", Napi::Array::New(env));
  result.Set("features", Napi::Number::New(env, 0));
  result.Set("multishotRecv", Napi::Boolean::New(env, false));
  result.Set("connect", Napi::Boolean::New(env, false));
  return result;
}

}  // namespace

void InitUring(Napi::Env env, Napi::Object exports) {
  exports.Set("uringProbe", Napi::Function::New(env, UringProbeJs, "uringProbe"));
}

}  // namespace coio
