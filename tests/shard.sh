#!/bin/sh
# shard.sh - bb-shard end to end: golden shards per family and input
# format, packing edge cases, record ids, sources and sidecars, bad rows,
# determinism, read sizes 1..31, the man page.
. "$top_srcdir/tests/lib.sh"

D="$top_srcdir/tests/data/shard"
HAIKU=anthropic.claude-3-haiku-20240307-v1:0
S="bb-shard --min-records 1 --max-records 2"

# rows N [FILE]: N JSONL rows {"id":"aN","q":"question N?"}
rows() {
	awk -v n="$1" 'BEGIN { for (i = 1; i <= n; i++) printf "{\"id\":\"a%d\",\"q\":\"question %d?\"}\n", i, i }'
}

# golden NAME ARGS...: shard the given input, compare all shards (in order)
# with $D/NAME.golden; the shard lines go to NAME.lines.
golden() {
	_n=$1
	shift
	rm -rf "out-$_n" &&
	$S -o "out-$_n" "$@" >"$_n.lines" &&
	cat "out-$_n"/part-0*.jsonl >"$_n.got" &&
	test_cmp "$D/$_n.golden" "$_n.got"
}

test_expect_success 'anthropic from JSONL with system and parameters' '
	golden anthropic -m $HAIKU -t "Q: {question}" -s "Be terse." \
		--max-tokens 200 --temperature 0.2 --stop END "$D/rows.jsonl"
'
test_expect_success 'nova through an inference profile id' '
	golden nova -m us.amazon.nova-lite-v1:0 -t "{question}" --max-tokens 64 \
		--params "{\"inferenceConfig\":{\"topK\":20}}" "$D/rows.jsonl"
'
test_expect_success 'converse for any model, nested placeholder' '
	golden converse -m global.anthropic.claude-sonnet-4-20250514-v1:0 \
		--invocation-type converse -t "[{meta.lang}] {question}" "$D/rows.jsonl" &&
	test_grep "\"invocation_type\":\"converse\"" converse.lines
'
test_expect_success 'titan embeddings v2 with --text-field' '
	golden titan -m amazon.titan-embed-text-v2:0 --text-field question \
		--dimensions 256 --normalize "$D/rows.jsonl"
'
test_expect_success 'llama chat prompt format' '
	golden llama -m meta.llama3-1-8b-instruct-v1:0 -t "{question}" -s Sys \
		--max-tokens 100 "$D/rows.jsonl"
'
test_expect_success 'mistral instruct and chat' '
	golden mistral -m mistral.mistral-7b-instruct-v0:2 -t "{question}" --stop "</s>" \
		"$D/rows.jsonl" &&
	golden mistral-chat -m mistral.mistral-large-2407-v1:0 -t "{question}" -s Sys \
		"$D/rows.jsonl"
'
test_expect_success 'cohere embed' '
	golden cohere -m cohere.embed-english-v3 --text-field question \
		--input-type search_query "$D/rows.jsonl"
'
test_expect_success 'CSV with quotes, CRLF and an embedded newline; --id-field' '
	golden csv -m $HAIKU -t "{question}" --id-field id "$D/rows.csv" &&
	test_grep "\"format\":\"csv\"" csv.lines &&
	test_grep "\"first_record\":\"q1\"" csv.lines
'
test_expect_success 'TSV' '
	golden tsv -m amazon.nova-micro-v1:0 -t "{question}" "$D/rows.tsv"
'
test_expect_success 'OpenAI batch lines: custom_id kept (mapped), body converted' '
	golden openai -m $HAIKU -f openai "$D/openai.jsonl" &&
	test_grep "\"first_record\":\"x7265712d31\"" openai.lines
'
test_expect_success 'bedrock rows validated and re-packed; own output re-packs unchanged' '
	golden bedrock -m $HAIKU -f bedrock "$D/bedrock.jsonl" &&
	rm -rf again && $S -o again -m $HAIKU -f bedrock out-bedrock/part-00001.jsonl >/dev/null &&
	cmp out-bedrock/part-00001.jsonl again/part-00001.jsonl
'
test_expect_success 'bedrock rows with an invalid modelInput are rejected' '
	printf "%s\n" "{\"modelInput\":{\"max_tokens\":5}}" >badmi.jsonl &&
	cat "$D/bedrock.jsonl" >>badmi.jsonl &&
	test_expect_code 1 $S -o bm -m $HAIKU -f bedrock badmi.jsonl >/dev/null 2>err &&
	test_grep "modelInput.*(at badmi.jsonl:1)" err
'

test_expect_success 'shard lines: sha256, bytes, records match the files' '
	rows 250 >in.jsonl &&
	bb-shard -m $HAIKU -t "{q}" --max-records 200 -o o1 in.jsonl >lines &&
	for f in o1/part-00001.jsonl o1/part-00002.jsonl; do
		sum=$(sha256sum $f | cut -d" " -f1) &&
		test_grep "\"sha256\":\"$sum\"" lines &&
		test_grep "\"bytes\":$(wc -c <$f)," lines &&
		test_grep "\"records\":$(wc -l <$f)," lines || return 1
	done
'
test_expect_success 'determinism: same input, same bytes and lines' '
	bb-shard -m $HAIKU -t "{q}" --max-records 200 -o o1 in.jsonl >lines2 &&
	test_cmp lines lines2 &&
	rm -rf o2 && bb-shard -m $HAIKU -t "{q}" --max-records 200 -o o2 in.jsonl >lines3 &&
	cmp o1/part-00001.jsonl o2/part-00001.jsonl &&
	cmp o1/part-00002.jsonl o2/part-00002.jsonl
'
test_expect_success 'generated record ids follow the row number' '
	head -n 1 o1/part-00001.jsonl | grep "^{\"recordId\":\"r0000000001\"" &&
	tail -n 1 o1/part-00002.jsonl | grep "^{\"recordId\":\"r0000000250\""
'
test_expect_success 'source region re-reads exactly the shard rows' '
	off=$(sed -n "2s/.*\"offset\":\([0-9]*\).*/\1/p" lines) &&
	len=$(sed -n "2s/.*\"source\".*\"bytes\":\([0-9]*\).*/\1/p" lines) &&
	tail -c +$((off + 1)) in.jsonl | head -c $len >region &&
	sed -n "126,250p" in.jsonl >want && printf "\n" >>region &&
	test_cmp want region
'

test_expect_success 'packing: exactly the minimum is one shard' '
	rows 100 | bb-shard -m $HAIKU -t "{q}" -o p1 >l && test $(wc -l <l) = 1 &&
	test_grep "\"records\":100," l
'
test_expect_success 'packing: minimum - 1 exits 2 and writes no shard' '
	rows 99 >in99 &&
	test_expect_code 2 bb-shard -m $HAIKU -t "{q}" -o p2 in99 >l 2>err &&
	test_grep "only 99 records" err && test ! -s l &&
	test -z "$(ls -A p2)"
'
test_expect_success 'packing: maximum + 1 is split evenly' '
	rows 201 | bb-shard -m $HAIKU -t "{q}" --max-records 200 -o p3 >l &&
	test_grep "\"index\":1,\"records\":101," l &&
	test_grep "\"index\":2,\"records\":100," l
'
test_expect_success 'packing: the tail is rebalanced, earlier shards stay full' '
	rows 450 | bb-shard -m $HAIKU -t "{q}" --max-records 200 -o p4 >l &&
	test_grep "\"index\":1,\"records\":200," l &&
	test_grep "\"index\":2,\"records\":125," l &&
	test_grep "\"index\":3,\"records\":125," l &&
	cat p4/part-0000[123].jsonl | cut -c1-26 >ids && rows 450 >/dev/null &&
	test $(sort -u ids | wc -l) = 450 && sort -c ids
'
test_expect_success 'packing: --records aims below the maximum' '
	rows 1000 | bb-shard -m $HAIKU -t "{q}" --records 300 -o p5 >l &&
	test $(wc -l <l) = 4 && test_grep "\"index\":4,\"records\":100," l
'
test_expect_success 'packing: the byte limit is hit before the record limit' '
	rows 1000 | bb-shard -m $HAIKU -t "{q}" --max-bytes 40000 --min-records 50 -o p6 >l &&
	for f in p6/part-*.jsonl; do test $(wc -c <$f) -le 40000 || return 1; done &&
	test $(cat p6/part-*.jsonl | wc -l) = 1000 && test $(wc -l <l) -ge 5
'
test_expect_success 'packing: a record over --max-bytes is a bad row' '
	{ rows 150; printf "{\"q\":\"%02000d\"}\n" 0; } >big &&
	test_expect_code 1 bb-shard -m $HAIKU -t "{q}" --max-bytes 2000 --min-records 1 \
		--max-records 100 -o p7 big >l 2>err &&
	test_grep "over --max-bytes (at big:151)" err
'
test_expect_success 'packing: --min-records above half a shard is a usage error' '
	test_expect_code 2 bb-shard -m $HAIKU -t "{q}" --max-records 150 -o p8 in.jsonl 2>err &&
	test_grep "at most half" err
'

test_expect_success 'bad rows: each reported with its position, copied, exit 1' '
	test_expect_code 1 bb-shard -m $HAIKU -t "{q}" --min-records 1 --max-records 4 \
		-o b1 "$D/bad.jsonl" >l 2>err &&
	test_grep "error: .*(at .*bad.jsonl:2)" err &&
	test_grep "error: not a JSON object (at .*bad.jsonl:4)" err &&
	test_grep "missing field .q. (at .*bad.jsonl:5)" err &&
	test_grep "missing field .q. (at .*bad.jsonl:6)" err &&
	test_grep "duplicate key .* (at .*bad.jsonl:7)" err &&
	test_grep "empty prompt (at .*bad.jsonl:9)" err &&
	test_grep "bad.jsonl:10)" err &&
	test_grep "8 of 10 rows rejected" err &&
	sed -n "2,7p;9,10p" "$D/bad.jsonl" >want &&
	test_cmp want b1/part-rejects.jsonl &&
	test $(cat b1/part-0*.jsonl | wc -l) = 2
'
test_expect_success 'bad rows: --strict stops at the first, no shard' '
	test_expect_code 1 bb-shard -m $HAIKU -t "{q}" --min-records 1 --max-records 4 \
		--strict -o b2 "$D/bad.jsonl" >l 2>err &&
	test $(grep -c "error:" err) = 1 && test ! -s l &&
	test -z "$(ls b2/ | grep part-0)"
'
test_expect_success 'bad rows: a line over --max-line-bytes' '
	{ rows 3; printf "{\"q\":\"%0200d\"}\n" 0; } >long &&
	test_expect_code 1 bb-shard -m $HAIKU -t "{q}" --min-records 1 --max-records 4 \
		--max-line-bytes 100 -o b3 long >l 2>err &&
	test_grep "longer than 100 bytes (at long:4)" err
'
test_expect_success 'record ids: --id-field keeps, maps and refuses duplicates' '
	printf "%s\n" "{\"k\":\"abc\",\"q\":\"1\"}" "{\"k\":\"a b\",\"q\":\"2\"}" \
		"{\"k\":\"x41\",\"q\":\"3\"}" "{\"k\":7,\"q\":\"4\"}" "{\"k\":\"abc\",\"q\":\"5\"}" >ids.jsonl &&
	test_expect_code 1 bb-shard -m $HAIKU -t "{q}" --id-field k --min-records 1 \
		--max-records 4 -o i1 ids.jsonl >l 2>err &&
	cut -d, -f1 i1/part-0*.jsonl >got &&
	printf "%s\n" "{\"recordId\":\"abc\"" "{\"recordId\":\"x612062\"" \
		"{\"recordId\":\"x783431\"" "{\"recordId\":\"7\"" >want &&
	test_cmp want got &&
	test_grep "duplicate record id .abc. (at ids.jsonl:5)" err
'

test_expect_success 'stdin and gzip input: a sidecar holds the rows' '
	rows 250 | gzip >in.gz &&
	bb-shard -m $HAIKU -t "{q}" --max-records 200 -o s1 <in.gz >l &&
	test_grep "\"sidecar\":\"[^\"]*/s1/part-00002.rows.jsonl.gz\"" l &&
	gzip -dc s1/part-00001.rows.jsonl.gz s1/part-00002.rows.jsonl.gz >side &&
	test_cmp in.jsonl side &&
	cmp s1/part-00001.jsonl o1/part-00001.jsonl
'
test_expect_success 'stdin from a regular file: its path and offsets, no sidecar' '
	rows 250 >in250.jsonl &&
	bb-shard -m $HAIKU -t "{q}" --max-records 200 -o s3 <in250.jsonl >l &&
	test_grep "\"path\":\"[^\"]*/in250.jsonl\",\"offset\":0," l &&
	! ls s3/*.rows.jsonl.gz 2>/dev/null &&
	bb-shard -m $HAIKU -t "{q}" --max-records 200 -o s4 in250.jsonl >l2 &&
	sed "s,/s3/,/s4/," l >l1 && test_cmp l2 l1
'
test_expect_success 'stdin from a regular file read from its middle: a sidecar' '
	(head -n 1 >/dev/null; bb-shard -m $HAIKU -t "{q}" --max-records 200 -o s5 >l) <in250.jsonl &&
	test_grep "\"sidecar\":" l
'
test_expect_success '--sidecar-level 0 and 9, --no-sync: same shards, same rows' '
	cat s4/part-0000[12].jsonl >want &&
	for o in "--sidecar-level 0" "--sidecar-level 9 --no-sync"; do
		rm -rf s6 &&
		cat in250.jsonl | bb-shard -m $HAIKU -t "{q}" --max-records 200 $o -o s6 >l &&
		gzip -dc s6/part-00001.rows.jsonl.gz s6/part-00002.rows.jsonl.gz >side &&
		test_cmp in250.jsonl side &&
		cat s6/part-0000[12].jsonl >got && test_cmp want got || return 1
	done &&
	test_expect_code 2 bb-shard -m $HAIKU -t "{q}" --sidecar-level 10 <in250.jsonl
'
test_expect_success 'several input files: sidecars, rows in order' '
	rows 250 >a.jsonl && head -n 125 a.jsonl >h1 && tail -n +126 a.jsonl >h2 &&
	bb-shard -m $HAIKU -t "{q}" --max-records 200 -o s2 h1 h2 >l &&
	gzip -dc s2/part-0000[12].rows.jsonl.gz >side && test_cmp a.jsonl side
'
test_expect_success 'read sizes 1..31 give the same shards (JSONL and CSV)' '
	for n in $(seq 1 31); do
		$S -m $HAIKU -t "Q: {question}" -s "Be terse." --max-tokens 200 \
			--temperature 0.2 --stop END --read-size $n -o rs "$D/rows.jsonl" >/dev/null &&
		cat rs/part-0*.jsonl | cmp - "$D/anthropic.golden" &&
		$S -m $HAIKU -t "{question}" --id-field id --read-size $n -o rs2 \
			"$D/rows.csv" >/dev/null &&
		cat rs2/part-0*.jsonl | cmp - "$D/csv.golden" || return 1
	done
'
test_expect_success 'dry run: the plan, no files' '
	bb-shard -n -m $HAIKU -t "{q}" --max-records 200 -o dry in.jsonl >l 2>err &&
	test $(wc -l <l) = 2 && test_grep "est_input_tokens" l &&
	test_grep "dry run: 2 shards, 250 records" err && test ! -e dry
'
test_expect_success 'usage errors exit 2' '
	test_expect_code 2 bb-shard -t "{q}" in.jsonl 2>err &&
	test_expect_code 2 bb-shard -m foo.bar-v1 -t "{q}" in.jsonl 2>err &&
	test_expect_code 2 bb-shard -m $HAIKU in.jsonl 2>err &&
	test_expect_code 2 bb-shard -m $HAIKU -t "{q" in.jsonl 2>err &&
	test_expect_code 2 bb-shard -m amazon.titan-embed-text-v1 -t "{q}" --dimensions 256 \
		in.jsonl 2>err &&
	test_expect_code 2 bb-shard -m $HAIKU -t "{q}" --params "[1]" in.jsonl 2>err &&
	test_expect_code 2 bb-shard -m $HAIKU -t "{nope}" -f csv "$D/rows.csv" 2>err &&
	test_grep "no column .nope." err
'
test_expect_success 'broken pipe ends quietly' '
	rows 1000 >k.jsonl &&
	{ bb-shard -m $HAIKU -t "{q}" --min-records 1 --max-records 2 -o bp k.jsonl 2>err;
	  echo $? >rc; } | head -n 1 >/dev/null &&
	test "$(cat rc)" = 141 && test ! -s err
'
# ---- failures on the way out: no temporary file is left behind ----

# no_tmp DIR: DIR holds no temporary file
no_tmp() {
	if ls -a "$1" | grep "\.tmp$"; then
		echo "no_tmp: temporary files left in $1" >&2
		return 1
	fi
}

# limited BLOCKS CMD...: CMD with a file size limit of BLOCKS blocks and
# SIGXFSZ ignored, so that a write past it fails with EFBIG; its stdout in
# lim.out, stderr in lim.err (through pipes: the limit is not theirs);
# returns its exit status
limited() {
	_b=$1
	shift
	{ { { sh -c 'trap "" XFSZ; ulimit -f "$0" && exec "$@"' "$_b" "$@"; echo $? >&4; } |
		cat >lim.out; } 2>&1 | cat >lim.err; } 4>lim.rc
	return "$(cat lim.rc)"
}

# until_file DIR PATTERN: wait (up to 10 s) for a file of DIR whose name
# matches the grep PATTERN
until_file() {
	_i=0
	until ls -a "$1" 2>/dev/null | grep -q "$2"; do
		_i=$((_i + 1))
		test $_i -lt 200 || return 1
		sleep 0.05
	done
}

test_expect_success 'broken pipe: no temporary file left (path source and sidecars)' '
	rows 1000 >k.jsonl &&
	{ bb-shard -m $HAIKU -t "{q}" --min-records 1 --max-records 2 -o bp1 k.jsonl 2>err;
	  echo $? >rc; } | head -n 1 >/dev/null &&
	test "$(cat rc)" = 141 && test ! -s err && test -e bp1/part-00001.jsonl && no_tmp bp1 &&
	{ cat k.jsonl | bb-shard -m $HAIKU -t "{q}" --min-records 1 --max-records 2 -o bp2 2>err;
	  echo $? >rc; } | head -n 1 >/dev/null &&
	test "$(cat rc)" = 141 && test ! -s err && test -e bp2/part-00001.rows.jsonl.gz &&
	no_tmp bp2
'

R100="--min-records 1 --max-records 100"

# sig_run SIG STATUS: bb-shard reading a pipe that stays open, killed by
# SIG once shard 1 is published and shard 3 begun: it dies of SIG (exit
# status STATUS seen by wait), published files stay, no temporary is left
sig_run() {
	rm -rf sg fifo && mkfifo fifo || return 1
	env $ENV_SIG bb-shard -m $HAIKU -t "{q}" $R100 -o sg <fifo >sg.lines 2>sg.err &
	_pid=$!
	exec 5>fifo &&
	rows 250 >&5 &&
	until_file sg "^part-00001\.jsonl$" &&
	until_file sg "^\.part-00003\.jsonl\..*\.tmp$"
	_ok=$?
	kill -s "$1" $_pid
	wait $_pid
	_rc=$?
	exec 5>&-
	echo "SIG$1: waited $_ok, exit status $_rc" >&2
	test $_ok = 0 && test $_rc = "$2" && test -e sg/part-00001.rows.jsonl.gz &&
	test ! -e sg/part-00002.jsonl && no_tmp sg && test ! -s sg.err
}

# a background job of a non-interactive shell ignores SIGINT: reset it
if env --default-signal=INT true 2>/dev/null; then
	ENV_SIG=--default-signal=INT
	sigs="TERM:143 HUP:129 INT:130"
else
	ENV_SIG=
	sigs="TERM:143 HUP:129"
fi
test_expect_success "killed by a signal ($sigs): temporaries removed, then death by it" '
	for s in $sigs; do
		sig_run ${s%:*} ${s#*:} || { echo "with SIG${s%:*}" >&2; return 1; }
	done
'

test_expect_success '--strict: rejects that cannot be written: exit 2 with the reason, no temporary' '
	{ echo "{bad"; rows 5; } >bad1.jsonl &&
	test_expect_code 2 limited 0 bb-shard -m $HAIKU -t "{q}" --strict -o st bad1.jsonl &&
	test_grep "cannot write .*/st/part-rejects.jsonl.: File too large" lim.err &&
	no_tmp st && test ! -e st/part-rejects.jsonl
'
test_expect_success 'rejects that cannot be written: exit 2 with the reason, no temporary' '
	{ awk "BEGIN { for (i = 1; i <= 100; i++) printf \"{bad row %d %090d\n\", i, 0 }";
	  rows 5; } >bad2.jsonl &&
	test_expect_code 2 limited 1 bb-shard -m $HAIKU -t "{q}" --min-records 1 \
		--max-records 2 -o rj bad2.jsonl &&
	test_grep "cannot write .*/rj/part-rejects.jsonl.: File too large" lim.err &&
	no_tmp rj && test ! -e rj/part-rejects.jsonl && test -e rj/part-00003.jsonl
'
test_expect_success 'a shard or sidecar that cannot be renamed into place: exit 2, no temporary' '
	rows 20000 >k20.jsonl &&
	mkdir -p rn/part-00002.jsonl/x &&
	test_expect_code 2 bb-shard -m $HAIKU -t "{q}" $R100 -o rn k20.jsonl \
		>l 2>err &&
	test_grep "cannot rename .*/rn/.part-00002.jsonl.[0-9]*.tmp.*Is a directory" err &&
	no_tmp rn &&
	mkdir -p rn2/part-00002.rows.jsonl.gz/x &&
	cat k20.jsonl | test_expect_code 2 bb-shard -m $HAIKU -t "{q}" $R100 \
		-o rn2 >l 2>err &&
	test_grep "cannot rename .*/rn2/.part-00002.rows.jsonl.gz.[0-9]*.tmp.*Is a directory" err &&
	no_tmp rn2
'
if command -v mandoc >/dev/null 2>&1; then
	test_expect_success 'man page lints clean' '
		mandoc -T lint -W warning "$top_srcdir/man/bb-shard.1"
	'
else
	test_skip 'man page lints clean' 'mandoc not installed'
fi

test_done
