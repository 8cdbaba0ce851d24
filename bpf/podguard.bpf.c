// SPDX-License-Identifier: GPL-2.0
/*
 * podguard's kernel side: one object so that every hook shares the ring
 * buffer, the undelivered-event counters and the process cache. Each
 * operation's logic lives in a header named after it; syscalls.bpf.h routes
 * the watched syscalls to them.
 */
#include "common.bpf.h"
#include "enforce.bpf.h"
#include "io_uring.bpf.h"
#include "guard.bpf.h"
#include "lifecycle.bpf.h"
#include "proc_access.bpf.h"
#include "ptrace.bpf.h"
#include "signal.bpf.h"
#include "syscalls.bpf.h"
#include "compat.bpf.h"

char LICENSE[] SEC("license") = "GPL";
