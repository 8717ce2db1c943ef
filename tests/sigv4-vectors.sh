#!/bin/sh
# sigv4-vectors.sh - every official SigV4 case (aws-c-auth suite, header and
# query; botocore suite; S3 doc examples with chunk and trailer signatures;
# flat case files) through libshared's signer, as TAP.
: "${top_builddir:=$(cd "$(dirname "$0")/.." && pwd)}"
dir=${BB_VECTORS:-}/sigv4
if test -z "${BB_VECTORS:-}" || ! test -d "$dir"; then
	echo "1..0 # SKIP no SigV4 vectors at '$dir' (set BB_VECTORS or configure --with-vectors)"
	exit 0
fi
exec "$top_builddir/tests/sigv4-cases" --tap "$dir"
