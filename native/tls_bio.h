// The byte queue under each direction of a TLS connection (native/tls.cc).
//
// OpenSSL's own memory BIO (BIO_s_mem) grows its buffer with
// BUF_MEM_grow_clean, which zero-fills every byte before copying the write
// over it: a memset per byte of ciphertext in each direction. Profiled on a
// 100 KiB TLS echo that memset was ~7% of the server's CPU. This BIO is a
// plain FIFO instead: writes append without clearing, reads take from the
// front, and an empty queue rewinds to its start so that steady traffic
// reuses one allocation.
//
// Semantics the engine relies on, as BIO_s_mem with eof_return -1 gives:
// reading an empty queue fails with the retry flag set ("more to come", never
// end of file: the transport, not the BIO, knows when the peer is gone), and
// BIO_ctrl_pending is the number of bytes queued.
#pragma once

#include <openssl/bio.h>

#include <cstddef>

namespace coio {

/** A new empty queue BIO, or nullptr (out of memory). Free with BIO_free, or let SSL_free do it. */
BIO* NewQueueBio();

/** The queued bytes, contiguous, without taking them (QueueBioClear takes them all). */
const char* QueueBioData(BIO* bio, size_t* length);

/** Drop every queued byte. */
void QueueBioClear(BIO* bio);

}  // namespace coio
