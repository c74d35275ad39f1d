// The JS class Poller over a PollerBackend (poller.h), and the policy every
// backend shares: argument checks, the fd registry (EEXIST / ENOENT are
// answered here, identically for all backends), the closed state, the
// deadline with its EINTR retry, and the factory that picks by name.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>

#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

#include <v8.h>

#include "addon.h"
#include "args.h"
#include "errors.h"
#include "poller.h"

namespace coio {

namespace {

// An N-API value is V8's handle of it (node's own
// v8impl::V8LocalValueFromJsValue does this cast): for the V8 calls N-API
// has no counterpart of (an ArrayBuffer's detach key).
v8::Local<v8::Value> V8Local(napi_value v) {
  v8::Local<v8::Value> local;
  static_assert(sizeof(local) == sizeof(v), "napi_value is a v8::Local");
  std::memcpy(static_cast<void*>(&local), &v, sizeof(v));
  return local;
}

// The memory of a Uint8Array (its ArrayBuffer's backing store), held by
// the returned pointer: what keeps an operation's buffer alive for the
// kernel. A reference to the JS object is not enough: a transfer
// (postMessage, structuredClone with transfer) detaches the ArrayBuffer and
// hands its memory to another owner, who may free it while the kernel
// still reads (a send would put other allocations' bytes on the wire) or
// writes (a recv) there. The backing store outlives every owner that
// holds it, this one included. Null if view is not a TypedArray.
std::shared_ptr<v8::BackingStore> PinMemory(napi_value view) {
  v8::Local<v8::Value> v = V8Local(view);
  if (!v->IsTypedArray()) return nullptr;
  return v.As<v8::TypedArray>()->Buffer()->GetBackingStore();
}

}  // namespace


FileId FileIdOf(int fd) {
  struct stat st;
  FileId id;
  if (fstat(fd, &st) == 0) {
    id.dev = static_cast<uint64_t>(st.st_dev);
    id.ino = static_cast<uint64_t>(st.st_ino);
  }
  return id;
}

int TimeoutNsToMs(int64_t timeout_ns) {
  if (timeout_ns < 0) return -1;
  int64_t ms = (timeout_ns + 999999) / 1000000;  // round up: never early
  // A longer wait is cut at INT_MAX ms (~24.8 days); Poller::WaitUntil
  // waits again until the deadline.
  return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
}

namespace {

const BackendEntry kPosixBackends[] = {
    {"poll", CreatePollBackend, "poll"},
    {"select", CreateSelectBackend, "select"},
};

const BackendEntry* FindBackend(const char* name) {
  const BackendEntry* os_entries;
  size_t os_count = OsBackends(&os_entries);
  for (size_t i = 0; i < os_count; ++i) {
    if (std::strcmp(os_entries[i].name, name) == 0) return &os_entries[i];
  }
  for (const BackendEntry& entry : kPosixBackends) {
    if (std::strcmp(entry.name, name) == 0) return &entry;
  }
  return nullptr;
}

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// JS milliseconds to backend nanoseconds: negative (or +Infinity) waits
// forever, fractions round up.
int64_t TimeoutMsToNs(double ms) {
  if (ms < 0 || std::isinf(ms)) return -1;
  double ns = std::ceil(ms * 1e6);
  constexpr double kMaxNs = 4e18;  // ~127 years: beyond any real deadline, below INT64_MAX
  return ns > kMaxNs ? static_cast<int64_t>(kMaxNs) : static_cast<int64_t>(ns);
}

// registry_ entries: kRegistered | interest, or 0 when fd is not watched.
// Operation tokens are indexes into a table: at most this many ops in flight
// (the loop reuses freed tokens, so it never comes near).
constexpr int64_t kMaxToken = (1 << 20) - 1;
// Chunks per vectored send: more wait for the next one (the kernel's own
// limit, UIO_MAXIOV, is 1024).
constexpr uint32_t kMaxIov = 64;
// Fields of a submission queue entry: op, fd, token, offset, length, arg.
constexpr size_t kSubqFields = 6;
constexpr uint8_t kRegistered = 0x80;

class Poller : public Napi::ObjectWrap<Poller> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Poller",
                       {
                           InstanceMethod<&Poller::Add>("add"),
                           InstanceMethod<&Poller::Modify>("modify"),
                           InstanceMethod<&Poller::Remove>("remove"),
                           InstanceMethod<&Poller::Wait>("wait"),
                           InstanceMethod<&Poller::Flush>("flush"),
                           InstanceMethod<&Poller::Submit>("submit"),
                           InstanceMethod<&Poller::SubmitSendv>("submitSendv"),
                           InstanceMethod<&Poller::CancelOp>("cancelOp"),
                           InstanceMethod<&Poller::SetBufRing>("setBufRing"),
                           InstanceAccessor<&Poller::GetOpsInFlight>("opsInFlight"),
                           InstanceMethod<&Poller::Close>("close"),
                           InstanceMethod<&Poller::Fileno>("fileno"),
                           InstanceAccessor<&Poller::GetBackend>("backend"),
                           InstanceAccessor<&Poller::GetClosed>("closed"),
                       });
  }

  explicit Poller(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Poller>(info) {
    Napi::Env env = info.Env();
    char name[16];
    size_t name_len = ArgString(info, 0, "Poller", "backend", name, sizeof name);
    entry_ = name_len < sizeof name ? FindBackend(name) : nullptr;
    if (entry_ == nullptr) {
      throw Napi::RangeError::New(env, "Poller: unknown backend '" +
                                           info[0].As<Napi::String>().Utf8Value() +
                                           "' (native.backends() lists this build's)");
    }

    napi_typedarray_type type;
    size_t length;
    void* data;
    if (napi_get_typedarray_info(env, info[1], &type, &length, &data, nullptr, nullptr) !=
            napi_ok ||
        type != napi_int32_array) {
      throw Napi::TypeError::New(env, "Poller: events must be an Int32Array");
    }
    if (length < 2 || length % 2 != 0) {
      char message[128];
      std::snprintf(message, sizeof message,
                    "Poller: events must have an even length >= 2 (got %zu)", length);
      throw Napi::RangeError::New(env, message);
    }
    events_ = static_cast<int32_t*>(data);
    events_length_ = length;
    max_pairs_ = length / 2 > INT_MAX ? INT_MAX : static_cast<int>(length / 2);

    // Optional: the completions array of the completion operations
    // (io_uring): [count, (token, result, flags) * k].
    if (info.Length() > 2 && !info[2].IsUndefined()) {
      void* cdata;
      size_t clength;
      if (napi_get_typedarray_info(env, info[2], &type, &clength, &cdata, nullptr, nullptr) != napi_ok ||
          type != napi_int32_array || clength < 4 || (clength - 1) % 3 != 0) {
        throw Napi::TypeError::New(env, "Poller: completions must be an Int32Array of length 1 + 3k (k >= 1)");
      }
      comp_ = static_cast<int32_t*>(cdata);
      comp_length_ = clength;
      comp_[0] = 0;
    }

    // Optional, with completions: an Array in which the caller keeps each
    // operation's buffer, keep[token] = buf, from before submit() until the
    // operation's last completion (the loop does: selector_events.ts). Then
    // submit() makes no reference of its own per operation (a V8 global
    // handle made and destroyed, two allocations: ~150 ns an operation, on
    // the path of every recv and send). Still safe if the poller is
    // collected with operations in flight: keep_ref_ is a strong reference,
    // so the array and the buffers in it outlive the finalizer's Close(),
    // which cancels the operations and waits for their completions.
    if (info.Length() > 3 && !info[3].IsUndefined()) {
      if (comp_ == nullptr || !info[3].IsArray()) {
        throw Napi::TypeError::New(env, "Poller: keep must be an Array, given with a completions array");
      }
      keep_ref_ = Napi::Persistent(info[3].As<Napi::Object>());
    }

    // Optional, with keep: the submission queue, an Int32Array
    // [count, (op, fd, token, offset, length, arg) * k] the caller fills and
    // the next wait() or flush() submits (then count is 0 again). One native
    // call per loop turn instead of one per operation: a call costs
    // ~0.3-0.4 us of N-API glue and argument conversion, about what the
    // kernel spends on the recv itself. Each entry's buffer is keep[token]
    // (for OP_SENDMSG, a list of length chunks); what cannot be submitted
    // (a bad entry, a detached buffer, a refused submission) completes at
    // the next wait with -errno.
    if (info.Length() > 4 && !info[4].IsUndefined()) {
      void* qdata;
      size_t qlength;
      if (keep_ref_.IsEmpty() ||
          napi_get_typedarray_info(env, info[4], &type, &qlength, &qdata, nullptr, nullptr) != napi_ok ||
          type != napi_int32_array || qlength < 1 + kSubqFields || (qlength - 1) % kSubqFields != 0) {
        throw Napi::TypeError::New(env, "Poller: queue must be an Int32Array of length 1 + 6k (k >= 1), given with keep");
      }
      subq_ = static_cast<int32_t*>(qdata);
      subq_length_ = qlength;
      subq_[0] = 0;
      subq_ref_ = Napi::Persistent(info[4].As<Napi::Object>());
    }

    int err = ENOMEM;
    backend_ = entry_->create(max_pairs_, &err);
    if (!backend_) ThrowErrno(env, err, entry_->create_syscall);
    // Keep the arrays alive as long as we write into them.
    events_ref_ = Napi::Persistent(info[1].As<Napi::Object>());
    if (comp_ != nullptr) {
      comp_ref_ = Napi::Persistent(info[2].As<Napi::Object>());
      backend_->SetCompletions(comp_, static_cast<int>((comp_length_ - 1) / 3));
    }
  }

  ~Poller() override {
    // Close waits for the operations in flight (their buffers are still
    // referenced here), then the references go.
    if (backend_) backend_->Close();
    ReleaseOps();
  }

 private:
  Napi::Value Add(const Napi::CallbackInfo& info) {
    int fd = ArgFd(info, 0, "Poller.add");
    int interest = ArgInterest(info, "Poller.add");
    EnsureOpen(info.Env(), "add");
    int limit = backend_->FdLimit();
    if (limit > 0 && fd >= limit) ThrowBeyondLimit(info.Env(), fd, limit);
    if (Interest(fd) >= 0) ThrowErrno(info.Env(), EEXIST, backend_->CtlSyscall());
    try {
      if (static_cast<size_t>(fd) >= registry_.size()) registry_.resize(fd + 1, 0);
    } catch (const std::bad_alloc&) {
      ThrowErrno(info.Env(), ENOMEM, backend_->CtlSyscall());
    }
    int err = backend_->Add(fd, interest);
    if (err != 0) ThrowErrno(info.Env(), err, backend_->CtlSyscall());
    registry_[fd] = static_cast<uint8_t>(kRegistered | interest);
    return info.Env().Undefined();
  }

  // modify(fd, interest, again = false) -> true when the fd had been closed
  // and its number reused behind the poller's back (the new file is watched
  // now: epoll's ENOENT, a changed fstat identity for poll and select; not
  // detected by kqueue), else false. An unchanged interest makes no syscall
  // unless `again`: a new owner taking the fd over asks again, so a
  // registration the kernel dropped at close(2) is made anew.
  Napi::Value Modify(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int fd = ArgFd(info, 0, "Poller.modify");
    int interest = ArgInterest(info, "Poller.modify");
    bool again = false;
    if (!info[2].IsUndefined() && napi_get_value_bool(env, info[2], &again) != napi_ok) {
      throw Napi::TypeError::New(env, "Poller.modify: again must be a boolean");
    }
    EnsureOpen(env, "modify");
    int old_interest = Interest(fd);
    if (old_interest < 0) ThrowErrno(env, ENOENT, backend_->CtlSyscall());
    if (interest == old_interest && !again) return Napi::Boolean::New(env, false);
    int err = backend_->Modify(fd, old_interest, interest);
    if (err > 0) ThrowErrno(env, err, backend_->CtlSyscall());
    registry_[fd] = static_cast<uint8_t>(kRegistered | interest);
    return Napi::Boolean::New(env, err == kReAdded);
  }

  Napi::Value Remove(const Napi::CallbackInfo& info) {
    int fd = ArgFd(info, 0, "Poller.remove");
    EnsureOpen(info.Env(), "remove");
    int old_interest = Interest(fd);
    if (old_interest < 0) ThrowErrno(info.Env(), ENOENT, backend_->CtlSyscall());
    int err = backend_->Remove(fd, old_interest);
    // EBADF / ENOENT: the owner closed fd before removing it, and close(2)
    // already dropped it from the kernel's interest list (epoll(7) Q6;
    // kqueue(2): "Calling close() on a file descriptor will remove any
    // kevents that reference the descriptor"). Not an error: forget it too.
    if (err != 0 && err != EBADF && err != ENOENT) {
      ThrowErrno(info.Env(), err, backend_->CtlSyscall());
    }
    registry_[fd] = 0;
    return info.Env().Undefined();
  }

  // The hot path: one syscall (two N-API calls to check the events array
  // still has its memory), no allocation, a plain number back.
  Napi::Value Wait(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    double timeout_ms = ArgNumber(info, 0, "Poller.wait", "timeoutMs");
    if (std::isnan(timeout_ms)) {
      throw Napi::RangeError::New(env, "Poller.wait: timeoutMs must not be NaN");
    }
    EnsureOpen(env, "wait");
    CheckEvents(env);
    DrainQueue(env);
    int n = WaitUntil(failed_.empty() ? TimeoutMsToNs(timeout_ms) : 0);
    ReleaseFinished();
    ReportFailed();
    if (n < 0) ThrowErrno(env, -n, backend_->WaitSyscall());
    return Napi::Number::New(env, n);
  }

  Napi::Value Flush(const Napi::CallbackInfo& info) {
    EnsureOpen(info.Env(), "flush");
    CheckEvents(info.Env());
    DrainQueue(info.Env());
    bool settle = info.Length() > 0 && info[0].IsBoolean() && info[0].As<Napi::Boolean>().Value();
    int err = backend_->Flush(settle);
    if (err != 0) ThrowErrno(info.Env(), err, backend_->WaitSyscall());
    return info.Env().Undefined();
  }

  // submit(op, fd, buf, offset, length, token, arg = 0): queue a completion
  // operation (io_uring). buf (a Uint8Array: recv's, send's, connect's
  // struct sockaddr; null for accept / close / shutdown) must stay alive
  // until the operation's last completion: the poller references it until
  // then, unless it was made with a keep array (then the caller holds
  // keep[token] = buf). token (0 .. kMaxToken) names
  // it in the completions array and for cancelOp; it must not name an
  // operation in flight (EEXIST).
  Napi::Value Submit(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int op = static_cast<int>(ArgInteger(info, 0, "Poller.submit", "op", kOpRecv, kOpConnect));
    if (op == kOpCancel) throw Napi::RangeError::New(env, "Poller.submit: op 6 is internal (use cancelOp)");
    if (op == kOpSendmsg) throw Napi::RangeError::New(env, "Poller.submit: op 8 is submitSendv's");
    int fd = ArgFd(info, 1, "Poller.submit");
    bool has_buf = op == kOpRecv || op == kOpSend || op == kOpConnect;
    Bytes range{nullptr, 0};
    if (has_buf) {
      range = ArgByteRange(info, 2, "Poller.submit");
      if (range.length > UINT32_MAX) throw Napi::RangeError::New(env, "Poller.submit: length must be below 4 GiB");
      if (op == kOpConnect && !SockaddrLength(range.length)) {
        throw Napi::RangeError::New(env, "Poller.submit: a connect's address (buf) must be a struct sockaddr (native.connectAddress)");
      }
    } else if (!info[2].IsNull() && !info[2].IsUndefined()) {
      throw Napi::TypeError::New(env, "Poller.submit: buf must be null for accept, close, shutdown and multishot recv");
    }
    uint32_t token = static_cast<uint32_t>(ArgInteger(info, 5, "Poller.submit", "token", 0, kMaxToken));
    int arg = info.Length() > 6 && !info[6].IsUndefined()
                  ? static_cast<int>(ArgInteger(info, 6, "Poller.submit", "arg", 0, INT32_MAX))
                  : 0;
    EnsureOpen(env, "submit");
    if (comp_ == nullptr) {
      throw Napi::Error::New(env, "Poller.submit: this poller was made without a completions array");
    }
    BeginOp(env, token, has_buf ? static_cast<napi_value>(info[2]) : nullptr);
    if (has_buf) Pin(token, info[2], range.data);
    OpRequest req{op, fd, range.data, static_cast<uint32_t>(range.length), token, arg};
    int err = backend_->Submit(req);
    if (err != 0) {
      ReleaseOp(token);
      ThrowErrno(env, err, backend_->WaitSyscall());
    }
    return env.Undefined();
  }

  // submitSendv(fd, chunks, count, offset, token): one sendmsg of
  // chunks[0 .. count) (Uint8Arrays, the first from offset), a vectored
  // send: what several queued writes are sent by, without merging them into
  // one buffer first. At most kMaxIov chunks. The chunks stay alive until
  // the completion as for submit(): the poller references a copy of the
  // list, or, made with a keep array, the caller holds keep[token] = a list
  // it does not change meanwhile.
  Napi::Value SubmitSendv(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const char* fn = "Poller.submitSendv";
    int fd = ArgFd(info, 0, fn);
    if (!info[1].IsArray()) throw Napi::TypeError::New(env, "Poller.submitSendv: chunks must be an Array of Uint8Arrays");
    Napi::Array chunks = info[1].As<Napi::Array>();
    uint32_t count = static_cast<uint32_t>(ArgInteger(info, 2, fn, "count", 1, kMaxIov));
    if (count > chunks.Length()) {
      throw Napi::RangeError::New(env, "Poller.submitSendv: count is beyond the chunks' length");
    }
    int64_t offset = ArgInteger(info, 3, fn, "offset", 0, INT32_MAX);
    uint32_t token = static_cast<uint32_t>(ArgInteger(info, 4, fn, "token", 0, kMaxToken));
    EnsureOpen(env, "submitSendv");
    if (comp_ == nullptr) {
      throw Napi::Error::New(env, "Poller.submitSendv: this poller was made without a completions array");
    }
    if (token < ops_.size() && ops_[token] != nullptr) ThrowErrno(env, EEXIST, "io_uring_enter");
    void* hdr = nullptr;
    int fill = FillMsg(env, chunks, token, static_cast<int32_t>(offset), static_cast<int32_t>(count), &hdr);
    if (fill == ENOMEM) ThrowErrno(env, ENOMEM, "io_uring_enter");
    if (fill == ERANGE) throw Napi::RangeError::New(env, "Poller.submitSendv: offset is beyond the first chunk");
    if (fill != 0) throw Napi::TypeError::New(env, "Poller.submitSendv: chunks must be an Array of Uint8Arrays");
    napi_value held = chunks;
    if (keep_ref_.IsEmpty()) {
      // The caller may change its list once we return: reference a copy.
      Napi::Array copy = Napi::Array::New(env, count);
      for (uint32_t i = 0; i < count; ++i) copy.Set(i, chunks.Get(i));
      held = copy;
    }
    try {
      BeginOp(env, token, held);
    } catch (...) {
      Unpin(token);
      throw;
    }
    OpRequest req{kOpSendmsg, fd, hdr, 0, token, 0};
    int err = backend_->Submit(req);
    if (err != 0) {
      ReleaseOp(token);
      ThrowErrno(env, err, backend_->WaitSyscall());
    }
    return env.Undefined();
  }

  // Submits the queue's entries (see the constructor), in order.
  void DrainQueue(napi_env env) {
    if (subq_ == nullptr) return;
    int32_t count = subq_[0];
    subq_[0] = 0;
    size_t cap = (subq_length_ - 1) / kSubqFields;
    if (count <= 0) return;
    if (static_cast<size_t>(count) > cap) count = static_cast<int32_t>(cap);
    napi_value keep;
    if (napi_get_reference_value(env, keep_ref_, &keep) != napi_ok) return;
    for (int32_t i = 0; i < count; ++i) {
      const int32_t* e = subq_ + 1 + i * kSubqFields;
      int op = e[0];
      int fd = e[1];
      int32_t token = e[2];
      int32_t offset = e[3];
      int32_t length = e[4];
      int arg = e[5];
      if (token < 0 || token > kMaxToken) continue;  // nobody to tell
      uint32_t t = static_cast<uint32_t>(token);
      if (op == kOpCancel) {
        // arg: the token of the operation to cancel, if still in flight. A
        // refused cancel: the operation completes on its own.
        if (arg < 0 || static_cast<size_t>(arg) >= ops_.size() || ops_[arg] == nullptr) continue;
        OpRequest req{kOpCancel, -1, nullptr, 0, 0, arg};
        backend_->Submit(req);
        continue;
      }
      if (t < ops_.size() && ops_[t] != nullptr) {
        // The caller's bug (a token in flight named again): refused, and
        // not reported under that token, which the operation in flight owns.
        continue;
      }
      OpRequest req{op, fd, nullptr, 0, t, arg};
      napi_value held = nullptr;  // keep[t], the buffer of a recv, send or connect
      int err = 0;
      if (fd < 0 || op < kOpRecv || op > kOpConnect || op == kOpCancel) {
        err = EINVAL;
      } else if (op == kOpRecv || op == kOpSend || op == kOpConnect) {
        Bytes buf{nullptr, 0};
        err = QueuedBytes(env, keep, t, &buf, &held);
        if (err == 0 && (offset < 0 || length < 0 || static_cast<size_t>(offset) + static_cast<size_t>(length) > buf.length)) {
          err = EFAULT;
        }
        if (err == 0 && op == kOpConnect && !SockaddrLength(static_cast<size_t>(length))) err = EINVAL;
        if (err == 0) {
          req.data = buf.data + offset;
          req.length = static_cast<uint32_t>(length);
        }
      } else if (op == kOpSendmsg) {
        napi_value list;
        err = napi_get_element(env, keep, t, &list) == napi_ok ? FillMsg(env, list, t, offset, length, &req.data) : EFAULT;
        if (err == ERANGE) err = EFAULT;
      }
      if (err == 0) err = MarkInFlight(t);
      if (err == 0 && held != nullptr) Pin(t, held, req.data);
      if (err == 0) {
        err = backend_->Submit(req);
        if (err != 0) ReleaseOp(t);
      }
      if (err != 0) {
        Unpin(t);  // not in flight: what FillMsg pinned goes now
        Fail(t, err);
      }
    }
  }

  // Whether a connect's address of length bytes can be a struct sockaddr
  // (a family at least, a sockaddr_storage at most; the kernel says EINVAL
  // too, but only once the operation reaches it).
  static bool SockaddrLength(size_t length) {
    return length >= sizeof(sa_family_t) && length <= sizeof(sockaddr_storage);
  }

  // keep[token]'s bytes (a Uint8Array, in *value), or EFAULT: not one, or
  // detached.
  static int QueuedBytes(napi_env env, napi_value keep, uint32_t token, Bytes* out, napi_value* value) {
    napi_value buf;
    napi_typedarray_type type;
    size_t length;
    void* data;
    if (napi_get_element(env, keep, token, &buf) != napi_ok ||
        napi_get_typedarray_info(env, buf, &type, &length, &data, nullptr, nullptr) != napi_ok ||
        type != napi_uint8_array || (data == nullptr && length > 0)) {
      return EFAULT;
    }
    *out = Bytes{static_cast<uint8_t*>(data), length};
    *value = buf;
    return 0;
  }

  // The msghdr of a vectored send named token (kept per token: tokens are
  // reused) over list[0 .. count), the first chunk from offset. EFAULT for a
  // bad list or chunk, ERANGE for an offset beyond the first chunk, EINVAL
  // for a bad count, ENOMEM.
  int FillMsg(napi_env env, napi_value list, uint32_t token, int32_t offset, int32_t count, void** hdr) {
    if (count < 1 || static_cast<uint32_t>(count) > kMaxIov || offset < 0) return EINVAL;
    MsgSlot* slot = nullptr;
    try {
      if (token >= msgs_.size()) msgs_.resize(token + 1);
      if (!msgs_[token]) msgs_[token].reset(new MsgSlot());
      slot = msgs_[token].get();
    } catch (const std::bad_alloc&) {
      return ENOMEM;
    }
    napi_value chunks[kMaxIov];
    for (int32_t i = 0; i < count; ++i) {
      napi_value& chunk = chunks[i];
      napi_typedarray_type type;
      size_t length;
      void* data;
      if (napi_get_element(env, list, i, &chunk) != napi_ok ||
          napi_get_typedarray_info(env, chunk, &type, &length, &data, nullptr, nullptr) != napi_ok ||
          type != napi_uint8_array || (data == nullptr && length > 0)) {
        return EFAULT;
      }
      size_t skip = i == 0 ? static_cast<size_t>(offset) : 0;
      if (skip > length) return ERANGE;
      slot->iov[i].iov_base = static_cast<uint8_t*>(data) + skip;
      slot->iov[i].iov_len = length - skip;
    }
    // Only once every chunk is good: a refused list pins nothing.
    for (int32_t i = 0; i < count; ++i) {
      slot->pins[i] = InPool(slot->iov[i].iov_base) ? nullptr : PinMemory(chunks[i]);
    }
    slot->pinned = count;
    slot->hdr = msghdr{};
    slot->hdr.msg_iov = slot->iov;
    slot->hdr.msg_iovlen = count;
    *hdr = &slot->hdr;
    return 0;
  }

  int MarkInFlight(uint32_t token) {
    try {
      if (token >= ops_.size()) ops_.resize(token + 1, nullptr);
    } catch (const std::bad_alloc&) {
      return ENOMEM;
    }
    ops_[token] = OpInFlight();
    ++ops_count_;
    return 0;
  }

  // A queued operation that could not be submitted: it completes at the
  // next wait with -err.
  void Fail(uint32_t token, int err) {
    try {
      failed_.emplace_back(token, -err);
    } catch (const std::bad_alloc&) {
      // Not even that: the operation never completes (its owner waits, as
      // for a recv that never gets data) rather than the loop failing.
    }
  }

  // The failed submissions' completions, after the wait's own (room
  // permitting: the rest go with the next wait, which then does not block).
  void ReportFailed() {
    if (failed_.empty() || comp_ == nullptr) return;
    int max = static_cast<int>((comp_length_ - 1) / 3);
    size_t i = 0;
    for (; i < failed_.size() && comp_[0] < max; ++i) {
      int k = comp_[0];
      comp_[1 + 3 * k] = static_cast<int32_t>(failed_[i].first);
      comp_[2 + 3 * k] = failed_[i].second;
      comp_[3 + 3 * k] = 0;
      comp_[0] = k + 1;
    }
    failed_.erase(failed_.begin(), failed_.begin() + static_cast<std::ptrdiff_t>(i));
  }

  // Marks token in flight, with a reference to held (its buffer or list)
  // unless the caller keeps it (keep array) or there is none (null).
  // EEXIST if token names an operation in flight.
  void BeginOp(Napi::Env env, uint32_t token, napi_value held) {
    if (token < ops_.size() && ops_[token] != nullptr) ThrowErrno(env, EEXIST, "io_uring_enter");
    try {
      if (token >= ops_.size()) ops_.resize(token + 1, nullptr);
    } catch (const std::bad_alloc&) {
      ThrowErrno(env, ENOMEM, "io_uring_enter");
    }
    napi_ref ref = OpInFlight();
    if (held != nullptr && keep_ref_.IsEmpty() && napi_create_reference(env, held, 1, &ref) != napi_ok) {
      throw Napi::Error::New(env, "Poller.submit: could not reference the buffer");
    }
    ops_[token] = ref;
    ++ops_count_;
  }

  // The msghdr and iovecs of a vectored send named token: made on first use
  // and kept for the token's later sends (tokens are reused).
  struct MsgSlot {
    msghdr hdr;
    iovec iov[kMaxIov];
    std::shared_ptr<v8::BackingStore> pins[kMaxIov];  // each chunk's memory (PinMemory)
    int pinned = 0;
  };

  // cancelOp(token): ask the kernel to cancel the operation in flight; it
  // completes with -ECANCELED (or its own result, if it finished first).
  // False when no operation with that token is in flight.
  Napi::Value CancelOp(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t token = static_cast<uint32_t>(ArgInteger(info, 0, "Poller.cancelOp", "token", 0, INT32_MAX));
    EnsureOpen(env, "cancelOp");
    CheckEvents(env);
    DrainQueue(env);  // the operation may still be queued
    if (token >= ops_.size() || ops_[token] == nullptr) return Napi::Boolean::New(env, false);
    OpRequest req{kOpCancel, -1, nullptr, 0, 0, static_cast<int>(token)};
    int err = backend_->Submit(req);
    if (err != 0) ThrowErrno(env, err, backend_->WaitSyscall());
    return Napi::Boolean::New(env, true);
  }

  // setBufRing(pool, count, size, recycle): the provided buffers of
  // OP_RECV_MULTI, buffer i being pool[i * size, (i + 1) * size). recycle
  // (an Int32Array of at least count + 1) is how JS gives buffers back with
  // no call per buffer: it writes their ids at [1..n] and n at [0]; the
  // next wait hands them to the kernel. Both arrays are referenced here
  // until close() has cancelled and reaped every operation (the kernel may
  // write into any buffer of the pool until then).
  Napi::Value SetBufRing(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t count = static_cast<uint32_t>(ArgInteger(info, 1, "Poller.setBufRing", "count", 1, 32768));
    uint32_t size = static_cast<uint32_t>(ArgInteger(info, 2, "Poller.setBufRing", "size", 1, INT32_MAX));
    if ((count & (count - 1)) != 0) throw Napi::RangeError::New(env, "Poller.setBufRing: count must be a power of two");
    napi_typedarray_type type;
    size_t length = 0;
    void* data = nullptr;
    size_t pool_length = 0;
    void* pool_data = nullptr;
    if (napi_get_typedarray_info(env, info[0], &type, &pool_length, &pool_data, nullptr, nullptr) != napi_ok ||
        type != napi_uint8_array) {
      throw Napi::TypeError::New(env, "Poller.setBufRing: pool must be a Uint8Array");
    }
    if (pool_length / size < count) {
      throw Napi::RangeError::New(env, "Poller.setBufRing: pool must hold count * size bytes");
    }
    if (napi_get_typedarray_info(env, info[3], &type, &length, &data, nullptr, nullptr) != napi_ok ||
        type != napi_int32_array || length < static_cast<size_t>(count) + 1) {
      throw Napi::TypeError::New(env, "Poller.setBufRing: recycle must be an Int32Array of at least count + 1");
    }
    EnsureOpen(env, "setBufRing");
    if (comp_ == nullptr) {
      throw Napi::Error::New(env, "Poller.setBufRing: this poller was made without a completions array");
    }
    // The kernel writes into the pool whenever data comes, not only inside
    // wait(), so its memory must never change owner: a transfer
    // (postMessage, structuredClone with transfer, ArrayBuffer's
    // transfer()) of a borrowed view's buffer would hand it to an owner that
    // may free it while recvs still write there. A detach key nobody else
    // holds makes V8 refuse to detach it (ArrayBuffer's transfer() throws a
    // TypeError, the pool unharmed). The caller must also mark it with
    // worker_threads' markAsUntransferable first (recv_pool.ts does): Node's
    // postMessage and structuredClone then copy it instead, where a detach
    // refused by the key would abort the process.
    napi_value pool_ab;
    if (napi_get_typedarray_info(env, info[0], &type, &pool_length, &pool_data, &pool_ab, nullptr) != napi_ok) {
      throw Napi::TypeError::New(env, "Poller.setBufRing: pool must be a Uint8Array");
    }
    v8::Local<v8::ArrayBuffer> ab = V8Local(pool_ab).As<v8::ArrayBuffer>();
    if (!ab->IsDetachable() || ab->WasDetached()) {
      throw Napi::TypeError::New(env, "Poller.setBufRing: pool must be a view of an attached, detachable ArrayBuffer (not a SharedArrayBuffer)");
    }
    ab->SetDetachKey(v8::Symbol::New(v8::Isolate::GetCurrent()));
    int32_t* recycle = static_cast<int32_t*>(data);
    recycle[0] = 0;
    int err = backend_->SetBufRing(static_cast<uint8_t*>(pool_data), count, size, recycle);
    if (err != 0) ThrowErrno(env, err, "io_uring_register");
    pool_ref_ = Napi::Persistent(info[0].As<Napi::Object>());
    pool_begin_ = static_cast<const uint8_t*>(pool_data);
    pool_end_ = pool_begin_ + pool_length;
    recycle_ref_ = Napi::Persistent(info[3].As<Napi::Object>());
    return env.Undefined();
  }

  Napi::Value GetOpsInFlight(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(ops_count_));
  }

  // The references of the operations the last wait finished.
  void ReleaseFinished() {
    if (comp_ == nullptr) return;
    int k = comp_[0];
    for (int i = 0; i < k; ++i) {
      if (!(comp_[3 + 3 * i] & kOpMore)) ReleaseOp(static_cast<uint32_t>(comp_[1 + 3 * i]));
    }
  }

  void ReleaseOp(uint32_t token) {
    if (token >= ops_.size() || ops_[token] == nullptr) return;
    if (ops_[token] != OpInFlight()) napi_delete_reference(Env(), ops_[token]);
    ops_[token] = nullptr;
    --ops_count_;
    Unpin(token);
  }

  void ReleaseOps() {
    for (napi_ref& ref : ops_) {
      if (ref != nullptr && ref != OpInFlight()) napi_delete_reference(Env(), ref);
    }
    std::vector<napi_ref>().swap(ops_);
    ops_count_ = 0;
    std::vector<std::shared_ptr<v8::BackingStore>>().swap(pins_);
    for (std::unique_ptr<MsgSlot>& slot : msgs_) {
      if (!slot) continue;
      for (int i = 0; i < slot->pinned; ++i) slot->pins[i].reset();
      slot->pinned = 0;
    }
  }

  // Holds the memory of operation token's buffer (PinMemory) until its last
  // completion; a vectored send's chunks are held by FillMsg. Called once
  // the operation is marked in flight, so that its release unpins.
  void Pin(uint32_t token, napi_value buf, const void* data) {
    if (InPool(data)) return;
    if (token >= pins_.size()) {
      try {
        pins_.resize(static_cast<size_t>(token) + 1);
      } catch (const std::bad_alloc&) {
        // Not pinned: the keep array or the op's reference still holds the
        // buffer; only a transfer mid-operation would then go unguarded.
        return;
      }
    }
    pins_[token] = PinMemory(buf);
  }

  // Whether data is in the provided buffers' pool (setBufRing): held until
  // close and never detached (its detach key), so its sends need no pin (an
  // echo's sends of borrowed views: PinMemory costs ~60 ns a request there).
  bool InPool(const void* data) const {
    auto p = static_cast<const uint8_t*>(data);
    return p >= pool_begin_ && p < pool_end_;
  }

  void Unpin(uint32_t token) {
    if (token < pins_.size()) pins_[token].reset();
    if (token < msgs_.size() && msgs_[token] && msgs_[token]->pinned != 0) {
      MsgSlot* slot = msgs_[token].get();
      for (int i = 0; i < slot->pinned; ++i) slot->pins[i].reset();
      slot->pinned = 0;
    }
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (!backend_) return info.Env().Undefined();
    const char* syscall = "close";
    // Waits for the operations in flight: their buffers are released after.
    int err = backend_->Close();
    backend_.reset();
    ReleaseOps();
    keep_ref_.Reset();
    if (subq_ != nullptr) subq_[0] = 0;  // never submitted: nothing in flight
    subq_ref_.Reset();
    subq_ = nullptr;
    failed_.clear();
    // Only now may the pool go: no operation is left to write into it.
    pool_ref_.Reset();
    pool_begin_ = pool_end_ = nullptr;
    recycle_ref_.Reset();
    comp_ref_.Reset();
    comp_ = nullptr;
    std::vector<uint8_t>().swap(registry_);
    events_ref_.Reset();
    events_ = nullptr;
    if (err != 0) ThrowErrno(info.Env(), err, syscall);
    return info.Env().Undefined();
  }

  Napi::Value Fileno(const Napi::CallbackInfo& info) {
    EnsureOpen(info.Env(), "fileno");
    return Napi::Number::New(info.Env(), backend_->Fileno());
  }

  Napi::Value GetBackend(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), entry_->name);
  }

  Napi::Value GetClosed(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), !backend_);
  }

  // Only select has a limit: an fd_set holds FD_SETSIZE bits.
  [[noreturn]] void ThrowBeyondLimit(Napi::Env env, int fd, int limit) const {
    const BackendEntry* os_entries;
    bool has_os_backend = OsBackends(&os_entries) > 0;
    char message[224];
    std::snprintf(message, sizeof message,
                  "Poller.add: fd %d is beyond FD_SETSIZE (%d), the limit of the %s backend; "
                  "use the %s%s backend",
                  fd, limit, entry_->name, has_os_backend ? os_entries[0].name : "",
                  has_os_backend ? " or poll" : "poll");
    throw Napi::RangeError::New(env, message);
  }

  static int ArgInterest(const Napi::CallbackInfo& info, const char* fn) {
    return static_cast<int>(ArgInteger(info, 1, fn, "interest", 0, kInterestMask));
  }

  // The registered interest of fd, or -1 when it is not registered.
  int Interest(int fd) const {
    if (static_cast<size_t>(fd) >= registry_.size() || registry_[fd] == 0) return -1;
    return registry_[fd] & kInterestMask;
  }

  // A closed poller has no kernel object: EBADF, as a syscall on its fd
  // would say. `method` stands in for the syscall name.
  void EnsureOpen(Napi::Env env, const char* method) const {
    if (!backend_) ThrowErrno(env, EBADF, method);
  }

  // The events array may have lost its memory since construction (its
  // ArrayBuffer transferred to a worker or detached): writing through the
  // saved pointer would then corrupt or use freed memory. A detached
  // array's length reads 0, and an ArrayBuffer's memory never moves while
  // it stays attached, so checking the length is enough. (Asking for the
  // data pointer as well would make V8 build the ArrayBuffer handle, which
  // costs as much again.)
  void CheckEvents(Napi::Env env) const {
    napi_value array;
    size_t length = 0;
    if (napi_get_reference_value(env, events_ref_, &array) != napi_ok ||
        napi_get_typedarray_info(env, array, nullptr, &length, nullptr, nullptr, nullptr) !=
            napi_ok ||
        length != events_length_) {
      throw Napi::Error::New(env, "Poller.wait: the events Int32Array was detached or resized");
    }
    if (comp_ != nullptr &&
        (napi_get_reference_value(env, comp_ref_, &array) != napi_ok ||
         napi_get_typedarray_info(env, array, nullptr, &length, nullptr, nullptr, nullptr) != napi_ok ||
         length != comp_length_)) {
      throw Napi::Error::New(env, "Poller.wait: the completions Int32Array was detached or resized");
    }
    if (subq_ != nullptr &&
        (napi_get_reference_value(env, subq_ref_, &array) != napi_ok ||
         napi_get_typedarray_info(env, array, nullptr, &length, nullptr, nullptr, nullptr) != napi_ok ||
         length != subq_length_)) {
      throw Napi::Error::New(env, "Poller.wait: the queue Int32Array was detached or resized");
    }
  }

  // Waits until an event or the deadline. EINTR (a signal) is retried with
  // the time that remains, and a backend that returns before the deadline
  // (its timeout was capped) waits again, so we never return early as
  // measured by CLOCK_MONOTONIC (what performance.now() reads).
  int WaitUntil(int64_t timeout_ns) {
    int n;
    if (timeout_ns <= 0) {
      do {
        n = backend_->Wait(timeout_ns, events_, max_pairs_);
      } while (n == -EINTR);
      return n;
    }
    int64_t deadline = NowNs() + timeout_ns;
    for (;;) {
      n = backend_->Wait(timeout_ns, events_, max_pairs_);
      if (n > 0 || (n < 0 && n != -EINTR) || (comp_ != nullptr && comp_[0] > 0)) return n;
      int64_t now = NowNs();
      if (now >= deadline) return 0;
      timeout_ns = deadline - now;
    }
  }

  const BackendEntry* entry_ = nullptr;
  std::unique_ptr<PollerBackend> backend_;  // null once closed
  Napi::ObjectReference events_ref_;
  Napi::ObjectReference comp_ref_;
  // The provided buffers' pool and recycle array (setBufRing): held until
  // close, past the last operation that may write into the pool.
  Napi::ObjectReference pool_ref_;
  Napi::ObjectReference recycle_ref_;
  const uint8_t* pool_begin_ = nullptr;  // the pool's memory, [begin, end)
  const uint8_t* pool_end_ = nullptr;
  int32_t* comp_ = nullptr;
  size_t comp_length_ = 0;
  // Completion operations by token: null when none is in flight, else the
  // reference that keeps its buffer alive, or OpInFlight() for one without
  // a buffer or whose buffer the keep array holds.
  std::vector<napi_ref> ops_;
  size_t ops_count_ = 0;
  std::vector<std::unique_ptr<MsgSlot>> msgs_;  // by token, for submitSendv
  // By token: the memory of the buffer of the operation in flight (Pin),
  // null when none is pinned.
  std::vector<std::shared_ptr<v8::BackingStore>> pins_;
  int32_t* subq_ = nullptr;  // the submission queue (constructor), or null
  size_t subq_length_ = 0;
  Napi::ObjectReference subq_ref_;
  std::vector<std::pair<uint32_t, int32_t>> failed_;  // (token, -errno) to report
  Napi::ObjectReference keep_ref_;
  static napi_ref OpInFlight() { return reinterpret_cast<napi_ref>(&kOpMarker); }
  static inline char kOpMarker = 0;
  int32_t* events_ = nullptr;
  size_t events_length_ = 0;
  int max_pairs_ = 0;
  std::vector<uint8_t> registry_;  // fd -> kRegistered | interest
};

}  // namespace

Napi::Function DefinePoller(Napi::Env env) { return Poller::Define(env); }

Napi::Value Backends(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array names = Napi::Array::New(env);
  uint32_t i = 0;
  const BackendEntry* os_entries;
  size_t os_count = OsBackends(&os_entries);
  for (size_t k = 0; k < os_count; ++k) names.Set(i++, os_entries[k].name);
  for (const BackendEntry& entry : kPosixBackends) names.Set(i++, entry.name);
  return names;
}

}  // namespace coio
