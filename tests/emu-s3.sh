#!/bin/sh
# emu-s3.sh - bb-emu's S3 half with the real SDK: every operation the tools
# use, what boto3 parses out of each response, aws-chunked bodies in all
# three forms, a path-traversal and bad-request corpus, parallel multipart
# uploads, persistence across a restart, fault injection, clean shutdown.
. "$top_srcdir/tests/lib.sh"

FIX=$top_srcdir/tests/fixtures
PY=${PYTHON3:-python3}

emu_available || test_skip_all "bb-emu was not built (libmicrohttpd missing)"
"$PY" -c 'import boto3' 2>/dev/null || test_skip_all "python3 boto3 is not installed"

emu_start || exit 1

for check in bucket put_get range checksums list multipart delete presigned parallel; do
	test_expect_success "boto3: $check" "\"$PY\" \"$FIX/emu_boto3.py\" $check"
done

test_expect_success 'aws-chunked: unsigned trailer, signed chunks, signed trailer, errors' '
	"$PY" "$FIX/emu_raw.py" chunked
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
	test_must_fail curl -sS -f -X POST --data "not json" "$EMU_URL/_emu/faults"
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

test_expect_success 'faults: dropped connections and slow responses' '
	emu_faults "{\"drop_rate\": 1}" >/dev/null &&
	test_must_fail curl -sS -o /dev/null "$EMU_URL/raw-bucket" 2>err &&
	emu_faults "{\"reset\": true, \"slow_ms\": 300}" >/dev/null &&
	curl -s -o /dev/null -w "%{time_total}\n" "$EMU_URL/raw-bucket" >t &&
	emu_faults "{\"reset\": true}" >/dev/null &&
	awk "{ exit !(\$1 >= 0.3) }" t
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

test_expect_success 'no temporary files left behind' '
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
