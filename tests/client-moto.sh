#!/bin/sh
# client-moto.sh - libshared's S3 client (through tests/aws-tool) against
# moto's S3 server: PUT (file and memory, odd keys), HEAD, GET with Range,
# ListObjectsV2 with delimiter and pagination, multipart upload through the
# http multi interface, resume via ListMultipartUploads/ListParts, abort.
# moto checks no signature: this is about behaviour (see client-emu.sh).
. "$top_srcdir/tests/lib.sh"

MOTO_UP=${BB_SHARED:-$top_srcdir/../shared}/peers/moto-up.sh
MOTO_DOWN=${BB_SHARED:-$top_srcdir/../shared}/peers/moto-down.sh
test -x "$MOTO_UP" || test_skip_all "no $MOTO_UP"
python3 -c 'import moto.server' 2>/dev/null || test_skip_all "moto is not installed"
PORT=$(free_port)
"$MOTO_UP" "$TEST_DIR/moto" "$PORT" >/dev/null 2>&1 || test_skip_all "moto did not start"
test_at_exit "'$MOTO_DOWN' '$TEST_DIR/moto' >/dev/null 2>&1"
# moto-up.sh takes any answer on the port for moto's: make sure it is
curl -s -f -o /dev/null "http://127.0.0.1:$PORT/moto-api/data.json" ||
	{ echo "Bail out! port $PORT answers, but not as moto"; exit 1; }

emu_aws_env "http://127.0.0.1:$PORT" AKIDMOTO secretMOTO
TOOL="$top_builddir/tests/aws-tool -e http://127.0.0.1:$PORT"
curl -s -o /dev/null -X PUT "http://127.0.0.1:$PORT/bkt1" || test_skip_all "cannot create a bucket"

# what aws-tool's mpu commands print: the ETag and the number of parts
mpu_want() { _e=$(s3_etag "$1" "$2") && _n=${_e##*-} && echo "$_e ${_n%\"}"; }

printf '{"recordId":"1"}\n{"recordId":"2"}\n' >"$TEST_DIR/s.jsonl"
head -c 11534336 /dev/urandom >"$TEST_DIR/big.bin"

test_expect_success 'put a file: ETag is the MD5' '
	$TOOL put s3://bkt1/in/s.jsonl s.jsonl >out &&
	s3_etag s.jsonl >want && test_cmp want out
'
test_expect_success 'head: size and ETag' '
	$TOOL head s3://bkt1/in/s.jsonl >out &&
	echo "$(wc -c <s.jsonl) $(s3_etag s.jsonl) - -" >want && test_cmp want out
'
test_expect_success 'get returns the bytes' '
	$TOOL get s3://bkt1/in/s.jsonl >out && cmp s.jsonl out
'
test_expect_success 'get a range' '
	$TOOL get s3://bkt1/in/s.jsonl 3 8 >out &&
	printf "ecordId\"" >want && cmp want out
'
test_expect_success 'put from memory with metadata, key needing encoding' '
	$TOOL put-mem "s3://bkt1/odd/a b+c=d&e%41é.txt" "hello world" >out &&
	echo "\"5eb63bbbe01eeed093cb22bb8f5acdc3\"" >want && test_cmp want out &&
	$TOOL head "s3://bkt1/odd/a b+c=d&e%41é.txt" >out &&
	echo "11 \"5eb63bbbe01eeed093cb22bb8f5acdc3\" - aws-tool" >want && test_cmp want out &&
	$TOOL get "s3://bkt1/odd/a b+c=d&e%41é.txt" >out && printf "hello world" >want &&
	cmp want out
'
test_expect_success 'head of a missing key: not found (exit 3)' '
	test_expect_code 3 $TOOL head s3://bkt1/nope 2>err &&
	test_grep "HEAD s3://bkt1/nope" err
'
test_expect_success 'get of a missing key: NoSuchKey' '
	test_expect_code 3 $TOOL get s3://bkt1/nope 2>err && test_grep NoSuchKey err
'
test_expect_success 'missing bucket: not found' '
	test_expect_code 3 $TOOL head s3://no-such-bucket/x 2>err
'
test_expect_success 'list: every key, decoded' '
	$TOOL list s3://bkt1/ >out &&
	printf "%s\n" "in/s.jsonl $(wc -c <s.jsonl)" "odd/a b+c=d&e%41é.txt 11" >want &&
	test_cmp want out
'
test_expect_success 'list with a delimiter: common prefixes' '
	$TOOL list s3://bkt1/ / >out && printf "in/\nodd/\n" >want && test_cmp want out
'
test_expect_success 'list follows continuation tokens (1100 keys)' '
	python3 -c "
import urllib.request
for i in range(1100):
    urllib.request.urlopen(urllib.request.Request(\"http://127.0.0.1:$PORT/bkt1/many/k%04d\" % i, data=b\"x\", method=\"PUT\", headers={\"Content-Type\": \"application/octet-stream\"}))
" && $TOOL list s3://bkt1/many/ >out && test $(wc -l <out) -eq 1100 &&
	test "$(tail -n 1 out)" = "many/k1099 1"
'
test_expect_success 'multipart upload, 3 parts in parallel' '
	$TOOL mpu s3://bkt1/big.bin big.bin 5242880 3 >out &&
	mpu_want big.bin 5242880 >want && test_cmp want out &&
	$TOOL get s3://bkt1/big.bin >got && cmp big.bin got
'
test_expect_success 'multipart upload with SHA-256 part checksums' '
	$TOOL mpu s3://bkt1/big2.bin big.bin 6000000 2 ck >out &&
	mpu_want big.bin 6000000 >want && test_cmp want out
'
test_expect_success 'multipart resume: find the upload and its parts, finish' '
	$TOOL mpu-resume s3://bkt1/big3.bin big.bin 5242880 >out &&
	mpu_want big.bin 5242880 >want && test_cmp want out &&
	$TOOL get s3://bkt1/big3.bin >got && cmp big.bin got
'
test_expect_success 'multipart abort: gone from the list, second abort NoSuchUpload' '
	$TOOL mpu-abort s3://bkt1/ab.bin >out && echo "aborted NoSuchUpload" >want &&
	test_cmp want out
'
test_expect_success 'a part below 5 MiB (not last) fails at complete' '
	test_must_fail $TOOL mpu s3://bkt1/small.bin big.bin 1048576 4 2>err &&
	test_grep EntityTooSmall err
'
test_done
