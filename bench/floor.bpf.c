// SPDX-License-Identifier: GPL-2.0
/* The floor under the agent's syscall cost: programs that do nothing. What a
 * syscall pays with them attached is the price of the hook itself, which no
 * program on it can go below. floor_tp_enter/exit are attached by the
 * benchmark to the agent's own hooks (the watched syscalls' tracepoints);
 * the raw sys_enter/sys_exit pair is the hook the agent used before, which
 * every syscall runs. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("raw_tp/sys_enter")
int floor_sys_enter(void *ctx)
{
	return 0;
}

SEC("raw_tp/sys_exit")
int floor_sys_exit(void *ctx)
{
	return 0;
}

/* No section target: attached to each of the agent's syscall tracepoints. */
SEC("tp")
int floor_tp_enter(void *ctx)
{
	return 0;
}

SEC("tp")
int floor_tp_exit(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
