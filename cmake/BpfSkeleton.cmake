# Compiles a .bpf.c with clang against a vmlinux.h dumped from this kernel's
# BTF and generates its libbpf skeleton with bpftool (libbpf-bootstrap style).
find_program(BPF_CLANG NAMES clang clang-16 clang-15 clang-14 REQUIRED)
find_program(BPFTOOL NAMES bpftool PATHS /usr/sbin /usr/local/sbin REQUIRED)
set(PODGUARD_BTF_FILE /sys/kernel/btf/vmlinux CACHE FILEPATH "BTF to generate vmlinux.h from")

execute_process(COMMAND uname -m OUTPUT_VARIABLE _pg_arch OUTPUT_STRIP_TRAILING_WHITESPACE)
string(REPLACE "x86_64" "x86" _pg_arch "${_pg_arch}")
string(REPLACE "aarch64" "arm64" _pg_arch "${_pg_arch}")
set(PODGUARD_BPF_ARCH ${_pg_arch})

set(PODGUARD_VMLINUX_DIR ${CMAKE_BINARY_DIR}/vmlinux)
add_custom_command(
  OUTPUT ${PODGUARD_VMLINUX_DIR}/vmlinux.h
  COMMAND ${CMAKE_COMMAND} -E make_directory ${PODGUARD_VMLINUX_DIR}
  COMMAND ${BPFTOOL} btf dump file ${PODGUARD_BTF_FILE} format c > ${PODGUARD_VMLINUX_DIR}/vmlinux.h
  COMMENT "Generating vmlinux.h from ${PODGUARD_BTF_FILE}"
  VERBATIM)
add_custom_target(vmlinux_h DEPENDS ${PODGUARD_VMLINUX_DIR}/vmlinux.h)

# bpf_skeleton(<target> <source.bpf.c> DEPENDS <headers...>)
# Creates INTERFACE library <target> whose include dir holds <name>.skel.h.
function(bpf_skeleton target source)
  cmake_parse_arguments(ARG "" "" "DEPENDS" ${ARGN})
  get_filename_component(_name ${source} NAME_WE)
  set(_out ${CMAKE_CURRENT_BINARY_DIR})
  set(_obj ${_out}/${_name}.bpf.o)
  set(_skel ${_out}/${_name}.skel.h)
  add_custom_command(
    OUTPUT ${_obj}
    COMMAND ${BPF_CLANG} -g -O2 -target bpf -D__TARGET_ARCH_${PODGUARD_BPF_ARCH}
            -Wall -Wno-unused-function -Wno-compare-distinct-pointer-types
            -I${PODGUARD_VMLINUX_DIR} -I${CMAKE_CURRENT_SOURCE_DIR}
            -c ${CMAKE_CURRENT_SOURCE_DIR}/${source} -o ${_obj}
    DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${source} ${ARG_DEPENDS}
    COMMENT "BPF ${source}"
    VERBATIM)
  add_custom_command(
    OUTPUT ${_skel}
    COMMAND ${BPFTOOL} gen skeleton ${_obj} name ${_name}_bpf > ${_skel}
    DEPENDS ${_obj}
    COMMENT "Skeleton ${_name}.skel.h"
    VERBATIM)
  add_custom_target(${target}_gen DEPENDS ${_skel})
  # vmlinux.h is produced by a top-level target; order on the target.
  add_dependencies(${target}_gen vmlinux_h)
  add_library(${target} INTERFACE)
  add_dependencies(${target} ${target}_gen)
  target_include_directories(${target} INTERFACE ${_out} ${CMAKE_CURRENT_SOURCE_DIR})
  set_property(TARGET ${target} PROPERTY PODGUARD_BPF_OBJECT ${_obj})
endfunction()
