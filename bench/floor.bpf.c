// SPDX-License-Identifier: GPL-2.0
/* The floor under the agent's syscall cost: programs that do nothing. What a
 * syscall pays with them attached is the price of the hook itself, which no
 * program on it can go below. Two hooks are measured: the raw tracepoints
 * the agent's dispatcher uses (every syscall runs them), and the narrowest
 * hook this kernel offers for an open (the openat syscall tracepoints only:
 * other syscalls skip them without running a program). */
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

SEC("tp/syscalls/sys_enter_openat")
int floor_openat_enter(void *ctx)
{
	return 0;
}

SEC("tp/syscalls/sys_exit_openat")
int floor_openat_exit(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
