#!/bin/sh
# client-emu.sh - libshared's S3 and Bedrock clients (through tests/aws-tool)
# against a real bb-emu process, which verifies every SigV4 signature: S3
# put/head/get/list/multipart, then the four Bedrock batch operations
# (idempotent create, get by ARN and id, paginated list with filters, stop,
# the error codes callers act on) with SigV4 and with a bearer token.
# (The status is left out of comparisons: the job moves on meanwhile.)
. "$top_srcdir/tests/lib.sh"

test_require emu curl
AK=AKIDCLIENTEMU SK=secretCLIENTEMU
emu_start --access-key "$AK" --secret-key "$SK" --bearer-token bedrock-api-key-TEST \
	--time-scale 100 --min-records 1 || test_skip_all "bb-emu did not start"
emu_aws_env "$EMU_URL" "$AK" "$SK"
TOOL="$top_builddir/tests/aws-tool -e $EMU_URL"
curl -s -o /dev/null --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AK:$SK" \
	-H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
	-H "Content-Type: application/octet-stream" --data-binary '' -X PUT \
	"$EMU_URL/bkt1" || test_skip_all "cannot create a bucket"

# what aws-tool's mpu commands print: the ETag and the number of parts
mpu_want() { _e=$(s3_etag "$1" "$2") && _n=${_e##*-} && echo "$_e ${_n%\"}"; }

printf '{"recordId":"1","modelInput":{"anthropic_version":"bedrock-2023-05-31","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}}\n' >"$TEST_DIR/in.jsonl"
head -c 11534336 /dev/urandom >"$TEST_DIR/big.bin"

test_expect_success 'S3: put a file (signed payload, MD5 and SHA-256 checked)' '
	$TOOL put s3://bkt1/in/in.jsonl in.jsonl >out &&
	s3_etag in.jsonl >want && test_cmp want out
'
test_expect_success 'S3: put from memory, key needing encoding, metadata' '
	$TOOL put-mem "s3://bkt1/odd/a b+c=d&e%41é.txt" "hello world" >out &&
	echo "\"5eb63bbbe01eeed093cb22bb8f5acdc3\"" >want && test_cmp want out &&
	$TOOL head "s3://bkt1/odd/a b+c=d&e%41é.txt" >out &&
	echo "11 \"5eb63bbbe01eeed093cb22bb8f5acdc3\" - aws-tool" >want && test_cmp want out
'
test_expect_success 'S3: get whole and a range' '
	$TOOL get s3://bkt1/in/in.jsonl >out && cmp in.jsonl out &&
	$TOOL get "s3://bkt1/odd/a b+c=d&e%41é.txt" 6 5 >out && printf world >want &&
	cmp want out
'
test_expect_success 'S3: missing key is "not found"' '
	test_expect_code 3 $TOOL head s3://bkt1/nope &&
	test_expect_code 3 $TOOL get s3://bkt1/nope 2>err && test_grep NoSuchKey err
'
test_expect_success 'S3: list, and list with a delimiter' '
	$TOOL list s3://bkt1/ >out &&
	printf "%s\n" "in/in.jsonl $(wc -c <in.jsonl)" "odd/a b+c=d&e%41é.txt 11" >want &&
	test_cmp want out &&
	$TOOL list s3://bkt1/ / >out && printf "in/\nodd/\n" >want && test_cmp want out
'
test_expect_success 'S3: parallel multipart upload (http multi), read back' '
	$TOOL mpu s3://bkt1/big.bin big.bin 5242880 3 >out &&
	mpu_want big.bin 5242880 >want && test_cmp want out &&
	$TOOL get s3://bkt1/big.bin >got && cmp big.bin got
'
test_expect_success 'S3: multipart with SHA-256 part checksums' '
	$TOOL mpu s3://bkt1/big2.bin big.bin 6000000 2 ck >out &&
	mpu_want big.bin 6000000 >want && test_cmp want out
'
test_expect_success 'S3: wrong secret key is refused (SignatureDoesNotMatch)' '
	AWS_SECRET_ACCESS_KEY=wrong test_must_fail $TOOL head s3://bkt1/in/in.jsonl 2>err &&
	AWS_SECRET_ACCESS_KEY=wrong test_must_fail $TOOL get s3://bkt1/in/in.jsonl 2>err &&
	test_grep SignatureDoesNotMatch err
'
test_expect_success 'S3: multipart resume via ListMultipartUploads + ListParts' '
	$TOOL mpu-resume s3://bkt1/big3.bin big.bin 5242880 >out &&
	mpu_want big.bin 5242880 >want && test_cmp want out
'
test_expect_success 'S3: multipart abort' '
	$TOOL mpu-abort s3://bkt1/ab.bin >out && echo "aborted NoSuchUpload" >want &&
	test_cmp want out
'
test_expect_success 'S3: ListMultipartUploads lists exactly the key, oldest first' '
	$TOOL mpu-create "s3://bkt1/up/k é+1" >id1 &&
	$TOOL mpu-create "s3://bkt1/up/k é+1.more" >id2 &&
	$TOOL mpu-create "s3://bkt1/up/k é+1" >id3 &&
	$TOOL mpu-list "s3://bkt1/up/k é+1" >out &&
	cut -d" " -f1 out >got && cat id1 id3 >want && test_cmp want got &&
	grep -E " [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$" out
'
# (curl signs the query as written: parameters in canonical order)
test_expect_success 'bb-emu: ListMultipartUploads pages with max-uploads and the markers' '
	S3="curl -s --aws-sigv4 aws:amz:us-east-1:s3 --user $AK:$SK -H x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" &&
	$S3 "$EMU_URL/bkt1?max-uploads=2&prefix=up%2F&uploads=" >p1 &&
	grep "<IsTruncated>true</IsTruncated>" p1 &&
	test $(grep -o "<Upload>" p1 | wc -l) = 2 &&
	grep "<NextUploadIdMarker>$(cat id3)</NextUploadIdMarker>" p1 &&
	$S3 "$EMU_URL/bkt1?key-marker=up%2Fk%20%C3%A9%2B1&max-uploads=2&prefix=up%2F&upload-id-marker=$(cat id3)&uploads=" >p2 &&
	grep "<IsTruncated>false</IsTruncated>" p2 &&
	grep "<UploadId>$(cat id2)</UploadId>" p2 && test $(grep -o "<Upload>" p2 | wc -l) = 1
'

R=arn:aws:iam::123456789012:role/BatchRole
M=anthropic.claude-3-haiku-20240307-v1:0
test_expect_success 'Bedrock: create a job' '
	$TOOL create job1 $R $M s3://bkt1/in/in.jsonl s3://bkt1/out/ tok1 >arn1 &&
	grep -E "^arn:aws:bedrock:us-east-1:[0-9]{12}:model-invocation-job/[a-z0-9]{12}$" arn1
'
test_expect_success 'Bedrock: same clientRequestToken gives the same job' '
	$TOOL create job1again $R $M s3://bkt1/in/in.jsonl s3://bkt1/out/ tok1 >arn1b &&
	test_cmp arn1 arn1b
'
test_expect_success 'Bedrock: get by ARN and by id' '
	A=$(cat arn1) &&
	$TOOL get-job "$A" >by_arn && $TOOL get-job "${A##*/}" >by_id &&
	cut -d" " -f2- by_id >got_id && cut -d" " -f2- by_arn >got &&
	test_cmp got got_id &&
	echo "job1 $M s3://bkt1/in/in.jsonl s3://bkt1/out/ tok1" >want && test_cmp want got
'
test_expect_success 'Bedrock: a duplicate job name is a ValidationException (exit 5)' '
	test_expect_code 5 $TOOL create job1 $R $M s3://bkt1/in/in.jsonl s3://bkt1/out/ 2>err &&
	test_grep ValidationException err
'
test_expect_success 'Bedrock: a bad job name is a ValidationException' '
	test_expect_code 5 $TOOL create "bad name" $R $M s3://bkt1/in/in.jsonl s3://bkt1/out/ 2>err
'
test_expect_success 'Bedrock: unknown job is ResourceNotFoundException (exit 3)' '
	test_expect_code 3 $TOOL get-job abcdefghij12 2>err &&
	test_grep ResourceNotFoundException err
'
test_expect_success 'Bedrock: list follows nextToken (page size 2, 4 jobs)' '
	$TOOL create job2 $R $M s3://bkt1/in/in.jsonl s3://bkt1/out/ >arn2 &&
	$TOOL create job3 $R $M s3://bkt1/in/in.jsonl s3://bkt1/out/ >arn3 &&
	$TOOL create other4 $R $M s3://bkt1/in/in.jsonl s3://bkt1/out/ >arn4 &&
	$TOOL list-jobs >out && cut -d" " -f1 out | sort >got &&
	cat arn1 arn2 arn3 arn4 | sort >want && test_cmp want got
'
test_expect_success 'Bedrock: list with nameContains' '
	$TOOL list-jobs "" job >out && cut -d" " -f1 out | sort >got &&
	cat arn1 arn2 arn3 | sort >want && test_cmp want got
'
test_expect_success 'Bedrock: stop, then stop again is a ConflictException' '
	A=$(cat arn2) && $TOOL stop "$A" &&
	i=0 && until $TOOL get-job "$A" | grep -q "^Stopped "; do
		i=$((i + 1)) && test $i -lt 50 && sleep 0.1 || return 1; done &&
	test_expect_code 5 $TOOL stop "$A" 2>err && test_grep ConflictException err &&
	$TOOL list-jobs Stopped >out && cut -d" " -f1 out >got && test_cmp arn2 got
'
test_expect_success 'Bedrock: bearer token (API key) accepted, a wrong one refused' '
	A=$(cat arn1) &&
	AWS_BEARER_TOKEN_BEDROCK=bedrock-api-key-TEST AWS_SECRET_ACCESS_KEY=wrong \
		$TOOL get-job "$A" >out && test_grep "job1" out &&
	AWS_BEARER_TOKEN_BEDROCK=nope test_must_fail $TOOL get-job "$A" 2>err
'
test_expect_success 'Bedrock: wrong secret key refused' '
	AWS_SECRET_ACCESS_KEY=wrong test_must_fail $TOOL list-jobs 2>err
'
test_done
