// Key strings for tests, built at run time so that no key-shaped string is written into the repo.

/** A string shaped like a standard API key (`AIza` + 35 characters), unique per label. */
export function testKeyString(label: string): string {
  return ['AIza', `${label}-`.padEnd(35, '0')].join('');
}
