#include "sockaddr.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace coio {
namespace {

int ParseInet(const char* host, size_t host_len, int port, sockaddr_storage* ss, socklen_t* len) {
  sockaddr_in* sin = reinterpret_cast<sockaddr_in*>(ss);
  sin->sin_family = AF_INET;
  sin->sin_port = htons(static_cast<uint16_t>(port));
  if (host_len == 0) {
    sin->sin_addr.s_addr = htonl(INADDR_ANY);
  } else if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) {
    return EINVAL;
  }
#ifdef SIN6_LEN  // BSD sockaddrs carry their length
  sin->sin_len = sizeof(sockaddr_in);
#endif
  *len = sizeof(sockaddr_in);
  return 0;
}

int ParseInet6(const char* host, size_t host_len, int port, sockaddr_storage* ss,
               socklen_t* len) {
  sockaddr_in6* sin6 = reinterpret_cast<sockaddr_in6*>(ss);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(static_cast<uint16_t>(port));
  if (host_len == 0) {
    sin6->sin6_addr = in6addr_any;
  } else {
    // "fe80::1%eth0" or "fe80::1%2": inet_pton takes the address alone.
    const char* percent = static_cast<const char*>(std::memchr(host, '%', host_len));
    size_t addr_len = percent != nullptr ? static_cast<size_t>(percent - host) : host_len;
    char addr[INET6_ADDRSTRLEN];
    if (addr_len >= sizeof addr) return EINVAL;
    std::memcpy(addr, host, addr_len);
    addr[addr_len] = '\0';
    if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) != 1) return EINVAL;
    if (percent != nullptr) {
      const char* scope = percent + 1;
      char* end;
      unsigned long index = std::strtoul(scope, &end, 10);
      if (*scope == '\0') return EINVAL;
      if (*end != '\0') index = if_nametoindex(scope);  // not all digits: an interface name
      if (index == 0 || index > UINT32_MAX) return EINVAL;
      sin6->sin6_scope_id = static_cast<uint32_t>(index);
    }
  }
#ifdef SIN6_LEN
  sin6->sin6_len = sizeof(sockaddr_in6);
#endif
  *len = sizeof(sockaddr_in6);
  return 0;
}

int ParseUnix(const char* path, size_t path_len, sockaddr_storage* ss, socklen_t* len) {
  sockaddr_un* sun = reinterpret_cast<sockaddr_un*>(ss);
  sun->sun_family = AF_UNIX;
  constexpr size_t kPathOffset = offsetof(sockaddr_un, sun_path);
  if (path_len > 0 && path[0] == '\0') {
    // Linux abstract namespace (unix(7)): the name is every byte of
    // sun_path counted by addrlen, NUL bytes included, no terminator.
    if (path_len > sizeof sun->sun_path) return ENAMETOOLONG;
    std::memcpy(sun->sun_path, path, path_len);
    *len = static_cast<socklen_t>(kPathOffset + path_len);
  } else {
    // A pathname: NUL-terminated inside sun_path (a path filling sun_path
    // exactly, unterminated, is a Linux-only extension: refused here).
    if (std::memchr(path, '\0', path_len) != nullptr) return EINVAL;
    if (path_len >= sizeof sun->sun_path) return ENAMETOOLONG;
    std::memcpy(sun->sun_path, path, path_len);
    sun->sun_path[path_len] = '\0';
    // '' gives addrlen = sizeof(sa_family_t): unnamed (Linux autobind on bind).
    *len = static_cast<socklen_t>(kPathOffset + (path_len > 0 ? path_len + 1 : 0));
  }
#ifdef SIN6_LEN
  sun->sun_len = static_cast<uint8_t>(*len);
#endif
  return 0;
}

}  // namespace

int ParseSockaddr(int family, const char* host, size_t host_len, int port,
                  sockaddr_storage* ss, socklen_t* len) {
  std::memset(ss, 0, sizeof *ss);
  if (family == AF_UNIX) return ParseUnix(host, host_len, ss, len);
  // Numeric hosts hold no NUL byte; inet_pton would stop at one.
  if (std::memchr(host, '\0', host_len) != nullptr) return EINVAL;
  if (family == AF_INET) return ParseInet(host, host_len, port, ss, len);
  if (family == AF_INET6) return ParseInet6(host, host_len, port, ss, len);
  return EAFNOSUPPORT;
}

Napi::Value SockaddrToJs(Napi::Env env, const sockaddr_storage& ss, socklen_t len) {
  if (len < static_cast<socklen_t>(sizeof(sa_family_t))) return env.Undefined();
  Napi::Object address = Napi::Object::New(env);
  switch (ss.ss_family) {
    case AF_INET: {
      const sockaddr_in* sin = reinterpret_cast<const sockaddr_in*>(&ss);
      char text[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, &sin->sin_addr, text, sizeof text);
      address.Set("family", "IPv4");
      address.Set("address", text);
      address.Set("port", ntohs(sin->sin_port));
      return address;
    }
    case AF_INET6: {
      const sockaddr_in6* sin6 = reinterpret_cast<const sockaddr_in6*>(&ss);
      char text[INET6_ADDRSTRLEN];
      inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof text);
      address.Set("family", "IPv6");
      address.Set("address", text);
      address.Set("port", ntohs(sin6->sin6_port));
      address.Set("flowinfo", Napi::Number::New(env, ntohl(sin6->sin6_flowinfo)));
      address.Set("scopeid", Napi::Number::New(env, sin6->sin6_scope_id));
      return address;
    }
    case AF_UNIX: {
      const sockaddr_un* sun = reinterpret_cast<const sockaddr_un*>(&ss);
      constexpr size_t kPathOffset = offsetof(sockaddr_un, sun_path);
      size_t path_len = len > kPathOffset ? len - kPathOffset : 0;
      if (path_len > sizeof sun->sun_path) path_len = sizeof sun->sun_path;
      // Abstract names (leading NUL) are exactly path_len bytes; pathnames
      // end at their terminator.
      if (path_len > 0 && sun->sun_path[0] != '\0') path_len = strnlen(sun->sun_path, path_len);
      address.Set("family", "unix");
      address.Set("path", Napi::String::New(env, sun->sun_path, path_len));
      return address;
    }
    default:
      return env.Undefined();
  }
}

}  // namespace coio
