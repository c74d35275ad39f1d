#include "args.h"

#include <climits>
#include <cmath>
#include <cstdio>

namespace coio {
namespace {

[[noreturn]] void ThrowTypeError(napi_env env, const char* fn, const char* name,
                                 const char* expected) {
  char message[192];
  std::snprintf(message, sizeof message, "%s: %s must be %s", fn, name, expected);
  throw Napi::TypeError::New(env, message);
}

}  // namespace

double ArgNumber(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name) {
  double value;
  // napi_get_value_double fails with napi_number_expected on any non-number:
  // the type check and the read are one call.
  if (napi_get_value_double(info.Env(), info[i], &value) != napi_ok) {
    ThrowTypeError(info.Env(), fn, name, "a number");
  }
  return value;
}

int64_t ArgInteger(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name,
                   int64_t min, int64_t max) {
  double value = ArgNumber(info, i, fn, name);
  // NaN fails the first test; +-Infinity passes it and fails the range test.
  if (value != std::trunc(value) || value < static_cast<double>(min) ||
      value > static_cast<double>(max)) {
    char message[224];
    std::snprintf(message, sizeof message,
                  "%s: %s must be an integer between %lld and %lld (got %g)", fn, name,
                  static_cast<long long>(min), static_cast<long long>(max), value);
    throw Napi::RangeError::New(info.Env(), message);
  }
  return static_cast<int64_t>(value);
}

int ArgFd(const Napi::CallbackInfo& info, size_t i, const char* fn) {
  return static_cast<int>(ArgInteger(info, i, fn, "fd", 0, INT_MAX));
}

Bytes ArgBytes(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name) {
  napi_typedarray_type type;
  size_t length;
  void* data;
  // Fails with napi_invalid_arg (no pending exception) if not a TypedArray.
  // A Buffer is a Uint8Array. A detached buffer reports length 0.
  if (napi_get_typedarray_info(info.Env(), info[i], &type, &length, &data, nullptr, nullptr) !=
          napi_ok ||
      type != napi_uint8_array) {
    ThrowTypeError(info.Env(), fn, name, "a Buffer or Uint8Array");
  }
  return Bytes{static_cast<uint8_t*>(data), length};
}

Bytes ArgByteRange(const Napi::CallbackInfo& info, size_t i, const char* fn) {
  Bytes buf = ArgBytes(info, i, fn, "buf");
  constexpr int64_t kMaxSafe = (int64_t{1} << 53) - 1;
  int64_t offset = ArgInteger(info, i + 1, fn, "offset", 0, kMaxSafe);
  int64_t length = ArgInteger(info, i + 2, fn, "length", 0, kMaxSafe);
  if (static_cast<uint64_t>(offset) > buf.length ||
      static_cast<uint64_t>(length) > buf.length - static_cast<uint64_t>(offset)) {
    char message[224];
    std::snprintf(message, sizeof message,
                  "%s: offset (%lld) + length (%lld) is beyond the buffer's length (%zu)", fn,
                  static_cast<long long>(offset), static_cast<long long>(length), buf.length);
    throw Napi::RangeError::New(info.Env(), message);
  }
  return Bytes{buf.data + offset, static_cast<size_t>(length)};
}

size_t ArgString(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name,
                 char* out, size_t cap) {
  size_t copied;
  napi_env env = info.Env();
  if (napi_get_value_string_utf8(env, info[i], out, cap, &copied) != napi_ok) {
    ThrowTypeError(env, fn, name, "a string");
  }
  if (copied + 1 < cap) return copied;
  // The buffer is full: ask for the real length (N-API truncates silently).
  size_t full = copied;
  napi_get_value_string_utf8(env, info[i], nullptr, 0, &full);
  return full;
}

int ArgIntOrBool(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name) {
  bool flag;
  if (napi_get_value_bool(info.Env(), info[i], &flag) == napi_ok) return flag ? 1 : 0;
  double ignored;
  if (napi_get_value_double(info.Env(), info[i], &ignored) != napi_ok) {
    ThrowTypeError(info.Env(), fn, name, "a number or a boolean");
  }
  return static_cast<int>(ArgInteger(info, i, fn, name, INT32_MIN, INT32_MAX));
}

}  // namespace coio
