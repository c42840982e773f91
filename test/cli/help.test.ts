// Every command answers --help with its usage and an example, and refuses a bad flag with exit
// code 2 and its usage: checked in-process against the CLI's own dispatch table.

import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../client/main';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => (out.push(String(chunk)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => (err.push(String(chunk)), true));
  return { out: () => out.join(''), err: () => err.join('') };
}

afterEach(() => vi.restoreAllMocks());

async function commandNames(): Promise<string[]> {
  const io = capture();
  await main(['--help']);
  vi.restoreAllMocks();
  return [...io.out().matchAll(/^ {2}([a-z-]+) {2,}/gm)].map((m) => m[1]!);
}

describe('every command', async () => {
  const names = await commandNames();

  it('lists the operator verbs of the issue', () => {
    expect(names).toEqual(expect.arrayContaining(['demo', 'dev', 'worker', 'emulator', 'inventory', 'migrate', 'status', 'list', 'approve', 'reject', 'pause', 'resume', 'promote', 'rollback', 'schema', 'doctor', 'plan', 'report']));
  });

  it.each(names)('%s --help prints its usage and an example', async (name) => {
    const io = capture();
    expect(await main([name, '--help'])).toBe(0);
    expect(io.out()).toMatch(new RegExp(`^Usage: keyless ${name}`, 'm'));
    expect(io.out()).toMatch(/^Example: (\S+=\S+ )*keyless /m);
  });

  it.each(names)('%s refuses an unknown flag with exit code 2 and its usage', async (name) => {
    const io = capture();
    expect(await main([name, '--no-such-flag'])).toBe(2);
    expect(io.err()).toMatch(/Unknown option '--no-such-flag'/);
    expect(io.err()).toMatch(new RegExp(`Usage: keyless ${name}`));
  });
});
