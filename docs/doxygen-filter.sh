#!/bin/sh
# Doxygen INPUT_FILTER for include/bulkhead/*.h: the headers document every
# declaration with a plain /* */ comment right before it (and struct members
# with one after it). Turn those into Doxygen comments on the fly so the
# headers stay in the project's comment style.
#   first comment of the file          -> /** @file
#   /* at the start of a line           -> /**   (section rulers "/* ---- x" stay plain)
#   ; /* or , /* after a member         -> ; /**<
#   <word> in prose ("/proc/<pid>")     -> \<word\>, not an HTML tag
#   #word in a comment ("#include")     -> \#word, not a link request
exec sed \
	-e '1s#^/\*$#/** @file#' \
	-e '1s#^/\* \(.*\)$#/** @file\n * \1#' \
	-e '/^[[:space:]]*\/\* -\{3,\}/b' \
	-e 's#<\([a-z_]*\)>#\\<\1\\>#g' \
	-e '/^ \*/s/#\([a-z]\)/\\#\1/g' \
	-e 's#^\([[:space:]]*\)/\*\([^*]\)#\1/**\2#' \
	-e 's#^\([[:space:]]*\)/\*$#\1/**#' \
	-e 's#\([;,]\)\([[:space:]]*\)/\*\([^*]\)#\1\2/**<\3#' \
	"$1"
