// Non-blocking sockets, pipes and fd I/O as thin syscalls: the native layer
// is syscall-shaped, and policy (buffering, retries, what an error means)
// lives in TypeScript where asyncio has it. Every function checks its arguments
// first (args.h), makes one syscall (retrying EINTR), returns WOULD_BLOCK
// (-1) for EAGAIN / EWOULDBLOCK / EINPROGRESS, and throws the errors.h error
// for anything else. The I/O functions (recv, send, read, write, accept,
// sendv) allocate nothing and return a plain number.
//
// Portability is handled by feature macros, each next to the one call it
// concerns: SOCK_NONBLOCK / accept4 (Linux, *BSD; macOS falls back to
// fcntl), MSG_NOSIGNAL (Linux, *BSD) and SO_NOSIGPIPE (macOS) against
// SIGPIPE, SO_REUSEPORT.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <string>

#include "addon.h"
#include "args.h"
#include "errors.h"
#include "fd_util.h"
#include "sockaddr.h"

namespace coio {
namespace {

constexpr int kWouldBlock = -1;

#ifdef MSG_NOSIGNAL
constexpr int kSendFlags = MSG_NOSIGNAL;  // EPIPE instead of SIGPIPE (send(2))
#else
constexpr int kSendFlags = 0;  // macOS: SO_NOSIGPIPE is set on each socket instead
#endif

// sendv takes at most this many buffers per call (the caller loops on the
// bytes sent). Well under IOV_MAX (1024 on Linux and macOS); the iovec
// array lives on the stack, so there is no per-call allocation and no
// shared state.
constexpr size_t kSendvMaxBuffers = 64;
#ifdef IOV_MAX
static_assert(kSendvMaxBuffers <= IOV_MAX, "sendv batch exceeds IOV_MAX");
#endif

bool IsWouldBlock(int err) { return err == EAGAIN || err == EWOULDBLOCK; }

// ---- fd creation ----------------------------------------------------------

// Without MSG_NOSIGNAL (macOS), a send to a reset peer raises SIGPIPE unless
// the socket has SO_NOSIGPIPE. Returns 0 or an errno.
int SetNoSigpipe(int fd) {
#if !defined(MSG_NOSIGNAL) && defined(SO_NOSIGPIPE)
  int on = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &on, sizeof on) < 0) return errno;
#endif
  (void)fd;
  return 0;
}

// Finishes a new socket (fd_util.h made it non-blocking and close-on-exec):
// SO_NOSIGPIPE where there is no MSG_NOSIGNAL. Closes fd and returns an
// errno on failure.
int PrepareNewSocket(int fd) {
  int err = SetNoSigpipe(fd);
  if (err != 0) CloseQuietly(fd);
  return err;
}

Napi::Value Socket(const Napi::CallbackInfo& info) {
  int family = static_cast<int>(ArgInteger(info, 0, "socket", "family", 0, INT_MAX));
  int type = static_cast<int>(ArgInteger(info, 1, "socket", "type", 0, INT_MAX));
  int fd;
  int err = OpenSocket(family, type, &fd);
  if (err == 0) err = PrepareNewSocket(fd);
  if (err != 0) ThrowErrno(info.Env(), err, "socket");
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value SocketPair(const Napi::CallbackInfo& info) {
  int family = static_cast<int>(ArgInteger(info, 0, "socketpair", "family", 0, INT_MAX));
  int type = static_cast<int>(ArgInteger(info, 1, "socketpair", "type", 0, INT_MAX));
  int fds[2];
  int err = OpenSocketPair(family, type, fds);
  if (err == 0) {
    err = PrepareNewSocket(fds[0]);
    if (err != 0) {
      CloseQuietly(fds[1]);
    } else if ((err = PrepareNewSocket(fds[1])) != 0) {
      CloseQuietly(fds[0]);
    }
  }
  if (err != 0) ThrowErrno(info.Env(), err, "socketpair");
  Napi::Array pair = Napi::Array::New(info.Env(), 2);
  pair.Set(0u, fds[0]);
  pair.Set(1u, fds[1]);
  return pair;
}

Napi::Value Pipe(const Napi::CallbackInfo& info) {
  int fds[2];
  int err = OpenPipe(fds);
  if (err != 0) ThrowErrno(info.Env(), err, "pipe");
  Napi::Array pair = Napi::Array::New(info.Env(), 2);
  pair.Set(0u, fds[0]);
  pair.Set(1u, fds[1]);
  return pair;
}

// ---- addresses ------------------------------------------------------------

// (family, host, port) arguments, parsed. host keeps the caller's text for
// error messages.
struct AddressArg {
  int family;
  int port;  // -1 for AF_UNIX
  size_t host_len;
  char host[512];  // longer than any numeric address and any sun_path
  sockaddr_storage ss;
  socklen_t len;

  SysAddress Describe() const {
    SysAddress a;
    a.port = port;
    if (host_len == 0 && family == AF_INET) {
      a.host = "0.0.0.0";
      a.host_len = 7;
    } else if (host_len == 0 && family == AF_INET6) {
      a.host = "::";
      a.host_len = 2;
    } else {
      a.host = host;
      a.host_len = host_len < sizeof host ? host_len : sizeof host - 1;  // may be truncated
    }
    return a;
  }
};

// Reads family, host, port at info[i..i+2]. Type errors are TypeError /
// RangeError; a host that does not parse is an errno error (EINVAL,
// ENAMETOOLONG) naming the syscall, like the kernel's own refusals.
void ReadAddress(const Napi::CallbackInfo& info, size_t i, const char* syscall, AddressArg* a) {
  a->family = static_cast<int>(ArgInteger(info, i, syscall, "family", 0, INT_MAX));
  a->host_len = ArgString(info, i + 1, syscall, "host", a->host, sizeof a->host);
  bool is_unix = a->family == AF_UNIX;
  a->port = is_unix ? -1 : static_cast<int>(ArgInteger(info, i + 2, syscall, "port", 0, 65535));
  int err;
  if (a->host_len >= sizeof a->host) {
    err = is_unix ? ENAMETOOLONG : EINVAL;
  } else {
    err = ParseSockaddr(a->family, a->host, a->host_len, is_unix ? 0 : a->port, &a->ss, &a->len);
  }
  if (err != 0) ThrowErrno(info.Env(), err, syscall, a->Describe());
}

Napi::Value Bind(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "bind");
  AddressArg a;
  ReadAddress(info, 1, "bind", &a);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a.ss), a.len) < 0) {
    ThrowErrno(info.Env(), errno, "bind", a.Describe());
  }
  return info.Env().Undefined();
}

Napi::Value Connect(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "connect");
  AddressArg a;
  ReadAddress(info, 1, "connect", &a);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a.ss), a.len) == 0) {
    return Napi::Number::New(info.Env(), 0);
  }
  int err = errno;
  // EINPROGRESS: TCP handshake under way. EAGAIN: a Unix socket whose
  // listener's backlog is full (Linux). EINTR: "the connection request shall
  // not be aborted, and the connection shall be established asynchronously"
  // (POSIX connect()), so it is in progress too and must not be retried
  // (that would fail with EALREADY).
  if (err == EINPROGRESS || err == EINTR || IsWouldBlock(err)) {
    return Napi::Number::New(info.Env(), kWouldBlock);
  }
  ThrowErrno(info.Env(), err, "connect", a.Describe());
}

// connectAddress(family, host, port): the struct sockaddr connect(fd,
// family, host, port) would pass to the kernel, as a Buffer of its length:
// what an io_uring connect (the poller's OP_CONNECT) is given, and keeps
// until its completion. Throws as connect does for an address that does not
// parse (EINVAL, ENAMETOOLONG, EAFNOSUPPORT, naming 'connect').
Napi::Value ConnectAddress(const Napi::CallbackInfo& info) {
  AddressArg a;
  ReadAddress(info, 0, "connect", &a);
  return Napi::Buffer<uint8_t>::Copy(info.Env(), reinterpret_cast<const uint8_t*>(&a.ss), a.len);
}

Napi::Value Listen(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "listen");
  int backlog = static_cast<int>(ArgInteger(info, 1, "listen", "backlog", 0, INT_MAX));
  if (listen(fd, backlog) < 0) ThrowErrno(info.Env(), errno, "listen");
  return info.Env().Undefined();
}

Napi::Value Accept(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "accept");
  int client;
  // Non-blocking and close-on-exec: accept4(2) where it exists, else
  // accept(2) and fcntl (fd_util.h).
  int err = AcceptConnection(fd, &client);
  if (err != 0) {
    if (IsWouldBlock(err)) return Napi::Number::New(info.Env(), kWouldBlock);
    // ECONNABORTED and the "already-pending network errors" Linux passes on
    // (accept(2) NOTES) are thrown with their code: retrying is policy.
    ThrowErrno(info.Env(), err, "accept");
  }
  err = PrepareNewSocket(client);
  if (err != 0) ThrowErrno(info.Env(), err, "accept");
  return Napi::Number::New(info.Env(), client);
}

Napi::Value GetSocketError(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "getSocketError");
  int value = 0;
  socklen_t len = sizeof value;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &value, &len) < 0) {
    ThrowErrno(info.Env(), errno, "getsockopt");
  }
  return Napi::Number::New(info.Env(), value);
}

// ---- I/O: the hot path ------------------------------------------------------

// The result of a read- or write-like call: bytes, or WOULD_BLOCK, or a throw.
Napi::Value IoResult(Napi::Env env, ssize_t n, const char* syscall) {
  if (n >= 0) return Napi::Number::New(env, static_cast<double>(n));
  int err = errno;
  if (IsWouldBlock(err)) return Napi::Number::New(env, kWouldBlock);
  ThrowErrno(env, err, syscall);
}

Napi::Value Recv(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "recv");
  Bytes range = ArgByteRange(info, 1, "recv");
  ssize_t n;
  do {
    n = recv(fd, range.data, range.length, 0);
  } while (n < 0 && errno == EINTR);
  return IoResult(info.Env(), n, "recv");
}

Napi::Value Send(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "send");
  Bytes range = ArgByteRange(info, 1, "send");
  ssize_t n;
  do {
    n = send(fd, range.data, range.length, kSendFlags);
  } while (n < 0 && errno == EINTR);
  return IoResult(info.Env(), n, "send");
}

Napi::Value Read(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "read");
  Bytes range = ArgByteRange(info, 1, "read");
  ssize_t n;
  do {
    n = read(fd, range.data, range.length);
  } while (n < 0 && errno == EINTR);
  return IoResult(info.Env(), n, "read");
}

Napi::Value Write(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "write");
  Bytes range = ArgByteRange(info, 1, "write");
  ssize_t n;
  do {
    n = write(fd, range.data, range.length);
  } while (n < 0 && errno == EINTR);
  return IoResult(info.Env(), n, "write");
}

// Takes the iovecs in two passes. Reading an element can run JS (a getter
// on the array, an accessor on its prototype), and that JS can detach or
// shrink a buffer read before it: a pointer taken in the same pass would
// then point at freed memory. So the first pass only fetches the elements
// (all the JS that can run, runs there), and the second reads each one's
// memory with calls that run no JS, right before the syscall. A buffer
// detached by then is refused (TypeError) rather than sent as empty.
Napi::Value Sendv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0, "sendv");
  napi_value bufs = info[1];
  uint32_t count;
  bool is_array = false;
  napi_is_array(env, bufs, &is_array);
  if (!is_array || napi_get_array_length(env, bufs, &count) != napi_ok) {
    throw Napi::TypeError::New(env, "sendv: bufs must be an array of Buffer or Uint8Array");
  }
  constexpr int64_t kMaxSafe = (int64_t{1} << 53) - 1;
  int64_t first_offset = ArgInteger(info, 2, "sendv", "firstOffset", 0, kMaxSafe);

  size_t n = count < kSendvMaxBuffers ? count : kSendvMaxBuffers;
  napi_value elements[kSendvMaxBuffers];
  for (size_t k = 0; k < n; ++k) {
    if (napi_get_element(env, bufs, static_cast<uint32_t>(k), &elements[k]) != napi_ok) {
      // A getter threw (N-API reports that as a generic failure): rethrow
      // its error, which Error::New takes from the pending exception.
      throw Napi::Error::New(env);
    }
  }
  // No JS runs from here to the syscall.
  iovec iov[kSendvMaxBuffers];
  for (size_t k = 0; k < n; ++k) {
    napi_typedarray_type type;
    size_t length;
    void* data;
    napi_value arraybuffer;
    if (napi_get_typedarray_info(env, elements[k], &type, &length, &data, &arraybuffer,
                                 nullptr) != napi_ok ||
        type != napi_uint8_array) {
      throw Napi::TypeError::New(
          env, "sendv: bufs[" + std::to_string(k) + "] must be a Buffer or Uint8Array");
    }
    if (length == 0) {
      bool detached = false;
      napi_is_detached_arraybuffer(env, arraybuffer, &detached);
      if (detached) {
        throw Napi::TypeError::New(env, "sendv: bufs[" + std::to_string(k) +
                                            "]'s ArrayBuffer is detached (transferred away)");
      }
    }
    iov[k].iov_base = data;
    iov[k].iov_len = length;
  }
  if (n > 0) {
    if (static_cast<uint64_t>(first_offset) > iov[0].iov_len) {
      throw Napi::RangeError::New(env, "sendv: firstOffset (" + std::to_string(first_offset) +
                                           ") is beyond bufs[0]'s length (" +
                                           std::to_string(iov[0].iov_len) + ")");
    }
    iov[0].iov_base = static_cast<uint8_t*>(iov[0].iov_base) + first_offset;
    iov[0].iov_len -= static_cast<size_t>(first_offset);
  } else {
    return Napi::Number::New(env, 0);
  }

  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = n;
  ssize_t sent;
  do {
    sent = sendmsg(fd, &msg, kSendFlags);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0 && errno == ENOTSOCK) {
    // A pipe or other non-socket fd: writev(2) is the same gather write.
    do {
      sent = writev(fd, iov, static_cast<int>(n));
    } while (sent < 0 && errno == EINTR);
    return IoResult(env, sent, "writev");
  }
  return IoResult(env, sent, "sendmsg");
}

Napi::Value RecvFrom(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0, "recvfrom");
  Bytes range = ArgByteRange(info, 1, "recvfrom");
  napi_valuetype out_type;
  napi_typeof(env, info[4], &out_type);
  if (out_type != napi_object) {
    throw Napi::TypeError::New(env, "recvfrom: out must be an object");
  }
  sockaddr_storage ss;
  ss.ss_family = AF_UNSPEC;
  socklen_t len = sizeof ss;
  ssize_t n;
  do {
    n = recvfrom(fd, range.data, range.length, 0, reinterpret_cast<sockaddr*>(&ss), &len);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return IoResult(env, n, "recvfrom");
  if (len == 0) {
    // Linux reports no address at all for an unnamed Unix sender (a
    // socketpair, an unbound client). Say {family: 'unix', path: ''} as
    // getpeername would, when this is a Unix socket; nothing otherwise.
    socklen_t own_len = sizeof ss;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &own_len) == 0 &&
        ss.ss_family == AF_UNIX) {
      len = static_cast<socklen_t>(sizeof(sa_family_t));
    }
  }
  info[4].As<Napi::Object>().Set("address", SockaddrToJs(env, ss, len));
  return Napi::Number::New(env, static_cast<double>(n));
}

Napi::Value SendTo(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "sendto");
  Bytes range = ArgByteRange(info, 1, "sendto");
  AddressArg a;
  ReadAddress(info, 4, "sendto", &a);
  ssize_t n;
  do {
    n = sendto(fd, range.data, range.length, kSendFlags, reinterpret_cast<sockaddr*>(&a.ss), a.len);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && !IsWouldBlock(errno)) ThrowErrno(info.Env(), errno, "sendto", a.Describe());
  return IoResult(info.Env(), n, "sendto");
}

Napi::Value Shutdown(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "shutdown");
  int how = static_cast<int>(ArgInteger(info, 1, "shutdown", "how", 0, INT_MAX));
  if (shutdown(fd, how) < 0) ThrowErrno(info.Env(), errno, "shutdown");
  return info.Env().Undefined();
}

Napi::Value Close(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "close");
  // EINTR is not retried: Linux has released the fd already, and a retry
  // could close an fd another thread just opened (close(2) NOTES).
  if (close(fd) < 0 && errno != EINTR) ThrowErrno(info.Env(), errno, "close");
  return info.Env().Undefined();
}

// A second fd for the same open file, close-on-exec. The resolver hands one
// to its worker thread per lookup, so the worker's wakeup write can never hit
// an fd number the loop closed and the process reused.
Napi::Value Dup(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "dup");
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) {
    ThrowErrno(info.Env(), errno, "dup");
    return info.Env().Undefined();
  }
  return Napi::Number::New(info.Env(), copy);
}

// ---- options ----------------------------------------------------------------

// Our own option ids (the exported constants), mapped to this OS's
// (level, optname); optname -1: not available here (ENOPROTOOPT).
enum OptionId {
  kOptReuseAddr = 1,
  kOptReusePort,
  kOptTcpNoDelay,
  kOptKeepAlive,
  kOptRcvBuf,
  kOptSndBuf,
  kOptBroadcast,
  kOptV6Only,
  kOptType,
  kOptKeepIdle,
  kOptKeepIntvl,
  kOptKeepCnt,
};

struct SockOption {
  const char* name;
  int id;
  int level;
  int optname;
};

const SockOption kOptions[] = {
    {"SO_REUSEADDR", kOptReuseAddr, SOL_SOCKET, SO_REUSEADDR},
#ifdef SO_REUSEPORT
    {"SO_REUSEPORT", kOptReusePort, SOL_SOCKET, SO_REUSEPORT},
#else
    {"SO_REUSEPORT", kOptReusePort, SOL_SOCKET, -1},
#endif
    {"TCP_NODELAY", kOptTcpNoDelay, IPPROTO_TCP, TCP_NODELAY},
    {"SO_KEEPALIVE", kOptKeepAlive, SOL_SOCKET, SO_KEEPALIVE},
    {"SO_RCVBUF", kOptRcvBuf, SOL_SOCKET, SO_RCVBUF},
    {"SO_SNDBUF", kOptSndBuf, SOL_SOCKET, SO_SNDBUF},
    {"SO_BROADCAST", kOptBroadcast, SOL_SOCKET, SO_BROADCAST},
    {"IPV6_V6ONLY", kOptV6Only, IPPROTO_IPV6, IPV6_V6ONLY},
    // Read only: what an adopted fd is (SOCK_STREAM or SOCK_DGRAM).
    {"SO_TYPE", kOptType, SOL_SOCKET, SO_TYPE},
// Keep-alive timing: Linux's names; macOS calls the idle time TCP_KEEPALIVE.
#if defined(TCP_KEEPIDLE)
    {"TCP_KEEPIDLE", kOptKeepIdle, IPPROTO_TCP, TCP_KEEPIDLE},
#elif defined(TCP_KEEPALIVE)
    {"TCP_KEEPIDLE", kOptKeepIdle, IPPROTO_TCP, TCP_KEEPALIVE},
#else
    {"TCP_KEEPIDLE", kOptKeepIdle, IPPROTO_TCP, -1},
#endif
#ifdef TCP_KEEPINTVL
    {"TCP_KEEPINTVL", kOptKeepIntvl, IPPROTO_TCP, TCP_KEEPINTVL},
#else
    {"TCP_KEEPINTVL", kOptKeepIntvl, IPPROTO_TCP, -1},
#endif
#ifdef TCP_KEEPCNT
    {"TCP_KEEPCNT", kOptKeepCnt, IPPROTO_TCP, TCP_KEEPCNT},
#else
    {"TCP_KEEPCNT", kOptKeepCnt, IPPROTO_TCP, -1},
#endif
};

const SockOption& ArgOption(const Napi::CallbackInfo& info, const char* fn) {
  int id = static_cast<int>(ArgInteger(info, 1, fn, "option", kOptReuseAddr, kOptKeepCnt));
  const SockOption& option = kOptions[id - kOptReuseAddr];
  if (option.optname < 0) ThrowErrno(info.Env(), ENOPROTOOPT, fn);
  return option;
}

Napi::Value SetSockOpt(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "setsockopt");
  const SockOption& option = ArgOption(info, "setsockopt");
  int value = ArgIntOrBool(info, 2, "setsockopt", "value");
  if (setsockopt(fd, option.level, option.optname, &value, sizeof value) < 0) {
    ThrowErrno(info.Env(), errno, "setsockopt");
  }
  return info.Env().Undefined();
}

Napi::Value GetSockOpt(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "getsockopt");
  const SockOption& option = ArgOption(info, "getsockopt");
  int value = 0;
  socklen_t len = sizeof value;
  if (getsockopt(fd, option.level, option.optname, &value, &len) < 0) {
    ThrowErrno(info.Env(), errno, "getsockopt");
  }
  return Napi::Number::New(info.Env(), value);
}

Napi::Value GetSockName(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "getsockname");
  sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) {
    ThrowErrno(info.Env(), errno, "getsockname");
  }
  return SockaddrToJs(info.Env(), ss, len);
}

Napi::Value GetPeerName(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "getpeername");
  sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) {
    ThrowErrno(info.Env(), errno, "getpeername");
  }
  return SockaddrToJs(info.Env(), ss, len);
}

}  // namespace

void InitSocket(Napi::Env env, Napi::Object exports) {
  struct Fn {
    const char* name;
    Napi::Value (*fn)(const Napi::CallbackInfo&);
  };
  const Fn functions[] = {
      {"socket", Socket},         {"socketpair", SocketPair},   {"pipe", Pipe},
      {"bind", Bind},             {"listen", Listen},           {"accept", Accept},
      {"connect", Connect},       {"getSocketError", GetSocketError}, {"connectAddress", ConnectAddress},
      {"recv", Recv},             {"send", Send},               {"sendv", Sendv},
      {"read", Read},             {"write", Write},             {"recvfrom", RecvFrom},
      {"sendto", SendTo},         {"shutdown", Shutdown},       {"close", Close}, {"dup", Dup},
      {"setsockopt", SetSockOpt}, {"getsockopt", GetSockOpt},   {"getsockname", GetSockName},
      {"getpeername", GetPeerName},
  };
  for (const Fn& f : functions) exports.Set(f.name, Napi::Function::New(env, f.fn, f.name));

  const struct {
    const char* name;
    int value;
  } constants[] = {
      {"AF_INET", AF_INET},         {"AF_INET6", AF_INET6},       {"AF_UNIX", AF_UNIX},
      {"SOCK_STREAM", SOCK_STREAM}, {"SOCK_DGRAM", SOCK_DGRAM},   {"SHUT_RD", SHUT_RD},
      {"SHUT_WR", SHUT_WR},         {"SHUT_RDWR", SHUT_RDWR},     {"FD_SETSIZE", FD_SETSIZE},
  };
  for (const auto& c : constants) exports.Set(c.name, Napi::Number::New(env, c.value));
  for (const SockOption& option : kOptions) {
    exports.Set(option.name, Napi::Number::New(env, option.id));
  }
  exports.Set("errno", ErrnoConstants(env));
}

}  // namespace coio
