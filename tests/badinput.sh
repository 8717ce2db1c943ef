#!/bin/sh
# badinput.sh - a corpus of bad input (tests/data/bad: broken JSON, invalid
# UTF-8, NUL bytes, huge lines, CRLF, BOM, empty input, wrong types,
# missing placeholders, duplicate ids, ragged CSV, broken job lines and
# broken Bedrock output files) through every tool. Each bad item gets an
# error naming its position, the exit status is the documented one (1 some
# items failed, 2 nothing done), the good items still go through, nothing
# crashes (no signal, no sanitizer report: CI runs this under ASan/UBSan)
# and no partial or temporary file is left behind.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/pipeline-lib.sh"

pipeline_requires
emu_start --bucket bkt --time-scale 20000 --min-records 1 ||
	test_skip_all "bb-emu does not start"

D=$top_srcdir/tests/data/bad
SHARD="bb-shard -m $MODEL -t Q:{q} --min-records 1 --records 2 --no-sync"
cd "$TEST_DIR" || exit 1

# run WANT NAME CMD...: CMD's stdout in NAME.out, stderr in NAME.err; its
# exit status is WANT, and it neither died of a signal nor had a sanitizer
# report.
run() {
	_want=$1 _n=$2
	shift 2
	"$@" >"$_n.out" 2>"$_n.err"
	_rc=$?
	if grep -Eq "$SANITIZER_RE" "$_n.err"; then
		echo "sanitizer report from: $*" >&2
		head -n 40 "$_n.err" >&2
		return 1
	fi
	if test $_rc -ge 128; then
		echo "crash ($_rc): $*" >&2
		return 1
	fi
	if test $_rc -ne "$_want"; then
		echo "exit $_rc, want $_want: $*" >&2
		head -n 20 "$_n.err" >&2
		return 1
	fi
}

# errors_at NAME FILE LINE...: the errors of NAME.err are at exactly these
# lines of FILE, one each, each "PROGRAM: error: ... (at FILE:LINE".
errors_at() {
	_n=$1 _f=$2
	shift 2
	for _l; do echo "$_l"; done >"$_n.want"
	grep ": error: " "$_n.err" | grep -v "rows rejected" |
		sed -n "s|.*(at $_f:\([0-9]*\).*|\1|p" | sort -n >"$_n.got"
	grep ": error: " "$_n.err" | grep -v "(at " | grep -v "rows rejected" >"$_n.nopos"
	if test -s "$_n.nopos"; then
		echo "errors without a position:" >&2
		cat "$_n.nopos" >&2
		return 1
	fi
	test_cmp "$_n.want" "$_n.got"
}

# no_tmp DIR: no temporary file in DIR
no_tmp() {
	if ls -a "$1" | grep "\.tmp$"; then
		echo "temporary files left in $1" >&2
		return 1
	fi
}

# records DIR: the number of records of the shards in DIR
records() {
	cat "$1"/part-[0-9]*.jsonl 2>/dev/null | wc -l
}

# subst < FILE: @W@ -> $TEST_DIR, @JOB@ -> the line in job.line
subst() {
	"$PYTHON3" -c '
import sys
d = sys.stdin.buffer.read().replace(b"@W@", sys.argv[1].encode())
if b"@JOB@" in d:
    d = d.replace(b"@JOB@", open(sys.argv[2], "rb").read().rstrip(b"\n"))
sys.stdout.buffer.write(d)' "$TEST_DIR" "$TEST_DIR/job.line"
}

# ---- bb-shard ----

test_expect_success 'bb-shard: broken JSON' '
	run 1 s $SHARD -o broken "$D/broken.jsonl" &&
	errors_at s "$D/broken.jsonl" 3 4 5 6 &&
	test $(records broken) -eq 5 && test $(wc -l <s.out) -eq 3 &&
	sed -n 3,6p "$D/broken.jsonl" >want && test_cmp want broken/part-rejects.jsonl &&
	no_tmp broken
'

test_expect_success 'bb-shard: invalid UTF-8 (bad bytes, overlong, truncated, surrogate)' '
	run 1 s $SHARD -o utf8 "$D/utf8.jsonl" &&
	errors_at s "$D/utf8.jsonl" 3 4 5 6 && test_grep -q "UTF-8" s.err &&
	test $(records utf8) -eq 5 && no_tmp utf8
'

test_expect_success 'bb-shard: NUL bytes' '
	run 1 s $SHARD -o nul "$D/nul.jsonl" &&
	errors_at s "$D/nul.jsonl" 3 4 5 && test_grep -q "NUL" s.err &&
	test $(records nul) -eq 5 && no_tmp nul
'

test_expect_success 'bb-shard: CRLF line endings are accepted, no CR in the prompts' '
	run 0 s $SHARD -o crlf "$D/crlf.jsonl" &&
	test $(records crlf) -eq 6 && ! test -s s.err &&
	! grep -q "$(printf "\\r")" crlf/part-00001.jsonl
'

test_expect_success 'bb-shard: a byte order mark before JSON Lines: skipped, or an error at line 1' '
	if run 0 s $SHARD -o bom "$D/bom.jsonl" 2>/dev/null; then
		test $(records bom) -eq 6
	else
		run 1 s $SHARD -o bom2 "$D/bom.jsonl" &&
		errors_at s "$D/bom.jsonl" 1 && test $(records bom2) -eq 5
	fi
'

test_expect_success 'bb-shard: empty input is exit 2, nothing written' '
	run 2 s $SHARD -o empty "$D/empty.jsonl" &&
	test_grep -q "no records" s.err && ! test -s s.out &&
	! ls empty/* 2>/dev/null && no_tmp empty &&
	run 2 s $SHARD -o empty2 </dev/null && ! ls empty2/* 2>/dev/null
'

test_expect_success 'bb-shard: rows that are not objects, prompts of other types' '
	run 1 s $SHARD -o types "$D/types.jsonl" &&
	errors_at s "$D/types.jsonl" 3 4 5 6 7 &&
	test $(records types) -eq 8 &&
	grep -q "\"text\":\"Q:1.5e300\"" types/part-*.jsonl &&
	grep -q "\"text\":\"Q:true\"" types/part-*.jsonl
'

test_expect_success 'bb-shard: an object in a placeholder becomes compact JSON' '
	grep -q "Q:{\\\\\"a\\\\\":\[1,{\\\\\"b\\\\\":null}\]}" types/part-*.jsonl
'

test_expect_success 'bb-shard: missing placeholder fields' '
	run 1 s $SHARD -o missing "$D/missing.jsonl" &&
	errors_at s "$D/missing.jsonl" 3 4 5 && test_grep -q "missing field .q." s.err &&
	test $(records missing) -eq 5
'

test_expect_success 'bb-shard: duplicate, missing, empty, too long and non-scalar ids' '
	run 1 s $SHARD --id-field id -o dup "$D/dupids.jsonl" &&
	errors_at s "$D/dupids.jsonl" 4 5 6 7 8 9 && test_grep -q "duplicate" s.err &&
	cat dup/part-0*.jsonl | sed "s/{\"recordId\":\"\([^\"]*\)\".*/\1/" >ids &&
	printf "g%s\n" 1 2 3 4 5 6 >want && test_cmp want ids
'

test_expect_success 'bb-shard: CSV with ragged rows, a bad quote, an unclosed quote' '
	run 1 s $SHARD -o ragged "$D/ragged.csv" &&
	errors_at s "$D/ragged.csv" 4 5 6 10 &&
	test $(records ragged) -eq 4 &&
	head -n 1 ragged/part-rejects.csv | grep -q "^id,q" && no_tmp ragged
'

test_expect_success 'bb-shard: a CSV byte order mark is dropped; a header alone is exit 2' '
	run 0 s $SHARD --id-field id -o bomcsv "$D/bom.csv" &&
	head -n 1 bomcsv/part-00001.jsonl | grep -q "^{\"recordId\":\"c1\"" &&
	run 2 s $SHARD -o hdr "$D/header-only.csv" && ! ls hdr/* 2>/dev/null
'

test_expect_success 'bb-shard: a line over --max-line-bytes, from a file and from a pipe' '
	"$PYTHON3" -c "import sys; sys.stdout.write(\"{\\\"q\\\":\\\"a\\\"}\\n{\\\"q\\\":\\\"%s\\\"}\\n{\\\"q\\\":\\\"b\\\"}\\n{\\\"q\\\":\\\"c\\\"}\" % (\"x\" * 300000))" >huge.jsonl &&
	run 1 s $SHARD --max-line-bytes 64KiB -o huge huge.jsonl &&
	errors_at s huge.jsonl 2 && test $(records huge) -eq 3 &&
	cat huge.jsonl | run 1 s $SHARD --max-line-bytes 64KiB -o huge2 &&
	errors_at s "<stdin>" 2 && test $(records huge2) -eq 3 &&
	gzip -dc huge2/part-00001.rows.jsonl.gz | sed -n 2p >row2 &&
	echo null >want && test_cmp want row2
'

test_expect_success 'bb-shard: broken and truncated gzip input' '
	gzip -c "$D/crlf.jsonl" | head -c 40 >trunc.jsonl.gz &&
	run 2 s $SHARD -o gz trunc.jsonl.gz &&
	test_grep -q "error: " s.err && no_tmp gz &&
	printf "\\037\\213garbage" >garbage.gz &&
	run 2 s $SHARD -o gz2 garbage.gz && no_tmp gz2
'

test_expect_success 'bb-shard --strict: the first bad row stops it, no shard left' '
	run 1 s $SHARD --strict -o strict "$D/broken.jsonl" &&
	errors_at s "$D/broken.jsonl" 3 &&
	! test -s s.out && ! ls strict/part-0* 2>/dev/null && no_tmp strict
'

test_expect_success 'bb-shard: lines of blanks only are blank lines (skipped)' '
	printf "{\"q\":\"a\"}\\n  \\n\\t\\n{\"q\":\"b\"}\\n" >blanks.jsonl &&
	run 0 s $SHARD -o blanks blanks.jsonl && test $(records blanks) -eq 2
'

test_expect_success 'bb-shard: a write error on stdout is exit 2 and leaves no temporary file' '
	$SHARD -o full "$D/broken.jsonl" >/dev/full 2>full.err
	test $? -eq 2 && ! grep -Eq "$SANITIZER_RE" full.err && no_tmp full
'

# ---- bb-upload ----

test_expect_success 'bb-upload: bad shard lines (not JSON, no shard, NUL, UTF-8, BOM, huge...)' '
	run 0 s $SHARD -o good "$D/crlf.jsonl" &&
	subst <"$D/upload.lines" >upload.lines &&
	run 1 u bb-upload -t s3://bkt/good/ --max-line-bytes 2K <upload.lines &&
	errors_at u "<stdin>" 2 3 4 5 6 7 8 9 11 13 14 15 &&
	test $(wc -l <u.out) -eq 2 &&
	test $(grep -c "\"s3_uri\":\"s3://bkt/good/part-0000[12].jsonl\"" u.out) -eq 2 &&
	! grep -q "$(printf "\\r")" u.out
'

test_expect_success 'bb-upload: empty input, a missing file operand' '
	run 0 u bb-upload -t s3://bkt/good/ </dev/null && ! test -s u.out &&
	run 1 u bb-upload -t s3://bkt/good/ good/part-00001.jsonl nonexistent.jsonl &&
	test_grep -q "nonexistent.jsonl" u.err && test $(wc -l <u.out) -eq 1 &&
	run 2 u bb-upload -t not-a-uri good/part-00001.jsonl && ! test -s u.out
'

# ---- bb-submit ----

test_expect_success 'bb-submit: bad lines (not JSON, no s3_uri, wrong types, bad URIs, huge...)' '
	run 1 b bb-submit -r "$ROLE" -o s3://bkt/out/ --max-line-bytes 2K <"$D/submit.lines" &&
	errors_at b "<stdin>" 2 3 4 5 6 7 8 9 10 12 &&
	test $(grep -c "\"job_arn\":" b.out) -eq 2 &&
	test $(grep -c "\"error\":" b.out) -eq 6 &&
	head -n 1 b.out >job.line
'

test_expect_success 'bb-submit: empty input' '
	run 0 b bb-submit -r "$ROLE" -o s3://bkt/out/ </dev/null && ! test -s b.out
'

# ---- bb-wait ----

test_expect_success 'bb-wait: bad lines pass through or are reported, exit 1' '
	subst <"$D/wait.lines" >wait.lines &&
	run 1 w bb-wait --interval 0.05s --timeout 20s --max-line-bytes 2K <wait.lines &&
	errors_at w "<stdin>" 2 3 4 5 6 7 8 9 10 11 13 &&
	test $(wc -l <w.out) -eq 8 &&
	grep "\"status\":\"Completed\"" w.out >done.line && test $(wc -l <done.line) -eq 1 &&
	test_grep -q "doesnotexist.*ResourceNotFoundException" w.err
'

# ---- bb-join ----

test_expect_success 'bb-join: broken and wrongly typed job lines' '
	run 0 js $SHARD -t "question {id}" --records 4 -o js "$D/join/rows.jsonl" &&
	cp "$D/join/rows.jsonl" rows-copy.jsonl &&
	"$PYTHON3" - js.out >jobs.bad <<-\PY &&
	import json, sys
	l = open(sys.argv[1], "rb").read().split(b"\n")
	o2 = json.loads(l[1])
	def mod(f):
	    o = json.loads(json.dumps(o2)); f(o); return json.dumps(o).encode()
	out = [l[0], b"not json", b"{\"shard\": \"x\"}",
	       mod(lambda o: o["source"].update(path="/nonexistent/rows.jsonl")),
	       mod(lambda o: o["source"].update(offset=10**12)),
	       mod(lambda o: o["source"].update(bytes=-5)),
	       mod(lambda o: o["source"].update(rows="many")),
	       mod(lambda o: o.update(source=None)),
	       mod(lambda o: o["source"].update(format="xml")),
	       b"\x00", b"{\"shard\": \"\xff\"}", l[2]]
	sys.stdout.buffer.write(b"\n".join(out) + b"\n")
	PY
	run 1 j bb-join -o "$D/join/out" --max-line-bytes 4K --failed failed.jsonl <jobs.bad &&
	errors_at j "<stdin>" 2 3 4 5 6 7 8 9 10 11 &&
	test $(wc -l <j.out) -eq 8 && no_tmp . 
'

test_expect_success 'bb-join: broken output files (truncated, UTF-8, NUL, huge, wrong types, CRLF)' '
	run 1 j bb-join -o "$D/join/out" --max-line-bytes 4K --failed failed.jsonl <js.out &&
	check rows "$D/join/rows.jsonl" j.out --failed failed.jsonl >sum &&
	test_grep -q "^rows 12 ok 10 error 2 codes missing:2" sum &&
	grep "warning: .*(at $D/join/out/part-00002.jsonl.out:" j.err |
		sed "s/.*jsonl.out:\([0-9]*\).*/\1/" >got &&
	printf "%s\n" 2 3 7 8 9 10 11 >want && test_cmp want got &&
	test_grep -q "unknown recordIds" j.err && test_grep -q "duplicate" j.err &&
	! grep -q "$(printf "\\r")" j.out
'

test_expect_success 'bb-join: empty input; --failed in a missing directory is exit 2' '
	run 0 j bb-join --failed f0.jsonl </dev/null && ! test -s j.out && test -f f0.jsonl &&
	! test -s f0.jsonl &&
	run 2 j bb-join -o "$D/join/out" --failed nodir/f.jsonl <js.out && no_tmp .
'

test_expect_success 'bb-join: a write error on stdout is exit 2 and leaves no temporary file' '
	mkdir fulldir &&
	bb-join -o "$D/join/out" --failed fulldir/f.jsonl <js.out >/dev/full 2>full.err
	test $? -eq 2 && ! grep -Eq "$SANITIZER_RE" full.err && no_tmp fulldir
'

test_expect_success 'bb-submit, bb-wait, bb-join, bb-upload: lines of blanks only are skipped' '
	printf "  \\n\\t\\n" >blank.lines &&
	run 0 b bb-submit -r "$ROLE" -o s3://bkt/out/ <blank.lines &&
	run 0 w bb-wait <blank.lines && run 0 j bb-join <blank.lines &&
	run 0 u bb-upload -t s3://bkt/good/ <blank.lines
'

test_done
