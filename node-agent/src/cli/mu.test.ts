import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import pngjs from 'pngjs';

import { EXIT_OK, EXIT_USAGE, main } from './mu.js';

interface Captured {
  status: number;
  out: string;
  err: string;
}

async function mu(...argv: string[]): Promise<Captured> {
  let out = '';
  let err = '';
  const status = await main(argv, { out: (t) => { out += t; }, err: (t) => { err += t; } });
  return { status, out, err };
}

describe('mu CLI usage errors name what is wrong', () => {
  test.each([
    [['bench', 'fabric', '--fabric', 'bogus'], /--fabric must be one of soft, sim; got 'bogus'/],
    [['bench', 'fabric', '--fabric'], /--fabric needs a value \(soft\|sim\)/],
    [['bench', 'fabric', '--iters', 'abc'], /--iters must be an integer in \[1, 10000000\]; got 'abc'/],
    [['bench', 'fabric', '--iters', '0'], /--iters must be an integer/],
    [['bench', 'fabric', '--iters=-3'], /--iters must be an integer .* got '-3'/],
    [['bench', 'fabric', '--iters', '1.5'], /--iters must be an integer/],
    [['bench', 'fabric', '--json'], /--json needs a value \(FILE\)/],
    [['bench', 'fabric', '--json', '--quiet'], /--json needs a value/],
    [['bench', 'fabric', '--bogus'], /unknown flag --bogus for 'mu bench fabric'/],
    [['bench', 'fabric', '--quiet=yes'], /--quiet takes no value/],
    [['bench', 'fabric', 'extra'], /'mu bench fabric' takes no argument 'extra'/],
    [['bench', 'fabrik'], /unknown command 'fabrik' for 'mu bench'/],
    [['bench'], /'mu bench' needs a command: fabric/],
    [['frobnicate'], /unknown command 'frobnicate' for 'mu'/],
    [['--fabric', 'soft'], /unknown flag --fabric for 'mu'/],
  ])('mu %j', async (argv, message) => {
    const r = await mu(...argv);
    expect(r.status).toBe(EXIT_USAGE);
    expect(r.err).toMatch(message);
    expect(r.err).toMatch(/hint: /);
    expect(r.out).toBe('');
  });

  test('a near miss suggests the right flag', async () => {
    const r = await mu('bench', 'fabric', '--iter', '5');
    expect(r.status).toBe(EXIT_USAGE);
    expect(r.err).toMatch(/did you mean --iters\?/);
  });
});

describe('mu --help', () => {
  test('top level lists the commands', async () => {
    const r = await mu('--help');
    expect(r.status).toBe(EXIT_OK);
    expect(r.out).toMatch(/^usage: mu <command>/);
    expect(r.out).toMatch(/\n {2}bench +benchmarks/);
  });

  test('no arguments prints the top-level help', async () => {
    const r = await mu();
    expect(r.status).toBe(EXIT_OK);
    expect(r.out).toMatch(/^usage: mu <command>/);
  });

  test('a leaf command lists its flags with defaults, even after other flags', async () => {
    const r = await mu('bench', 'fabric', '--fabric', 'sim', '--help');
    expect(r.status).toBe(EXIT_OK);
    expect(r.out).toMatch(/^usage: mu bench fabric \[--fabric soft\|sim\]/);
    expect(r.out).toMatch(/--iters N +timed WRITEs per payload size \(default 10000\)/);
    expect(r.out).toMatch(/--json FILE/);
  });
});

describe('mu bench fabric on sim (runs the native engine)', () => {
  let dir: string;
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'mu-cli-')); });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('prints a table and writes the JSON and the PNG beside it', async () => {
    const json = join(dir, 'nested', 'fabric.json');
    const r = await mu('bench', 'fabric', '--fabric', 'sim', '--iters', '200', '--warmup', '10',
      '--perm-iters', '5', '--json', json);
    expect(r.err).toMatch(/WRITE round trip, 64 B/); // progress lines
    expect(r.status).toBe(EXIT_OK);
    expect(r.out).toMatch(/fabric sim: virtual time/);
    expect(r.out).toMatch(/\n +4096 +no /);
    expect(r.out).toMatch(/fast +qp-access-flags +revoke/);
    expect(r.out).toMatch(/slow +qp-state-cycle +both/);

    const doc = JSON.parse(readFileSync(json, 'utf8'));
    expect(doc.points).toHaveLength(10);
    for (const p of doc.points) {
      expect(p).toMatchObject({ benchmark: 'fabric-write-rtt', fabric: 'sim', time_base: 'virtual' });
      expect(typeof p.payload_bytes).toBe('number');
      expect(p.p50_us).toBeLessThanOrEqual(p.p99_us);
      expect(typeof p.mean_us).toBe('number');
    }
    expect(doc.environment.engine_version).toBe('0.1.0');
    const pngFile = join(dir, 'nested', 'fabric.png');
    expect(existsSync(pngFile)).toBe(true);
    const png = pngjs.PNG.sync.read(readFileSync(pngFile));
    expect([png.width, png.height]).toEqual([960, 600]);
  });

  test('--quiet prints no progress', async () => {
    const r = await mu('bench', 'fabric', '--fabric', 'sim', '--iters', '20', '--warmup', '0',
      '--perm-iters', '0', '--quiet');
    expect(r.status).toBe(EXIT_OK);
    expect(r.err).not.toMatch(/WRITE round trip/);
    expect(r.out).not.toMatch(/permission change/);
  });
});
