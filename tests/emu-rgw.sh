#!/bin/sh
# emu-rgw.sh - differential S3 tests: the same corpus of requests, good and
# bad (wrong and skewed signatures, corrupted aws-chunked signatures, bad
# digests and checksums, unknown keys and buckets, ranges, listings,
# multipart errors), sent to bb-emu and to Ceph radosgw; status, error code
# and the key headers and fields of each answer compared, one TAP point per
# request. Where radosgw departs from AWS (the KNOWN table in
# fixtures/s3diff.py, each with its AWS reference) bb-emu is held to AWS.
. "$top_srcdir/tests/lib.sh"

test_require emu
test -f "${BB_SHARED:-}/tools/s3raw.py" || test_skip_all "no \$BB_SHARED/tools/s3raw.py"
rgw_available || test_skip_all "$RGW_WHY"
rgw_start || test_skip_all "$RGW_WHY"
emu_start || exit 1

say "radosgw at $RGW_URL, bb-emu at $EMU_URL"
EMU_ACCESS_KEY=$AWS_ACCESS_KEY_ID EMU_SECRET_KEY=$AWS_SECRET_ACCESS_KEY \
	"$PY" "$top_srcdir/tests/fixtures/s3diff.py" "$TEST_DIR/results" 2>"$TEST_DIR/s3diff.err"
rc=$?
if test $rc -ne 0 || ! test -s "$TEST_DIR/results"; then
	test_expect_success 's3diff.py ran' "cat '$TEST_DIR/s3diff.err'; false"
	test_done
	exit
fi

# One TAP point per request; the detail (both answers, the AWS reference
# of a known radosgw departure) is shown when one fails.
n=0
while IFS='	' read -r verdict name detail; do
	n=$((n + 1))
	printf '%s\n' "$detail" | sed 's/\\n/\n/g; s/\\\\/\\/g' >"$TEST_DIR/detail.$n"
	test_expect_success "$name" "cat '$TEST_DIR/detail.$n'; test '$verdict' = ok"
done <"$TEST_DIR/results"

test_expect_success 'the whole corpus ran (62 or more requests)' "test $n -ge 62"

emu_stop
test_expect_success 'bb-emu stopped cleanly, no sanitizer report' '
	test "$EMU_RC" = 0 &&
	! grep -i "sanitizer" "$TEST_DIR/emu.err"
'

test_done
