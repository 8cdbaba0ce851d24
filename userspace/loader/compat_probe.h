// Whether this kernel runs 32-bit (ia32) syscalls at all: the hooks that see
// them (bpf/compat.bpf.h) run on every syscall of the node, so they are
// loaded only where a 32-bit syscall can be made.
#pragma once

namespace podguard {

// Tried, not read from the config: a child executes `int $0x80` getpid().
// IA32_EMULATION can be built in yet off (ia32_emulation=0, or a hypervisor
// that faults it); the child then dies of SIGSEGV and the answer is false.
// Always false off x86-64.
bool compat_syscalls_possible();

} // namespace podguard
