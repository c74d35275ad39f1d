#include "errors.h"

#include <cerrno>
#include <climits>
#include <cstdio>
#include <string>

#include "addon.h"
#include "args.h"

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

namespace {

// errorFromErrno(errno, syscall[, address[, port]]): the Error the addon
// would throw for that errno, for the JavaScript side's own failures
// (EBADF on a closed Socket, EPIPE from a closed pipe) so they look the same.
Napi::Value ErrorFromErrno(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int err = static_cast<int>(ArgInteger(info, 0, "errorFromErrno", "errno", 1, INT_MAX));
  if (!info[1].IsString()) {
    throw Napi::TypeError::New(env, "errorFromErrno: syscall must be a string");
  }
  std::string syscall = info[1].As<Napi::String>().Utf8Value();
  SysAddress address;
  std::string host;
  if (!info[2].IsUndefined() && !info[2].IsNull()) {
    if (!info[2].IsString()) {
      throw Napi::TypeError::New(env, "errorFromErrno: address must be a string");
    }
    host = info[2].As<Napi::String>().Utf8Value();
    address.host = host.data();
    address.host_len = host.size();
    if (!info[3].IsUndefined() && !info[3].IsNull()) {
      address.port = static_cast<int>(ArgInteger(info, 3, "errorFromErrno", "port", 0, 65535));
    }
  }
  return ErrnoError(env, err, syscall.c_str(), address).Value();
}

}  // namespace

void InitErrors(Napi::Env env, Napi::Object exports) {
  exports.Set("errorFromErrno", Napi::Function::New(env, ErrorFromErrno, "errorFromErrno"));
}

}  // namespace coio
