#!/bin/sh
# pipeline-crash.sh - kill -9 the stages of a running pipeline at seeded
# random points, then resume as a user would: the saved job lines through
# bb-wait | bb-join when they are complete, and the whole pipeline again.
# Afterwards bb-emu holds exactly one job per shard and the joined output
# has every input row exactly once, in order, the same as an undisturbed
# run; a shard file never has its name before it is whole. Each stage is
# killed in one round at least; rows come from a slow producer through a
# pipe so that bb-shard is alive when it is killed.
#
# BB_CRASH_SEED picks other kill points (the plan is printed).
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/pipeline-lib.sh"

pipeline_requires
emu_start --bucket bkt --time-scale 20000 --min-records 10 --max-concurrent 100 \
	--slow-ms 4 --seed 5 || test_skip_all "bb-emu does not start"

SEED=${BB_CRASH_SEED:-20261125}
ROUNDS=5
cd "$TEST_DIR" || exit 1
check gen 1500 2 >rows.jsonl

# feed: the rows, 100 at a time every 50 ms (0.7 s in all)
FEED_MS=700
feed() {
	check feed "$TEST_DIR/rows.jsonl" 100 50
}

# wait_bg PID SECONDS: wait for a background pipeline, kill it after SECONDS
wait_bg() {
	_i=0
	while kill -0 "$1" 2>/dev/null; do
		_i=$((_i + 1))
		if test $_i -gt $(($2 * 10)); then
			echo "the pipeline still runs after $2 s: killing it" >&2
			for _p in "$W"/pid.*; do kill -9 "$(cat "$_p")" 2>/dev/null; done
			wait "$1"
			return 1
		fi
		sleep 0.1
	done
	wait "$1"
}

# kill_stage STAGE MS: kill -9 STAGE of the running pipeline in $W after MS
# milliseconds; says whether it was still running.
kill_stage() {
	sleep "$(awk -v ms="$2" 'BEGIN { printf "%.3f", ms / 1000 }')"
	_i=0
	while ! test -s "$W/pid.$1" && test $_i -lt 20; do
		sleep 0.05
		_i=$((_i + 1))
	done
	if test -s "$W/pid.$1" && kill -9 "$(cat "$W/pid.$1")" 2>/dev/null; then
		echo "killed $1 at $2 ms"
	else
		echo "$1 had already ended at $2 ms"
	fi
}

test_expect_success 'an undisturbed run (the reference)' '
	start=$(date +%s%N) &&
	feed | run_pipeline ref - ref &&
	end=$(date +%s%N) &&
	pipeline_rc ref shard upload submit wait join &&
	check rows rows.jsonl ref/results.jsonl --all-ok &&
	echo $(((end - start) / 1000000)) >ref.ms &&
	say "reference run: $(cat ref.ms) ms, $(wc -l <ref/shards.jsonl) shards"
'
T=$(cat "$TEST_DIR/ref.ms" 2>/dev/null || echo 2000)

# The plan: round, stage to kill first (a permutation: each stage once),
# its delay, and maybe a second kill in a re-run. The delay falls within
# the stage's life: bb-shard, bb-upload and bb-submit end with the feed,
# bb-wait and bb-join with the whole run.
awk -v seed="$SEED" -v rounds=$ROUNDS -v t="$T" -v feed=$FEED_MS '
function delay(s) { return 30 + int(rand() * ((s == "wait" || s == "join" ? t * 0.7 : feed) - 80)) }
BEGIN {
	srand(seed)
	n = split("shard upload submit wait join", st, " ")
	for (i = n; i > 1; i--) { j = int(rand() * i) + 1; x = st[i]; st[i] = st[j]; st[j] = x }
	for (r = 1; r <= rounds; r++) {
		s = st[(r - 1) % n + 1]
		line = r " " s " " delay(s)
		if (rand() < 0.5) {
			s = st[int(rand() * n) + 1]
			line = line " " s " " delay(s)
		}
		print line
	}
}' >"$TEST_DIR/plan"
say "seed $SEED, kill plan (round stage ms ...):"
sed 's/^/#   /' "$TEST_DIR/plan"

while read -r round s1 d1 s2 d2; do
	test_expect_success "round $round: kill -9 $s1 at $d1 ms${s2:+, then $s2 at $d2 ms}" '
		W=$TEST_DIR/r$round && mkdir -p "$W" &&
		for k in "$s1 $d1" ${s2:+"$s2 $d2"}; do
			set -- $k
			(feed | run_pipeline "$W" - r$round) &
			bg=$!
			kill_stage $1 $2 >>"$W/kills" &&
			wait_bg $bg 60 || return 1
			for f in "$W"/rc.*; do
				test "${f##*/rc.}" = $1 || echo "$(cat "$f")" >"$f"
			done
			rm -f "$W/rc.$1" &&
			no_crash "$W" || return 1
			for f in "$W"/shards/part-?????.jsonl; do
				test -f "$f" || continue
				cmp "$f" ref/shards/${f##*/} || return 1
			done
		done
	'
	test -f "$TEST_DIR/r$round/kills" && sed 's/^/#   /' "$TEST_DIR/r$round/kills"
	test_expect_success "round $round: resume: one job per shard, every row once" '
		W=$TEST_DIR/r$round &&
		if test $(grep -c "\"job_arn\":" $W/jobs.jsonl) -eq $(wc -l <ref/jobs.jsonl); then
			bb-wait -q --interval 0.05s <$W/jobs.jsonl >$W/done.saved &&
			bb-join -q <$W/done.saved >$W/results.saved &&
			test_cmp ref/results.jsonl $W/results.saved &&
			say "round $round: resumed from the saved job lines"
		fi &&
		check feed rows.jsonl 100 0 | run_pipeline "$W" - r$round &&
		pipeline_rc "$W" shard upload submit wait join &&
		check rows rows.jsonl "$W/results.jsonl" --all-ok --failed "$W/failed.jsonl" &&
		test_cmp ref/results.jsonl "$W/results.jsonl" &&
		emu_jobs jobs.txt r$round- &&
		check jobs jobs.txt "$W/uploaded.jsonl" s3://bkt/r$round/
	'
done <"$TEST_DIR/plan"

test_done
