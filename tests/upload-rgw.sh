#!/bin/sh
# upload-rgw.sh - bb-upload against Ceph radosgw, a production S3 that
# verifies every signature, payload hash and Content-MD5: single PUT,
# parallel multipart, a standard-input stream, skip on re-run, resuming
# an interrupted multipart upload (found with ListMultipartUploads, parts
# kept after ListParts), and every body checked by the store (checksum
# echoed, or sent again signed where it is not). Objects are read back
# with boto3 and compared.
# Skips when radosgw is not installed or does not start.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/upload-lib.sh"

test_require boto3
rgw_start || test_skip_all "$RGW_WHY"
emu_aws_env "$RGW_URL" "$RGW_ACCESS_KEY" "$RGW_SECRET_KEY"

# py CMD ARGS: boto3 helpers (get KEY OUT, mkbucket, uploads, start-mpu KEY FILE PARTSIZE)
py() {
	"$PY" - "$@" <<'EOF'
import os, sys, boto3
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"],
                  config=Config(s3={"addressing_style": "path"}))
cmd = sys.argv[1]
if cmd == "mkbucket":
    s3.create_bucket(Bucket="bbup")
elif cmd == "get":
    open(sys.argv[3], "wb").write(s3.get_object(Bucket="bbup", Key=sys.argv[2])["Body"].read())
elif cmd == "uploads":
    for u in s3.list_multipart_uploads(Bucket="bbup").get("Uploads", []):
        print(u["Key"])
elif cmd == "start-mpu":
    key, path, ps = sys.argv[2], sys.argv[3], int(sys.argv[4])
    up = s3.create_multipart_upload(Bucket="bbup", Key=key)["UploadId"]
    data = open(path, "rb").read(ps)
    s3.upload_part(Bucket="bbup", Key=key, UploadId=up, PartNumber=1, Body=data)
EOF
}
py mkbucket 2>"$TEST_DIR/mkbucket.err" || test_skip_all "cannot create a bucket on radosgw"
cd "$TEST_DIR" || exit 1
MP="--part-size 5MiB --multipart-threshold 6MiB"
head -c 12582912 /dev/urandom >big.bin
head -c 300001 /dev/urandom >small.bin
printf '{"shard":"small.bin","n":1}\n{"shard":"big.bin","n":2}\n' >lines

test_expect_success 'radosgw: single PUT and parallel multipart, bytes read back' '
	bb-upload -t s3://bbup/in/ $MP <lines >out 2>err &&
	test $(wc -l <out) -eq 2 &&
	py get in/small.bin got && cmp small.bin got &&
	py get in/big.bin got && cmp big.bin got &&
	s3_etag big.bin 5242880 >want && grep big.bin out | field etag >got && test_cmp want got
'
test_expect_success 'radosgw: a re-run skips both' '
	bb-upload -t s3://bbup/in/ $MP <out >out2 2>err &&
	field skipped <out2 >got && printf "True\nTrue\n" >want && test_cmp want got
'
test_expect_success 'radosgw: standard input of unknown length (multipart stream)' '
	cat big.bin | bb-upload -t s3://bbup/stream.bin --part-size 5MiB - >out 2>err &&
	py get stream.bin got && cmp big.bin got &&
	printf abc | bb-upload -t s3://bbup/tiny - >out 2>err &&
	py get tiny got && printf abc >want && cmp want got
'
test_expect_success 'radosgw: an interrupted multipart upload is resumed, none left' '
	py start-mpu res/big.bin big.bin 5242880 &&
	py uploads >up && echo res/big.bin >want && test_cmp want up &&
	bb-upload -t s3://bbup/res/ $MP big.bin >out 2>err &&
	field uploaded_bytes <out >got && echo $((12582912 - 5242880)) >want && test_cmp want got &&
	py get res/big.bin got && cmp big.bin got &&
	py uploads >up && ! test -s up
'
test_expect_success 'radosgw: every body checked (checksum echoed, or sent signed)' '
	bb-upload -t s3://bbup/ck/ $MP --checksum-algorithm sha256 --trace tr small.bin \
		big.bin >out 2>err &&
	py get ck/big.bin got && cmp big.bin got &&
	py get ck/small.bin got && cmp small.bin got &&
	ckcheck tr >how && echo "# radosgw: $(cat how)"
'
# radosgw (Ceph 16) keeps no x-amz-checksum-*: over plain HTTP every
# payload is signed anyway, so a CRC32C upload is checked all the same,
# and a re-run compares ETags.
test_expect_success 'radosgw: --checksum-algorithm crc32c: payloads signed, bytes equal, re-run skips' '
	bb-upload -t s3://bbup/crc/ $MP --checksum-algorithm crc32c --trace trc small.bin \
		big.bin >out 2>err &&
	trace_puts trc >puts && test $(wc -l <puts) -eq 4 &&
	while read -r n; do
		grep -q "^$n > x-amz-checksum-crc32c: " trc &&
		grep -q "^$n > X-Amz-Content-SHA256: [0-9a-f]\{64\}" trc || return 1
	done <puts &&
	py get crc/big.bin got && cmp big.bin got &&
	py get crc/small.bin got && cmp small.bin got &&
	bb-upload -t s3://bbup/crc/ $MP --checksum-algorithm crc32c small.bin big.bin >out2 2>err &&
	field skipped <out2 >got && printf "True\nTrue\n" >want && test_cmp want got
'
test_done
