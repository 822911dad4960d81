import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describeSlow } from '../../harness/suite.js';
import { FakeLookupd } from '../support/fake-lookupd.js';
import { useCleanup } from '../support/harness.js';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/**
 * The environment for child processes: an outer `npm test` describes its own package and script in
 * npm_package_* and npm_lifecycle_* variables, which must not leak into the fresh app. Its
 * npm_config_* (registry, cache) are kept.
 */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^npm_(package|lifecycle)_|^npm_command$/i.test(key)) env[key] = value;
  }
  return { ...env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };
}

/** Runs `file`; resolves with its stdout, or stdout and stderr together with `withStderr`. */
async function sh(
  file: string,
  args: string[],
  cwd: string,
  timeoutMs = 90_000,
  withStderr = false,
): Promise<string> {
  try {
    const { stdout, stderr } = await run(file, args, {
      cwd,
      env: childEnv(),
      timeout: timeoutMs,
      maxBuffer: 16 << 20,
    });
    return withStderr ? `${stdout}${stderr}` : stdout;
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `${file} ${args.join(' ')} failed in ${cwd}: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`,
    );
  }
}

const PING_APP = `
import { ConnectionError, LookupPeer } from 'nsqd-lookup';

const peer = new LookupPeer(process.argv[2], {
  onConnect: (p) =>
    p.identify({ broadcastAddress: '127.0.0.1', tcpPort: 4150, httpPort: 4151, version: '1.3.0' }),
});
await peer.ping();
const state = peer.state;
await peer.close();
let deepImport;
try {
  await import('nsqd-lookup/dist/peer/connection.js');
  deepImport = 'allowed';
} catch (error) {
  deepImport = error.code;
}
console.log(JSON.stringify({ state, info: peer.info, closed: peer.state, errorClass: typeof ConnectionError, deepImport }));
`;

const TS_CONSUMER = `
import { ConnectionError, LookupPeer, type LookupPeerOptions, type PeerState } from 'nsqd-lookup';
import { encodeRegister } from 'nsqd-lookup/protocol';
import { Heartbeat, type HeartbeatOptions } from 'nsqd-lookup/tools';

const options: LookupPeerOptions = { dialTimeoutMs: 100, readTimeoutMs: 100 };
const peer = new LookupPeer('127.0.0.1:4160', options);
const state: PeerState = peer.state;
const ping: Promise<void> = peer.ping();
const bytes: Buffer = encodeRegister('t', 'c');
peer.on('state', (next: PeerState, previous: PeerState) => void [next, previous]);
peer.on('disconnect', (error: Error) => void (error instanceof ConnectionError && error.address));
// @ts-expect-error topic names are strings
void peer.register(42);
// @ts-expect-error not an option
void new LookupPeer('127.0.0.1:4160', { dialTimeout: 5 });
// @ts-expect-error a state is one of four names
const wrong: PeerState = 'open';
const heartbeat: HeartbeatOptions = { tcpAddresses: ['127.0.0.1:4160'], count: 1 };
void new Heartbeat(heartbeat);
export { bytes, ping, state, wrong };
`;

/** The README's API sketch, as a user would paste it (top-level await needs a module). */
async function readmeSketch(): Promise<string> {
  const readme = await readFile(join(REPO, 'README.md'), 'utf8');
  const sketch = /## API sketch\s+```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(sketch, 'the README has an API sketch');
  return `${sketch}\nexport {};\n`;
}

const ENTRIES_APP = `
import * as root from 'nsqd-lookup';
import * as protocol from 'nsqd-lookup/protocol';
import * as tools from 'nsqd-lookup/tools';
import * as lookupd from 'nsqd-lookup/lookupd';
import * as broker from 'nsqd-lookup/broker';
console.log(JSON.stringify({
  root: Object.keys(root).sort(),
  protocol: Object.keys(protocol).sort(),
  tools: Object.keys(tools).sort(),
  lookupd: typeof lookupd.startLookupd,
  broker: typeof broker.startBroker,
}));
`;

describeSlow('the packed package (npm pack → fresh app)', function () {
  this.timeout(120_000);
  this.slow(30_000);
  const cleanup = useCleanup();
  let work: string;
  let app: string;
  let files: string[];
  let installLog: string;

  before(async function () {
    this.timeout(240_000);
    work = await mkdtemp(join(tmpdir(), 'nsqd-lookup-pack-'));
    // npm pack runs `prepack`, which builds dist/ from the current sources.
    const packed = JSON.parse(
      await sh(NPM, ['pack', '--json', '--pack-destination', work], REPO, 180_000),
    ) as {
      filename: string;
      files: { path: string }[];
    }[];
    assert.equal(packed.length, 1);
    files = packed[0]!.files.map((f) => f.path);
    app = join(work, 'app');
    await mkdir(app);
    await writeFile(
      join(app, 'package.json'),
      `${JSON.stringify({ name: 'pack-smoke-app', private: true, type: 'module' }, null, 2)}\n`,
    );
    // Scripts allowed, as a consumer installs: npm names every package with an install script it did
    // not run, and this one must not be among them.
    installLog = await sh(
      NPM,
      ['install', join(work, packed[0]!.filename), '--prefer-offline', '--no-audit', '--no-fund'],
      app,
      undefined,
      true,
    );
  });

  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** A strict tsconfig in the app that checks `file` against the installed package's types. */
  function writeTsconfig(name: string, file: string): Promise<void> {
    return writeFile(
      join(app, name),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          strict: true,
          noEmit: true,
          types: ['node'],
          typeRoots: [join(REPO, 'node_modules/@types')],
        },
        files: [file],
      }),
    );
  }

  it('ships the compiled entry points and types, not the sources, specs or source maps', () => {
    for (const required of [
      'package.json',
      'LICENSE',
      'CHANGELOG.md',
      'README.md',
      'dist/index.js',
      'dist/index.d.ts',
      'dist/peer/lookup-peer.js',
    ]) {
      assert.ok(files.includes(required), `${required} is in the tarball`);
    }
    for (const path of files) {
      assert.doesNotMatch(path, /^(lib|spec|bench|scripts|oracle)\//, path);
      assert.doesNotMatch(path, /\.map$/, path);
    }
  });

  it('points at no source map: no sourceMappingURL in any shipped file', async () => {
    const installed = join(app, 'node_modules/nsqd-lookup');
    let checked = 0;
    for (const path of files.filter((f) => /\.(js|d\.ts)$/.test(f))) {
      assert.doesNotMatch(await readFile(join(installed, path), 'utf8'), /sourceMappingURL/, path);
      checked++;
    }
    assert.ok(checked > 20, `checked ${checked} files`);
  });

  it('has no install script of its own: npm warns about no script of nsqd-lookup', async () => {
    const pkg = JSON.parse(await readFile(join(app, 'node_modules/nsqd-lookup/package.json'), 'utf8')) as {
      scripts?: Record<string, string>;
    };
    for (const hook of ['preinstall', 'install', 'postinstall', 'prepare']) {
      assert.equal(pkg.scripts?.[hook], undefined, `scripts.${hook}`);
    }
    assert.doesNotMatch(installLog, /nsqd-lookup@/, installLog);
  });

  it('links from the README only to what the tarball ships, or to the web', async () => {
    const readme = await readFile(join(app, 'node_modules/nsqd-lookup/README.md'), 'utf8');
    const links = [...readme.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!);
    assert.ok(links.length > 0, 'the README has links');
    for (const link of links) {
      if (/^(https?:|mailto:|#)/.test(link)) continue;
      assert.ok(files.includes(link.replace(/^\.\//, '').replace(/#.*$/, '')), `${link} is in the tarball`);
    }
  });

  it('the root entry is the registration SDK: at most 22 runtime names, no codec; codec and tools have entries of their own', async () => {
    await writeFile(join(app, 'entries.mjs'), ENTRIES_APP);
    const names = JSON.parse(await sh(process.execPath, ['entries.mjs'], app, 20_000)) as {
      root: string[];
      protocol: string[];
      tools: string[];
      lookupd: string;
      broker: string;
    };
    assert.ok(names.root.length <= 22, `${names.root.length} root names: ${names.root.join(', ')}`);
    for (const name of ['LookupPeer', 'LookupLoop', 'Registry', 'NsqLookupError', 'splitHostPort']) {
      assert.ok(names.root.includes(name), name);
    }
    for (const name of names.root) {
      assert.doesNotMatch(
        name,
        /^(encode|decode|parse)|Decoder$|^(MAGIC|PING)|_BYTES$|Fleet|Heartbeat|Snapshot/,
        name,
      );
    }
    for (const name of ['encodeRegister', 'ResponseDecoder', 'MAGIC_V1', 'PING', 'parseIdentifyResponse']) {
      assert.ok(names.protocol.includes(name), `protocol exports ${name}`);
    }
    for (const name of [
      'FakeProducerFleet',
      'Heartbeat',
      'LookupdHttpClient',
      'captureSnapshot',
      'SnapshotFileError',
    ]) {
      assert.ok(names.tools.includes(name), `tools exports ${name}`);
    }
    assert.equal(names.lookupd, 'function');
    assert.equal(names.broker, 'function');
  });

  it("the README's API sketch typechecks against the packed .d.ts", async () => {
    await writeFile(join(app, 'sketch.ts'), await readmeSketch());
    await writeTsconfig('tsconfig.sketch.json', 'sketch.ts');
    await sh(
      process.execPath,
      [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.sketch.json'],
      app,
    );
  });

  it('installs with its dependencies', async () => {
    const pkg = JSON.parse(await readFile(join(app, 'node_modules/nsqd-lookup/package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    for (const dep of Object.keys(pkg.dependencies)) {
      await readFile(join(app, 'node_modules', dep, 'package.json'), 'utf8');
    }
  });

  it("import { LookupPeer } from 'nsqd-lookup' pings a fake lookupd, then the process exits", async () => {
    const server = await FakeLookupd.start();
    cleanup(() => server.stop());
    await writeFile(join(app, 'ping.mjs'), PING_APP);
    const stdout = await sh(process.execPath, ['ping.mjs', server.address], app, 20_000);
    const result = JSON.parse(stdout) as Record<string, unknown>;
    assert.deepEqual(result, {
      state: 'connected',
      info: {
        tcpPort: server.port,
        httpPort: 4161,
        version: '1.3.0',
        broadcastAddress: 'fake-lookupd.example',
        hostname: 'fake-lookupd-host',
      },
      closed: 'closed',
      errorClass: 'function',
      deepImport: 'ERR_PACKAGE_PATH_NOT_EXPORTED',
    });
    assert.deepEqual(
      server.received.map((c) => c.line),
      ['IDENTIFY', 'PING'],
    );
  });

  it("typechecks a TypeScript consumer against the packed .d.ts with this repo's tsc", async () => {
    await writeFile(join(app, 'consumer.ts'), TS_CONSUMER);
    await writeTsconfig('tsconfig.json', 'consumer.ts');
    await sh(process.execPath, [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], app);
    // The same check must be able to fail: a wrong type makes tsc exit non-zero.
    await writeFile(
      join(app, 'consumer.ts'),
      `${TS_CONSUMER}\nconst n: number = new LookupPeer('x:1').state;\n`,
    );
    await assert.rejects(
      sh(process.execPath, [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], app),
      /TS2322/,
    );
  });
});
