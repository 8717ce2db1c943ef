#!/bin/sh
# emu-awscli.sh - the AWS CLI against bb-emu: s3 cp up and down, single PUT
# and multipart (above the CLI's 8 MB threshold), s3 ls, s3api calls; ETags
# compared with Python's hashlib.
. "$top_srcdir/tests/lib.sh"

test_require emu aws
emu_start || exit 1

awse() {
	aws --endpoint-url "$EMU_URL" --no-paginate "$@"
}

# The AWS CLI exits 255 on a service error (test_must_fail takes that for a
# crash): this one only wants a failure.
aws_fails() {
	if "$@"; then
		echo "aws_fails: command succeeded: $*" >&2
		return 1
	fi
	return 0
}

# The ETag S3 gives for a file uploaded in CHUNK-byte parts (plain MD5
# when it fits in one PUT).
etag_of() {
	"$PY" - "$1" "$2" <<'PYEOF'
import hashlib, sys
data = open(sys.argv[1], "rb").read()
chunk = int(sys.argv[2])
if len(data) < chunk:
    print('"%s"' % hashlib.md5(data).hexdigest())
else:
    parts = [data[i:i + chunk] for i in range(0, len(data), chunk)]
    d = b"".join(hashlib.md5(p).digest() for p in parts)
    print('"%s-%d"' % (hashlib.md5(d).hexdigest(), len(parts)))
PYEOF
}

test_expect_success 'setup' '
	awse s3api create-bucket --bucket cli-bucket >out &&
	printf "hello world\n" >small &&
	"$PY" -c "import os,sys; sys.stdout.buffer.write(os.urandom(9*1024*1024+12345))" >big
'

test_expect_success 's3 cp: a small file (one PUT)' '
	awse s3 cp --only-show-errors small s3://cli-bucket/dir/small.txt &&
	awse s3 cp --only-show-errors s3://cli-bucket/dir/small.txt back.small &&
	cmp small back.small &&
	awse s3api head-object --bucket cli-bucket --key dir/small.txt --query ETag --output text >etag &&
	etag_of small 8388608 >want &&
	test_cmp want etag
'

test_expect_success 's3 cp: 9 MB file, multipart (8 MiB parts), ranged download' '
	awse s3 cp --only-show-errors big s3://cli-bucket/dir/big.bin &&
	awse s3 cp --only-show-errors s3://cli-bucket/dir/big.bin back.big &&
	cmp big back.big &&
	awse s3api head-object --bucket cli-bucket --key dir/big.bin --query ETag --output text >etag &&
	etag_of big 8388608 >want &&
	test_cmp want etag
'

test_expect_success 's3 ls' '
	awse s3 ls s3://cli-bucket/dir/ >ls &&
	test_grep "small.txt" ls && test_grep "big.bin" ls &&
	awse s3 ls s3://cli-bucket/ >top && test_grep "PRE dir/" top &&
	awse s3 ls >buckets && test_grep "cli-bucket" buckets &&
	awse s3 ls --recursive s3://cli-bucket/ >all && test "$(wc -l <all)" -eq 2
'

test_expect_success 's3api: put-object, get-object with range, list-objects-v2, delete-object' '
	awse s3api put-object --bucket cli-bucket --key api/one --body small --content-type text/plain >put &&
	test_grep "\"ETag\"" put &&
	awse s3api get-object --bucket cli-bucket --key api/one --range bytes=0-4 part >get &&
	printf hello >want && test_cmp want part &&
	test_grep "\"ContentRange\": \"bytes 0-4/12\"" get &&
	awse s3api list-objects-v2 --bucket cli-bucket --prefix api/ --query "Contents[].Key" --output text >keys &&
	echo api/one >want && test_cmp want keys &&
	awse s3api delete-object --bucket cli-bucket --key api/one &&
	aws_fails awse s3api head-object --bucket cli-bucket --key api/one 2>err
'

test_expect_success 's3 sync and rm --recursive' '
	mkdir -p tree/a tree/b && echo 1 >tree/a/x && echo 2 >tree/b/y &&
	awse s3 sync --only-show-errors tree s3://cli-bucket/tree/ &&
	awse s3 ls --recursive s3://cli-bucket/tree/ >l && test "$(wc -l <l)" -eq 2 &&
	awse s3 rm --only-show-errors --recursive s3://cli-bucket/tree/ &&
	awse s3 ls --recursive s3://cli-bucket/tree/ >l2; test ! -s l2
'

test_expect_success 'a wrong secret: SignatureDoesNotMatch' '
	aws_fails env AWS_SECRET_ACCESS_KEY=wrong aws --endpoint-url "$EMU_URL" \
		s3 ls s3://cli-bucket/ 2>err &&
	test_grep SignatureDoesNotMatch err
'

test_done
