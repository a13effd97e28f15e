#!/usr/bin/python3
"""The seed's lab walkthrough driven by boto3 (Debian's python3-boto3) against
amid's EC2 endpoint, and the errors a boto3 script catches, by EC2's codes.

Run with Debian's /usr/bin/python3 (python3-boto3 is installed for it). Reads:
  AMID_EC2_ENDPOINT       http://127.0.0.1:PORT (amid's log: "EC2 API on ...")
  AWS_ACCESS_KEY_ID       a key from `amictl create-access-key`
  AWS_SECRET_ACCESS_KEY   its secret
  AMID_TINY_IMAGE         the tiny template's qcow2 (a busybox guest)
Prints one line a step, with the time since the start and the step's own;
exits 0 when every step held, 1 with the reason otherwise (2: bad environment).
tests/e2e/ec2_api_test.cc runs it against a fresh amid; it leaves nothing
behind there but what a failure interrupted.
"""
import contextlib
import datetime
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import types
from unittest import mock

import boto3
import botocore.auth
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, WaiterError

REGION = 'local-1'  # amid's region: the signature's credential scope names it
MARKER = 'amid-sdk-boto3-user-data-ran'
START = time.monotonic()
# amid answers within milliseconds: poll every second, not EC2's 15 s.
FAST_WAIT = {'Delay': 1, 'MaxAttempts': 120}


class Failed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failed(message)


@contextlib.contextmanager
def step(name):
    """One line a step: time since the start, the step, its duration, what it found."""
    began = time.monotonic()
    notes = []
    try:
        yield notes
    except BaseException:
        print(f'[{time.monotonic() - START:6.1f}s] {name}: FAILED after {time.monotonic() - began:.1f}s', flush=True)
        raise
    said = ': ' + ' '.join(notes) if notes else ''
    print(f'[{time.monotonic() - START:6.1f}s] {name} ({time.monotonic() - began:.1f}s){said}', flush=True)


def error_code(call, *args, **kwargs):
    """The EC2 error code the call raises (a Failed when it succeeds)."""
    try:
        call(*args, **kwargs)
    except ClientError as e:
        return e.response['Error']['Code']
    raise Failed(f'{call.__name__} succeeded where an error was expected')


def expect_error(code, call, *args, **kwargs):
    got = error_code(call, *args, **kwargs)
    check(got == code, f'{call.__name__}: expected {code}, got {got}')
    return code


def client(endpoint, key_id, secret, **config):
    return boto3.client('ec2', endpoint_url=endpoint, region_name=REGION, aws_access_key_id=key_id,
                        aws_secret_access_key=secret, config=Config(**config))


def console_text(ec2, instance):
    # botocore decodes GetConsoleOutput's base64 Output itself (its handler
    # decode_console_output), so boto3 hands over the text.
    return ec2.get_console_output(InstanceId=instance).get('Output', '')


def state_of(ec2, instance):
    return ec2.describe_instances(InstanceIds=[instance])['Reservations'][0]['Instances'][0]['State']['Name']


class _TwentyMinutesAgo(datetime.datetime):
    @classmethod
    def utcnow(cls):
        return datetime.datetime.utcnow() - datetime.timedelta(minutes=20)


def _datetime_twenty_minutes_ago():
    """The datetime module as a signer sees it, its utcnow() 20 minutes late."""
    names = {k: getattr(datetime, k) for k in dir(datetime) if not k.startswith('__')}
    return types.SimpleNamespace(**{**names, 'datetime': _TwentyMinutesAgo})


def _signing_modules():
    """The modules whose clock SigV4 reads: botocore.auth's signer, and awscrt's
    (botocore.crt.auth) that botocore signs with instead when python3-awscrt is
    installed, as Debian's awscli brings it."""
    modules = [botocore.auth]
    with contextlib.suppress(ImportError):
        modules.append(importlib.import_module('botocore.crt.auth'))
    return modules


def lab(env, work, made):
    endpoint, key_id, secret, tiny = env
    ec2 = client(endpoint, key_id, secret, retries={'max_attempts': 3, 'mode': 'standard'})

    with step('register_image (ImageLocation names the tiny disk)') as n:
        image = ec2.register_image(Name='tiny-boto3', ImageLocation=tiny)['ImageId']
        made['images'].append(image)
        check(image.startswith('ami-'), f'register_image answered {image!r}')
        n.append(image)

    with step('run_instances (user data, t3.nano, /dev/sdb 1 GiB)') as n:
        # boto3 base64-encodes UserData itself (botocore's base64_encode_user_data).
        ran = ec2.run_instances(ImageId=image, InstanceType='t3.nano', MinCount=1, MaxCount=1,
                                UserData=f'echo {MARKER}\n',
                                BlockDeviceMappings=[{'DeviceName': '/dev/sdb',
                                                      'Ebs': {'VolumeSize': 1, 'DeleteOnTermination': True}}])
        check(len(ran['Instances']) == 1, f'run_instances launched {len(ran["Instances"])} instances')
        instance = ran['Instances'][0]['InstanceId']
        made['instances'].append(instance)
        n.append(instance)

    with step('waiter instance_running') as n:
        ec2.get_waiter('instance_running').wait(InstanceIds=[instance], WaiterConfig=FAST_WAIT)
        # The mapping made a 1 GiB volume, attached as /dev/sdb, going with the instance.
        volumes = ec2.describe_volumes(Filters=[{'Name': 'attachment.instance-id', 'Values': [instance]}])['Volumes']
        sdb = [v for v in volumes for a in v['Attachments'] if a['Device'] == '/dev/sdb']
        check(len(sdb) == 1 and sdb[0]['Size'] == 1 and sdb[0]['Attachments'][0]['DeleteOnTermination'],
              f'no 1 GiB /dev/sdb deleted on termination among {volumes}')
        n.append(f'{len(volumes)} volumes, {sdb[0]["VolumeId"]} on /dev/sdb')

    with step('get_console_output until the guest is ready and the user data ran'):
        text = ''
        for _ in range(120):
            text = console_text(ec2, instance)
            if 'amid-tiny: ready' in text and MARKER in text:
                break
            time.sleep(1)
        check('amid-tiny: ready' in text, f'no "amid-tiny: ready" on the console in 120 s:\n{text}')
        check(MARKER in text, f'the user data did not run (no {MARKER} on the console):\n{text}')

    with step('create_image NoReboot=True (live)') as n:
        live = ec2.create_image(InstanceId=instance, Name='lab-boto3-live', NoReboot=True)['ImageId']
        made['images'].append(live)
        ec2.get_waiter('image_available').wait(ImageIds=[live], WaiterConfig=FAST_WAIT)
        n.append(live)

    with step('create_image (default: shutdown, capture, restart)') as n:
        stopped = ec2.create_image(InstanceId=instance, Name='lab-boto3-reboot')['ImageId']
        made['images'].append(stopped)
        ec2.get_waiter('image_available').wait(ImageIds=[stopped], WaiterConfig=FAST_WAIT)
        ec2.get_waiter('instance_running').wait(InstanceIds=[instance], WaiterConfig=FAST_WAIT)
        n.append(f'{stopped}, {instance} running again')

    with step('run_instances from the created image, waiter instance_running') as n:
        second = ec2.run_instances(ImageId=stopped, InstanceType='t3.nano', MinCount=1,
                                   MaxCount=1)['Instances'][0]['InstanceId']
        made['instances'].append(second)
        ec2.get_waiter('instance_running').wait(InstanceIds=[second], WaiterConfig=FAST_WAIT)
        described = ec2.describe_instances(InstanceIds=[second])['Reservations'][0]['Instances'][0]
        check(described['ImageId'] == stopped, f'{second} runs {described["ImageId"]}, not {stopped}')
        n.append(second)

    with step('describe_images Filters name=lab-boto3-*') as n:
        found = ec2.describe_images(Filters=[{'Name': 'name', 'Values': ['lab-boto3-*']}])['Images']
        by_id = {i['ImageId']: i for i in found}
        check(set(by_id) == {live, stopped}, f'the filter found {sorted(by_id)}, not {live} and {stopped}')
        for i in found:
            check(i['State'] == 'available', f'{i["ImageId"]} is {i["State"]}')
        check(by_id[stopped]['Name'] == 'lab-boto3-reboot', f'{stopped} is named {by_id[stopped]["Name"]}')
        n.append(f'{len(found)} images')

    with step('create_tags on the created image, describe_images by tag') as n:
        ec2.create_tags(Resources=[stopped], Tags=[{'Key': 'lab', 'Value': 'web'}])
        tagged = ec2.describe_images(Filters=[{'Name': 'tag:lab', 'Values': ['web']}])['Images']
        check([i['ImageId'] for i in tagged] == [stopped], f'tag:lab=web found {[i["ImageId"] for i in tagged]}')

    # Pagination over 150 images. Debian's botocore (1.29) predates DescribeImages'
    # MaxResults/NextToken (EC2 added them in 2023), so boto3 has no
    # describe_images paginator here and refuses MaxResults; describe_tags has
    # paginated since EC2's first model. Each image gets one tag, and the
    # describe_tags paginator pages through the 150 tags, 20 a page.
    small = os.path.join(work, 'small.qcow2')
    subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', small, '64M'], check=True)
    with step('register_image x150 (page-000..page-149), create_tags on each') as n:
        pages = []
        for i in range(150):
            page = ec2.register_image(Name=f'page-{i:03d}', ImageLocation=small)['ImageId']
            made['images'].append(page)
            pages.append(page)
        ec2.create_tags(Resources=pages, Tags=[{'Key': 'amid-sdk-page', 'Value': 'yes'}])
        check(len(set(pages)) == 150, f'150 registrations gave {len(set(pages))} distinct ids')

    with step('paginator describe_tags (PageSize 20) lists each of the 150 once') as n:
        paginator = ec2.get_paginator('describe_tags')
        seen, sizes = [], []
        for page in paginator.paginate(Filters=[{'Name': 'key', 'Values': ['amid-sdk-page']}],
                                       PaginationConfig={'PageSize': 20}):
            sizes.append(len(page['Tags']))
            seen += [t['ResourceId'] for t in page['Tags']]
        check(len(sizes) >= 8 and max(sizes) <= 20, f'pages of {sizes}: not paged by 20')
        duplicates = sorted({r for r in seen if seen.count(r) > 1})
        check(not duplicates, f'listed more than once: {duplicates}')
        missing, extra = sorted(set(pages) - set(seen)), sorted(set(seen) - set(pages))
        check(not missing and not extra, f'missing {missing}, extra {extra}')
        n.append(f'{len(sizes)} pages of {sizes}')

    with step('a wrong secret: SignatureDoesNotMatch') as n:
        wrong = secret[:-1] + ('A' if secret[-1] != 'A' else 'B')
        bad = client(endpoint, key_id, wrong, retries={'max_attempts': 1, 'mode': 'standard'})
        n.append(expect_error('SignatureDoesNotMatch', bad.describe_images))

    with step('signed 20 minutes ago: RequestExpired') as n:
        # boto3's own signer signs the request, with its clock set 20 minutes
        # back for this one call; the X-Amz-Date is read off the request as
        # sent, so amid refuses a request truly signed with the old time. One
        # attempt: nothing retries with a fresh signature.
        late = client(endpoint, key_id, secret, retries={'max_attempts': 1, 'mode': 'standard'})
        sent = []
        late.meta.events.register('before-send.ec2.DescribeImages',
                                  lambda request, **_: sent.append(request.headers.get('X-Amz-Date')))
        with contextlib.ExitStack() as past:
            for module in _signing_modules():
                past.enter_context(mock.patch.object(module, 'datetime', _datetime_twenty_minutes_ago()))
            code = expect_error('RequestExpired', late.describe_images)
        check(len(sent) == 1 and sent[0], f'sent {sent}')
        stamp = sent[0].decode() if isinstance(sent[0], bytes) else sent[0]
        signed_at = datetime.datetime.strptime(stamp, '%Y%m%dT%H%M%SZ')
        age = (datetime.datetime.utcnow() - signed_at).total_seconds()
        check(19 * 60 <= age <= 21 * 60, f'X-Amz-Date {stamp} is {age:.0f} s old, not 20 minutes')
        n.append(f'{code} (X-Amz-Date {stamp})')
        # ... and the same client signs in the present again afterwards.
        late.describe_images(ImageIds=[image])

    with step('describe_images ami-00000000000000000: InvalidAMIID.NotFound') as n:
        n.append(expect_error('InvalidAMIID.NotFound', ec2.describe_images, ImageIds=['ami-00000000000000000']))

    with step('terminate_instances DryRun=True: DryRunOperation, still running') as n:
        n.append(expect_error('DryRunOperation', ec2.terminate_instances, InstanceIds=[second], DryRun=True))
        check(state_of(ec2, second) == 'running', f'{second} is {state_of(ec2, second)} after the dry run')

    with step('terminate_instances, waiter instance_terminated') as n:
        ec2.terminate_instances(InstanceIds=[instance, second])
        ec2.get_waiter('instance_terminated').wait(InstanceIds=[instance, second], WaiterConfig=FAST_WAIT)
        made['instances'].clear()

    with step('start_instances of a terminated instance: IncorrectInstanceState') as n:
        n.append(expect_error('IncorrectInstanceState', ec2.start_instances, InstanceIds=[instance]))

    with step('deregister_image of all 153 images') as n:
        for img in list(made['images']):
            ec2.deregister_image(ImageId=img)
            made['images'].remove(img)
        left = ec2.describe_images(Owners=['self'])['Images']
        check(not left, f'images left: {[i["ImageId"] for i in left]}')


def main():
    names = ['AMID_EC2_ENDPOINT', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AMID_TINY_IMAGE']
    missing = [v for v in names if not os.environ.get(v)]
    if missing:
        print(f'lab_boto3: set {", ".join(missing)}', file=sys.stderr)
        return 2
    env = [os.environ[v] for v in names]
    print(f'lab_boto3: boto3 {boto3.__version__} (botocore {botocore.__version__}) on {env[0]}', flush=True)
    made = {'instances': [], 'images': []}
    work = tempfile.mkdtemp(prefix='amid-sdk-boto3-')
    try:
        lab(env, work, made)
    except Exception as e:  # pylint: disable=broad-except
        if not isinstance(e, (Failed, ClientError, WaiterError, BotoCoreError)):
            traceback.print_exc()
        print(f'lab_boto3: FAILED: {type(e).__name__}: {e}', file=sys.stderr, flush=True)
        # Best effort: no guest or image of ours stays behind when a step failed.
        ec2 = client(env[0], env[1], env[2])
        if made['instances']:
            with contextlib.suppress(Exception):
                ec2.terminate_instances(InstanceIds=made['instances'])
        for image in made['images']:
            with contextlib.suppress(Exception):
                ec2.deregister_image(ImageId=image)
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f'lab_boto3: every step held in {time.monotonic() - START:.1f} s', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
