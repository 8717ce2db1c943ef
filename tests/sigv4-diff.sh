#!/bin/sh
# sigv4-diff.sh - differential test of libshared's SigV4 signer against
# botocore: N random requests (seeded, reproducible) in the flat case format
# are signed by tests/sigv4-cases --sign and by $BB_SHARED/tools/ref_sign.py;
# canonical request, string to sign and signature must agree. TAP output,
# one point per request.
#
#   BB_SIGV4_DIFF_N     number of requests (default 300)
#   BB_SIGV4_DIFF_SEED  random seed (default 1)
#   BB_TEST_KEEP        keep the failing request files
: "${top_builddir:=$(cd "$(dirname "$0")/.." && pwd)}"
ref=${BB_SHARED:-}/tools/ref_sign.py
if ! command -v python3 >/dev/null 2>&1; then
	echo "1..0 # SKIP python3 not found"
	exit 0
fi
if test -z "${BB_SHARED:-}" || ! test -f "$ref"; then
	echo "1..0 # SKIP no reference signer at '$ref' (set BB_SHARED)"
	exit 0
fi
if ! python3 -c 'import botocore' >/dev/null 2>&1; then
	echo "1..0 # SKIP botocore is not installed for python3"
	exit 0
fi
exec python3 - "$ref" "$top_builddir/tests/sigv4-cases" \
	"${BB_SIGV4_DIFF_N:-300}" "${BB_SIGV4_DIFF_SEED:-1}" <<'PYEOF'
import importlib.util, json, random, subprocess, sys
from urllib.parse import quote

ref_path, ours, n, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
spec = importlib.util.spec_from_file_location('ref_sign', ref_path)
ref = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ref)
rng = random.Random(seed)

# Characters for raw paths/queries: unreserved, reserved, space, '%'
# escapes of ASCII, and whole UTF-8 characters (no '#', '?', '&' in paths).
PATH_CH = list('abcXYZ019-_.~') * 4 + list(" $!'()*+,;=:@%") + ['é', 'ሴ', '%41', '%2F', '%zz']
QUERY_CH = list('abcXYZ019-_.~') * 4 + list(" $!'()*+,;:@/") + ['é', 'ሴ', '%41', '%2B', '%3D', '%20']
HDR_CH = list('abcXYZ019-_.~') * 3 + list(' \t"/;,=:')

def word(chars, lo, hi):
    return ''.join(rng.choice(chars) for _ in range(rng.randint(lo, hi)))

def gen():
    s3 = rng.random() < 0.4
    service = 's3' if s3 else rng.choice(['bedrock', 'service', 'sts', 'execute-api'])
    host = rng.choice(['example.amazonaws.com', 'bucket.s3.us-west-2.amazonaws.com',
                       '127.0.0.1:9000', 'bedrock.us-east-1.amazonaws.com:443'])
    scheme = rng.choice(['https', 'http'])
    if host.endswith(':443'):
        scheme = 'https'
    segs = []
    for _ in range(rng.randint(0, 4)):
        r = rng.random()
        if not s3 and r < 0.1:
            segs.append(rng.choice(['.', '..']))
        elif r < 0.15:
            segs.append('')
        else:
            segs.append(word(PATH_CH, 1, 8))
    path = '/' + '/'.join(segs)
    if rng.random() < 0.2:
        path += '/'
    if s3:
        # S3 paths go on the wire encoded once, as botocore serialises keys
        path = quote(path.replace('%', ''), safe='/~')
    params = []
    for _ in range(rng.choice([0, 0, 1, 2, 3, 5])):
        k = word(QUERY_CH, 1, 6)
        if rng.random() < 0.15:
            params.append(k)
        else:
            params.append(k + '=' + word(QUERY_CH, 0, 8))
    # no repeated keys: ref_sign hands botocore the pairs as a dict
    seen, uniq = set(), []
    for p in params:
        if p.split('=')[0] not in seen:
            seen.add(p.split('=')[0])
            uniq.append(p)
    params = uniq
    query = '&'.join(params)
    url = scheme + '://' + host + path + ('?' + query if query else '')
    headers = []
    if rng.random() < 0.5:
        headers.append(['Host', host.replace(':443', '') if scheme == 'https' else host])
    for _ in range(rng.randint(0, 4)):
        name = rng.choice(['My-Header', 'x-amz-meta-Foo', 'Content-Type', 'X-Custom', 'zed'])
        headers.append([name, word(HDR_CH, 0, 12)])
    sig_type = 'query' if rng.random() < 0.3 else 'header'
    method = rng.choice(['GET', 'PUT', 'POST', 'DELETE', 'HEAD'])
    desc = {
        'method': method, 'url': url, 'headers': headers,
        'access_key': 'AKID' + word('ABCDEFGHIJ0123456789', 8, 16),
        'secret_key': word('abcdefghijABCDEFGHIJ0123456789/+', 20, 40),
        'token': rng.choice([None, None, 'tok/' + word('abcdef0123456789+=/', 10, 40)]),
        'region': rng.choice(['us-east-1', 'eu-west-3', 'ap-southeast-2']),
        'service': service,
        'timestamp': '%04d%02d%02dT%02d%02d%02dZ' % (rng.randint(2013, 2030),
            rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23), rng.randint(0, 59),
            rng.randint(0, 59)),
        'signature_type': sig_type,
        'options': {'s3': s3},
    }
    if any(h[0].lower() == 'content-type' for h in headers):
        # stock botocore moves form bodies into the query when presigning
        for h in headers:
            if h[0].lower() == 'content-type':
                h[1] = h[1].replace('x-www-form-urlencoded', 'json')
    if sig_type == 'query':
        desc['expires'] = rng.randint(1, 604800)
        desc['options']['form_body_to_query'] = False
    r = rng.random()
    if r < 0.3:
        desc['body'] = word(QUERY_CH + ['\n', '{', '}'], 0, 40)
    elif r < 0.4:
        desc['body_sha256'] = rng.choice(['UNSIGNED-PAYLOAD',
            'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'STREAMING-UNSIGNED-PAYLOAD-TRAILER'])
    if rng.random() < 0.15:
        desc['options']['unsigned_payload'] = True
    if not s3 and sig_type == 'header' and rng.random() < 0.2:
        desc['options']['content_sha256_header'] = True
    if desc['token'] and rng.random() < 0.3:
        desc['options']['omit_session_token'] = True
    if not s3 and rng.random() < 0.15:
        desc['options']['normalize_path'] = False
    return desc

failed = 0
for i in range(1, n + 1):
    desc = gen()
    text = json.dumps(desc, ensure_ascii=False)
    try:
        want = ref.sign(json.loads(text))
    except Exception as e:                     # the generator's fault, say so
        print('not ok %d - request %d: reference signer failed: %s' % (i, i, e))
        failed += 1
        continue
    p = subprocess.run([ours, '--sign'], input=text.encode('utf-8'),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        print('not ok %d - request %d: sigv4-cases --sign failed: %s' % (i, i,
              p.stderr.decode('utf-8', 'replace').strip()))
        failed += 1
        continue
    got = json.loads(p.stdout.decode('utf-8'))
    bad = [k for k in ('canonical_request', 'string_to_sign', 'signature')
           if got.get(k) != want.get(k)]
    label = '%s %s %s %s' % (desc['options'].get('s3') and 's3' or desc['service'],
                             desc['signature_type'], desc['method'], desc['url'][:60])
    if bad:
        failed += 1
        print('not ok %d - %s: %s differ' % (i, label, ', '.join(bad)))
        print('#   request: %s' % text)
        for k in bad[:1]:
            for line in str(want.get(k)).split('\n'):
                print('#   botocore | %s' % line)
            for line in str(got.get(k)).split('\n'):
                print('#   ours     | %s' % line)
    else:
        print('ok %d - %s' % (i, label))
print('1..%d' % n)
print('# %d passed, %d failed (seed %d)' % (n - failed, failed, seed))
sys.exit(1 if failed else 0)
PYEOF
