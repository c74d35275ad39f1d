#include "errors.h"

#include <cerrno>
#include <cstdio>
#include <string>

namespace coio {
namespace {

struct ErrnoEntry {
  int value;
  const char* name;
};

#define COIO_ERRNO(name) {name, #name},
const ErrnoEntry kErrnoTable[] = {
#include "errno_names.inc"
};
#undef COIO_ERRNO

// Node reports errno negated (libuv's UV__ERR): keep the same sign so code
// comparing err.errno against os.constants works the same on our errors.
int NodeErrno(int err) { return -err; }

}  // namespace

const char* ErrnoName(int err) {
  // Linear scan: this is the error path, and ~150 entries fit in cache.
  for (const ErrnoEntry& e : kErrnoTable) {
    if (e.value == err) return e.name;
  }
  return nullptr;
}

Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall,
                       const SysAddress& address) {
  const char* name = ErrnoName(err);
  char unknown[40];
  if (name == nullptr) {
    // Same convention as libuv's uv_err_name for values it does not know.
    std::snprintf(unknown, sizeof unknown, "Unknown system error %d", NodeErrno(err));
  }
  std::string code = name != nullptr ? name : "UNKNOWN";

  std::string message = std::string(syscall) + " " + (name != nullptr ? name : unknown);
  if (address.host != nullptr) {
    message += ' ';
    message.append(address.host, address.host_len);
    if (address.port >= 0) message += ':' + std::to_string(address.port);
  }

  Napi::Error error = Napi::Error::New(env, message);
  Napi::Object obj = error.Value();
  obj.Set("errno", Napi::Number::New(env, NodeErrno(err)));
  obj.Set("code", Napi::String::New(env, code));
  obj.Set("syscall", Napi::String::New(env, syscall));
  if (address.host != nullptr) {
    obj.Set("address", Napi::String::New(env, address.host, address.host_len));
    if (address.port >= 0) obj.Set("port", Napi::Number::New(env, address.port));
  }
  return error;
}

void ThrowErrno(Napi::Env env, int err, const char* syscall, const SysAddress& address) {
  throw ErrnoError(env, err, syscall, address);
}

Napi::Object ErrnoConstants(Napi::Env env) {
  Napi::Object constants = Napi::Object::New(env);
  for (const ErrnoEntry& e : kErrnoTable) {
    constants.Set(e.name, Napi::Number::New(env, e.value));
  }
  return constants;
}

}  // namespace coio
