#!/usr/bin/python3
"""Times amid's answers on its EC2 HTTP endpoint, for bench/ec2api.sh.

  ec2_http.py --endpoint http://127.0.0.1:PORT --region R --action DescribeImages
              [--param NAME=VALUE ...] (--count N | --rate R --seconds S)

Credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. Each request is
signed with SigV4 by Debian's botocore (botocore.auth.SigV4Auth, as the AWS CLI
signs) before the clock starts, sent on one HTTP/1.1 connection kept open, and
timed from the write of the request to the last byte of the answer: the
daemon's own time, SigV4 check included, without the client's signing or
start-up. Prints "http<TAB>seconds" per request.

--count N: N requests back to back. --rate R --seconds S: a request every 1/R
seconds for S seconds (sent late when the previous answer came late: the rate
reached is what the daemon sustained); on stderr the rate reached.
Exits 1 if any answer is not HTTP 200.
"""
import argparse
import http.client
import os
import sys
import time
import urllib.parse

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--region", default="local-1")
    ap.add_argument("--action", required=True)
    ap.add_argument("--param", action="append", default=[])
    ap.add_argument("--count", type=int)
    ap.add_argument("--rate", type=float)
    ap.add_argument("--seconds", type=float, default=10.0)
    a = ap.parse_args()
    creds = Credentials(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"])
    signer = SigV4Auth(creds, "ec2", a.region)
    url = urllib.parse.urlparse(a.endpoint)
    form = [("Action", a.action), ("Version", "2016-11-15")] + [tuple(p.split("=", 1)) for p in a.param]
    body = urllib.parse.urlencode(form, quote_via=urllib.parse.quote)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)

    def one():
        req = AWSRequest(method="POST", url=a.endpoint + "/", data=body,
                         headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
        signer.add_auth(req)
        headers = dict(req.headers.items())
        t0 = time.perf_counter()
        conn.request("POST", "/", body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        t = time.perf_counter() - t0
        if resp.status != 200:
            sys.stderr.write("ec2_http: HTTP %d: %s\n" % (resp.status, data[:300].decode("utf-8", "replace")))
            sys.exit(1)
        print("http\t%.6f" % t)
        return len(data)

    size = 0
    if a.count:
        for _ in range(a.count):
            size = one()
        sys.stderr.write("ec2_http: %d requests, answer %d bytes\n" % (a.count, size))
        return
    interval = 1.0 / a.rate
    start = time.perf_counter()
    n = 0
    while time.perf_counter() - start < a.seconds:
        due = start + n * interval
        now = time.perf_counter()
        if due > now:
            time.sleep(due - now)
        size = one()
        n += 1
    took = time.perf_counter() - start
    sys.stderr.write("ec2_http: %d requests in %.2f s: %.1f per second, answer %d bytes\n" % (n, took, n / took, size))
    print("rate\t%.2f" % (n / took))


if __name__ == "__main__":
    main()
