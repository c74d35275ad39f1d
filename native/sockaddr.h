// Socket addresses between JS (family, host, port) and struct sockaddr.
#pragma once

#include <napi.h>
#include <sys/socket.h>

#include <cstddef>

namespace coio {

// Fills *ss / *len for bind, connect and sendto. host (NUL-terminated at
// host_len, and may hold NUL bytes before that) is numeric for
// AF_INET / AF_INET6 ('' = any; IPv6 may end in %scope, a name or a
// number) and a path for AF_UNIX (a leading NUL byte makes a Linux abstract
// name; '' leaves the address unnamed, which bind(2) on Linux autobinds).
// Returns 0 or an errno: EINVAL (host does not parse), ENAMETOOLONG (path
// longer than sun_path), EAFNOSUPPORT (family).
int ParseSockaddr(int family, const char* host, size_t host_len, int port,
                  sockaddr_storage* ss, socklen_t* len);

// {family: 'IPv4' | 'IPv6', address, port[, flowinfo, scopeid]} or
// {family: 'unix', path}; undefined for an empty or unknown address.
Napi::Value SockaddrToJs(Napi::Env env, const sockaddr_storage& ss, socklen_t len);

}  // namespace coio
