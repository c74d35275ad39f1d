// The parts of the io_uring ABI newer than the oldest <linux/io_uring.h> we
// build against: the values are fixed by the kernel, so defining them here
// lets an older header build a ring that asks for them (an older kernel
// then refuses them with EINVAL, and uring.cc tries the next setup).
#pragma once

#include <linux/io_uring.h>

#include <cstdint>

#ifndef IORING_SETUP_SUBMIT_ALL
#define IORING_SETUP_SUBMIT_ALL (1U << 7)
#endif
#ifndef IORING_SETUP_COOP_TASKRUN
#define IORING_SETUP_COOP_TASKRUN (1U << 8)
#endif
#ifndef IORING_SETUP_SINGLE_ISSUER
#define IORING_SETUP_SINGLE_ISSUER (1U << 12)
#endif
#ifndef IORING_SETUP_DEFER_TASKRUN
#define IORING_SETUP_DEFER_TASKRUN (1U << 13)
#endif
#ifndef IORING_FEAT_EXT_ARG
#define IORING_FEAT_EXT_ARG (1U << 8)
#endif
#ifndef IORING_FEAT_CQE_SKIP
#define IORING_FEAT_CQE_SKIP (1U << 11)
#endif
#ifndef IORING_ENTER_EXT_ARG
#define IORING_ENTER_EXT_ARG (1U << 3)
#endif
#ifndef IORING_POLL_ADD_MULTI
#define IORING_POLL_ADD_MULTI (1U << 0)
#endif
#ifndef IORING_CQE_F_MORE
#define IORING_CQE_F_MORE (1U << 1)
#endif
#ifndef IORING_ACCEPT_MULTISHOT
#define IORING_ACCEPT_MULTISHOT (1U << 0)
#endif
#ifndef IORING_ASYNC_CANCEL_ALL
#define IORING_ASYNC_CANCEL_ALL (1U << 0)
#endif
#ifndef IORING_ASYNC_CANCEL_ANY
#define IORING_ASYNC_CANCEL_ANY (1U << 2)
#endif
#ifndef IOSQE_CQE_SKIP_SUCCESS
#define IOSQE_CQE_SKIP_SUCCESS (1U << 6)
#endif
#ifndef IOSQE_BUFFER_SELECT
#define IOSQE_BUFFER_SELECT (1U << 5)
#endif
#ifndef IORING_RECV_MULTISHOT
#define IORING_RECV_MULTISHOT (1U << 1)
#endif
#ifndef IORING_CQE_F_BUFFER
#define IORING_CQE_F_BUFFER (1U << 0)
#endif

namespace coio {

// struct io_uring_getevents_arg (IORING_ENTER_EXT_ARG): the wait's signal
// mask and timeout. Our own copy: older headers lack it.
struct UringGeteventsArg {
  uint64_t sigmask;
  uint32_t sigmask_sz;
  uint32_t min_wait_usec;  // "pad" before Linux 6.12; 0 either way
  uint64_t ts;             // a struct __kernel_timespec*, or 0: no timeout
};

// Provided-buffer rings (5.19). The header has these as enumerators, which
// #ifndef cannot test: our own constants, fixed by the kernel ABI.
constexpr unsigned kRegisterPbufRing = 22;    // IORING_REGISTER_PBUF_RING
constexpr unsigned kUnregisterPbufRing = 23;  // IORING_UNREGISTER_PBUF_RING
constexpr unsigned kCqeBufferShift = 16;      // IORING_CQE_BUFFER_SHIFT: the buffer id in cqe->flags

// struct io_uring_buf: one entry of a provided-buffer ring. The ring's tail
// (a u16) overlays the resv field of entry 0, at byte offset 14.
struct UringBuf {
  uint64_t addr;
  uint32_t len;
  uint16_t bid;
  uint16_t resv;
};
static_assert(sizeof(UringBuf) == 16, "struct io_uring_buf is 16 bytes");

// struct io_uring_buf_reg: the argument of IORING_REGISTER_PBUF_RING.
struct UringBufReg {
  uint64_t ring_addr;
  uint32_t ring_entries;
  uint16_t bgid;
  uint16_t flags;
  uint64_t resv[3];
};

// IORING_REGISTER_PROBE (5.6): which opcodes this kernel supports. Our own
// copies of struct io_uring_probe and io_uring_probe_op (fixed by the ABI).
constexpr unsigned kRegisterProbe = 8;     // IORING_REGISTER_PROBE
constexpr uint16_t kProbeOpSupported = 1;  // IO_URING_OP_SUPPORTED
struct UringProbeOp {
  uint8_t op;
  uint8_t resv;
  uint16_t flags;
  uint32_t resv2;
};
struct UringProbeOps {
  uint8_t last_op;
  uint8_t ops_len;
  uint16_t resv;
  uint32_t resv2[3];
  UringProbeOp ops[256];
};
static_assert(sizeof(UringProbeOp) == 8, "struct io_uring_probe_op is 8 bytes");

// struct __kernel_timespec: 64-bit seconds on every architecture.
struct UringTimespec {
  int64_t tv_sec;
  long long tv_nsec;
};

}  // namespace coio
