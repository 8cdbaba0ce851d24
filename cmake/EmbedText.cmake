# embed_text(<input> <output>): writes <output> as a C++ raw string literal
# holding <input>'s bytes, to be #included as an initializer. Re-runs the
# configure step when <input> changes.
function(embed_text input output)
  file(READ ${input} content)
  set(delim "pg_embed")
  string(FIND "${content}" ")${delim}\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "embed_text: ${input} contains the raw string delimiter")
  endif()
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${input})
  file(CONFIGURE OUTPUT ${output} CONTENT "R\"${delim}(@content@)${delim}\"\n" @ONLY)
endfunction()
