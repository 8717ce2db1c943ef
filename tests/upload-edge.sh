#!/bin/sh
# upload-edge.sh - bb-upload at its edges, against bb-emu: standard input
# ending exactly on a part boundary (1, 2 and 3 parts, the writer closing
# late) or empty, zero-byte files and their re-run skip, --jobs 1; resuming
# an upload whose checksum kind differs from this run's (none at all, S3
# then refuses part checksums; CRC32C under --checksum-algorithm none, S3
# then wants them; SHA-256 parts under crc32c); SIGTERM while the listings
# or CompleteMultipartUpload are in flight; a store failing every request;
# a complete and its abort both failing (the upload left is named, and a
# re-run resumes it). Every object is read back and compared.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/upload-lib.sh"

upload_emu_start

# mkupload KEY [ALGORITHM]: a multipart upload of bkt/KEY (made with the
# x-amz-checksum-algorithm ALGORITHM, else none); prints its id
mkupload() {
	s3 -H "x-amz-content-sha256: $EMPTY" ${2:+-H "x-amz-checksum-algorithm: $2"} \
		-X POST -d "" "$EMU_URL/bkt/$1?uploads=" |
		sed -n "s/.*<UploadId>\([^<]*\)<.*/\1/p"
}
# parts stored and objects, in bb-emu's data
emu_parts() { find "$EMU_DATA/uploads" -name '*.info' | wc -l; }
nobjects() { find "$EMU_DATA/s3" -name '*.meta' | wc -l; }
b64sha() {
	"$PY" -c 'import base64,hashlib,sys
print(base64.b64encode(hashlib.sha256(open(sys.argv[1],"rb").read()).digest()).decode())' "$1"
}
# the x-amz-checksum-* request headers of the PUTs of a --trace file, "-"
# for a PUT without one, one a line
put_cks() {
	"$PY" - "$1" <<'EOF'
import collections, re, sys
reqs = collections.OrderedDict()
for line in open(sys.argv[1], errors="replace"):
    m = re.match(r"(\d+) > PUT ", line)
    if m:
        reqs[m[1]] = []
    m = re.match(r"(\d+) > (x-amz-checksum-[a-z0-9]+): ", line, re.I)
    if m and m[1] in reqs:
        reqs[m[1]].append(m[2].lower())
for n, v in reqs.items():
    print(" ".join(v) or "-")
EOF
}
# tmo CMD...: CMD, killed after 60 s where timeout(1) exists (a stall
# fails the test instead of hanging it)
tmo() {
	if command -v timeout >/dev/null 2>&1; then timeout 60 "$@"; else "$@"; fi
}
# wait_for COND: until the shell test COND holds (10 s at most)
wait_for() {
	_i=0
	until eval "$1"; do
		_i=$((_i + 1)); test $_i -lt 500 || return 1; sleep 0.02
	done
}

mkbucket bkt || test_skip_all "cannot create a bucket"
cd "$TEST_DIR" || exit 1
MP="--part-size 5MiB --multipart-threshold 6MiB"
head -c 15728640 /dev/urandom >p3.bin
head -c 10485760 p3.bin >p2.bin
head -c 5242880 p3.bin >p1.bin
: >empty

# The writer keeps the pipe open a moment after the last byte: the next
# part's buffer is then made, found empty at EOF and dropped.
test_expect_success 'stdin ending exactly on a part boundary, -j 1: 1 part is one PUT, 2 and 3 multipart' '
	for n in 1 2 3; do
		{ cat p$n.bin; sleep 0.3; } |
			tmo bb-upload -t s3://bkt/st/p$n -j 1 --part-size 5MiB - >out 2>err &&
		get s3://bkt/st/p$n >got && cmp p$n.bin got &&
		if test $n -eq 1; then s3_etag p1.bin; else s3_etag p$n.bin 5242880; fi >want &&
		field etag <out >got && test_cmp want got &&
		field uploaded_bytes <out >got && echo $((n * 5242880)) >want &&
		test_cmp want got || return 1
	done &&
	test $(emu_uploads) -eq 0
'

test_expect_success 'stdin empty, the pipe closed late: a zero-byte object' '
	{ sleep 0.3; } | tmo bb-upload -t s3://bkt/st/empty - >out 2>err &&
	get s3://bkt/st/empty >got && ! test -s got &&
	field etag <out >got && s3_etag empty >want && test_cmp want got
'

test_expect_success 'zero-byte file: crc32c, then skipped by crc32c, sha256 and auto; --force sends it' '
	bb-upload -t s3://bkt/z/ --checksum-algorithm crc32c empty >out 2>err &&
	field skipped <out >got && echo None >want && test_cmp want got &&
	for a in crc32c sha256 auto; do
		bb-upload -t s3://bkt/z/ --checksum-algorithm $a empty >out 2>err &&
		field skipped <out >got && echo True >want && test_cmp want got || return 1
	done &&
	bb-upload -t s3://bkt/z/ --force empty >out 2>err &&
	field skipped <out >got && echo None >want && test_cmp want got &&
	get s3://bkt/z/empty >got && ! test -s got
'

# S3 answers "InvalidRequest: Checksum Type mismatch occurred, expected
# checksum Type: null, actual checksum Type: sha256" to a part with a
# checksum for an upload made without x-amz-checksum-algorithm (and the
# reverse): the parts of a resumed upload go as it was made. (bb-emu does
# not refuse them, so the requests are checked in the trace.)
test_expect_success 'resuming an upload made without a checksum algorithm, no part yet: no part checksums' '
	up=$(mkupload n1/p3.bin) && test -n "$up" &&
	bb-upload -t s3://bkt/n1/ $MP --trace tr1 p3.bin >out 2>err &&
	grep -q "uploadId=$up" tr1 &&
	put_cks tr1 >got && printf "%s\n" - - - >want && test_cmp want got &&
	test $(grep -c "> X-Amz-Content-SHA256: [0-9a-f]\{64\}" tr1) -ge 3 &&
	get s3://bkt/n1/p3.bin >got && cmp p3.bin got && test $(emu_uploads) -eq 0
'

test_expect_success 'resuming a CRC32C upload under --checksum-algorithm none: its parts carry CRC32C' '
	up=$(mkupload n2/p3.bin CRC32C) && test -n "$up" &&
	bb-upload -t s3://bkt/n2/ $MP --checksum-algorithm none --trace tr2 p3.bin >out 2>err &&
	grep -q "uploadId=$up" tr2 &&
	put_cks tr2 >got && printf "%s\n" x-amz-checksum-crc32c x-amz-checksum-crc32c \
		x-amz-checksum-crc32c >want && test_cmp want got &&
	s3 -I -H "x-amz-content-sha256: $EMPTY" -H "x-amz-checksum-mode: ENABLED" \
		"$EMU_URL/bkt/n2/p3.bin" >head && grep -qi "^x-amz-checksum-crc32c: .*-3" head &&
	get s3://bkt/n2/p3.bin >got && cmp p3.bin got && test $(emu_uploads) -eq 0
'

test_expect_success 'resuming a SHA-256 upload with a crc32c run: part 1 kept, the others go with SHA-256' '
	up=$(mkupload n3/p3.bin SHA256) && test -n "$up" &&
	s3 -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -H "x-amz-checksum-sha256: $(b64sha p1.bin)" \
		-T p1.bin "$EMU_URL/bkt/n3/p3.bin?partNumber=1&uploadId=$up" >/dev/null &&
	bb-upload -v -t s3://bkt/n3/ $MP --checksum-algorithm crc32c --trace tr3 p3.bin \
		>out 2>err &&
	test_grep "multipart, resumed" err &&
	field uploaded_bytes <out >got && echo 10485760 >want && test_cmp want got &&
	put_cks tr3 >got && printf "%s\n" x-amz-checksum-sha256 x-amz-checksum-sha256 >want &&
	test_cmp want got &&
	get s3://bkt/n3/p3.bin >got && cmp p3.bin got && test $(emu_uploads) -eq 0 &&
	bb-upload -t s3://bkt/n3/ $MP --checksum-algorithm crc32c p3.bin >out 2>err &&
	field skipped <out >got && echo True >want && test_cmp want got
'

# An earlier run (5 MiB parts) whose part 1 never made it, only part 2: its
# part size is read from part 2, so part 2 is kept and the object matches
# the bb-part-size it was made with (a re-run with other sizes skips it).
test_expect_success 'resuming an upload without its part 1: the part size from part 2' '
	up=$(s3 -H "x-amz-content-sha256: $EMPTY" -H "x-amz-checksum-algorithm: SHA256" \
		-H "x-amz-meta-bb-part-size: 5242880" -X POST -d "" \
		"$EMU_URL/bkt/n4/p3.bin?uploads=" | sed -n "s/.*<UploadId>\([^<]*\)<.*/\1/p") &&
	test -n "$up" &&
	tail -c +5242881 p3.bin | head -c 5242880 >part2 &&
	s3 -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -H "x-amz-checksum-sha256: $(b64sha part2)" \
		-T part2 "$EMU_URL/bkt/n4/p3.bin?partNumber=2&uploadId=$up" >/dev/null &&
	bb-upload -v -t s3://bkt/n4/ --part-size 6MiB --multipart-threshold 6MiB p3.bin \
		>out 2>err &&
	test_grep "multipart, resumed" err &&
	field uploaded_bytes <out >got && echo 10485760 >want && test_cmp want got &&
	get s3://bkt/n4/p3.bin >got && cmp p3.bin got && test $(emu_uploads) -eq 0 &&
	s3_etag p3.bin 5242880 >want && field etag <out >got && test_cmp want got &&
	bb-upload -t s3://bkt/n4/ --part-size 6MiB --multipart-threshold 6MiB p3.bin >out 2>err &&
	field skipped <out >got && echo True >want && test_cmp want got
'

# term_at SLOW_MS WHEN ARGS...: bb-upload ARGS with every answer SLOW_MS
# late, SIGTERM once WHEN holds; rc in RC, stdout in out, stderr in err
term_at() {
	_slow=$1 _when=$2
	shift 2
	: >"$TEST_DIR/emu.err"
	emu_faults "{\"slow_ms\":$_slow}" >/dev/null &&
	{ bb-upload "$@" >out 2>err & _pid=$!; } &&
	wait_for "$_when"
	kill -TERM $_pid; wait $_pid; RC=$?
	emu_faults "{\"slow_ms\":0}" >/dev/null
}

test_expect_success 'SIGTERM while ListMultipartUploads is in flight: exit 143, nothing made' '
	n0=$(emu_uploads) && o0=$(nobjects) &&
	term_at 600 "grep -q \"HEAD /bkt/tl/p3.bin 404\" \"\$TEST_DIR/emu.err\"" \
		-t s3://bkt/tl/ $MP p3.bin &&
	test $RC -eq 143 && test_grep "interrupted" err && ! test -s out &&
	test $(emu_uploads) -eq $n0 && test $(nobjects) -eq $o0
'

# An upload found but not yet taken over is not this run'"'"'s: left as it is.
test_expect_success 'SIGTERM while ListParts is in flight: the upload found is kept, a re-run resumes it' '
	up=$(mkupload tp/p3.bin SHA256) && test -n "$up" &&
	s3 -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -H "x-amz-checksum-sha256: $(b64sha p1.bin)" \
		-T p1.bin "$EMU_URL/bkt/tp/p3.bin?partNumber=1&uploadId=$up" >/dev/null &&
	n0=$(emu_uploads) &&
	term_at 600 "grep -q \"GET /bkt/ 200\" \"\$TEST_DIR/emu.err\"" -t s3://bkt/tp/ $MP p3.bin &&
	test $RC -eq 143 && test $(emu_uploads) -eq $n0 &&
	test -d "$EMU_DATA/uploads/$up" &&
	bb-upload -v -t s3://bkt/tp/ $MP p3.bin >out 2>err &&
	test_grep "multipart, resumed" err &&
	field uploaded_bytes <out >got && echo 10485760 >want && test_cmp want got &&
	get s3://bkt/tp/p3.bin >got && cmp p3.bin got && test $(emu_uploads) -eq $((n0 - 1))
'

# S3 made the object before its answer came: the signal waits for it, the
# object is reported (its line written), and there is nothing to abort.
test_expect_success 'SIGTERM while CompleteMultipartUpload is in flight: the object is reported' '
	n0=$(emu_uploads) && o0=$(nobjects) &&
	term_at 600 "test \$(nobjects) -gt $o0" -t s3://bkt/tc/ $MP -j 3 p3.bin &&
	test $RC -eq 143 && test_grep "interrupted" err &&
	get s3://bkt/tc/p3.bin >got && cmp p3.bin got &&
	s3_etag p3.bin 5242880 >want && field etag <out >got && test_cmp want got &&
	test $(emu_uploads) -eq $n0
'

test_expect_success 'a store failing every request: each file fails, in seconds, nothing left' '
	n0=$(emu_uploads) && o0=$(nobjects) &&
	emu_faults "{\"error_rate\":1}" >/dev/null &&
	t0=$(date +%s) &&
	{ cat p2.bin | tmo bb-upload -t s3://bkt/all/ $MP -k stream.bin - >out1 2>err1; rc1=$?; } &&
	{ tmo bb-upload -t s3://bkt/all/ $MP -j 1 p3.bin p1.bin empty >out 2>err; rc=$?; } &&
	t1=$(date +%s) &&
	emu_faults "{\"error_rate\":0}" >/dev/null &&
	test $rc1 -eq 1 && test $rc -eq 1 && ! test -s out && ! test -s out1 &&
	test $(grep -c "error: .*InternalError\|error: .*500" err) -eq 3 &&
	test $((t1 - t0)) -lt 30 &&
	test $(emu_uploads) -eq $n0 && test $(nobjects) -eq $o0
'

# The store fails from the moment the last part is in (its answer is then
# on the way): CompleteMultipartUpload fails, and so does the abort.
test_expect_success 'complete and abort both failing: the upload left is named; a re-run resumes it' '
	n0=$(emu_uploads) && p0=$(emu_parts) &&
	emu_faults "{\"slow_ms\":400}" >/dev/null &&
	{ bb-upload -t s3://bkt/left/ $MP -j 1 p3.bin >out 2>err & pid=$!; } &&
	wait_for "test \$(emu_parts) -ge $((p0 + 3))";
	emu_faults "{\"slow_ms\":0,\"error_rate\":1}" >/dev/null;
	wait $pid; rc=$?;
	emu_faults "{\"error_rate\":0}" >/dev/null &&
	test $rc -eq 1 && ! test -s out &&
	test_grep "CompleteMultipartUpload s3://bkt/left/p3.bin" err &&
	test_grep "the multipart upload .* is left in place (AbortMultipartUpload" err &&
	test $(emu_uploads) -eq $((n0 + 1)) &&
	bb-upload -v -t s3://bkt/left/ $MP p3.bin >out 2>err &&
	test_grep "multipart, resumed" err &&
	field uploaded_bytes <out >got && echo 0 >want && test_cmp want got &&
	get s3://bkt/left/p3.bin >got && cmp p3.bin got && test $(emu_uploads) -eq $n0
'

test_done
