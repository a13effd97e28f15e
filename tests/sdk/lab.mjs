#!/usr/bin/node
// The seed's lab walkthrough driven by the AWS SDK for JavaScript v3
// (@aws-sdk/client-ec2, pinned in package.json) against amid's EC2 endpoint,
// and the errors a JavaScript program catches, by EC2's codes.
//
// Run with Node.js 20 (/usr/bin/node) after `npm ci` here (scripts/install-deps
// does it). Reads:
//   AMID_EC2_ENDPOINT       http://127.0.0.1:PORT (amid's log: "EC2 API on ...")
//   AWS_ACCESS_KEY_ID       a key from `amictl create-access-key`
//   AWS_SECRET_ACCESS_KEY   its secret
//   AMID_TINY_IMAGE         the tiny template's qcow2 (a busybox guest)
// Prints one line a step, with the time since the start and the step's own;
// exits 0 when every step held, 1 with the reason otherwise (2: bad environment).
// tests/e2e/ec2_api_test.cc runs it against a fresh amid.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  CreateImageCommand,
  CreateTagsCommand,
  DeregisterImageCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeVolumesCommand,
  EC2Client,
  GetConsoleOutputCommand,
  RegisterImageCommand,
  RunInstancesCommand,
  StartInstancesCommand,
  TerminateInstancesCommand,
  paginateDescribeImages,
  waitUntilImageAvailable,
  waitUntilInstanceRunning,
  waitUntilInstanceTerminated,
} from '@aws-sdk/client-ec2';

const REGION = 'local-1'; // amid's region: the signature's credential scope names it
const MARKER = 'amid-sdk-js-user-data-ran';
const START = performance.now();
// amid answers within milliseconds: poll every 1-2 s, not EC2's 15 s.
const FAST_WAIT = { minDelay: 1, maxDelay: 2, maxWaitTime: 120 };

class Failed extends Error {}

function check(condition, message) {
  if (!condition) throw new Failed(message);
}

const seconds = (since) => ((performance.now() - since) / 1000).toFixed(1);

// One line a step: time since the start, the step, its duration, what it found.
async function step(name, body) {
  const began = performance.now();
  const notes = [];
  try {
    const result = await body(notes);
    const said = notes.length ? `: ${notes.join(' ')}` : '';
    console.log(`[${seconds(START).padStart(6)}s] ${name} (${seconds(began)}s)${said}`);
    return result;
  } catch (err) {
    console.log(`[${seconds(START).padStart(6)}s] ${name}: FAILED after ${seconds(began)}s`);
    throw err;
  }
}

// The EC2 error code the command raises (a Failed when it succeeds).
async function errorCode(client, command) {
  try {
    await client.send(command);
  } catch (err) {
    if (err instanceof Failed) throw err;
    return err.Code ?? err.name;
  }
  throw new Failed(`${command.constructor.name} succeeded where an error was expected`);
}

async function expectError(code, client, command) {
  const got = await errorCode(client, command);
  check(got === code, `${command.constructor.name}: expected ${code}, got ${got}`);
  return code;
}

function client(endpoint, accessKeyId, secretAccessKey, options = {}) {
  return new EC2Client({
    endpoint, region: REGION, credentials: { accessKeyId, secretAccessKey }, maxAttempts: 3, ...options,
  });
}

async function stateOf(ec2, instance) {
  const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instance] }));
  return out.Reservations[0].Instances[0].State.Name;
}

async function lab([endpoint, keyId, secret, tiny], work, made) {
  const ec2 = client(endpoint, keyId, secret);

  const image = await step('RegisterImage (ImageLocation names the tiny disk)', async (n) => {
    const { ImageId } = await ec2.send(new RegisterImageCommand({ Name: 'tiny-js', ImageLocation: tiny }));
    made.images.push(ImageId);
    check(ImageId?.startsWith('ami-'), `RegisterImage answered ${ImageId}`);
    n.push(ImageId);
    return ImageId;
  });

  const instance = await step('RunInstances (user data, t3.nano, /dev/sdb 1 GiB)', async (n) => {
    const out = await ec2.send(new RunInstancesCommand({
      ImageId: image, InstanceType: 't3.nano', MinCount: 1, MaxCount: 1,
      // The JavaScript SDK sends UserData as given: EC2 wants base64.
      UserData: Buffer.from(`echo ${MARKER}\n`).toString('base64'),
      BlockDeviceMappings: [{ DeviceName: '/dev/sdb', Ebs: { VolumeSize: 1, DeleteOnTermination: true } }],
    }));
    check(out.Instances.length === 1, `RunInstances launched ${out.Instances.length} instances`);
    const id = out.Instances[0].InstanceId;
    made.instances.push(id);
    n.push(id);
    return id;
  });

  await step('waitUntilInstanceRunning', async (n) => {
    await waitUntilInstanceRunning({ client: ec2, ...FAST_WAIT }, { InstanceIds: [instance] });
    // The mapping made a 1 GiB volume, attached as /dev/sdb, going with the instance.
    const { Volumes } = await ec2.send(new DescribeVolumesCommand({
      Filters: [{ Name: 'attachment.instance-id', Values: [instance] }],
    }));
    const sdb = Volumes.filter((v) => v.Attachments.some((a) => a.Device === '/dev/sdb'));
    check(sdb.length === 1 && sdb[0].Size === 1 && sdb[0].Attachments[0].DeleteOnTermination,
      `no 1 GiB /dev/sdb deleted on termination among ${JSON.stringify(Volumes)}`);
    n.push(`${Volumes.length} volumes, ${sdb[0].VolumeId} on /dev/sdb`);
  });

  await step('GetConsoleOutput until the guest is ready and the user data ran', async () => {
    let text = '';
    for (let i = 0; i < 120; i++) {
      const { Output } = await ec2.send(new GetConsoleOutputCommand({ InstanceId: instance }));
      text = Buffer.from(Output ?? '', 'base64').toString('utf8'); // EC2 sends it base64-encoded
      if (text.includes('amid-tiny: ready') && text.includes(MARKER)) break;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    check(text.includes('amid-tiny: ready'), `no "amid-tiny: ready" on the console in 120 s:\n${text}`);
    check(text.includes(MARKER), `the user data did not run (no ${MARKER} on the console):\n${text}`);
  });

  const live = await step('CreateImage NoReboot (live), waitUntilImageAvailable', async (n) => {
    const { ImageId } = await ec2.send(new CreateImageCommand({
      InstanceId: instance, Name: 'lab-js-live', NoReboot: true,
    }));
    made.images.push(ImageId);
    await waitUntilImageAvailable({ client: ec2, ...FAST_WAIT }, { ImageIds: [ImageId] });
    n.push(ImageId);
    return ImageId;
  });

  const stopped = await step('CreateImage (shutdown, capture, restart), waitUntilImageAvailable', async (n) => {
    const { ImageId } = await ec2.send(new CreateImageCommand({ InstanceId: instance, Name: 'lab-js-reboot' }));
    made.images.push(ImageId);
    await waitUntilImageAvailable({ client: ec2, ...FAST_WAIT }, { ImageIds: [ImageId] });
    await waitUntilInstanceRunning({ client: ec2, ...FAST_WAIT }, { InstanceIds: [instance] });
    n.push(`${ImageId}, ${instance} running again`);
    return ImageId;
  });

  const second = await step('RunInstances from the created image, waitUntilInstanceRunning', async (n) => {
    const out = await ec2.send(new RunInstancesCommand({
      ImageId: stopped, InstanceType: 't3.nano', MinCount: 1, MaxCount: 1,
    }));
    const id = out.Instances[0].InstanceId;
    made.instances.push(id);
    await waitUntilInstanceRunning({ client: ec2, ...FAST_WAIT }, { InstanceIds: [id] });
    const described = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
    const runs = described.Reservations[0].Instances[0].ImageId;
    check(runs === stopped, `${id} runs ${runs}, not ${stopped}`);
    n.push(id);
    return id;
  });

  await step('DescribeImages Filters name=lab-js-*', async (n) => {
    const { Images } = await ec2.send(new DescribeImagesCommand({ Filters: [{ Name: 'name', Values: ['lab-js-*'] }] }));
    const ids = Images.map((i) => i.ImageId).sort();
    check(JSON.stringify(ids) === JSON.stringify([live, stopped].sort()),
      `the filter found ${ids}, not ${live} and ${stopped}`);
    for (const i of Images) check(i.State === 'available', `${i.ImageId} is ${i.State}`);
    check(Images.find((i) => i.ImageId === stopped).Name === 'lab-js-reboot', `${stopped} has the wrong name`);
    n.push(`${Images.length} images`);
  });

  await step('CreateTags on the created image, DescribeImages by tag', async () => {
    await ec2.send(new CreateTagsCommand({ Resources: [stopped], Tags: [{ Key: 'lab', Value: 'web' }] }));
    const { Images } = await ec2.send(new DescribeImagesCommand({ Filters: [{ Name: 'tag:lab', Values: ['web'] }] }));
    const ids = Images.map((i) => i.ImageId);
    check(ids.length === 1 && ids[0] === stopped, `tag:lab=web found ${ids}`);
  });

  // Pagination: 150 images of one small disk, paged through by the SDK's own paginator.
  const small = join(work, 'small.qcow2');
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', small, '64M'], { stdio: 'inherit' });
  const pages = await step('RegisterImage x150 (page-000..page-149)', async () => {
    const ids = [];
    for (let i = 0; i < 150; i++) {
      const Name = `page-${String(i).padStart(3, '0')}`;
      const { ImageId } = await ec2.send(new RegisterImageCommand({ Name, ImageLocation: small }));
      made.images.push(ImageId);
      ids.push(ImageId);
    }
    check(new Set(ids).size === 150, `150 registrations gave ${new Set(ids).size} distinct ids`);
    return ids;
  });

  await step('paginateDescribeImages (pageSize 20) lists each of the 150 once', async (n) => {
    const seen = [];
    const sizes = [];
    for await (const page of paginateDescribeImages({ client: ec2, pageSize: 20 },
      { Filters: [{ Name: 'name', Values: ['page-*'] }] })) {
      sizes.push(page.Images.length);
      seen.push(...page.Images.map((i) => i.ImageId));
    }
    check(sizes.length >= 8 && Math.max(...sizes) <= 20, `pages of ${sizes}: not paged by 20`);
    const duplicates = [...new Set(seen.filter((id, at) => seen.indexOf(id) !== at))];
    check(duplicates.length === 0, `listed more than once: ${duplicates}`);
    const missing = pages.filter((id) => !seen.includes(id));
    const extra = seen.filter((id) => !pages.includes(id));
    check(!missing.length && !extra.length, `missing ${missing}, extra ${extra}`);
    n.push(`${sizes.length} pages of [${sizes.join(', ')}]`);
  });

  await step('a wrong secret: SignatureDoesNotMatch', async (n) => {
    const wrong = secret.slice(0, -1) + (secret.endsWith('A') ? 'B' : 'A');
    const bad = client(endpoint, keyId, wrong, { maxAttempts: 1 });
    n.push(await expectError('SignatureDoesNotMatch', bad, new DescribeImagesCommand({})));
  });

  await step('signed 20 minutes ago: RequestExpired', async (n) => {
    // The SDK signs with its clock 20 minutes back. One attempt: on
    // RequestExpired it would otherwise set its clock by amid's Date header and
    // retry. The X-Amz-Date is read off the request as sent (the deserialize
    // step runs after signing), so amid refuses a request truly signed with
    // the old time.
    const late = client(endpoint, keyId, secret, { maxAttempts: 1, systemClockOffset: -20 * 60 * 1000 });
    const sent = [];
    late.middlewareStack.add((next) => async (args) => {
      sent.push(args.request.headers['x-amz-date']);
      return next(args);
    }, { step: 'deserialize', name: 'recordSigningTime' });
    const code = await expectError('RequestExpired', late, new DescribeImagesCommand({}));
    check(sent.length === 1 && sent[0], `sent ${sent}`);
    const m = /^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/.exec(sent[0]);
    check(m, `X-Amz-Date ${sent[0]}`);
    const age = (Date.now() - Date.UTC(m[1], m[2] - 1, m[3], m[4], m[5], m[6])) / 1000;
    check(age >= 19 * 60 && age <= 21 * 60, `X-Amz-Date ${sent[0]} is ${age.toFixed(0)} s old, not 20 minutes`);
    n.push(`${code} (X-Amz-Date ${sent[0]})`);
  });

  await step('DescribeImages ami-00000000000000000: InvalidAMIID.NotFound', async (n) => {
    const unknown = new DescribeImagesCommand({ ImageIds: ['ami-00000000000000000'] });
    n.push(await expectError('InvalidAMIID.NotFound', ec2, unknown));
  });

  await step('TerminateInstances DryRun: DryRunOperation, still running', async (n) => {
    const dryRun = new TerminateInstancesCommand({ InstanceIds: [second], DryRun: true });
    n.push(await expectError('DryRunOperation', ec2, dryRun));
    const state = await stateOf(ec2, second);
    check(state === 'running', `${second} is ${state} after the dry run`);
  });

  await step('TerminateInstances, waitUntilInstanceTerminated', async () => {
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instance, second] }));
    await waitUntilInstanceTerminated({ client: ec2, ...FAST_WAIT }, { InstanceIds: [instance, second] });
    made.instances.length = 0;
  });

  await step('StartInstances of a terminated instance: IncorrectInstanceState', async (n) => {
    n.push(await expectError('IncorrectInstanceState', ec2, new StartInstancesCommand({ InstanceIds: [instance] })));
  });

  await step('DeregisterImage of all 153 images', async () => {
    while (made.images.length) {
      await ec2.send(new DeregisterImageCommand({ ImageId: made.images[0] }));
      made.images.shift();
    }
    const { Images } = await ec2.send(new DescribeImagesCommand({ Owners: ['self'] }));
    check(Images.length === 0, `images left: ${Images.map((i) => i.ImageId)}`);
  });
}

async function main() {
  const names = ['AMID_EC2_ENDPOINT', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AMID_TINY_IMAGE'];
  const missing = names.filter((v) => !process.env[v]);
  if (missing.length) {
    console.error(`lab.mjs: set ${missing.join(', ')}`);
    return 2;
  }
  const env = names.map((v) => process.env[v]);
  const { version } = createRequire(import.meta.url)('@aws-sdk/client-ec2/package.json');
  console.log(`lab.mjs: @aws-sdk/client-ec2 ${version} on Node.js ${process.version}, ${env[0]}`);
  const made = { instances: [], images: [] };
  const work = mkdtempSync(join(tmpdir(), 'amid-sdk-js-'));
  try {
    await lab(env, work, made);
  } catch (err) {
    if (!(err instanceof Failed) && !err.$metadata) console.error(err);
    console.error(`lab.mjs: FAILED: ${err.name}: ${err.message}`);
    // Best effort: no guest or image of ours stays behind when a step failed.
    const ec2 = client(env[0], env[1], env[2]);
    if (made.instances.length) {
      await ec2.send(new TerminateInstancesCommand({ InstanceIds: made.instances })).catch(() => {});
    }
    for (const image of made.images) await ec2.send(new DeregisterImageCommand({ ImageId: image })).catch(() => {});
    return 1;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  console.log(`lab.mjs: every step held in ${seconds(START)} s`);
  return 0;
}

process.exitCode = await main();
