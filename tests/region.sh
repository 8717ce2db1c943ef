#!/bin/sh
# region.sh - a bucket in another region than the one the tools sign for:
# bb-emu --region eu-west-1 answers an S3 request signed for us-east-1 as
# S3 does (400, the bucket's region in <Region> and x-amz-bucket-region);
# the AWS CLI follows that answer, which shows its shape is S3's; bb-upload
# names the region and the option that fixes it, uploads nothing and
# exits 1, and succeeds with --region.
. "$top_srcdir/tests/lib.sh"

test_require emu curl
emu_start -v --region eu-west-1 --bucket far || exit 1
cd "$TEST_DIR" || exit 1
printf 'hello\n' >a.txt
head -c 7340032 /dev/urandom >big.bin
SIG="--aws-sigv4 aws:amz:us-east-1:s3 --user $AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY"

test_expect_success 'S3 signed for us-east-1: 400 AuthorizationHeaderMalformed naming eu-west-1' '
	curl -sS -D hdr -o body $SIG -H x-amz-content-sha256:UNSIGNED-PAYLOAD -T a.txt \
		"$EMU_URL/far/x.txt" &&
	test_grep -q "^HTTP/1.1 400" hdr &&
	test_grep -qi "^x-amz-bucket-region: eu-west-1" hdr &&
	test_grep -q "<Code>AuthorizationHeaderMalformed</Code>" body &&
	test_grep -q "<Region>eu-west-1</Region>" body &&
	test_grep -q "region [^ ]*us-east-1[^ ]* is wrong; expecting [^ ]*eu-west-1" body &&
	curl -sS -I -o /dev/null -w "%{http_code}\n" --aws-sigv4 aws:amz:eu-west-1:s3 \
		--user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
		-H x-amz-content-sha256:UNSIGNED-PAYLOAD "$EMU_URL/far/x.txt" >code &&
	echo 404 >want && test_cmp want code
'

test_expect_success 'HEAD signed for us-east-1: 400 with x-amz-bucket-region only' '
	curl -sS -I -D hdr -o /dev/null $SIG -H x-amz-content-sha256:UNSIGNED-PAYLOAD \
		"$EMU_URL/far/x.txt" &&
	test_grep -q "^HTTP/1.1 400" hdr && test_grep -qi "^x-amz-bucket-region: eu-west-1" hdr
'

if command -v aws >/dev/null 2>&1; then
	test_expect_success 'the AWS CLI follows the answer to eu-west-1 and stores the object' '
		AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 aws --endpoint-url "$EMU_URL" \
			s3 cp --only-show-errors a.txt s3://far/aws.txt &&
		test_grep -q "s3 PUT /far/aws.txt 400" "$TEST_DIR/emu.err" &&
		test_grep -q "s3 PUT /far/aws.txt 200" "$TEST_DIR/emu.err"
	'
else
	test_skip 'the AWS CLI follows the answer to eu-west-1' 'aws is not installed'
fi

test_expect_success 'bb-upload in us-east-1: each file names the region and --region, exit 1' '
	test_expect_code 1 bb-upload -t s3://far/up/ a.txt big.bin >out 2>err &&
	test $(grep -c "the bucket is in region .eu-west-1.: use --region eu-west-1" err) -eq 2 &&
	test_grep -q "2 failed" err && test ! -s out &&
	test_expect_code 1 bb-upload --force -t s3://far/up/ --part-size 5MiB \
		--multipart-threshold 5MiB a.txt big.bin >out 2>err &&
	test $(grep -c "AuthorizationHeaderMalformed: the bucket is in region .eu-west-1." err) -eq 2 &&
	! grep -q "s3 [A-Z]* /far/up/[a-z.]* 200" "$TEST_DIR/emu.err" &&
	test "$(find "$EMU_DATA/uploads" -mindepth 1 -maxdepth 1 | wc -l)" -eq 0
'

test_expect_success 'bb-upload --region eu-west-1: both stored, bytes equal' '
	bb-upload --region eu-west-1 -t s3://far/up/ --part-size 5MiB --multipart-threshold 5MiB \
		a.txt big.bin >out 2>err &&
	test $(wc -l <out) -eq 2 &&
	curl -sS -f --aws-sigv4 aws:amz:eu-west-1:s3 \
		--user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
		-H x-amz-content-sha256:UNSIGNED-PAYLOAD "$EMU_URL/far/up/big.bin" -o got &&
	cmp big.bin got
'

test_expect_success 'bb-emu refuses a --region that is not a region name' '
	test_expect_code 2 "$BB_EMU" --region "eu west<1>" --data-dir d --listen 127.0.0.1:0 \
		>o 2>e && test_grep -q "not a region name" e
'

test_done
