#!/bin/sh
# upload.sh - bb-upload end to end against bb-emu (which verifies every
# signature, payload hash, checksum and Content-MD5): single PUT, parallel
# multipart, shard lines in and out, skip on re-run (and no skip for a
# changed file), the checksum headers of every request (from --trace),
# standard input streams, errors that stop one file and not the others,
# fault injection (throttling, 500s, connections dropped mid-body), resume
# after kill -9 (only the missing parts sent, no upload left in
# ListMultipartUploads), resume of an upload made without checksums,
# abort on SIGTERM. Every upload is read back and compared with the local
# bytes.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/upload-lib.sh"

upload_emu_start

# the uploads in progress of a bucket, one key a line
uploads() {
	s3 -H "x-amz-content-sha256: $EMPTY" "$EMU_URL/$1?uploads=" |
		sed -n 's/<Key>\([^<]*\)<\/Key>/\n@\1\n/gp' | sed -n 's/^@//p'
}
# flip (complement) the byte at offset $2 of file $1: always a change
flip() { python3 -c 'import sys
f=open(sys.argv[1],"r+b"); o=int(sys.argv[2]); f.seek(o); b=f.read(1)[0]
f.seek(o); f.write(bytes([b ^ 0xff]))' "$1" "$2"; }

mkbucket bkt1 && mkbucket bkt2 || test_skip_all "cannot create buckets"
cd "$TEST_DIR" || exit 1
MP="--part-size 5MiB --multipart-threshold 6MiB"
head -c 12582912 /dev/urandom >big.bin
head -c 700000 /dev/urandom >mid.bin
printf 'hello\n' >a.txt
: >empty.txt
mkdir -p shards
for i in 1 2 3 4 5; do head -c $((i * 1000 + 7)) /dev/urandom >shards/s$i.jsonl; done

test_expect_success 'files: one PUT each, multipart for the large one, bytes read back' '
	bb-upload -t s3://bkt1/in/ $MP a.txt empty.txt mid.bin big.bin >out 2>err &&
	test $(wc -l <out) -eq 4 &&
	for f in a.txt empty.txt mid.bin big.bin; do
		get s3://bkt1/in/$f >got && cmp $f got || return 1
	done &&
	grep "\"shard\":\"big.bin\",\"bytes\":12582912,\"s3_uri\":\"s3://bkt1/in/big.bin\"" out &&
	s3_etag big.bin 5242880 >want && grep "\"shard\":\"big.bin\"" out | field etag >got &&
	test_cmp want got &&
	grep "\"shard\":\"a.txt\"" out | field etag >got &&
	s3_etag a.txt >want && test_cmp want got &&
	grep -q "4 files, .* 0 skipped, 0 failed" err
'

test_expect_success 're-run: identical objects are skipped, nothing sent' '
	bb-upload -t s3://bkt1/in/ $MP a.txt empty.txt mid.bin big.bin >out 2>err &&
	field skipped <out >got && printf "True\nTrue\nTrue\nTrue\n" >want && test_cmp want got &&
	field uploaded_bytes <out | sort -u >got && echo 0 >want && test_cmp want got
'

# (The file is changed by complementing one byte: writing a fixed byte,
# as this test once did, left the file as it was whenever the random byte
# there was already that one, once in 256 runs, and the skip was right.)
test_expect_success 'a changed file of the same size is sent again (ETag and checksum)' '
	cp big.bin big2.bin && cp mid.bin mid2.bin &&
	bb-upload -t s3://bkt1/in/ $MP big2.bin mid2.bin >/dev/null 2>&1 &&
	flip big2.bin 6000000 && flip mid2.bin 699999 &&
	! cmp -s big.bin big2.bin && ! cmp -s mid.bin mid2.bin &&
	bb-upload -t s3://bkt1/in/ $MP big2.bin mid2.bin >out 2>err &&
	field skipped <out >got && printf "None\nNone\n" >want && test_cmp want got &&
	get s3://bkt1/in/big2.bin >got && cmp big2.bin got &&
	get s3://bkt1/in/mid2.bin >got && cmp mid2.bin got &&
	bb-upload -t s3://bkt1/in/ $MP big2.bin mid2.bin >out 2>err &&
	field skipped <out >got && printf "True\nTrue\n" >want && test_cmp want got &&
	bb-upload -t s3://bkt1/in/ --force a.txt >out 2>err &&
	field uploaded_bytes <out >got && echo 6 >want && test_cmp want got
'

test_expect_success 'every PUT and part: x-amz-checksum-sha256 signed, and over HTTP the payload too, MD5 if asked' '
	bb-upload -t s3://bkt1/ck/ $MP --force --trace tr1 a.txt big.bin >out 2>err &&
	trace_puts tr1 >puts && test $(wc -l <puts) -eq 4 &&
	ckcheck tr1 >how && echo echoed >want && test_cmp want how &&
	while read -r n; do
		grep -q "^$n > X-Amz-Content-SHA256: [0-9a-f]\{64\}" tr1 || return 1
	done <puts && ! grep -q UNSIGNED-PAYLOAD tr1 &&
	bb-upload -t s3://bkt1/none/ $MP --checksum-algorithm none --trace tr4 a.txt big.bin \
		>out 2>err &&
	trace_puts tr4 >puts && test $(wc -l <puts) -eq 4 &&
	! grep -q "> x-amz-checksum-sha256\|> x-amz-checksum-algorithm" tr4 &&
	while read -r n; do
		grep -q "^$n > X-Amz-Content-SHA256: [0-9a-f]\{64\}" tr4 || return 1
	done <puts &&
	get s3://bkt1/none/big.bin >got && cmp big.bin got &&
	bb-upload -t s3://bkt1/none/ $MP --checksum-algorithm none a.txt big.bin >out 2>err &&
	field skipped <out >got && printf "True\nTrue\n" >want && test_cmp want got &&
	test_expect_code 2 bb-upload -t s3://bkt1/x/ --checksum-algorithm crc32 a.txt 2>err &&
	bb-upload -t s3://bkt1/ck/ $MP --force --content-md5 --trace tr2 a.txt big.bin >out 2>err &&
	trace_puts tr2 >puts && test $(wc -l <puts) -eq 4 &&
	while read -r n; do
		grep -qi "^$n > Content-MD5: " tr2 && grep -q "^$n > x-amz-checksum-sha256: " tr2 ||
			return 1
	done <puts &&
	get s3://bkt1/ck/big.bin >got && cmp big.bin got
'

# CRC32C: on request over plain HTTP (auto picks it over TLS, emu-tls.sh);
# the payload is still signed with its SHA-256 here.
test_expect_success '--checksum-algorithm crc32c: x-amz-checksum-crc32c on every PUT, echoed, skip' '
	bb-upload -t s3://bkt1/crc/ $MP --checksum-algorithm crc32c --trace trc a.txt big.bin \
		>out 2>err &&
	trace_puts trc >puts && test $(wc -l <puts) -eq 4 &&
	while read -r n; do
		ck=$(sed -n "s/^$n > x-amz-checksum-crc32c: //p" trc | tr -d "\r") &&
		test -n "$ck" &&
		grep -q "^$n < x-amz-checksum-crc32c: $ck" trc &&
		grep -q "^$n > X-Amz-Content-SHA256: [0-9a-f]\{64\}" trc || return 1
	done <puts &&
	! grep -q "> x-amz-checksum-sha256" trc &&
	grep -q "> x-amz-checksum-algorithm: CRC32C" trc &&
	get s3://bkt1/crc/big.bin >got && cmp big.bin got &&
	python3 -c "import base64,sys,zlib
try:
    import crc32c; f = crc32c.crc32c
except ImportError:
    def f(d, c=0):
        c ^= 0xffffffff
        for b in d:
            c ^= b
            for _ in range(8):
                c = (c >> 1) ^ (0x82f63b78 & -(c & 1))
        return c ^ 0xffffffff
print(base64.b64encode(f(open(sys.argv[1], \"rb\").read()).to_bytes(4, \"big\")).decode())" a.txt >want &&
	n=$(sed -n "s/^\([0-9]*\) > PUT \/bkt1\/crc\/a.txt .*/\1/p" trc) && test -n "$n" &&
	sed -n "s/^$n > x-amz-checksum-crc32c: //p" trc | tr -d "\r" >got1 &&
	test_cmp want got1 &&
	bb-upload -t s3://bkt1/crc/ $MP a.txt big.bin >out 2>err &&
	field skipped <out >got && printf "True\nTrue\n" >want && test_cmp want got &&
	bb-upload -t s3://bkt1/crc/ $MP --checksum-algorithm crc32c a.txt big.bin >out 2>err &&
	field skipped <out >got && test_cmp want got &&
	cp big.bin crcbig.bin && flip crcbig.bin 3000000 &&
	bb-upload -t s3://bkt1/crc/ $MP --checksum-algorithm crc32c -k big.bin crcbig.bin \
		>out 2>err &&
	! grep -q "\"skipped\":true" out &&
	field uploaded_bytes <out >got && echo 12582912 >want && test_cmp want got &&
	get s3://bkt1/crc/big.bin >got && cmp crcbig.bin got
'

test_expect_success 'resuming a CRC32C upload keeps CRC32C (ListParts ChecksumAlgorithm)' '
	head -c 15728640 /dev/urandom >rc.bin &&
	emu_faults "{\"slow_ms\":400}" >/dev/null &&
	: >"$TEST_DIR/emu.err" &&
	{ bb-upload -t s3://bkt1/rc/ $MP -j 1 --checksum-algorithm crc32c rc.bin >out1 2>err1 &
		pid=$!; } &&
	i=0 && until test $(grep -c "PUT /bkt1/rc/rc.bin 200 in=5242880" "$TEST_DIR/emu.err") -ge 1; do
		i=$((i + 1)); test $i -lt 200 || break; sleep 0.05
	done &&
	kill -9 $pid; wait $pid;
	emu_faults "{\"slow_ms\":0}" >/dev/null &&
	bb-upload -v -t s3://bkt1/rc/ $MP --trace trr rc.bin >out 2>err &&
	test_grep "multipart, resumed" err &&
	trace_puts trr >puts && test $(wc -l <puts) -ge 1 &&
	while read -r n; do
		grep -q "^$n > x-amz-checksum-crc32c: " trr || return 1
	done <puts &&
	! grep -q "> x-amz-checksum-sha256" trr &&
	get s3://bkt1/rc/rc.bin >got && cmp rc.bin got &&
	test $(emu_uploads) -eq 0
'

test_expect_success 'shard lines: fields kept in order, ours appended, output re-usable' '
	for i in 1 2 3 4 5; do
		printf "{\"index\":%d,\"shard\":\"shards/s%d.jsonl\",\"run\":\"r1\",\"records\":%d}\n" \
			$i $i $((i * 100))
	done >lines &&
	bb-upload -t s3://bkt2/run1 -j 3 <lines >out 2>err &&
	sort out >sorted &&
	python3 -c "
import json,sys
ins=[json.loads(l) for l in open(\"lines\")]
outs={json.loads(l)[\"index\"]:json.loads(l) for l in open(\"out\")}
assert len(outs)==5
for i in ins:
    o=outs[i[\"index\"]]
    assert list(o)[:4]==list(i), o
    assert list(o)[4:]==[\"s3_uri\",\"etag\",\"uploaded_bytes\"], o
    assert o[\"s3_uri\"]==\"s3://bkt2/run1/\"+i[\"shard\"].split(\"/\")[-1], o
" &&
	for i in 1 2 3 4 5; do get s3://bkt2/run1/s$i.jsonl >got && cmp shards/s$i.jsonl got || return 1; done &&
	bb-upload -t s3://bkt2/run1/ <out >out2 2>err &&
	python3 -c "
import json
for l in open(\"out2\"):
    o=json.loads(l); assert o[\"skipped\"] is True and o[\"uploaded_bytes\"]==0, o
    assert list(o)[-4:]==[\"s3_uri\",\"etag\",\"uploaded_bytes\",\"skipped\"], o
"
'

test_expect_success 'a bad line, a missing file: named, the others still go, exit 1' '
	printf "%s\n" "{\"shard\":\"a.txt\"}" "not json" "{\"x\":1}" \
		"{\"shard\":\"nope.jsonl\"}" "{\"shard\":\"mid.bin\"}" >bad &&
	test_expect_code 1 bb-upload -t s3://bkt1/bad/ <bad >out 2>err &&
	test $(wc -l <out) -eq 2 &&
	test_grep "not a JSON object (at <stdin>:2)" err &&
	test_grep "no .shard. file name in the line (at <stdin>:3)" err &&
	test_grep "cannot open .nope.jsonl.: No such file or directory (at <stdin>:4)" err &&
	get s3://bkt1/bad/mid.bin >got && cmp mid.bin got
'

test_expect_success 'no such bucket: one line naming it, exit 1' '
	test_expect_code 1 bb-upload -t s3://no-such-bkt/x/ a.txt big.bin $MP >out 2>err &&
	test_grep "NoSuchBucket" err && test $(grep -c "error:" err) -eq 2 && ! test -s out
'

test_expect_success 'wrong credentials: SignatureDoesNotMatch, exit 1' '
	AWS_SECRET_ACCESS_KEY=wrong test_expect_code 1 bb-upload -t s3://bkt1/x/ --force \
		a.txt >out 2>err &&
	test_grep "SignatureDoesNotMatch\|AccessDenied\|InvalidAccessKeyId" err
'

test_expect_success 'no credentials, no region: a configuration error (exit 2), nothing sent' '
	(unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN &&
	 AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null \
	 AWS_SHARED_CREDENTIALS_FILE=/dev/null &&
	 export AWS_EC2_METADATA_DISABLED AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE &&
	 test_expect_code 2 bb-upload -t s3://bkt1/nocreds/ a.txt >out 2>err) &&
	test_grep "no AWS credentials found" err && ! test -s out &&
	(unset AWS_REGION AWS_DEFAULT_REGION &&
	 AWS_CONFIG_FILE=/dev/null && export AWS_CONFIG_FILE &&
	 test_expect_code 2 bb-upload -t s3://bkt1/noregion/ a.txt >out 2>err) &&
	test_grep "region" err && ! test -s out
'

test_expect_success '--to with a key, --key, usage errors' '
	bb-upload -t s3://bkt1/exact/name.bin mid.bin >out 2>err &&
	get s3://bkt1/exact/name.bin >got && cmp mid.bin got &&
	bb-upload -t s3://bkt1/pre/ -k other.bin mid.bin >out 2>err &&
	get s3://bkt1/pre/other.bin >got && cmp mid.bin got &&
	test_expect_code 2 bb-upload a.txt 2>err && test_grep "is required" err &&
	test_expect_code 2 bb-upload -t s3://bkt1/x/ - 2>err && test_grep "needs a key" err &&
	test_expect_code 2 bb-upload -t s3://bkt1/x/ --part-size 1MiB a.txt 2>err &&
	test_expect_code 2 bb-upload -t s3://bkt1/x/ -k n a.txt mid.bin 2>err
'

test_expect_success 'standard input: a multipart stream and a small one' '
	cat big.bin | bb-upload -t s3://bkt1/stream/big.bin --part-size 5MiB - >out 2>err &&
	get s3://bkt1/stream/big.bin >got && cmp big.bin got &&
	s3_etag big.bin 5242880 >want && field etag <out >got && test_cmp want got &&
	field shard <out >got && echo None >want && test_cmp want got &&
	printf "tiny" | bb-upload -t s3://bkt1/stream/tiny - >out 2>err &&
	get s3://bkt1/stream/tiny >got && printf tiny >want && cmp want got &&
	bb-upload -t s3://bkt1/stream/empty - </dev/null >out 2>err &&
	get s3://bkt1/stream/empty >got && ! test -s got
'

test_expect_success 'faults: throttling, 500s, dropped connections; bytes intact' '
	emu_faults "{\"throttle_rate\":0.15,\"error_rate\":0.15,\"drop_rate\":0.15}" >/dev/null &&
	bb-upload -t s3://bkt1/faults/ $MP --force a.txt mid.bin big.bin shards/s1.jsonl \
		shards/s2.jsonl >out 2>err; rc=$?;
	emu_faults "{\"throttle_rate\":0,\"error_rate\":0,\"drop_rate\":0}" >/dev/null;
	test $rc -eq 0 && test $(wc -l <out) -eq 5 &&
	for f in a.txt mid.bin big.bin s1.jsonl s2.jsonl; do
		src=$f; test -f $f || src=shards/$f
		get s3://bkt1/faults/$f >got && cmp $src got || return 1
	done &&
	test $(grep -c " dropped\| 503 \| 500 " "$TEST_DIR/emu.err") -gt 0 &&
	test $(emu_uploads) -eq 0
'

test_expect_success 'answers lost after the work was done: PUT, part and Complete retried (past the HTTP retries too), bytes right' '
	n0=$(emu_uploads) && : >"$TEST_DIR/emu.err" &&
	emu_lose 1 "POST /bkt1/lost/big.bin?uploadId=" &&
	bb-upload -t s3://bkt1/lost/ $MP big.bin >out 2>err &&
	test $(grep -c "POST /bkt1/lost/big.bin 200 lost " "$TEST_DIR/emu.err") -eq 1 &&
	get s3://bkt1/lost/big.bin >got && cmp big.bin got &&
	s3_etag big.bin 5242880 >want && field etag <out >got && test_cmp want got &&
	emu_lose 11 "POST /bkt1/lost/big6.bin?uploadId=" && cp big.bin big6.bin &&
	bb-upload -t s3://bkt1/lost/ $MP big6.bin >out 2>err &&
	test $(grep -c "POST /bkt1/lost/big6.bin 200 lost " "$TEST_DIR/emu.err") -eq 11 &&
	get s3://bkt1/lost/big6.bin >got && cmp big.bin got &&
	field etag <out >got && test_cmp want got &&
	emu_lose 2 "PUT /bkt1/lost/" &&
	bb-upload -t s3://bkt1/lost/ $MP --force a.txt mid.bin big.bin >out 2>err &&
	test $(grep -c "PUT /bkt1/lost/[a-z.]* 200 lost " "$TEST_DIR/emu.err") -eq 2 &&
	for f in a.txt mid.bin big.bin; do
		get s3://bkt1/lost/$f >got && cmp $f got || return 1
	done &&
	test $(emu_uploads) -eq $n0
'

# Eleven HEAD answers lost: more than the HTTP layer's five tries can take
# (two each at most, with libcurl's own retry of a reused connection); the
# skip check is sent again, as a part would be, rather than failing the
# file.
test_expect_success 'the skip check (HEAD) failing past the HTTP retries is sent again' '
	emu_lose 11 "HEAD /bkt1/headlost/" &&
	bb-upload -t s3://bkt1/headlost/ mid.bin >out 2>err; rc=$?;
	emu_faults "{\"lose_next\":0}" >/dev/null &&
	test $rc -eq 0 && get s3://bkt1/headlost/mid.bin >got && cmp mid.bin got
'

# S3 cannot tell a retried CreateMultipartUpload from a new one: the lost
# answer's upload is left, empty (no parts, nothing stored), and the next
# run of the key takes it over.
test_expect_success 'a lost CreateMultipartUpload answer: an empty upload left, taken over by the next run' '
	n0=$(emu_uploads) && : >"$TEST_DIR/emu.err" &&
	emu_lose 1 "POST /bkt1/lost3/big.bin?uploads" &&
	bb-upload -t s3://bkt1/lost3/ $MP big.bin >out 2>err &&
	test $(grep -c "POST /bkt1/lost3/big.bin 200 lost " "$TEST_DIR/emu.err") -eq 1 &&
	get s3://bkt1/lost3/big.bin >got && cmp big.bin got &&
	test $(emu_uploads) -eq $((n0 + 1)) &&
	cp big.bin big4.bin && flip big4.bin 100 &&
	bb-upload -t s3://bkt1/lost3/ $MP -k big.bin --trace trc3 big4.bin >out 2>err &&
	test_grep -q "GET .*/bkt1/lost3/big.bin?uploadId=" trc3 &&
	! grep -q "POST .*/bkt1/lost3/big.bin?uploads" trc3 &&
	get s3://bkt1/lost3/big.bin >got && cmp big4.bin got &&
	test $(emu_uploads) -eq $n0
'

# CreateMultipartUpload failing past the HTTP retries is sent again like a
# part; each lost answer leaves its empty upload, removed here.
test_expect_success 'CreateMultipartUpload failing past the HTTP retries is sent again' '
	n0=$(emu_uploads) && : >"$TEST_DIR/emu.err" &&
	emu_lose 11 "POST /bkt1/lost5/big.bin?uploads" &&
	bb-upload -t s3://bkt1/lost5/ $MP big.bin >out 2>err; rc=$?;
	emu_faults "{\"lose_next\":0}" >/dev/null &&
	test $rc -eq 0 && get s3://bkt1/lost5/big.bin >got && cmp big.bin got &&
	test $(grep -c "POST /bkt1/lost5/big.bin 200 lost " "$TEST_DIR/emu.err") -eq 11 &&
	test $(emu_uploads) -eq $((n0 + 11)) &&
	{ s3 -H "x-amz-content-sha256: $EMPTY" "$EMU_URL/bkt1?uploads=" && echo; } |
		sed "s/<Upload>/\n/g" |
		sed -n "s/.*<Key>lost5\/big.bin<\/Key>.*<UploadId>\([^<]*\)<.*/\1/p" >ids &&
	test $(wc -l <ids) -eq 11 &&
	while read -r id; do
		s3 -H "x-amz-content-sha256: $EMPTY" -X DELETE \
			"$EMU_URL/bkt1/lost5/big.bin?uploadId=$id" || return 1
	done <ids &&
	test $(emu_uploads) -eq $n0
'

test_expect_success 'killed (-9) mid-upload: the re-run sends only the missing parts' '
	head -c 20971520 /dev/urandom >res.bin &&
	emu_faults "{\"slow_ms\":400}" >/dev/null &&
	: >"$TEST_DIR/emu.err" &&
	{ bb-upload -t s3://bkt1/res/ $MP -j 1 res.bin >out1 2>err1 & pid=$!; } &&
	i=0 && until test $(grep -c "PUT /bkt1/res/res.bin 200 in=5242880" "$TEST_DIR/emu.err") -ge 2; do
		i=$((i + 1)); test $i -lt 200 || break; sleep 0.05
	done &&
	kill -9 $pid; wait $pid;
	emu_faults "{\"slow_ms\":0}" >/dev/null &&
	uploads bkt1 >up && grep -qx "res/res.bin" up &&
	bb-upload -v -t s3://bkt1/res/ $MP res.bin >out 2>err &&
	get s3://bkt1/res/res.bin >got && cmp res.bin got &&
	s3_etag res.bin 5242880 >want && field etag <out >got && test_cmp want got &&
	test_grep "multipart, resumed" err &&
	sent=$(field uploaded_bytes <out) && test "$sent" -le 10485760 &&
	uploads bkt1 >up && ! grep -q "res/res.bin" up && test $(emu_uploads) -eq 0
'

# An upload left by a run that sent no checksums (created without
# x-amz-checksum-algorithm, as by bb-upload before checksums by default):
# its parts are matched by their MD5 ETags, the missing ones are sent with
# a signed payload and no checksum header (S3 refuses a checksum the
# upload was not made with).
test_expect_success 'resuming an upload made without checksums: MD5 match, signed payload' '
	up=$(s3 -H "x-amz-content-sha256: $EMPTY" \
		-X POST -d "" "$EMU_URL/bkt1/old/big.bin?uploads=" |
		sed -n "s/.*<UploadId>\([^<]*\)<.*/\1/p") && test -n "$up" &&
	head -c 5242880 big.bin >p1 &&
	s3 -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -T p1 \
		"$EMU_URL/bkt1/old/big.bin?partNumber=1&uploadId=$up" >/dev/null &&
	bb-upload -v -t s3://bkt1/old/ $MP --trace tr3 big.bin >out 2>err &&
	test_grep "multipart, resumed" err &&
	field uploaded_bytes <out >got && echo $((12582912 - 5242880)) >want && test_cmp want got &&
	trace_puts tr3 >puts && test $(wc -l <puts) -eq 2 &&
	while read -r n; do
		! grep -q "^$n > x-amz-checksum-sha256" tr3 &&
		grep -q "^$n > X-Amz-Content-SHA256: [0-9a-f]\{64\}" tr3 || return 1
	done <puts &&
	get s3://bkt1/old/big.bin >got && cmp big.bin got &&
	s3_etag big.bin 5242880 >want && field etag <out >got && test_cmp want got &&
	uploads bkt1 >ups && ! grep -q "old/big.bin" ups
'

# An upload left with checksums whose part 1 is not the local bytes: it is
# found and taken over, but that part is sent again.
test_expect_success 'resuming: a part whose checksum differs is sent again' '
	up=$(s3 -H "x-amz-content-sha256: $EMPTY" \
		-H "x-amz-checksum-algorithm: SHA256" \
		-X POST -d "" "$EMU_URL/bkt1/other/big.bin?uploads=" |
		sed -n "s/.*<UploadId>\([^<]*\)<.*/\1/p") && test -n "$up" &&
	head -c 5242880 /dev/urandom >p1 &&
	ck=$(python3 -c "import base64,hashlib,sys
print(base64.b64encode(hashlib.sha256(open(sys.argv[1],\"rb\").read()).digest()).decode())" p1) &&
	s3 -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -H "x-amz-checksum-sha256: $ck" -T p1 \
		"$EMU_URL/bkt1/other/big.bin?partNumber=1&uploadId=$up" >/dev/null &&
	uploads bkt1 >ups && grep -qx "other/big.bin" ups &&
	bb-upload -v -t s3://bkt1/other/ $MP big.bin >out 2>err &&
	field uploaded_bytes <out >got && echo 12582912 >want && test_cmp want got &&
	get s3://bkt1/other/big.bin >got && cmp big.bin got &&
	uploads bkt1 >ups && ! grep -q "other/big.bin" ups
'

# term_upload SLOW_MS WHEN ARGS...: bb-upload ARGS (stdout in out, stderr
# in err) with every answer of bb-emu SLOW_MS late, sent SIGTERM as soon as
# the shell test WHEN holds (or after 10 s); passes when it exited 143
# saying "interrupted" and left no more uploads in progress than it found.
term_upload() {
	_slow=$1 _when=$2
	shift 2
	emu_faults "{\"slow_ms\":$_slow}" >/dev/null &&
	n0=$(emu_uploads) &&
	{ bb-upload "$@" >out 2>err & _pid=$!; } &&
	_i=0 && until eval "$_when"; do
		_i=$((_i + 1)); test $_i -lt 500 || break; sleep 0.02
	done &&
	kill -TERM $_pid; wait $_pid; _rc=$?;
	emu_faults "{\"slow_ms\":0}" >/dev/null &&
	test $_rc -eq 143 && test_grep "interrupted" err &&
	test $(emu_uploads) -eq $n0
}

test_expect_success 'SIGTERM: the multipart upload in progress is aborted' '
	: >"$TEST_DIR/emu.err" &&
	term_upload 300 "grep -q \"PUT /bkt1/term/res.bin 200\" \"\$TEST_DIR/emu.err\"" \
		-t s3://bkt1/term/ $MP -j 1 res.bin
'

# CreateMultipartUpload goes on the multi like any transfer: a signal that
# comes while it is in flight (S3 made the upload, the answer is on its way)
# waits for the answer, so that the upload can be aborted.
test_expect_success 'SIGTERM while CreateMultipartUpload is in flight: no upload left' '
	term_upload 1500 "test \$(emu_uploads) -gt \$n0" -t s3://bkt1/term2/ $MP --no-resume res.bin
'

test_expect_success 'a broken pipe ends bb-upload quietly' '
	cat lines lines | bb-upload -t s3://bkt2/pipe/ 2>err | head -n 1 >out &&
	test $(wc -l <out) -eq 1 && ! grep -q "error" err
'

# moto, where it is installed: it stores the composite SHA-256 checksum of
# a multipart upload (without S3's "-<parts>") and echoes no checksum, so
# the re-run skip by checksum and the signed fallback are both used.
MOTO_UP=${BB_SHARED:-$top_srcdir/../shared}/peers/moto-up.sh
MOTO_DOWN=${BB_SHARED:-$top_srcdir/../shared}/peers/moto-down.sh
MOTO=
if test -x "$MOTO_UP" && python3 -c 'import moto.server' 2>/dev/null; then
	MPORT=$(free_port)
	if "$MOTO_UP" "$TEST_DIR/moto" "$MPORT" >/dev/null 2>&1; then
		test_at_exit "'$MOTO_DOWN' '$TEST_DIR/moto' >/dev/null 2>&1"
		MOTO=http://127.0.0.1:$MPORT
		curl -s -f -o /dev/null "$MOTO/moto-api/data.json" &&
			curl -s -f -o /dev/null -X PUT "$MOTO/mbkt" || MOTO=
	fi
fi
if test -n "$MOTO"; then
	test_expect_success 'moto: skip by the stored (composite) checksum, a changed file sent' '
		bb-upload --endpoint-url "$MOTO" -t s3://mbkt/x/ $MP --trace trm big.bin a.txt \
			>out 2>err &&
		ckcheck trm >how && echo signed >want && test_cmp want how &&
		bb-upload --endpoint-url "$MOTO" -t s3://mbkt/x/ $MP big.bin a.txt >out 2>err &&
		field skipped <out >got && printf "True\nTrue\n" >want && test_cmp want got &&
		cp big.bin big3.bin && flip big3.bin 11000000 &&
		bb-upload --endpoint-url "$MOTO" -t s3://mbkt/x/big.bin $MP big3.bin >out 2>err &&
		field skipped <out >got && echo None >want && test_cmp want got &&
		"$TOOL" -e "$MOTO" get s3://mbkt/x/big.bin >got && cmp big3.bin got
	'
else
	test_skip 'moto: skip by the stored (composite) checksum' 'moto is not installed'
fi

test_done
