#!/bin/sh
# pipeline-faults.sh - the whole pipeline against a faulty bb-emu: 20% of
# the requests throttled, 5% answered 500, 3% of the connections dropped,
# 5% carried out but their answers lost (the retry meets the work done:
# an object stored, an upload completed, a job submitted),
# 10 ms added to every response, 2% record errors, a full job quota, one
# job Failed and one Expired. The pipeline completes; every row comes out
# once, in order, with its output or an error; the failed rows are exactly
# those of --failed; a retry round of --failed (under the same transport
# faults) completes the set.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/pipeline-lib.sh"

pipeline_requires
command -v curl >/dev/null 2>&1 || test_skip_all "curl is not installed"
# Jobs are submitted with a 24 h timeout (when a Scheduled job expires):
# 1.7 s at 50000x.
emu_start -v --bucket bkt --time-scale 50000 --min-records 10 --max-concurrent 6 --seed 11 \
	--throttle-rate 0.2 --error-rate 0.05 --drop-rate 0.03 --lost-rate 0.05 --slow-ms 10 \
	--record-error-rate 0.02 || test_skip_all "bb-emu does not start"

cd "$TEST_DIR" || exit 1
check gen 1300 3 >rows.jsonl
SUBMIT_OPTS="--retry-interval 0.2s --timeout-hours 24"
TRANSPORT='"throttle_rate":0.2,"error_rate":0.05,"drop_rate":0.03,"lost_rate":0.05,"slow_ms":10'
NO_TRANSPORT='"throttle_rate":0,"error_rate":0,"drop_rate":0,"lost_rate":0,"slow_ms":0'

# wait_lines FILE N: until FILE has N lines (30 s at most)
wait_lines() {
	_i=0
	while test "$(cat "$1" 2>/dev/null | wc -l)" -lt "$2"; do
		_i=$((_i + 1))
		test $_i -le 600 || return 1
		sleep 0.05
	done
}

# gate: between bb-upload and bb-submit, so that the first job is created
# while every job fails and the second while every job expires (the fate
# of a job is drawn when it is created).
gate() {
	_n=0
	while IFS= read -r _l; do
		_n=$((_n + 1))
		case $_n in
		1) emu_faults '{"fail_rate":1}' ;;
		2) wait_lines "$W/jobs.jsonl" 1 && emu_faults '{"fail_rate":0,"expire_rate":1}' ;;
		3) wait_lines "$W/jobs.jsonl" 2 && emu_faults '{"expire_rate":0}' ;;
		esac >/dev/null
		printf '%s\n' "$_l"
	done
}

test_expect_success 'the pipeline under faults completes; bb-wait and bb-join exit 1' '
	GATE=gate run_pipeline a "$TEST_DIR/rows.jsonl" a &&
	no_crash a &&
	pipeline_rc a shard upload submit &&
	test "$(cat a/rc.wait) $(cat a/rc.join)" = "1 1" &&
	test $(wc -l <a/done.jsonl) -eq 13 &&
	! grep -q "\"error\":" a/jobs.jsonl
'

test_expect_success 'one job Failed, one Expired, record errors in the others' '
	test $(grep -c "\"status\":\"Failed\"" a/done.jsonl) -eq 1 &&
	test $(grep -c "\"status\":\"Expired\"" a/done.jsonl) -eq 1 &&
	grep "\"status\":\"PartiallyCompleted\"\|\"status\":\"Completed\"" a/done.jsonl >ended &&
	test $(wc -l <ended) -eq 11 &&
	grep -q "\"error_records\":[1-9]" ended
'

test_expect_success 'every row once, in order; the failed ones exactly in --failed' '
	check rows rows.jsonl a/results.jsonl --failed a/failed.jsonl >out &&
	cat out &&
	test_grep -q "^rows 1300 " out &&
	test_grep -q "codes .*Expired:[0-9]" out && test_grep -q "codes .*Failed:[0-9]" out &&
	test_grep -q "codes [0-9]" out
'

test_expect_success 'one job per shard in bb-emu despite the retries and lost answers' '
	test $(grep -c " lost in=" "$TEST_DIR/emu.err") -gt 0 &&
	emu_faults "{$NO_TRANSPORT}" >/dev/null &&
	emu_jobs jobs.txt a- &&
	emu_faults "{$TRANSPORT}" >/dev/null &&
	check jobs jobs.txt a/uploaded.jsonl s3://bkt/a/
'

test_expect_success 'a retry round of --failed completes the set' '
	emu_faults "{\"record_error_rate\":0}" >/dev/null &&
	SHARD_OPTS="--id-field id" run_pipeline b "$TEST_DIR/a/failed.jsonl" b &&
	no_crash b &&
	pipeline_rc b shard upload submit wait join &&
	check rows a/failed.jsonl b/results.jsonl --all-ok &&
	grep -v "\"error\":{" a/results.jsonl >ok.a &&
	cat ok.a b/results.jsonl | sed "s/^{\"id\": \"\([^\"]*\)\".*/\1/" | sort >ids &&
	sed "s/^{\"id\": \"\([^\"]*\)\".*/\1/" rows.jsonl | sort >ids.want &&
	test_cmp ids.want ids
'

test_done
