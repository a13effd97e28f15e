#!/usr/bin/python3
"""Makes the botocore test vectors of sigv4_test.cc: requests signed by the real
botocore at a fixed time, printed as C++ to paste between the BEGIN/END
GENERATED markers there.

Run it with Debian's Python, whose botocore is the one in dist-packages:
    /usr/bin/python3 tests/unit/api/sigv4_vectors.py
(amz-sdk-invocation-id is random, so regenerated vectors differ in that unsigned
header only.)

Each request is taken as amid's HTTP door would receive it: method, the
request-target (path and query of the URL botocore sends to), the headers
botocore sends plus the Host its HTTP client adds, and the body.

Two signers are exercised. With python3-awscrt installed (as on Debian), a
botocore client signs through awscrt's aws-c-auth (botocore/crt/auth.py:
CrtSigV4Auth, CrtSigV4QueryAuth); the "direct" vectors use botocore.auth's
pure-Python SigV4Auth and SigV4QueryAuth. A client's presigned URL is signed
for the operation's HTTP method, which for EC2 is POST (with an empty body).
"""
import calendar
import datetime
import hashlib
from unittest import mock
from urllib.parse import urlsplit

import botocore
import botocore.auth
import botocore.compat
import botocore.session
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.credentials import Credentials

FIXED = datetime.datetime(2026, 1, 15, 10, 20, 30)  # UTC
ACCESS_KEY = 'AKIAAMIDTEST00000001'
SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYAMIDTEST01'
ENDPOINT = 'http://127.0.0.1:8773'


class FixedDateTime(datetime.datetime):
    @classmethod
    def utcnow(cls):
        return FIXED


class _Raw:
    def stream(self, **_):
        yield b''


def client(region):
    c = botocore.session.get_session().create_client(
        'ec2', region_name=region, endpoint_url=ENDPOINT,
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET)
    sent = []

    def capture(request, **_):
        sent.append(request)
        return AWSResponse(request.url, 200, {}, _Raw())  # never reaches the network

    c.meta.events.register('before-send.ec2', capture)
    return c, sent


def call(region, operation, **params):
    """The request a real EC2 client sends for `operation` (header form, POST)."""
    c, sent = client(region)
    try:
        getattr(c, operation)(**params)
    except Exception:  # the empty answer does not parse; the request is all we want
        pass
    r = sent[0]
    return r.method, r.url, list(r.headers.items()), r.body


def presign(region, operation, params, expires):
    """A presigned URL made by generate_presigned_url, with the method it is signed for."""
    c, _ = client(region)
    url = c.generate_presigned_url(operation, Params=params, ExpiresIn=expires)
    operation_name = c.meta.method_to_api_mapping[operation]
    method = c.meta.service_model.operation_model(operation_name).http['method']
    return method, url, [], b''


def direct_presign(region, method, url, expires):
    """A presigned URL made by SigV4QueryAuth itself."""
    r = AWSRequest(method=method, url=url)
    botocore.auth.SigV4QueryAuth(Credentials(ACCESS_KEY, SECRET), 'ec2', region, expires).add_auth(r)
    return r.method, r.url, list(r.headers.items()), b''


def direct(region, method, url, headers, body=b'', context=None):
    """A request signed by SigV4Auth itself, for shapes the EC2 client never makes."""
    r = AWSRequest(method=method, url=url, data=body)
    for name, value in headers:
        r.headers[name] = value  # HTTPHeaders appends: a repeated name stays repeated
    r.context.update(context or {})
    botocore.auth.SigV4Auth(Credentials(ACCESS_KEY, SECRET), 'ec2', region).add_auth(r)
    headers = list(r.headers.items())  # before prepare(), which keeps one of a repeated name
    p = r.prepare()
    return p.method, p.url, headers, p.body or b''


def cpp(value):
    if isinstance(value, bytes):
        value = value.decode('latin-1')
    out = []
    for ch in value:
        o = ord(ch)
        if ch in '"\\':
            out.append('\\' + ch)
        elif 0x20 <= o < 0x7f:
            out.append(ch)
        else:
            out.append('\\%03o' % o)  # octal: at most 3 digits, so it never eats the next char
    return '"' + ''.join(out) + '"'


def emit(name, region, request):
    method, url, headers, body = request
    parts = urlsplit(url)
    target = parts.path or '/'
    if parts.query:
        target += '?' + parts.query
    headers = [(k if isinstance(k, str) else k.decode(), v) for k, v in headers]
    if not any(k.lower() == 'host' for k, _ in headers):
        headers.insert(0, ('Host', parts.netloc))
    if isinstance(body, str):
        body = body.encode()
    print('    {%s, %s, {%s, %s,' % (cpp(name), cpp(region), cpp(method), cpp(target)))
    print('      {')
    for k, v in headers:
        print('        {%s, %s},' % (cpp(k), cpp(v)))
    print('      },')
    print('      %s}},' % cpp(body))


def main():
    with mock.patch.object(botocore.auth.datetime, 'datetime', FixedDateTime):
        vectors = [
            ('post_describe_images', 'us-east-1',
             call('us-east-1', 'describe_images', ImageIds=['ami-0123456789abcdef0'])),
            ('post_filters_in_another_region', 'eu-west-1',
             call('eu-west-1', 'describe_images', Owners=['self'],
                  Filters=[{'Name': 'tag:Name', 'Values': ['web/server 1 & co', 'caf\u00e9']}])),
            ('presigned_post_describe_images', 'us-east-1',
             presign('us-east-1', 'describe_images',
                     {'ImageIds': ['ami-0123456789abcdef0'],
                      'Filters': [{'Name': 'name', 'Values': ['a b/c+d~e', 'caf\u00e9']}]}, 300)),
            ('presigned_get_direct', 'ap-southeast-2',
             direct_presign('ap-southeast-2', 'GET',
                            ENDPOINT + '/?Action=DescribeImages&Version=2016-11-15&Owner.1=self'
                            '&Filter.1.Name=name&Filter.1.Value.1=web%20%2A', 600)),
            ('get_header_form_path_query_and_repeated_header', 'us-west-2',
             direct('us-west-2', 'GET',
                    ENDPOINT + '/a/./b/../c%20d//~x/?Zeta=1&alpha=two%20words&alpha=a&B=%2F&empty=',
                    [('X-Custom', '  spaced    out   value '), ('X-Multi', 'one'), ('X-Multi', 'two')])),
            ('post_date_header_instead_of_x_amz_date', 'us-east-1',
             direct('us-east-1', 'POST', ENDPOINT + '/',
                    [('Content-Type', 'application/x-www-form-urlencoded; charset=utf-8'),
                     ('Date', 'Thu, 01 Jan 1970 00:00:00 GMT')],
                    b'Action=DescribeRegions&Version=2016-11-15')),
            ('post_x_amz_content_sha256', 'us-east-1',
             direct('us-east-1', 'POST', ENDPOINT + '/',
                    [('Content-Type', 'application/x-www-form-urlencoded; charset=utf-8'),
                     ('X-Amz-Content-SHA256',
                      hashlib.sha256(b'Action=DescribeRegions&Version=2016-11-15').hexdigest())],
                    b'Action=DescribeRegions&Version=2016-11-15')),
            ('post_unsigned_payload_over_https', 'us-east-1',
             direct('us-east-1', 'POST', 'https://127.0.0.1:8773/',
                    [('Content-Type', 'application/x-www-form-urlencoded; charset=utf-8')],
                    b'Action=DescribeRegions&Version=2016-11-15',
                    context={'payload_signing_enabled': False})),
        ]
    print('// BEGIN GENERATED by tests/unit/api/sigv4_vectors.py with botocore %s (awscrt %s);'
          % (botocore.__version__, 'in use' if botocore.compat.HAS_CRT else 'absent'))
    print('// signed at %s (unix %d) with kBotocoreKeyId / kBotocoreSecret.'
          % (FIXED.strftime('%Y-%m-%dT%H:%M:%SZ'), calendar.timegm(FIXED.timetuple())))
    print('const std::int64_t kBotocoreSignedAt = %d;' % calendar.timegm(FIXED.timetuple()))
    print('const BotocoreVector kBotocoreVectors[] = {')
    for name, region, request in vectors:
        emit(name, region, request)
    print('};')
    print('// END GENERATED')


if __name__ == '__main__':
    main()
