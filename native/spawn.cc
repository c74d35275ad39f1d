// Child processes as thin syscalls: spawn one (posix_spawn), watch it
// (pidfd_open where the kernel has it: pidfd.h), reap it (waitpid on its
// own pid, never -1, which would steal the children of Node's
// child_process), signal it (kill). Policy (PATH search, pipes, which
// watcher) is in src/subprocess.ts and src/child_watcher.ts.
//
// posix_spawn rather than fork + exec: glibc implements it with
// clone(CLONE_VM | CLONE_VFORK), so spawning does not copy the page tables of
// a large V8 heap, and it reports a failed exec (ENOENT, EACCES) as its
// return value. The child starts with every signal at its default action and
// none blocked: Node ignores SIGPIPE and its threads block some signals, and
// an ignored signal would survive exec.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <string>
#include <vector>

#include "args.h"
#include "errors.h"
#include "fd_util.h"
#include "pidfd.h"
#include "spawn_api.h"

namespace coio {
namespace {

// posix_spawn_file_actions_addchdir_np: glibc >= 2.29, macOS >= 10.15, musl,
// FreeBSD >= 13.1. Without it, a cwd is refused with ENOSYS.
#if defined(__GLIBC__) && !(__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 29))
#define COIO_SPAWN_CHDIR 0
#else
#define COIO_SPAWN_CHDIR 1
#endif

int AddChdir(posix_spawn_file_actions_t* actions, const char* dir) {
#if COIO_SPAWN_CHDIR
  return posix_spawn_file_actions_addchdir_np(actions, dir);
#else
  (void)actions;
  (void)dir;
  return ENOSYS;
#endif
}

#ifdef NSIG
constexpr int kMaxSignal = NSIG;
#else
constexpr int kMaxSignal = 65;
#endif

// A string argument without NUL bytes (they cannot cross exec).
std::string ArgCString(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name) {
  Napi::Env env = info.Env();
  if (!info[i].IsString()) {
    throw Napi::TypeError::New(env, std::string(fn) + ": " + name + " must be a string");
  }
  std::string s = info[i].As<Napi::String>().Utf8Value();
  if (s.find('\0') != std::string::npos) {
    throw Napi::TypeError::New(env, std::string(fn) + ": " + name + " must not contain null bytes");
  }
  return s;
}

// An array of strings without NUL bytes.
std::vector<std::string> ArgStringArray(const Napi::CallbackInfo& info, size_t i, const char* fn,
                                        const char* name) {
  Napi::Env env = info.Env();
  if (!info[i].IsArray()) {
    throw Napi::TypeError::New(env, std::string(fn) + ": " + name + " must be an array of strings");
  }
  Napi::Array array = info[i].As<Napi::Array>();
  std::vector<std::string> out;
  out.reserve(array.Length());
  for (uint32_t k = 0; k < array.Length(); ++k) {
    Napi::Value v = array.Get(k);
    std::string where = std::string(name) + "[" + std::to_string(k) + "]";
    if (!v.IsString()) {
      throw Napi::TypeError::New(env, std::string(fn) + ": " + where + " must be a string");
    }
    std::string s = v.As<Napi::String>().Utf8Value();
    if (s.find('\0') != std::string::npos) {
      throw Napi::TypeError::New(env, std::string(fn) + ": " + where + " must not contain null bytes");
    }
    out.push_back(std::move(s));
  }
  return out;
}

// NULL-terminated char* array over strings that outlive it.
std::vector<char*> CArray(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (std::string& s : strings) out.push_back(&s[0]);
  out.push_back(nullptr);
  return out;
}

pid_t ArgPid(const Napi::CallbackInfo& info, size_t i, const char* fn) {
  // Never 0 or negative: those address process groups (kill) or any child (waitpid).
  return static_cast<pid_t>(ArgInteger(info, i, fn, "pid", 1, INT_MAX));
}

// Owns what posix_spawn needs, released on every path.
struct SpawnState {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  bool actions_ok = false;
  bool attr_ok = false;
  int stdio_copies[3] = {-1, -1, -1};

  ~SpawnState() {
    if (actions_ok) posix_spawn_file_actions_destroy(&actions);
    if (attr_ok) posix_spawnattr_destroy(&attr);
    for (int fd : stdio_copies) {
      if (fd >= 0) CloseQuietly(fd);
    }
  }
};

// Prepares file actions and attributes. Returns 0 or an errno.
int PrepareSpawn(SpawnState* st, const int stdio[3], const std::string* cwd) {
  int err = posix_spawn_file_actions_init(&st->actions);
  if (err != 0) return err;
  st->actions_ok = true;
  err = posix_spawnattr_init(&st->attr);
  if (err != 0) return err;
  st->attr_ok = true;

  // Copy each stdio fd above 2 first (close-on-exec), then dup2 the copies
  // onto 0, 1, 2: a source that is itself 0-2 (stderr to stdout) cannot be
  // overwritten before it is used, and dup2 onto a different number always
  // clears close-on-exec on the child's fd.
  for (int i = 0; i < 3; ++i) {
    st->stdio_copies[i] = fcntl(stdio[i], F_DUPFD_CLOEXEC, 3);
    if (st->stdio_copies[i] < 0) return errno;
  }
  for (int i = 0; i < 3; ++i) {
    err = posix_spawn_file_actions_adddup2(&st->actions, st->stdio_copies[i], i);
    if (err != 0) return err;
  }
  if (cwd != nullptr) {
    err = AddChdir(&st->actions, cwd->c_str());
    if (err != 0) return err;
  }

  sigset_t defaults;
  sigfillset(&defaults);
  sigdelset(&defaults, SIGKILL);
  sigdelset(&defaults, SIGSTOP);
  sigset_t unblocked;
  sigemptyset(&unblocked);
  err = posix_spawnattr_setsigdefault(&st->attr, &defaults);
  if (err == 0) err = posix_spawnattr_setsigmask(&st->attr, &unblocked);
  if (err == 0) {
    err = posix_spawnattr_setflags(&st->attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  }
  return err;
}

// spawn(path, argv, env, cwd, stdinFd, stdoutFd, stderrFd) -> pid
Napi::Value Spawn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = ArgCString(info, 0, "spawn", "path");
  std::vector<std::string> argv = ArgStringArray(info, 1, "spawn", "argv");
  if (argv.empty()) throw Napi::RangeError::New(env, "spawn: argv must not be empty");
  std::vector<std::string> envp = ArgStringArray(info, 2, "spawn", "env");
  std::string cwd;
  bool has_cwd = !info[3].IsNull() && !info[3].IsUndefined();
  if (has_cwd) cwd = ArgCString(info, 3, "spawn", "cwd");
  int stdio[3];
  static const char* const kStdioNames[3] = {"stdinFd", "stdoutFd", "stderrFd"};
  for (int i = 0; i < 3; ++i) {
    stdio[i] = static_cast<int>(ArgInteger(info, 4 + i, "spawn", kStdioNames[i], 0, INT_MAX));
  }

  SpawnState st;
  int err = PrepareSpawn(&st, stdio, has_cwd ? &cwd : nullptr);
  SysAddress where;
  where.host = path.c_str();
  where.host_len = path.size();
  if (err != 0) ThrowErrno(env, err, "spawn", where);

  std::vector<char*> c_argv = CArray(argv);
  std::vector<char*> c_env = CArray(envp);
  pid_t pid;
  err = posix_spawn(&pid, path.c_str(), &st.actions, &st.attr, c_argv.data(), c_env.data());
  if (err != 0) ThrowErrno(env, err, "spawn", where);
  return Napi::Number::New(env, pid);
}

// pidfdOpen(pid) -> an fd readable once the child exits (close-on-exec), or
// -1 where there is none (pidfd.h).
Napi::Value PidfdOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t pid = ArgPid(info, 0, "pidfdOpen");
  int err;
  int fd = OpenPidfd(pid, &err);
  if (err != 0) ThrowErrno(env, err, "pidfd_open");
  return Napi::Number::New(env, fd);
}

// waitpid(pid) -> null while the child runs, else its returncode as asyncio
// reports it: the exit status, or -N when signal N killed it.
Napi::Value WaitPid(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t pid = ArgPid(info, 0, "waitpid");
  int status = 0;
  pid_t r;
  do {
    r = waitpid(pid, &status, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r < 0) ThrowErrno(env, errno, "waitpid");
  if (r == 0) return env.Null();
  if (WIFEXITED(status)) return Napi::Number::New(env, WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return Napi::Number::New(env, -WTERMSIG(status));
  return env.Null();  // stopped / continued: not reported without WUNTRACED
}

// kill(pid, signum); signum 0 only checks that the process exists.
Napi::Value Kill(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t pid = ArgPid(info, 0, "kill");
  int signum = static_cast<int>(ArgInteger(info, 1, "kill", "signum", 0, kMaxSignal - 1));
  if (kill(pid, signum) < 0) ThrowErrno(env, errno, "kill");
  return env.Undefined();
}

// setBlocking(fd, blocking): O_NONBLOCK off or on (it belongs to the open
// file, so every fd sharing it sees the change).
Napi::Value SetBlocking(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0, "setBlocking");
  if (!info[1].IsBoolean()) throw Napi::TypeError::New(env, "setBlocking: blocking must be a boolean");
  bool blocking = info[1].As<Napi::Boolean>().Value();
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) ThrowErrno(env, errno, "fcntl");
  int wanted = blocking ? (flags & ~O_NONBLOCK) : (flags | O_NONBLOCK);
  if (wanted != flags && fcntl(fd, F_SETFL, wanted) < 0) ThrowErrno(env, errno, "fcntl");
  return env.Undefined();
}

}  // namespace

void InitSpawn(Napi::Env env, Napi::Object exports) {
  exports.Set("spawn", Napi::Function::New(env, Spawn, "spawn"));
  exports.Set("pidfdOpen", Napi::Function::New(env, PidfdOpen, "pidfdOpen"));
  exports.Set("waitpid", Napi::Function::New(env, WaitPid, "waitpid"));
  exports.Set("kill", Napi::Function::New(env, Kill, "kill"));
  exports.Set("setBlocking", Napi::Function::New(env, SetBlocking, "setBlocking"));
}

}  // namespace coio
