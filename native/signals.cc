// Signal watchers: a sigaction handler that only marks the signal pending and
// writes one byte to a loop's self-pipe, the way libuv (uv_signal_t) and
// CPython (signal.set_wakeup_fd, which asyncio's add_signal_handler uses) do.
// The loop's poller sees the pipe readable and runs the callbacks on the
// loop's thread; no JS ever runs inside the handler.
//
// Why not signalfd: it only works if every thread blocks the signal, and
// Node's own threads (libuv's pool, V8's platform workers, the inspector)
// do not, so the kernel may deliver the signal to one of them instead.
//
// PROCESS-GLOBAL STATE, and the only data of that kind the addon keeps
// (memory.cc changes a process-wide malloc setting but keeps nothing): a signal's
// disposition belongs to the process, and a handler (which runs on whatever
// thread the kernel picks, between any two instructions) can reach nothing
// but static data. All of it is in this file:
//
//   g_watchers  kMaxWatchers slots {signum, wake fd, pending}; one slot is
//               what one loop registered for one signal (signalAdd).
//   g_signals   per signal number: how many watchers, how many want the
//               previous handler chained, and the disposition saved when the
//               first watcher was added (restored when the last one goes,
//               unless someone replaced our handler meanwhile).
//
// The handler reads only lock-free atomics and calls write(2), both
// async-signal-safe. signalAdd / signalRemove run on JS threads (the main
// thread or workers) under g_mutex, which the handler never takes. A watcher
// is published by storing its signum last and retired by clearing its signum
// first; signalRemove then waits until no handler is in flight, so once it
// returns no handler can still write to the retired fd (its owner may close
// it and the number may be reused).
//
// Watchers of a Node environment that ends (a worker thread terminated with a
// loop still watching) are removed by an environment cleanup hook.
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <mutex>

#include "args.h"
#include "errors.h"
#include "signals.h"

namespace coio {
namespace {

#ifdef NSIG
constexpr int kMaxSignal = NSIG;  // signal numbers are 1 .. NSIG - 1
#else
constexpr int kMaxSignal = 65;
#endif
constexpr int kMaxWatchers = 128;

static_assert(std::atomic<int>::is_always_lock_free,
              "the signal handler needs lock-free atomics (async-signal-safe)");

struct Watcher {
  std::atomic<int> signum{0};  // 0: free slot
  std::atomic<int> fd{-1};     // written by the handler
  std::atomic<int> pending{0};
  napi_env owner = nullptr;  // under g_mutex only, as chain: the handler reads neither
  bool chain = false;
};

struct SignalEntry {
  int watchers = 0;               // under g_mutex
  std::atomic<int> chaining{0};   // watchers that also want the previous handler called
  struct sigaction previous;      // valid while watchers > 0
};

Watcher g_watchers[kMaxWatchers];
SignalEntry g_signals[kMaxSignal];
std::atomic<int> g_in_flight{0};
std::mutex g_mutex;

void CallPrevious(int signum, siginfo_t* info, void* context) {
  const struct sigaction& prev = g_signals[signum].previous;
  if ((prev.sa_flags & SA_SIGINFO) != 0) {
    if (prev.sa_sigaction != nullptr) prev.sa_sigaction(signum, info, context);
  } else if (prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN) {
    prev.sa_handler(signum);
  }
}

void Handler(int signum, siginfo_t* info, void* context) {
  int saved_errno = errno;
  g_in_flight.fetch_add(1);
  const char byte = static_cast<char>(signum);
  for (Watcher& w : g_watchers) {
    if (w.signum.load() != signum) continue;
    w.pending.store(1);
    int fd = w.fd.load();
    // A full pipe (EAGAIN) already means "woken"; pending keeps the signal.
    while (fd >= 0 && write(fd, &byte, 1) < 0 && errno == EINTR) {
    }
  }
  // Chaining is for SIGCHLD: libuv's own handler must still see its children exit.
  if (signum > 0 && signum < kMaxSignal && g_signals[signum].chaining.load() > 0) {
    CallPrevious(signum, info, context);
  }
  g_in_flight.fetch_sub(1);
  errno = saved_errno;
}

// Waits until no handler runs (on another thread; one interrupting this
// thread has finished by the time we continue).
void WaitForHandlers() {
  while (g_in_flight.load() != 0) sched_yield();
}

// The caller holds g_mutex. Restores the saved disposition if w was the last
// watcher of its signal. Returns 0 or an errno (from sigaction).
int RetireWatcher(Watcher& w) {
  int signum = w.signum.load();
  w.signum.store(0);
  w.fd.store(-1);
  w.pending.store(0);
  w.owner = nullptr;
  SignalEntry& entry = g_signals[signum];
  if (w.chain) entry.chaining.fetch_sub(1);
  w.chain = false;
  if (--entry.watchers > 0) return 0;
  // Restore only if the handler is still ours: whoever replaced it since
  // (libuv, when Node starts listening for the signal or spawns its first
  // child for SIGCHLD) keeps theirs.
  struct sigaction current;
  if (sigaction(signum, nullptr, &current) < 0) return errno;
  if ((current.sa_flags & SA_SIGINFO) == 0 || current.sa_sigaction != Handler) return 0;
  if (sigaction(signum, &entry.previous, nullptr) < 0) return errno;
  return 0;
}

int ArgSignal(const Napi::CallbackInfo& info, size_t i, const char* fn) {
  return static_cast<int>(ArgInteger(info, i, fn, "signum", 1, kMaxSignal - 1));
}

int ArgWatcherId(const Napi::CallbackInfo& info, size_t i, const char* fn) {
  return static_cast<int>(ArgInteger(info, i, fn, "id", 0, kMaxWatchers - 1));
}

// signalAdd(signum, wakeFd, chain) -> id
Napi::Value SignalAdd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int signum = ArgSignal(info, 0, "signalAdd");
  int fd = static_cast<int>(ArgInteger(info, 1, "signalAdd", "wakeFd", 0, INT_MAX));
  if (!info[2].IsBoolean()) throw Napi::TypeError::New(env, "signalAdd: chain must be a boolean");
  bool chain = info[2].As<Napi::Boolean>().Value();

  std::lock_guard<std::mutex> lock(g_mutex);
  int id = -1;
  for (int i = 0; i < kMaxWatchers; ++i) {
    if (g_watchers[i].signum.load() == 0) {
      id = i;
      break;
    }
  }
  if (id < 0) ThrowErrno(env, ENOSPC, "sigaction");
  SignalEntry& entry = g_signals[signum];
  if (entry.watchers == 0) {
    struct sigaction sa = {};
    sa.sa_sigaction = Handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
    sigfillset(&sa.sa_mask);
    // EINVAL for SIGKILL / SIGSTOP and the signals this OS reserves.
    if (sigaction(signum, &sa, &entry.previous) < 0) ThrowErrno(env, errno, "sigaction");
  }
  entry.watchers++;
  if (chain) entry.chaining.fetch_add(1);
  Watcher& w = g_watchers[id];
  w.owner = env;
  w.chain = chain;
  w.pending.store(0);
  w.fd.store(fd);
  w.signum.store(signum);  // published last: the handler sees a complete watcher
  return Napi::Number::New(env, id);
}

// signalRemove(id): stop watching; the previous disposition is back once the
// last watcher of the signal is gone. Returns when no handler can still write
// to the watcher's fd.
Napi::Value SignalRemove(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int id = ArgWatcherId(info, 0, "signalRemove");
  int err = 0;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    Watcher& w = g_watchers[id];
    if (w.signum.load() == 0 || w.owner != env) {
      throw Napi::RangeError::New(env, "signalRemove: no such signal watcher in this thread");
    }
    err = RetireWatcher(w);
  }
  WaitForHandlers();
  if (err != 0) ThrowErrno(env, err, "sigaction");
  return env.Undefined();
}

// signalTake(id) -> whether the signal arrived since the last call.
Napi::Value SignalTake(const Napi::CallbackInfo& info) {
  int id = ArgWatcherId(info, 0, "signalTake");
  return Napi::Boolean::New(info.Env(), g_watchers[id].pending.exchange(0) != 0);
}

// signalDisposition(signum) -> 'default' | 'ignore' | 'coio' | 'handler'
Napi::Value SignalDisposition(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int signum = ArgSignal(info, 0, "signalDisposition");
  struct sigaction current;
  if (sigaction(signum, nullptr, &current) < 0) ThrowErrno(env, errno, "sigaction");
  const char* kind;
  if ((current.sa_flags & SA_SIGINFO) != 0) {
    kind = current.sa_sigaction == Handler ? "coio" : "handler";
  } else if (current.sa_handler == SIG_DFL) {
    kind = "default";
  } else if (current.sa_handler == SIG_IGN) {
    kind = "ignore";
  } else {
    kind = "handler";
  }
  return Napi::String::New(env, kind);
}

// The environment (main thread or a worker) is going away: drop its watchers.
void CleanupEnv(void* arg) {
  napi_env env = static_cast<napi_env>(arg);
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    for (Watcher& w : g_watchers) {
      if (w.signum.load() != 0 && w.owner == env) RetireWatcher(w);
    }
  }
  WaitForHandlers();
}

}  // namespace

void InitSignals(Napi::Env env, Napi::Object exports) {
  exports.Set("signalAdd", Napi::Function::New(env, SignalAdd, "signalAdd"));
  exports.Set("signalRemove", Napi::Function::New(env, SignalRemove, "signalRemove"));
  exports.Set("signalTake", Napi::Function::New(env, SignalTake, "signalTake"));
  exports.Set("signalDisposition", Napi::Function::New(env, SignalDisposition, "signalDisposition"));
  napi_add_env_cleanup_hook(env, CleanupEnv, env);
}

}  // namespace coio
