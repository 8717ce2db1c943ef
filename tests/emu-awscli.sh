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

test_expect_success 'setup' '
	awse s3api create-bucket --bucket cli-bucket >out &&
	printf "hello world\n" >small &&
	"$PY" -c "import os,sys; sys.stdout.buffer.write(os.urandom(9*1024*1024+12345))" >big
'

# cp_both_ways FILE KEY [PARTSIZE]: aws s3 cp FILE to cli-bucket/KEY and
# back; the bytes compared, and the ETag with that of FILE (uploaded in
# parts of PARTSIZE bytes, or in one PUT without it).
cp_both_ways() {
	awse s3 cp --only-show-errors "$1" "s3://cli-bucket/$2" &&
	awse s3 cp --only-show-errors "s3://cli-bucket/$2" "back.$1" &&
	cmp "$1" "back.$1" &&
	awse s3api head-object --bucket cli-bucket --key "$2" --query ETag --output text >etag &&
	s3_etag "$1" ${3:+"$3"} >want &&
	test_cmp want etag
}

test_expect_success 's3 cp: a small file (one PUT)' '
	cp_both_ways small dir/small.txt
'

test_expect_success 's3 cp: 9 MB file, multipart (8 MiB parts), ranged download' '
	cp_both_ways big dir/big.bin 8388608
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
