# Debian's xsimd 8 exports a target that links "xtl" without finding it; without xtl-dev that becomes a bare -lxtl.
# xsimd only needs xtl for optional xtl::xcomplex support, which zeroth does not use: drop the dangling reference.
if(TARGET xsimd AND NOT TARGET xtl)
  get_target_property(_zeroth_xsimd_libs xsimd INTERFACE_LINK_LIBRARIES)
  if(_zeroth_xsimd_libs)
    list(REMOVE_ITEM _zeroth_xsimd_libs xtl)
    set_property(TARGET xsimd PROPERTY INTERFACE_LINK_LIBRARIES "${_zeroth_xsimd_libs}")
  endif()
  unset(_zeroth_xsimd_libs)
endif()
