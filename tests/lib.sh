# lib.sh - a small shell test library in the manner of git's t/test-lib.sh,
# speaking TAP. Source it from a tests/*.sh script:
#
#   . "$top_srcdir/tests/lib.sh"
#   test_expect_success 'name' 'commands joined with &&'
#   test_must_fail cmd args       (exit 1..125, not a crash)
#   test_expect_code N cmd args
#   test_cmp expected actual
#   test_done
#
# Each test runs in the scratch directory $TEST_DIR (removed at the end
# unless BB_TEST_KEEP is set). PY is the python3 to run, FIX the fixtures
# directory; test_require skips a script that lacks what it needs, scen_ok
# reads a fixture scenario's result, s3_etag gives an S3 ETag. Helpers
# for bb-emu, one or several named ones: emu_start / emu_stop / emu_use /
# emu_aws_env (see "bb-emu" below); for radosgw: rgw_start / rgw_stop; for
# broken AWS configurations: cfg_env / cfg_msg.

set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
PATH="$top_builddir/cmd:$top_builddir/cmd/bb-emu:$PATH"
LC_ALL=C
export PATH LC_ALL
PY=${PYTHON3:-python3}
FIX=$top_srcdir/tests/fixtures

test_count=0
test_failures=0
TEST_NAME=$(basename "$0" .sh)
TEST_DIR=$(mktemp -d "${TMPDIR:-/tmp}/bb-$TEST_NAME.XXXXXX")
test_cleanup_hooks=

test_at_exit() {
	test_cleanup_hooks="$1${test_cleanup_hooks:+; $test_cleanup_hooks}"
}

_test_exit() {
	eval "$test_cleanup_hooks" 2>/dev/null
	if test -z "${BB_TEST_KEEP:-}"; then
		rm -rf "$TEST_DIR"
	else
		echo "# kept $TEST_DIR"
	fi
}
trap _test_exit EXIT
trap 'exit 143' TERM INT

say() { echo "# $*"; }

test_expect_success() {
	test_count=$((test_count + 1))
	_name=$1
	shift
	if (cd "$TEST_DIR" && _test_trace_on && eval "$*") >"$TEST_DIR/.out" 2>&1; then
		echo "ok $test_count - $_name"
	else
		test_failures=$((test_failures + 1))
		echo "not ok $test_count - $_name"
		sed -e 's/^/#   /' "$TEST_DIR/.out" | head -n 60
		if test -s "$TEST_DIR/.trace"; then
			echo "#   the last commands run (the failing one last):"
			grep '^+' "$TEST_DIR/.trace" | tail -n 12 | cut -c1-300 | sed -e 's/^/#   /'
		fi
	fi
	rm -f "$TEST_DIR/.trace"
}

# Under bash, a test's commands are traced (set -x) into $TEST_DIR/.trace
# through BASH_XTRACEFD, so a failure shows the command that failed without
# the trace reaching any file the test redirects stderr into. Other shells
# do not trace.
_test_trace_on() {
	test -n "${BASH_VERSION:-}" || return 0
	exec 19>"$TEST_DIR/.trace" && BASH_XTRACEFD=19 && set -x
}

test_skip() {
	test_count=$((test_count + 1))
	echo "ok $test_count # SKIP $1: $2"
}

test_skip_all() {
	echo "1..0 # SKIP $*"
	exit 0
}

# test_require WHAT...: skip the whole script unless each is there: emu
# (bb-emu was built), boto3 (python3 can import it), aws (the AWS CLI), or
# any other command.
test_require() {
	for _w; do
		case $_w in
		emu)
			emu_available ||
				test_skip_all "bb-emu was not built (libmicrohttpd missing?)" ;;
		boto3)
			"$PY" -c 'import boto3' 2>/dev/null ||
				test_skip_all "python3 boto3 is not installed" ;;
		aws)
			command -v aws >/dev/null 2>&1 ||
				test_skip_all "the AWS CLI (aws) is not installed" ;;
		*)
			command -v "$_w" >/dev/null 2>&1 || test_skip_all "$_w is not installed" ;;
		esac
	done
}

test_must_fail() {
	"$@"
	_rc=$?
	if test $_rc -eq 0; then
		echo "test_must_fail: command succeeded: $*" >&2
		return 1
	elif test $_rc -gt 125; then
		echo "test_must_fail: command died of a signal or crashed ($_rc): $*" >&2
		return 1
	fi
	return 0
}

test_expect_code() {
	_want=$1
	shift
	"$@"
	_rc=$?
	if test $_rc -ne "$_want"; then
		echo "test_expect_code: got exit $_rc, want $_want: $*" >&2
		return 1
	fi
	return 0
}

test_cmp() {
	diff -u "$1" "$2"
}

test_grep() {
	if ! grep "$@"; then
		echo "test_grep: no match for: $*" >&2
		for _f; do :; done
		test -f "$_f" && sed -e 's/^/> /' "$_f" | head -n 20 >&2
		return 1
	fi
}

test_done() {
	echo "1..$test_count"
	test "$test_failures" -eq 0
}

# A free TCP port on 127.0.0.1 for a server started by port number (the
# emulator picks its own). Taken at random below the kernel's ephemeral
# range, not as the kernel's choice for a bind to port 0: that choice can
# be the same for two tests starting servers in parallel, and a port-0
# bind (every bb-emu) or a connection can take it before the server
# binds; a readiness check then reaches the wrong server (seen in CI:
# moto's port answered by another test's radosgw).
free_port() {
	"${PYTHON3:-python3}" -c '
import random, socket
try:
    lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
except (OSError, ValueError, IndexError):
    lo = 32768
for _ in range(200):
    port = random.randrange(10000, lo) if lo > 11000 else 0
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        port = s.getsockname()[1]
    except OSError:
        continue
    finally:
        s.close()
    print(port)
    break
else:
    raise SystemExit("free_port: no free port")'
}

# s3_etag FILE [PARTSIZE]: the ETag S3 gives FILE, quoted: its MD5, or,
# uploaded in parts of PARTSIZE bytes, the MD5 of the parts' MD5s and "-N".
s3_etag() {
	"$PY" - "$@" <<'EOF'
import hashlib, sys
d = open(sys.argv[1], "rb").read()
if len(sys.argv) < 3:
    print('"%s"' % hashlib.md5(d).hexdigest())
else:
    n = int(sys.argv[2])
    ps = [d[i:i + n] for i in range(0, len(d), n)]
    md5s = b"".join(hashlib.md5(p).digest() for p in ps)
    print('"%s-%d"' % (hashlib.md5(md5s).hexdigest(), len(ps)))
EOF
}

# scen_ok LABEL: a scenario of a tests/fixtures/*.py run with --results
# "$TEST_DIR/res" (a file for each LABEL, PASS its last line when it
# passed): shows what it printed, and passes when it passed.
scen_ok() {
	cat "$TEST_DIR/res/$1" 2>/dev/null && test "$(tail -n 1 "$TEST_DIR/res/$1")" = PASS
}

# ---- bb-emu for end-to-end tests ----
#
#   emu_start [--name NAME] [bb-emu flags]
#       Start bb-emu on a free port of 127.0.0.1 (a --listen among the
#       flags wins) and wait for its ready line. Call it at the top level
#       of a test script, not inside test_expect_success (which runs in a
#       subshell). Returns 1, bb-emu's stderr shown, when it did not start.
#       Without --name: one emulator for the script, its data in $EMU_DATA
#       (default $TEST_DIR/emu-data; set it before a second emu_start to
#       restart on the same data), stdout in $TEST_DIR/emu.out, stderr
#       added to $TEST_DIR/emu.err.
#       --name NAME (letters, digits, _): one of several emulators, each
#       with its data in $TEST_DIR/NAME (emu_start --name NAME again after
#       emu_stop NAME restarts it on the same data), stdout (the ready
#       line) in $TEST_DIR/NAME.out, stderr added to $TEST_DIR/NAME.err;
#       its URL and pid also in EMU_URL_NAME and EMU_PID_NAME (EMU_DATA is
#       left alone). One NAME runs once at a time.
#       Either way EMU_URL and EMU_PID are the last one started, and
#       emu_aws_env "$EMU_URL" is applied (AWS_ENDPOINT_URL too is the last
#       one); every emulator still running is stopped at exit.
#   emu_stop [NAME | --all]
#       SIGTERM and wait: for the last one started (EMU_PID), for the one
#       named NAME, or for all still running (all asked at once). Exit
#       status in EMU_RC (--all: 0, or the last non-zero one); EMU_RC is
#       empty when none was running. EMU_URL, EMU_URL_NAME are kept.
#   emu_use NAME
#       Make the running emulator NAME the current one again: EMU_URL,
#       EMU_PID and emu_aws_env (AWS_ENDPOINT_URL) are its.
#   emu_aws_env URL [ACCESS_KEY SECRET_KEY]
#       Export what an AWS client needs to talk to URL alone: the key pair
#       (default bb-emu's, EMU_ACCESS_KEY / EMU_SECRET_KEY), AWS_REGION and
#       AWS_DEFAULT_REGION us-east-1, AWS_ENDPOINT_URL; the user's AWS
#       config files, profile, session and bearer tokens, per-service
#       endpoints and the EC2 metadata service kept out.
#   emu_available              0 when bb-emu was built.
#   emu_faults JSON            POST JSON to $EMU_URL/_emu/faults (needs curl).
#   emu_lose N MATCH           bb-emu carries out the next N requests whose
#                              "METHOD /path?query" starts with MATCH and
#                              loses their answers (lose_next, lose_match).
BB_EMU=${BB_EMU:-$top_builddir/cmd/bb-emu/bb-emu}
EMU_ACCESS_KEY=AKIAIOSFODNN7EXAMPLE
EMU_SECRET_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
EMU_PID=
EMU_URL=
# the emulators running, " NAME=PID" each ("-" for the unnamed one)
_emu_running=
_emu_hooked=

emu_available() {
	test -x "$BB_EMU"
}

emu_aws_env() {
	AWS_ENDPOINT_URL=$1
	AWS_ACCESS_KEY_ID=${2:-$EMU_ACCESS_KEY}
	AWS_SECRET_ACCESS_KEY=${3:-$EMU_SECRET_KEY}
	AWS_REGION=us-east-1
	AWS_DEFAULT_REGION=us-east-1
	AWS_CONFIG_FILE=/dev/null
	AWS_SHARED_CREDENTIALS_FILE=/dev/null
	AWS_EC2_METADATA_DISABLED=true
	export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION AWS_DEFAULT_REGION \
		AWS_ENDPOINT_URL AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE \
		AWS_EC2_METADATA_DISABLED
	unset AWS_PROFILE AWS_SESSION_TOKEN AWS_BEARER_TOKEN_BEDROCK \
		AWS_ENDPOINT_URL_S3 AWS_ENDPOINT_URL_BEDROCK AWS_ENDPOINT_URL_BEDROCK_RUNTIME
}

emu_start() {
	_en=-
	if test "${1:-}" = --name; then
		_en=${2:-}
		_emu_name_ok emu_start "$_en" || return 1
		shift 2
		case $_emu_running in
		*" $_en="*)
			echo "emu_start: bb-emu '$_en' is running already" >&2
			return 1 ;;
		esac
		_edata=$TEST_DIR/$_en _eout=$TEST_DIR/$_en.out _eerr=$TEST_DIR/$_en.err
	else
		: "${EMU_DATA:=$TEST_DIR/emu-data}"
		_edata=$EMU_DATA _eout=$TEST_DIR/emu.out _eerr=$TEST_DIR/emu.err
		export EMU_DATA
	fi
	: >"$_eout"   # a restart must not read the last run's port
	"$BB_EMU" --listen 127.0.0.1:0 --data-dir "$_edata" "$@" >"$_eout" 2>>"$_eerr" &
	_epid=$!
	_emu_running="$_emu_running $_en=$_epid"
	if test -z "$_emu_hooked"; then
		test_at_exit 'emu_stop --all'
		_emu_hooked=1
	fi
	_i=0
	while ! grep -q '^bb-emu: listening on ' "$_eout" 2>/dev/null; do
		_i=$((_i + 1))
		if test $_i -gt 200 || ! kill -0 "$_epid" 2>/dev/null; then
			echo "emu_start: bb-emu did not start" >&2
			cat "$_eerr" >&2
			kill -KILL "$_epid" 2>/dev/null && wait "$_epid"
			_emu_reap "$_en" "$_epid"
			return 1
		fi
		sleep 0.05
	done
	EMU_PID=$_epid
	EMU_URL=$(sed -n 's/^bb-emu: listening on //p' "$_eout")
	if test "$_en" != -; then
		eval "EMU_PID_$_en=\$EMU_PID EMU_URL_$_en=\$EMU_URL"
	fi
	emu_aws_env "$EMU_URL"
	export EMU_URL EMU_PID
}

emu_use() {
	_emu_name_ok emu_use "$1" || return 1
	eval "_epid=\${EMU_PID_$1:-} _eurl=\${EMU_URL_$1:-}"
	if test -z "$_epid"; then
		echo "emu_use: no bb-emu named '$1' is running" >&2
		return 1
	fi
	EMU_PID=$_epid EMU_URL=$_eurl
	emu_aws_env "$EMU_URL"
	export EMU_URL EMU_PID
}

# _emu_name_ok FUNCTION NAME: 0 when NAME can be part of a variable name.
_emu_name_ok() {
	case $2 in
	''|*[!A-Za-z0-9_]*)
		echo "$1: bad name '$2' (letters, digits, _)" >&2
		return 1 ;;
	esac
}

# _emu_reap NAME PID: forget an emulator (SIGTERM sent or not running).
_emu_reap() {
	_eleft=
	for _r in $_emu_running; do
		test "$_r" = "$1=$2" || _eleft="$_eleft $_r"
	done
	_emu_running=$_eleft
	test "$1" = - || eval "EMU_PID_$1="
	test "$2" != "$EMU_PID" || EMU_PID=
}

emu_stop() {
	EMU_RC=
	case ${1:-} in
	--all)
		_estop=$_emu_running ;;
	'')
		_estop=
		for _e in $_emu_running; do
			test "${_e#*=}" != "${EMU_PID:-x}" || _estop=$_e
		done ;;
	*)
		_estop=
		for _e in $_emu_running; do
			test "${_e%%=*}" != "$1" || _estop=$_e
		done ;;
	esac
	for _e in $_estop; do
		kill -TERM "${_e#*=}" 2>/dev/null
	done
	for _e in $_estop; do
		wait "${_e#*=}"
		_erc=$?
		test "$_erc" -ne 0 || test -n "$EMU_RC" || EMU_RC=0
		test "$_erc" -eq 0 || EMU_RC=$_erc
		_emu_reap "${_e%%=*}" "${_e#*=}"
	done
	return 0
}

emu_faults() {
	curl -sS -f -X POST -H 'Content-Type: application/json' --data "$1" "$EMU_URL/_emu/faults"
}

emu_lose() {
	emu_faults "{\"lose_next\":$1,\"lose_match\":\"$2\"}" >/dev/null
}

# ---- Ceph radosgw, a production S3, for differential tests ----
#
#   rgw_available      0 when $BB_SHARED/peers/rgw-up.sh and radosgw,
#       ceph-mon and ceph-osd are there; otherwise RGW_WHY says what is not.
#   rgw_start          a throw-away one-monitor, one in-memory-OSD cluster
#       and radosgw (rgw-up.sh, ~12 s) in $TEST_DIR/rgw on a free port of
#       127.0.0.1. Sets RGW_URL, RGW_ACCESS_KEY, RGW_SECRET_KEY and stops it
#       at exit. The monitor's port (3300) is fixed, so one cluster runs at
#       a time: rgw_start waits (up to 120 s each) for a lock that tests
#       hold while theirs runs and for port 3300 to be free. Returns 1 with
#       RGW_WHY set when it could not start one (log in $TEST_DIR/rgw.log).
#       Call it at the top level.
#   rgw_stop           rgw-down.sh, then the lock is released.
RGW_DIR=
RGW_URL=
RGW_ACCESS_KEY=AKIDTESTRGW
RGW_SECRET_KEY=secretTESTRGW
RGW_WHY=

rgw_available() {
	_peers=${BB_SHARED:-}/peers
	if test -z "${BB_SHARED:-}" || ! test -x "$_peers/rgw-up.sh"; then
		RGW_WHY="no \$BB_SHARED/peers/rgw-up.sh (BB_SHARED='${BB_SHARED:-}')"
		return 1
	fi
	for _p in radosgw ceph-mon ceph-osd monmaptool radosgw-admin ceph curl; do
		if ! command -v $_p >/dev/null 2>&1; then
			RGW_WHY="$_p is not installed (apt-get install radosgw ceph-mon ceph-osd)"
			return 1
		fi
	done
	return 0
}

rgw_start() {
	rgw_available || return 1
	_t0=$(date +%s)
	if command -v flock >/dev/null 2>&1; then
		exec 8>"${TMPDIR:-/tmp}/bb-rgw-3300.lock"
		if ! flock -w 120 8; then
			RGW_WHY="another Ceph cluster held port 3300 for 120 s"
			exec 8>&-
			return 1
		fi
	fi
	# a cluster started without the lock: wait for it too
	_i=0
	while ! "${PYTHON3:-python3}" -c \
		'import socket; s=socket.socket(); s.bind(("127.0.0.1",3300))' 2>/dev/null; do
		_i=$((_i + 1))
		if test $_i -gt 120; then
			RGW_WHY="port 3300 (the Ceph monitor's) stayed in use for 120 s"
			exec 8>&-
			return 1
		fi
		sleep 1
	done
	_t1=$(date +%s)
	test $((_t1 - _t0)) -lt 2 || say "rgw_start: waited $((_t1 - _t0)) s for another Ceph cluster"
	RGW_DIR=$TEST_DIR/rgw
	_port=$(free_port)
	test_at_exit rgw_stop
	if ! timeout 90 "$BB_SHARED/peers/rgw-up.sh" "$RGW_DIR" "$_port" \
		"$RGW_ACCESS_KEY" "$RGW_SECRET_KEY" >"$TEST_DIR/rgw.log" 2>&1; then
		RGW_WHY="radosgw did not come up: $(tail -n 1 "$TEST_DIR/rgw.log")"
		return 1
	fi
	RGW_URL=http://127.0.0.1:$_port
	export RGW_URL RGW_ACCESS_KEY RGW_SECRET_KEY
}

rgw_stop() {
	if test -n "$RGW_DIR"; then
		# all three asked to stop at once (rgw-down.sh waits on each in turn)
		for _f in "$RGW_DIR"/run/*.pid; do
			test -f "$_f" && kill -TERM "$(cat "$_f")" 2>/dev/null
		done
		"$BB_SHARED/peers/rgw-down.sh" "$RGW_DIR" >/dev/null 2>&1
		RGW_DIR=
		RGW_URL=
		exec 8>&-
	fi
}

# cfg_env CASE CMD...: CMD with the AWS configuration broken one way:
# nocreds (no credentials anywhere), noregion, sso (a profile of IAM
# Identity Center) or role (an assume-role profile; neither is supported);
# ok: made-up credentials and a region, nothing else.
cfg_env() {
	_case=$1
	shift
	printf '%s\n' '[profile sso]' 'sso_session = s' 'sso_account_id = 123456789012' \
		'sso_role_name = R' 'region = us-east-1' '[sso-session s]' \
		'sso_start_url = https://example.awsapps.com/start' 'sso_region = us-east-1' \
		'[profile role]' 'role_arn = arn:aws:iam::123456789012:role/R' \
		'source_profile = sso' 'region = us-east-1' >"$TEST_DIR/cfg.config"
	(
		unset AWS_PROFILE AWS_SESSION_TOKEN AWS_BEARER_TOKEN_BEDROCK AWS_ROLE_ARN \
			AWS_CONTAINER_CREDENTIALS_RELATIVE_URI AWS_CONTAINER_CREDENTIALS_FULL_URI \
			AWS_WEB_IDENTITY_TOKEN_FILE
		AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
		AWS_EC2_METADATA_DISABLED=true
		export AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE AWS_EC2_METADATA_DISABLED
		case $_case in
		nocreds)
			unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
			AWS_REGION=us-east-1 && export AWS_REGION ;;
		ok|noregion)
			test $_case = ok || unset AWS_REGION AWS_DEFAULT_REGION
			test $_case != ok || { AWS_REGION=us-east-1 && export AWS_REGION; }
			AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=secret
			export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY ;;
		sso|role)
			unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
			AWS_CONFIG_FILE=$TEST_DIR/cfg.config AWS_PROFILE=$_case
			export AWS_PROFILE ;;
		esac
		exec "$@"
	)
}
# cfg_msg CASE: what the error message of a cfg_env case says.
cfg_msg() {
	case $1 in
	nocreds) echo "no AWS credentials found" ;;
	noregion) echo "no region" ;;
	sso) echo "uses IAM Identity Center (SSO) credentials, which are not supported" ;;
	role) echo "uses assume role (role_arn) credentials, which are not supported" ;;
	esac
}
