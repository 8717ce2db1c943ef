#!/bin/sh
# emu-s3.sh - bb-emu's S3 half with the real SDK: every operation the tools
# use, what boto3 parses out of each response, aws-chunked bodies in all
# three forms, a path-traversal and bad-request corpus, parallel multipart
# uploads, persistence across a restart, fault injection, clean shutdown;
# multipart objects (kept as their parts): Range GETs across part
# boundaries, GETs through a delete or overwrite, their files removed, a
# restart, a job input uploaded in parts; answers lost after the work is
# done, and a Complete sent again.
. "$top_srcdir/tests/lib.sh"

test_require emu boto3 curl

emu_start -v || exit 1

for check in bucket put_get range checksums list multipart delete presigned parallel; do
	test_expect_success "boto3: $check" "\"$PY\" \"$FIX/emu_boto3.py\" $check"
done

test_expect_success 'aws-chunked: unsigned trailer, signed chunks, signed trailer, errors' '
	"$PY" "$FIX/emu_raw.py" chunked
'

test_expect_success 'signed payload hash and sha256 checksum: one digest, each mismatch its own error' '
	"$PY" "$FIX/emu_raw.py" digest
'

test_expect_success 'path traversal corpus: every case an error, nothing escapes' '
	TEST_DIR="$TEST_DIR" "$PY" "$FIX/emu_raw.py" traversal
'

test_expect_success 'bad requests answered with the real error shapes' '
	"$PY" "$FIX/emu_raw.py" badreq
'

test_expect_success 'control endpoint: health and faults' '
	curl -sS -f "$EMU_URL/_emu/health" >health &&
	test_grep "\"status\":\"ok\"" health &&
	curl -sS -f "$EMU_URL/_emu/faults" >faults &&
	test_grep "\"throttle_rate\":0" faults &&
	test_must_fail curl -sS -f -X POST --data "{\"throttle_rate\": 2}" "$EMU_URL/_emu/faults" &&
	test_must_fail curl -sS -f -X POST --data "{\"nonsense\": 1}" "$EMU_URL/_emu/faults" &&
	test_must_fail curl -sS -f -X POST --data "not json" "$EMU_URL/_emu/faults" &&
	test_must_fail curl -sS -f -X POST --data "{\"lose_match\": 5}" "$EMU_URL/_emu/faults" &&
	test_must_fail curl -sS -f -X POST --data "{\"lose_next\": 1.5}" "$EMU_URL/_emu/faults" &&
	curl -sS -f "$EMU_URL/_emu/faults" >faults2 && test_cmp faults faults2
'

test_expect_success 'faults: throttling on, S3 SlowDown 503 and Bedrock 429' '
	emu_faults "{\"throttle_rate\": 1, \"seed\": 7}" >set &&
	test_grep "\"throttle_rate\":1" set &&
	"$PY" "$FIX/emu_raw.py" faults &&
	emu_faults "{\"reset\": true}" >reset &&
	test_grep "\"throttle_rate\":0" reset &&
	"$PY" "$FIX/emu_boto3.py" bucket
'

test_expect_success 'faults: a seeded error rate gives the same outcomes twice' '
	for run in 1 2; do
		emu_faults "{\"error_rate\": 0.5, \"seed\": 42}" >/dev/null &&
		for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
			curl -s -o /dev/null -w "%{http_code}\n" "$EMU_URL/raw-bucket" || return 1
		done >codes.$run || return 1
	done &&
	emu_faults "{\"reset\": true}" >/dev/null &&
	test_cmp codes.1 codes.2 &&
	test_grep -c 500 codes.1 >n500 && test "$(cat n500)" -gt 0 &&
	test_grep -c 403 codes.1 >n403 && test "$(cat n403)" -gt 0
'

test_expect_success 'faults: answers lost after the work is done (the -v log says so); Complete sent again answers as the first' '
	: >"$TEST_DIR/emu.err" &&
	"$PY" "$FIX/emu_boto3.py" lost &&
	test_grep -q "s3 PUT /conf-lost/put 200 lost " "$TEST_DIR/emu.err" &&
	test_grep -q "s3 PUT /conf-lost/mp 200 lost in=4 " "$TEST_DIR/emu.err" &&
	test_grep -q "s3 POST /conf-lost/mp 200 lost " "$TEST_DIR/emu.err"
'

test_expect_success 'faults: dropped connections and slow responses' '
	emu_faults "{\"drop_rate\": 1}" >/dev/null &&
	test_must_fail curl -sS -o /dev/null "$EMU_URL/raw-bucket" 2>err &&
	emu_faults "{\"reset\": true, \"slow_ms\": 300}" >/dev/null &&
	curl -s -o /dev/null -w "%{time_total}\n" "$EMU_URL/raw-bucket" >t &&
	emu_faults "{\"reset\": true}" >/dev/null &&
	awk "{ exit !(\$1 >= 0.3) }" t
'

# ---- multipart objects: kept as their parts, read across them ----

cat >"$TEST_DIR/mp.py" <<'PYEOF'
"""mp.py CMD ARGS - multipart objects in bb-emu with boto3 (emu-s3.sh)."""
import hashlib
import json
import sys
import threading
import time

import boto3
import botocore.config

P = 5 * 1024 * 1024
cfg = botocore.config.Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1})
s3 = boto3.client("s3", config=cfg)


def fail(*what):
    print("FAILED:", *what)
    sys.exit(1)


def bucket(name):
    try:
        s3.create_bucket(Bucket=name)
    except Exception as e:
        if "BucketAlready" not in str(e):
            raise


def upload(b, key, data, numbers, size, junk=None):
    """Upload data in parts of size with the given part numbers (and an
    uploaded part never completed); return the ETag S3 would give."""
    u = s3.create_multipart_upload(Bucket=b, Key=key)["UploadId"]
    parts, md5s = [], b""
    for i, n in enumerate(numbers):
        chunk = data[i * size:(i + 1) * size if i + 1 < len(numbers) else len(data)]
        r = s3.upload_part(Bucket=b, Key=key, UploadId=u, PartNumber=n, Body=chunk)
        parts.append({"PartNumber": n, "ETag": r["ETag"]})
        md5s += hashlib.md5(chunk).digest()
    if junk:
        s3.upload_part(Bucket=b, Key=key, UploadId=u, PartNumber=junk, Body=b"junk" * 1000)
    r = s3.complete_multipart_upload(Bucket=b, Key=key, UploadId=u,
                                     MultipartUpload={"Parts": parts})
    want = '"%s-%d"' % (hashlib.md5(md5s).hexdigest(), len(numbers))
    if r["ETag"] != want:
        fail("complete ETag", r["ETag"], want)
    return want


def put(path, b, key):
    """The file as parts 1, 3, 7 (part 9 uploaded, left out); ETag, HEAD
    and the listing checked."""
    data = open(path, "rb").read()
    bucket(b)
    etag = upload(b, key, data, [1, 3, 7], P, junk=9)
    check_meta(b, key, len(data), etag)
    print(etag)


def check_meta(b, key, size, etag):
    h = s3.head_object(Bucket=b, Key=key)
    if h["ContentLength"] != size or h["ETag"] != etag:
        fail("HEAD", h["ContentLength"], h["ETag"], size, etag)
    got = [(o["Key"], o["Size"], o["ETag"])
           for o in s3.list_objects_v2(Bucket=b).get("Contents", []) if o["Key"] == key]
    if got != [(key, size, etag)]:
        fail("listing", got, size, etag)


def meta(b, key, size, etag):
    check_meta(b, key, int(size), etag)
    print("ok")


def ranges(b, key, out, *specs):
    """GET the object whole (out.whole) and each Range (out.N)."""
    with open(out + ".whole", "wb") as f:
        f.write(s3.get_object(Bucket=b, Key=key)["Body"].read())
    for i, spec in enumerate(specs):
        r = s3.get_object(Bucket=b, Key=key, Range=spec)
        with open("%s.%d" % (out, i), "wb") as f:
            f.write(r["Body"].read())
        print(spec, r["ContentRange"])


def inflight(path, b, key, how):
    """A GET in progress keeps reading the old object across its parts
    while the object is deleted or overwritten."""
    data = open(path, "rb").read()
    body = s3.get_object(Bucket=b, Key=key)["Body"]
    first = body.read(1 << 20)
    if how == "delete":
        s3.delete_object(Bucket=b, Key=key)
    else:
        s3.put_object(Bucket=b, Key=key, Body=b"new")
    time.sleep(0.2)
    rest = body.read()
    if first + rest != data:
        fail("GET during %s: %d bytes, not the old object" % (how, len(first + rest)))
    print("ok")


def job(b, key, outb, n):
    """A job whose input was uploaded in 5 MiB parts (records across part
    boundaries) validates and processes every record."""
    n = int(n)
    bucket(b)
    bucket(outb)
    pad = "x" * 100000
    lines = [json.dumps({"recordId": "R%08d" % i, "modelInput": {
        "anthropic_version": "bedrock-2023-05-31", "max_tokens": 20,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "%d %s" % (i, pad)}]}]}})
        for i in range(n)]
    data = ("\n".join(lines) + "\n").encode()
    nparts = (len(data) + P - 1) // P
    if nparts < 3:
        fail("input too small for 3 parts")
    upload(b, key, data, list(range(1, nparts + 1)), P)
    br = boto3.client("bedrock", config=botocore.config.Config(retries={"max_attempts": 1}))
    arn = br.create_model_invocation_job(
        jobName="mp-input", roleArn="arn:aws:iam::123456789012:role/BatchRole",
        modelId="anthropic.claude-3-haiku-20240307-v1:0",
        inputDataConfig={"s3InputDataConfig": {"s3Uri": "s3://%s/%s" % (b, key)}},
        outputDataConfig={"s3OutputDataConfig": {"s3Uri": "s3://%s/out/" % outb}})["jobArn"]
    deadline = time.time() + 60
    while True:
        g = br.get_model_invocation_job(jobIdentifier=arn)
        if g["status"] in ("Completed", "PartiallyCompleted", "Failed", "Stopped", "Expired"):
            break
        if time.time() > deadline:
            fail("job did not end", g["status"])
        time.sleep(0.05)
    if g["status"] != "Completed":
        fail("job", g["status"], g.get("message"))
    jid = arn.rsplit("/", 1)[1]
    name = key.rsplit("/", 1)[-1]
    out = s3.get_object(Bucket=outb, Key="out/%s/%s.out" % (jid, name))["Body"].read()
    ids = [json.loads(l)["recordId"] for l in out.decode().splitlines()]
    if sorted(ids) != ["R%08d" % i for i in range(n)]:
        fail("output records", len(ids))
    print("ok", g["status"], len(ids), "records,", nparts, "parts")


globals()[sys.argv[1]](*sys.argv[2:])
PYEOF

# 3 parts: 5 MiB, 5 MiB and 2514240 bytes
"$PY" -c 'import os, sys; sys.stdout.buffer.write(os.urandom(13000000))' >"$TEST_DIR/mp.bin"

# Range, first byte, length: across part boundaries, in one part, suffix.
cat >"$TEST_DIR/mp.ranges" <<'EOF'
bytes=5242880-5242880 5242880 1
bytes=5242879-5242880 5242879 2
bytes=100-12000000 100 11999901
bytes=-7000000 6000000 7000000
bytes=10485760- 10485760 2514240
bytes=6000000-7000000 6000000 1000001
bytes=0-5242879 0 5242880
bytes=12999999-99999999 12999999 1
EOF

# mp_check KEY: whole and Range GETs of KEY compared with mp.bin's bytes
mp_check() {
	cut -d" " -f1 mp.ranges >specs &&
	"$PY" "$TEST_DIR/mp.py" ranges mpb "$1" got $(cat specs) >cr &&
	cmp mp.bin got.whole &&
	_i=0 &&
	while read -r _spec _first _len; do
		tail -c +$((_first + 1)) mp.bin | head -c "$_len" >want &&
		cmp want "got.$_i" &&
		test_grep "^$_spec bytes $_first-$((_first + _len - 1))/13000000\$" cr &&
		_i=$((_i + 1)) || return 1
	done <mp.ranges
}

test_expect_success 'multipart: parts 1, 3, 7 (9 left out); ETag md5-of-md5s-3, HEAD and listing size' '
	"$PY" "$TEST_DIR/mp.py" put mp.bin mpb big/mp.bin >etag &&
	test_grep "^\"[0-9a-f]\{32\}-3\"\$" etag &&
	"$PY" "$TEST_DIR/mp.py" put mp.bin mpb keep/mp.bin >/dev/null
'

test_expect_success 'multipart: no copy made, the parts are the object (and no upload left)' '
	ls "$EMU_DATA/s3/mpb" >files &&
	test_grep -c "\.mp\.[123]\$" files >n && test "$(cat n)" = 6 &&
	{ grep -rlx "bucket mpb" "$EMU_DATA/uploads" || :; } >left &&
	test_cmp /dev/null left
'

test_expect_success 'multipart: whole GET and Range GETs across part boundaries equal the file' '
	mp_check big/mp.bin
'

test_expect_success 'multipart: a GET in flight reads the old object through a delete and an overwrite' '
	"$PY" "$TEST_DIR/mp.py" inflight mp.bin mpb big/mp.bin delete &&
	"$PY" "$TEST_DIR/mp.py" put mp.bin mpb big/mp.bin >/dev/null &&
	"$PY" "$TEST_DIR/mp.py" inflight mp.bin mpb big/mp.bin overwrite &&
	"$PY" "$TEST_DIR/mp.py" put mp.bin mpb big/mp.bin >/dev/null &&
	mp_check big/mp.bin
'

test_expect_success 'multipart: DeleteObject and an overwrite remove the part files' '
	"$PY" "$TEST_DIR/mp.py" put mp.bin mpb gone/mp.bin >/dev/null &&
	"$PY" "$TEST_DIR/mp.py" put mp.bin mpb over/mp.bin >/dev/null &&
	ls "$EMU_DATA/s3/mpb" | grep -c "\.mp\.[123]\$" >n && test "$(cat n)" = 12 &&
	"$PY" -c "
import boto3, botocore.config
s3 = boto3.client(\"s3\", config=botocore.config.Config(s3={\"addressing_style\": \"path\"}))
s3.delete_object(Bucket=\"mpb\", Key=\"gone/mp.bin\")
s3.put_object(Bucket=\"mpb\", Key=\"over/mp.bin\", Body=b\"small\")
assert s3.get_object(Bucket=\"mpb\", Key=\"over/mp.bin\")[\"Body\"].read() == b\"small\"
" &&
	ls "$EMU_DATA/s3/mpb" | grep -c "\.mp\.[123]\$" >n && test "$(cat n)" = 6
'

test_expect_success 'state kept across a restart (objects and a half-done upload)' '
	"$PY" "$FIX/emu_boto3.py" persist_write
'
emu_stop
test_expect_success 'SIGTERM: clean shutdown with status 0' 'test "$EMU_RC" = 0'
emu_start
test_expect_success 'after the restart: objects there, the upload completes' '
	"$PY" "$FIX/emu_boto3.py" persist_read
'

test_expect_success 'multipart: after the restart, the same object, ETag, size and ranges' '
	"$PY" "$TEST_DIR/mp.py" meta mpb big/mp.bin 13000000 "$(cat etag)" &&
	"$PY" "$TEST_DIR/mp.py" meta mpb keep/mp.bin 13000000 "$(cat etag)" &&
	mp_check big/mp.bin &&
	mp_check keep/mp.bin
'

test_expect_success 'no temporary files left behind' '
	find "$EMU_DATA/tmp" -type f >tmpfiles &&
	test_cmp /dev/null tmpfiles
'

# A job's input read through the store: one uploaded in parts.
emu_stop
emu_start --time-scale 10000 || exit 1
test_expect_success 'multipart: a job input uploaded in 5 MiB parts validates and processes' '
	"$PY" "$TEST_DIR/mp.py" job mpjobs in/big.jsonl mpjobs-out 130 >out &&
	test_grep "^ok Completed 130 records" out &&
	find "$EMU_DATA/tmp" -type f >tmpfiles &&
	test_cmp /dev/null tmpfiles
'

test_expect_success 'a bad data dir is a clean error' '
	echo x >notadir &&
	test_expect_code 2 "$BB_EMU" --data-dir notadir/sub --listen 127.0.0.1:0 >out 2>err &&
	test_grep "bb-emu: error:" err
'

test_expect_success 'usage errors exit 2' '
	test_expect_code 2 "$BB_EMU" --throttle-rate 2 2>err &&
	test_grep "throttle-rate" err &&
	test_expect_code 2 "$BB_EMU" --listen nonsense 2>err &&
	test_expect_code 2 "$BB_EMU" --access-key A 2>err &&
	"$BB_EMU" --help >help && test_grep "usage: bb-emu" help
'

test_done
