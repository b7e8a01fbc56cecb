# bh_protobuf_generate(<srcs-var> <hdrs-var> <file.proto>...)
#
# Runs protoc-c on each .proto file and returns the generated .pb-c.c sources
# and .pb-c.h headers. Outputs go to ${CMAKE_CURRENT_BINARY_DIR}/proto, which
# callers add to their include path. Installed with the library, so that
# applications turn their own message definitions into C the same way.
if(NOT PROTOC_C)
  find_program(PROTOC_C protoc-c)
  if(NOT PROTOC_C)
    message(FATAL_ERROR "protoc-c not found; install it with: apt-get install -y protobuf-c-compiler")
  endif()
endif()

function(bh_protobuf_generate srcs_var hdrs_var)
  set(out_dir ${CMAKE_CURRENT_BINARY_DIR}/proto)
  file(MAKE_DIRECTORY ${out_dir})
  set(srcs)
  set(hdrs)
  foreach(proto ${ARGN})
    get_filename_component(abs ${proto} ABSOLUTE)
    get_filename_component(dir ${abs} DIRECTORY)
    get_filename_component(name ${abs} NAME_WE)
    set(c ${out_dir}/${name}.pb-c.c)
    set(h ${out_dir}/${name}.pb-c.h)
    add_custom_command(OUTPUT ${c} ${h}
      COMMAND ${PROTOC_C} --c_out=${out_dir} -I ${dir} ${abs}
      DEPENDS ${abs}
      COMMENT "protoc-c ${name}.proto"
      VERBATIM)
    list(APPEND srcs ${c})
    list(APPEND hdrs ${h})
  endforeach()
  set(${srcs_var} ${srcs} PARENT_SCOPE)
  set(${hdrs_var} ${hdrs} PARENT_SCOPE)
endfunction()
