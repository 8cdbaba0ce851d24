// Functions with frame pointers and known names for the stack tests: the
// kernel walks user stacks by frame pointer only (stack_probe.cpp is built
// with -fno-omit-frame-pointer).
#pragma once

extern "C" {
// openat(path) through a frame of its own and syscall(2), whose wrapper
// leaves the frame pointer alone (open(2)'s uses it as a register). Returns
// the fd or -1.
long podguard_stack_probe(const char* path);
}
