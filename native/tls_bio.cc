// The queue BIO: see tls_bio.h for why it exists and what it promises.
#include "tls_bio.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace coio {
namespace {

// A buffer larger than this is given back once the queue drains, so that one
// burst (a 1 MiB write) does not pin its memory to an idle connection; up to
// it, the allocation stays for the next record.
constexpr size_t kKeepCapacity = 256 * 1024;
constexpr size_t kMinCapacity = 16 * 1024 + 512;  // one full TLS record and its header

struct Queue {
  char* data = nullptr;
  size_t capacity = 0;
  size_t head = 0;  // first queued byte
  size_t tail = 0;  // one past the last
};

Queue* Of(BIO* bio) { return static_cast<Queue*>(BIO_get_data(bio)); }

void Rewind(Queue* q) {
  q->head = q->tail = 0;
  if (q->capacity > kKeepCapacity) {
    std::free(q->data);
    q->data = nullptr;
    q->capacity = 0;
  }
}

// Room for `more` bytes after the tail: slide the queued bytes to the front
// when that frees enough and they are few, else move them to a larger block.
bool Reserve(Queue* q, size_t more) {
  if (q->capacity - q->tail >= more) return true;
  size_t used = q->tail - q->head;
  if (q->capacity - used >= more && used <= q->capacity / 2) {
    std::memmove(q->data, q->data + q->head, used);
  } else {
    size_t capacity = std::max({q->capacity * 2, used + more, kMinCapacity});
    char* data = static_cast<char*>(std::malloc(capacity));
    if (data == nullptr) return false;
    if (used > 0) std::memcpy(data, q->data + q->head, used);
    std::free(q->data);
    q->data = data;
    q->capacity = capacity;
  }
  q->head = 0;
  q->tail = used;
  return true;
}

int Write(BIO* bio, const char* src, size_t length, size_t* written) {
  BIO_clear_retry_flags(bio);
  Queue* q = Of(bio);
  *written = 0;
  if (length == 0) return 1;
  if (!Reserve(q, length)) return 0;
  std::memcpy(q->data + q->tail, src, length);
  q->tail += length;
  *written = length;
  return 1;
}

int Read(BIO* bio, char* dst, size_t length, size_t* read) {
  BIO_clear_retry_flags(bio);
  Queue* q = Of(bio);
  *read = 0;
  size_t queued = q->tail - q->head;
  if (queued == 0) {
    BIO_set_retry_read(bio);  // more to come, not end of file
    return 0;
  }
  size_t n = std::min(length, queued);
  std::memcpy(dst, q->data + q->head, n);
  q->head += n;
  if (q->head == q->tail) Rewind(q);
  *read = n;
  return 1;
}

long Ctrl(BIO* bio, int cmd, long num, void*) {
  Queue* q = Of(bio);
  switch (cmd) {
    case BIO_CTRL_PENDING: return static_cast<long>(q->tail - q->head);
    case BIO_CTRL_WPENDING: return 0;  // nothing held back from the queue
    case BIO_CTRL_RESET:
      Rewind(q);
      return 1;
    case BIO_CTRL_EOF: return 0;
    case BIO_CTRL_FLUSH: return 1;  // OpenSSL flushes after each flight; the queue is the destination
    case BIO_CTRL_GET_CLOSE: return BIO_get_shutdown(bio);
    case BIO_CTRL_SET_CLOSE:
      BIO_set_shutdown(bio, static_cast<int>(num));
      return 1;
    default: return 0;  // unknown controls (kTLS, DGRAM, ...): not supported
  }
}

int Create(BIO* bio) {
  Queue* q = new (std::nothrow) Queue();
  if (q == nullptr) return 0;
  BIO_set_data(bio, q);
  BIO_set_init(bio, 1);
  return 1;
}

int Destroy(BIO* bio) {
  Queue* q = Of(bio);
  if (q != nullptr) {
    std::free(q->data);
    delete q;
    BIO_set_data(bio, nullptr);
  }
  return 1;
}

// The method table is made once per process and lives as long as it (every
// loop thread's connections share it).
BIO_METHOD* Method() {
  static BIO_METHOD* method = nullptr;
  static std::once_flag once;
  std::call_once(once, [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "coio queue");
    if (m == nullptr) return;
    if (BIO_meth_set_write_ex(m, Write) != 1 || BIO_meth_set_read_ex(m, Read) != 1 ||
        BIO_meth_set_ctrl(m, Ctrl) != 1 || BIO_meth_set_create(m, Create) != 1 ||
        BIO_meth_set_destroy(m, Destroy) != 1) {
      BIO_meth_free(m);
      return;
    }
    method = m;
  });
  return method;
}

}  // namespace

BIO* NewQueueBio() {
  BIO_METHOD* m = Method();
  return m == nullptr ? nullptr : BIO_new(m);
}

const char* QueueBioData(BIO* bio, size_t* length) {
  Queue* q = Of(bio);
  *length = q->tail - q->head;
  return q->data + q->head;
}

void QueueBioClear(BIO* bio) { Rewind(Of(bio)); }

}  // namespace coio
