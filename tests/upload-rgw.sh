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

test_require boto3
rgw_start || test_skip_all "$RGW_WHY"
emu_aws_env "$RGW_URL" "$RGW_ACCESS_KEY" "$RGW_SECRET_KEY"

# py CMD ARGS: boto3 helpers (get KEY OUT, mkbucket, uploads, start-mpu KEY FILE PARTSIZE)
py() {
	python3 - "$@" <<'EOF'
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
mpetag() {
	python3 -c 'import hashlib,sys
d=open(sys.argv[1],"rb").read(); n=int(sys.argv[2])
ps=[d[i:i+n] for i in range(0,len(d),n)]
print("\"%s-%d\"" % (hashlib.md5(b"".join(hashlib.md5(p).digest() for p in ps)).hexdigest(), len(ps)))' "$1" "$2"
}
field() { python3 -c 'import json,sys
for l in sys.stdin: print(json.loads(l).get(sys.argv[1]))' "$1"; }

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
	mpetag big.bin 5242880 >want && grep big.bin out | field etag >got && test_cmp want got
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
# Every PUT carries a signed x-amz-checksum-sha256, and each body was
# checked by the store: its echo of the checksum came back, or (a store
# that does not echo it may not check it) the same body went again with a
# signed payload SHA-256. Prints "echoed", "signed" or both: what the
# store needed.
ckcheck() {
	python3 - "$1" <<'EOF'
import collections, re, sys
reqs = collections.defaultdict(dict)
for line in open(sys.argv[1], errors="replace"):
    m = re.match(r"(\d+) > PUT ", line)
    if m:
        reqs[m[1]]["put"] = 1
    m = re.match(r"(\d+) ([<>]) ([^:]+): (.*)", line.rstrip("\r\n"))
    if m:
        reqs[m[1]].setdefault(m[2] + m[3].lower(), m[4])
checked, how = collections.defaultdict(bool), set()
for n, h in reqs.items():
    if "put" not in h:
        continue
    ck = h.get(">x-amz-checksum-sha256")
    assert ck, "request %s: no x-amz-checksum-sha256" % n
    assert "x-amz-checksum-sha256" in h.get(">authorization", ""), "request %s: not signed" % n
    assert "content-md5" not in " ".join(h), "request %s: Content-MD5" % n
    if h.get("<x-amz-checksum-sha256") == ck:
        checked[ck] = True
        how.add("echoed")
    elif re.fullmatch("[0-9a-f]{64}", h.get(">x-amz-content-sha256", "")):
        checked[ck] = True
        how.add("signed")
    else:
        checked[ck] |= False
assert checked and all(checked.values()), dict(checked)
print(" ".join(sorted(how)))
EOF
}
test_expect_success 'radosgw: every body checked (checksum echoed, or sent signed)' '
	bb-upload -t s3://bbup/ck/ $MP --checksum-algorithm sha256 --trace tr small.bin \
		big.bin >out 2>err &&
	py get ck/big.bin got && cmp big.bin got &&
	py get ck/small.bin got && cmp small.bin got &&
	ckcheck tr >how && echo "# radosgw: $(cat how)"
'
test_done
