// Emulates the parts of kqueue(2) that native/poller_kqueue.cc uses, over
// poll(2), as the FreeBSD / macOS manual page describes them:
// - a knote per (ident, filter); EV_ADD adds (or updates) it, EV_DELETE
//   removes it, ENOENT if absent, EBADF if the fd is not open;
// - a failed change is returned in the eventlist with EV_ERROR and the errno
//   in data when there is room, else kevent returns -1 with errno;
//   EV_RECEIPT returns a result for every change (data 0 on success);
// - level-triggered EVFILT_READ / EVFILT_WRITE results, EV_EOF when the
//   peer or the reader went away; close(2) drops an fd's knotes.
// Test-only, single-threaded, process-global state (it stands in for a kernel).
#include <sys/event.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <map>
#include <set>
#include <utility>
#include <vector>

namespace {

struct Queue {
  std::set<std::pair<uintptr_t, short>> knotes;
};
std::map<int, Queue> queues;
std::pair<uintptr_t, short> fail_key{~uintptr_t{0}, 0};
int fail_err = 0;

bool FdOpen(uintptr_t fd) { return fcntl(static_cast<int>(fd), F_GETFD) != -1; }

}  // namespace

extern "C" void kqueue_shim_fail_next(uintptr_t ident, short filter, int err) {
  fail_key = {ident, filter};
  fail_err = err;
}

extern "C" int kqueue_shim_knotes(int kq) {
  auto it = queues.find(kq);
  return it == queues.end() ? -1 : static_cast<int>(it->second.knotes.size());
}

extern "C" int kqueue(void) {
  int fd = open("/dev/null", O_RDONLY);  // a real fd: fcntl and close work on it
  if (fd >= 0) queues[fd] = Queue();
  return fd;
}

extern "C" int kevent(int kq, const struct kevent* changes, int nchanges, struct kevent* events,
                      int nevents, const struct timespec* timeout) {
  auto it = queues.find(kq);
  if (it == queues.end() || !FdOpen(static_cast<uintptr_t>(kq))) {
    errno = EBADF;
    return -1;
  }
  Queue& q = it->second;
  // close(2) removes the knotes of a descriptor.
  for (auto k = q.knotes.begin(); k != q.knotes.end();) {
    k = FdOpen(k->first) ? std::next(k) : q.knotes.erase(k);
  }

  int count = 0;
  for (int i = 0; i < nchanges; ++i) {
    const struct kevent& c = changes[i];
    std::pair<uintptr_t, short> key{c.ident, c.filter};
    int err = 0;
    if (key == fail_key) {
      err = fail_err;
      fail_key = {~uintptr_t{0}, 0};
    } else if (!FdOpen(c.ident)) {
      err = EBADF;
    } else if (c.filter != EVFILT_READ && c.filter != EVFILT_WRITE) {
      err = EINVAL;
    } else if (c.flags & EV_DELETE) {
      if (q.knotes.erase(key) == 0) err = ENOENT;
    } else if (c.flags & EV_ADD) {
      q.knotes.insert(key);
    }
#ifdef EV_RECEIPT
    bool receipt = (c.flags & EV_RECEIPT) != 0;
#else
    bool receipt = false;
#endif
    if (err != 0 || receipt) {
      if (count < nevents) {
        events[count] = c;
        events[count].flags = EV_ERROR;
        events[count].data = err;
        ++count;
      } else if (err != 0) {
        errno = err;
        return -1;
      }
    }
  }
  if (count >= nevents) return count;

  std::vector<pollfd> fds;
  for (const auto& k : q.knotes) {
    short want = k.second == EVFILT_READ ? POLLIN : POLLOUT;
    if (!fds.empty() && fds.back().fd == static_cast<int>(k.first)) {
      fds.back().events |= want;
    } else {
      fds.push_back(pollfd{static_cast<int>(k.first), want, 0});
    }
  }
  int ms = -1;
  if (count > 0) {
    ms = 0;
  } else if (timeout != nullptr) {
    ms = static_cast<int>(timeout->tv_sec * 1000 + (timeout->tv_nsec + 999999) / 1000000);
  }
  if (poll(fds.data(), fds.size(), ms) < 0) return -1;
  for (const pollfd& p : fds) {
    bool eof = (p.revents & (POLLHUP | POLLERR)) != 0;
    const short filters[2] = {EVFILT_READ, EVFILT_WRITE};
    for (short filter : filters) {
      if (!q.knotes.count({static_cast<uintptr_t>(p.fd), filter}) || count >= nevents) continue;
      bool ready = filter == EVFILT_READ ? (p.revents & (POLLIN | POLLHUP | POLLERR)) != 0
                                         : (p.revents & (POLLOUT | POLLERR)) != 0;
      if (!ready) continue;
      struct kevent& e = events[count++];
      EV_SET(&e, static_cast<uintptr_t>(p.fd), filter, eof ? EV_EOF : 0, 0, 0, nullptr);
    }
  }
  return count;
}
