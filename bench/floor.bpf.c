// SPDX-License-Identifier: GPL-2.0
/* The floor under the agent's syscall cost: programs that do nothing, on the
 * same raw tracepoints the agent's dispatcher uses. What a syscall pays with
 * these attached is the price of the hook itself, which no program on it can
 * go below. */
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

char LICENSE[] SEC("license") = "GPL";
