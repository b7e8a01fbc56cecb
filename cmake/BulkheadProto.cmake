# protobuf-c code generation for bulkhead and for the applications built on it.
#
# This file is installed with the library (lib/cmake/bulkhead/) and included
# by bulkheadConfig.cmake, so an application gets the same functions after
# find_package(bulkhead). It must not refer to the bulkhead source tree.
#
#   bh_protobuf_generate(<srcs-var> <hdrs-var> <file.proto>...)
#     Runs protoc-c on each file at build time and returns the generated
#     <name>.pb-c.c sources and <name>.pb-c.h headers. They are written to
#     ${CMAKE_CURRENT_BINARY_DIR}/proto, which the caller adds to its include
#     path. Each file's own directory and BULKHEAD_PROTO_DIR (the directory of
#     bulkhead.proto) are on protoc-c's import path, so an application's
#     .proto may `import "bulkhead.proto";` and reuse the framework messages.
#
#   bh_target_protobuf(<target> <file.proto>...)
#     The same, and adds the sources to <target> and the output directory to
#     its include path: the one-liner most applications want.
#
# Registering the generated messages is done in C, one line per type:
#   bh_registry_add(reg, MY_TYPE_ID, &my__message__descriptor, max_fds);
#
# protoc-c is looked up here but only required when a function is called, so
# that applications without .proto files of their own do not need it.

if(NOT PROTOC_C)
  find_program(PROTOC_C protoc-c)
endif()

# Where bulkhead.proto lives: the installed share/bulkhead/proto (set by
# bulkheadConfig.cmake before it includes this file) or, inside the bulkhead
# build itself, the proto/ directory next to this one.
if(NOT DEFINED BULKHEAD_PROTO_DIR AND EXISTS "${CMAKE_CURRENT_LIST_DIR}/../proto/bulkhead.proto")
  get_filename_component(BULKHEAD_PROTO_DIR "${CMAKE_CURRENT_LIST_DIR}/../proto" ABSOLUTE)
endif()

function(bh_protobuf_generate srcs_var hdrs_var)
  if(NOT PROTOC_C)
    message(FATAL_ERROR "bulkhead: protoc-c not found; install it with: apt-get install -y protobuf-c-compiler")
  endif()
  if(NOT ARGN)
    message(FATAL_ERROR "bh_protobuf_generate: no .proto file given")
  endif()
  set(out_dir ${CMAKE_CURRENT_BINARY_DIR}/proto)
  file(MAKE_DIRECTORY ${out_dir})
  set(srcs)
  set(hdrs)
  foreach(proto ${ARGN})
    get_filename_component(abs ${proto} ABSOLUTE)
    get_filename_component(dir ${abs} DIRECTORY)
    get_filename_component(name ${abs} NAME_WE)
    if(NOT EXISTS ${abs})
      message(FATAL_ERROR "bh_protobuf_generate: ${abs} does not exist")
    endif()
    set(import_dirs -I ${dir})
    if(BULKHEAD_PROTO_DIR AND NOT dir STREQUAL BULKHEAD_PROTO_DIR)
      list(APPEND import_dirs -I ${BULKHEAD_PROTO_DIR})
    endif()
    set(c ${out_dir}/${name}.pb-c.c)
    set(h ${out_dir}/${name}.pb-c.h)
    add_custom_command(OUTPUT ${c} ${h}
      COMMAND ${PROTOC_C} --c_out=${out_dir} ${import_dirs} ${abs}
      DEPENDS ${abs}
      COMMENT "protoc-c ${name}.proto"
      VERBATIM)
    list(APPEND srcs ${c})
    list(APPEND hdrs ${h})
  endforeach()
  set(${srcs_var} ${srcs} PARENT_SCOPE)
  set(${hdrs_var} ${hdrs} PARENT_SCOPE)
endfunction()

function(bh_target_protobuf target)
  if(NOT TARGET ${target})
    message(FATAL_ERROR "bh_target_protobuf: ${target} is not a target")
  endif()
  bh_protobuf_generate(srcs hdrs ${ARGN})
  target_sources(${target} PRIVATE ${srcs} ${hdrs})
  target_include_directories(${target} PRIVATE ${CMAKE_CURRENT_BINARY_DIR}/proto)
endfunction()
