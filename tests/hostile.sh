#!/bin/sh
# hostile.sh - bb-upload, bb-submit, bb-wait and bb-join against a hostile
# peer (tests/fixtures/hostile_server.py): answers that are not HTTP,
# truncated bodies, huge or countless headers, huge error bodies, broken
# XML and JSON, bodies of the wrong shape, control characters in error
# messages, and redirects to another host (127.0.0.2, where a second
# listener records anything that arrives). Every run ends with exit 1 or 2
# and a clean one-line error, never a crash (signal or sanitizer report),
# never a claimed success, never terminal escapes copied to stderr, and
# nothing, least of all credentials, reaches the other host.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/pipeline-lib.sh"

for _p in bb-shard bb-upload bb-submit bb-wait bb-join; do
	command -v $_p >/dev/null 2>&1 || test_skip_all "$_p is not built"
done
"$PYTHON3" -c 'import http.server' 2>/dev/null || test_skip_all "python3 is not installed"

MODES="garbage truncated hugeheader manyheaders hugebody badxml badjson wrongtypes ctrl redirect badobj"
cd "$TEST_DIR" || exit 1

mkfifo server.in || exit 1
"$PYTHON3" "$top_srcdir/tests/fixtures/hostile_server.py" server.log other.log \
	<server.in >server.out 2>server.err &
SERVER_PID=$!
exec 7>server.in
test_at_exit 'exec 7>&-; kill $SERVER_PID 2>/dev/null; wait $SERVER_PID 2>/dev/null'
_i=0
while ! test -s server.out && test $_i -lt 100; do
	sleep 0.05
	_i=$((_i + 1))
done
read -r PORT OTHER_PORT <server.out
case $PORT in
''|*[!0-9]*) test_skip_all "hostile_server.py did not start: $(cat server.out server.err)" ;;
esac
say "hostile peer on 127.0.0.1:$PORT, the other host on 127.0.0.2:$OTHER_PORT"

emu_aws_env "http://127.0.0.1:$PORT" AKIAHOSTILETEST00001 hostile/secret/KEY/never+to+be+seen000
unset https_proxy http_proxy HTTPS_PROXY HTTP_PROXY

# a small shard and its line
"$PYTHON3" "$top_srcdir/tests/fixtures/pipeline_check.py" gen 4 9 >rows.jsonl
bb-shard -q -m "$MODEL" -t '{q}' --min-records 1 -o shards rows.jsonl >shards.jsonl 2>/dev/null

# job id of a mode: 12 characters
job_id() {
	printf '%s000000000000' "$1" | cut -c1-12
}

# go TOOL MODE CMD...: run CMD in the background, bounded to 60 s; its
# stdout, stderr and exit status in TOOL.MODE.{out,err,rc}
go() {
	_t=$1 _m=$2
	shift 2
	(timeout -s KILL 60 "$@" >"$_t.$_m.out" 2>"$_t.$_m.err"; echo $? >"$_t.$_m.rc") &
	RUNS="$RUNS $!"
}
RUNS=

ARN=arn:aws:bedrock:us-east-1:123456789012:model-invocation-job
for m in $MODES; do
	go upload $m bb-upload -t "s3://$m/in/" shards/part-00001.jsonl
	echo "{\"s3_uri\":\"s3://$m/in/part-00001.jsonl\",\"model\":\"$MODEL\",\"sha256\":\"00\"}" >submit.$m.in
	go submit $m bb-submit -r "$ROLE" -o "s3://$m/out/" --retry-interval 0.1s submit.$m.in
	echo "{\"job_arn\":\"$ARN/$(job_id $m)\"}" >wait.$m.in
	go wait $m bb-wait --interval 0.2s --timeout 4s wait.$m.in
	sed "s|}\$|,\"job_arn\":\"$ARN/$(job_id $m)\",\"status\":\"Completed\",\"output_prefix\":\"s3://$m/out/job/\"}|" \
		shards.jsonl >join.$m.in
	go join $m bb-join join.$m.in
done
start=$(date +%s)
for p in $RUNS; do
	wait $p
done
say "$(echo $MODES | wc -w) modes, 4 tools: $(($(date +%s) - start)) s"

# verdict TOOL MODE: exit 1 or 2, no crash, a clean error, no success claimed
verdict() {
	_f=$1.$2
	_rc=$(cat "$_f.rc")
	if test "$_rc" = 137; then
		echo "$1 hung on '$2' (killed after 60 s)" >&2
		return 1
	fi
	if grep -Eq "$SANITIZER_RE" "$_f.err"; then
		echo "$1 on '$2': sanitizer report:" >&2
		head -n 30 "$_f.err" >&2
		return 1
	fi
	if test "$_rc" -ge 128 || test "$_rc" -eq 0; then
		echo "$1 on '$2': exit $_rc, want 1 or 2" >&2
		head -n 5 "$_f.err" >&2
		return 1
	fi
	if ! grep -q "^bb-$1: error: " "$_f.err" &&
	    ! { test $1 = join && grep -q "^bb-join: warning: " "$_f.err"; }; then
		echo "$1 on '$2': no error message:" >&2
		head -n 5 "$_f.err" >&2
		return 1
	fi
	if test "$(wc -c <"$_f.err")" -gt 16384; then
		echo "$1 on '$2': $(wc -c <"$_f.err") bytes on stderr" >&2
		return 1
	fi
	if tr -d '\n\t' <"$_f.err" | LC_ALL=C grep -q '[[:cntrl:]]'; then
		echo "$1 on '$2': control characters copied to stderr:" >&2
		head -n 5 "$_f.err" | od -c | head -n 10 >&2
		return 1
	fi
	if grep -q "hostile/secret" "$_f.err" "$_f.out"; then
		echo "$1 on '$2': the secret key in its output" >&2
		return 1
	fi
	case $1 in
	upload) ! grep -q '"s3_uri"' "$_f.out" ;;
	submit) ! grep -q '"job_arn"' "$_f.out" ;;
	wait) ! grep -q '"status":"Completed"' "$_f.out" ;;
	join) ! grep -q '"output":' "$_f.out" ;;
	esac || { echo "$1 on '$2' claims a success: $(head -c 300 "$_f.out")" >&2; return 1; }
}

for t in upload submit wait join; do
	for m in $MODES; do
		test_expect_success "bb-$t against '$m': a clean error" "verdict $t $m"
	done
done

test_expect_success 'each tool reached the hostile peer, signed, without its secret' '
	grep -q "\"method\": \"HEAD\", \"path\": \"/garbage/in/" server.log &&
	grep -q "\"method\": \"POST\", \"path\": \"/model-invocation-job\"" server.log &&
	grep -q "\"method\": \"GET\", \"path\": \"/model-invocation-job/arn" server.log &&
	grep -q "\"method\": \"GET\", \"path\": \"/badobj/?list-type=2" server.log &&
	! grep -v "\"Authorization\": \"AWS4-HMAC-SHA256 Credential=AKIAHOSTILETEST00001/" server.log &&
	! grep -q "hostile/secret" server.log
'

test_expect_success 'nothing reached the other host (no redirect followed, no credentials)' '
	if test -s other.log; then
		echo "requests that reached 127.0.0.2:" >&2
		cut -c 1-300 other.log >&2
		false
	fi &&
	grep -q "\"mode\": \"redirect\"" server.log
'

test_done
