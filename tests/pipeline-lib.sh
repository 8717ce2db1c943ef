# pipeline-lib.sh - helpers of the pipeline reliability tests
# (tests/pipeline*.sh), sourced after tests/lib.sh.
#
#   run_pipeline W INPUT PREFIX
#       bb-shard INPUT | tee W/shards.jsonl | bb-upload | tee W/uploaded.jsonl
#       | bb-submit | tee W/jobs.jsonl | bb-wait | tee W/done.jsonl
#       | bb-join --failed W/failed.jsonl > W/results.jsonl
#       objects under s3://bkt/PREFIX/in/, outputs under s3://bkt/PREFIX/out/,
#       job names PREFIX-...
#       Each tool's pid goes to W/pid.STAGE, its exit status to W/rc.STAGE,
#       its stderr to W/err.STAGE (STAGE: shard upload submit wait join).
#       Extra options: $SHARD_OPTS, $UPLOAD_OPTS, $SUBMIT_OPTS, $WAIT_OPTS,
#       $JOIN_OPTS (split on blanks); $GATE, when set, is a command put
#       between bb-upload and bb-submit.
#   pipeline_rc W STAGE...  0 when each STAGE exited 0 (else prints why)
#   no_crash W              no stage died of a signal or printed a
#                           sanitizer report
#   emu_jobs FILE [NAME]    "arn status input-uri" of every job of bb-emu
#                           (whose name contains NAME)
#   check ARGS              tests/fixtures/pipeline_check.py ARGS
#   test_expect_todo BUG NAME BODY
#                           a test of a known bug: "not ok ... # TODO BUG"
#                           while it fails, "ok ... # TODO BUG (fixed?)"
#                           (an unexpected pass: remove the marker) after
MODEL=anthropic.claude-3-haiku-20240307-v1:0
ROLE=arn:aws:iam::123456789012:role/BatchRole
TEMPLATE='Question {n} ({meta.lang}): {q}'
AWS_TOOL=$top_builddir/tests/aws-tool
PYTHON3=${PYTHON3:-python3}
SHARD_OPTS=${SHARD_OPTS:-}
UPLOAD_OPTS=${UPLOAD_OPTS:-}
SUBMIT_OPTS=${SUBMIT_OPTS:-}
WAIT_OPTS=${WAIT_OPTS:-}
JOIN_OPTS=${JOIN_OPTS:-}
GATE=${GATE:-cat}
export MODEL ROLE TEMPLATE AWS_TOOL PYTHON3

test_expect_todo() {
	_bug=$1
	shift
	test_count=$((test_count + 1))
	if (cd "$TEST_DIR" && eval "$2") >"$TEST_DIR/.out" 2>&1; then
		echo "ok $test_count - $1 # TODO $_bug (fixed? remove the marker)"
	else
		echo "not ok $test_count - $1 # TODO $_bug"
		sed -e 's/^/#   /' "$TEST_DIR/.out" | head -n 20
	fi
}

check() {
	"$PYTHON3" "$top_srcdir/tests/fixtures/pipeline_check.py" "$@"
}

pipeline_requires() {
	for _p in bb-shard bb-upload bb-submit bb-wait bb-join; do
		command -v $_p >/dev/null 2>&1 || test_skip_all "$_p is not built"
	done
	emu_available || test_skip_all "bb-emu is not built (needs libmicrohttpd)"
	test -x "$AWS_TOOL" || test_skip_all "tests/aws-tool is not built"
	"$PYTHON3" -c 'import json' 2>/dev/null || test_skip_all "python3 is not installed"
}

# stage NAME CMD ARGS...: one stage of the pipeline (see above).
stage() {
	_sn=$1
	shift
	sh -c 'echo $$ >"$0"; exec "$@"' "$W/pid.$_sn" "$@" 2>"$W/err.$_sn"
	echo $? >"$W/rc.$_sn"
}

run_pipeline() {
	W=$1
	mkdir -p "$W" && rm -f "$W"/rc.* "$W"/pid.* || return 1
	# shellcheck disable=SC2086
	stage shard bb-shard -q -m "$MODEL" -t "$TEMPLATE" --records 100 --min-records 10 \
		--no-sync -o "$W/shards" $SHARD_OPTS "$2" |
	tee "$W/shards.jsonl" |
	stage upload bb-upload -q -t "s3://bkt/$3/in/" $UPLOAD_OPTS |
	tee "$W/uploaded.jsonl" |
	$GATE |
	stage submit bb-submit -q -r "$ROLE" -o "s3://bkt/$3/out/" -p "$3" $SUBMIT_OPTS |
	tee "$W/jobs.jsonl" |
	stage wait bb-wait -q --interval 0.05s --max-rate 200 $WAIT_OPTS |
	tee "$W/done.jsonl" |
	stage join bb-join -q --failed "$W/failed.jsonl" $JOIN_OPTS >"$W/results.jsonl"
}

pipeline_rc() {
	_w=$1
	shift
	_bad=0
	for _s; do
		if ! test -f "$_w/rc.$_s"; then
			echo "pipeline: no exit status of $_s" >&2
			_bad=1
		elif test "$(cat "$_w/rc.$_s")" != 0; then
			echo "pipeline: $_s exited $(cat "$_w/rc.$_s"):" >&2
			head -n 20 "$_w/err.$_s" >&2
			_bad=1
		fi
	done
	return $_bad
}

SANITIZER_RE='AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|ThreadSanitizer|runtime error:'

no_crash() {
	_bad=0
	for _f in "$1"/rc.*; do
		test -f "$_f" || continue
		if test "$(cat "$_f")" -ge 128 && test "$(cat "$_f")" -ne 141; then
			echo "crash: ${_f##*/rc.} exited $(cat "$_f")" >&2
			_bad=1
		fi
	done
	for _f in "$1"/err.*; do
		test -f "$_f" || continue
		if grep -Eq "$SANITIZER_RE" "$_f"; then
			echo "crash: sanitizer report from ${_f##*/err.}:" >&2
			head -n 30 "$_f" >&2
			_bad=1
		fi
	done
	return $_bad
}

emu_jobs() {
	"$AWS_TOOL" list-jobs "" "${2:-}" >"$1.arns" || return 1
	: >"$1"
	while read -r _arn _st; do
		_in=$("$AWS_TOOL" get-job "$_arn") || return 1
		echo "$_arn $_st $(echo "$_in" | cut -d' ' -f4)" >>"$1"
	done <"$1.arns"
}
